package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peercall/peercall/app"
	"github.com/peercall/peercall/signalserver"
)

// buildHeadless compiles the headless binary once per test binary (without
// -race: the end-to-end figures are about the product, not the detector).
var buildHeadless = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "peercall-e2e")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "peercall-headless")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/peercall/peercall/app/cmd/peercall-headless").CombinedOutput()
	if err != nil {
		return "", errors.New(string(out))
	}
	return bin, nil
})

// startSignal runs the signaling server in-process on 127.0.0.1.
func startSignal(t *testing.T) string {
	t.Helper()
	srv, err := signalserver.New()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	return "ws://" + ln.Addr().String() + "/ws"
}

type peerResult struct {
	rep    app.Report
	code   int
	stderr string
}

// runPair runs two headless peers as separate processes in one room.
func runPair(t *testing.T, url string, extra ...string) [2]peerResult {
	t.Helper()
	bin, err := buildHeadless()
	if err != nil {
		t.Skipf("cannot build headless binary: %v", err)
	}
	dir := t.TempDir()
	var res [2]peerResult
	var wg sync.WaitGroup
	for i, name := range []string{"alice", "bob"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			report := filepath.Join(dir, name+".json")
			args := append([]string{"--server", url, "--room", "e2e", "--name", name, "--loopback-only",
				"--ice-policy", "all", "--duration", "5s", "--report", report}, extra...)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, args...)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			err := cmd.Run()
			res[i].stderr = stderr.String()
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				res[i].code = ee.ExitCode()
			} else if err != nil {
				res[i].code = -1
			}
			b, err := os.ReadFile(report)
			if err == nil {
				err = json.Unmarshal(b, &res[i].rep)
			}
			if err != nil {
				res[i].stderr += "\nreport: " + err.Error()
			}
		}()
		time.Sleep(100 * time.Millisecond) // alice joins first
	}
	wg.Wait()
	return res
}

func TestHeadlessEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end call")
	}
	tests := []struct {
		name     string
		args     []string
		minFPS   float64
		maxConc  float64 // audio concealed ratio
		wantLoss bool
	}{
		{"clean", nil, 25, 0.05, false},
		{"loss10", []string{"--simulate-loss", "10"}, 20, 0.2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := startSignal(t)
			res := runPair(t, url, tt.args...)
			for i, r := range res {
				if r.code != 0 {
					t.Fatalf("peer %d exit %d: %s", i, r.code, r.stderr)
				}
				rep := r.rep
				if !rep.OK {
					t.Errorf("peer %d: report not ok: %s", i, rep.Error)
				}
				if rep.VideoIn.FPS < tt.minFPS {
					t.Errorf("peer %d: received %.1f fps, want >= %.0f", i, rep.VideoIn.FPS, tt.minFPS)
				}
				if rep.VideoIn.Width != 640 || rep.VideoIn.Height != 480 {
					t.Errorf("peer %d: frame size %dx%d", i, rep.VideoIn.Width, rep.VideoIn.Height)
				}
				if rep.AudioIn.PacketsReceived < 150 {
					t.Errorf("peer %d: only %d audio packets", i, rep.AudioIn.PacketsReceived)
				}
				if rep.AudioIn.ConcealedRatio > tt.maxConc {
					t.Errorf("peer %d: concealed ratio %.3f > %.3f", i, rep.AudioIn.ConcealedRatio, tt.maxConc)
				}
				if rep.Latency.Samples == 0 {
					t.Errorf("peer %d: no latency samples from frame markers", i)
				}
				if rep.SetupMS.FirstVideoFrame <= 0 || rep.SetupMS.ICEConnected <= 0 {
					t.Errorf("peer %d: setup times %+v", i, rep.SetupMS)
				}
				if tt.wantLoss && rep.AudioIn.FECRecovered == 0 && rep.VideoIn.NACKsSent == 0 {
					t.Errorf("peer %d: 10%% loss but neither FEC nor NACK repaired anything: %+v %+v", i, rep.AudioIn, rep.VideoIn)
				}
				t.Logf("peer %d: first frame %.0f ms, fps %.1f, latency p50/p95 %.1f/%.1f ms, cpu %.0f%%, audio concealed %.3f fec %d, nacks %d",
					i, rep.SetupMS.FirstVideoFrame, rep.VideoIn.FPS, rep.Latency.VideoP50, rep.Latency.VideoP95,
					rep.CPU.PercentOfCore, rep.AudioIn.ConcealedRatio, rep.AudioIn.FECRecovered, rep.VideoIn.NACKsSent)
			}
			if res[0].rep.SAS == "" || res[0].rep.SAS != res[1].rep.SAS {
				t.Errorf("SAS differ or empty: %q vs %q", res[0].rep.SAS, res[1].rep.SAS)
			}
		})
	}
}

func TestHeadlessExitCodes(t *testing.T) {
	bin, err := buildHeadless()
	if err != nil {
		t.Skipf("cannot build headless binary: %v", err)
	}
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"bad flags", []string{"--room", "r"}, app.ExitBadFlags},
		{"no server", []string{"--server", "ws://127.0.0.1:1/ws", "--room", "r"}, app.ExitConnect},
		{"bad video file", []string{"--serve", "127.0.0.1:0", "--room", "r", "--video", "/nonexistent.ivf"}, app.ExitError},
		{"bad audio source", []string{"--serve", "127.0.0.1:0", "--room", "r", "--audio", "beep"}, app.ExitBadFlags},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, tt.args...)
			out, err := cmd.CombinedOutput()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			}
			if code != tt.want {
				t.Errorf("exit %d, want %d; output: %s", code, tt.want, out)
			}
			if code != 0 && !strings.Contains(string(out), "peercall-headless:") {
				t.Errorf("no plain error on stderr: %s", out)
			}
		})
	}
}
