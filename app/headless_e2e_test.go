package app_test

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peercall/peercall/app"
	"github.com/peercall/peercall/app/cli"
	"github.com/peercall/peercall/capture"
	"github.com/peercall/peercall/signalserver"
)

// buildHeadless compiles the headless binary into t's temp dir (see
// app.HeadlessBinary).
func buildHeadless(t *testing.T, cgo bool) string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go tool not on PATH")
	}
	return app.HeadlessBinary(t, cgo)
}

// startSignal runs the signaling server in-process on 127.0.0.1 and returns
// its URL and a function that restarts it on the same address.
func startSignal(t *testing.T, opts ...signalserver.Option) (string, func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	var mu sync.Mutex
	var stop func()
	serve := func(ln net.Listener) {
		srv, err := signalserver.New(opts...)
		if err != nil {
			t.Error(err)
			return
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = srv.Serve(ctx, ln) }()
		mu.Lock()
		stop = func() { cancel(); <-done }
		mu.Unlock()
	}
	serve(ln)
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		stop()
	})
	restart := func() {
		mu.Lock()
		stop()
		mu.Unlock()
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Errorf("relisten %s: %v", addr, err)
			return
		}
		serve(ln)
	}
	return "ws://" + addr + "/ws", restart
}

type peerResult struct {
	rep     app.Report
	code    int
	stderr  string
	started time.Time // just before the process started
}

// peerSpec is one headless peer of a pair.
type peerSpec struct {
	bin  string
	args []string
}

// startPeer runs a headless peer (app.StartPeer) with its report at
// report.
func startPeer(t *testing.T, bin, report string, args []string) <-chan peerResult {
	t.Helper()
	runs := app.StartPeer(t, bin, report, args, 120*time.Second)
	out := make(chan peerResult, 1)
	go func() {
		r := <-runs
		pr := peerResult{rep: r.Report, code: r.Code, stderr: r.Stderr, started: r.Started}
		if r.ReportErr != nil {
			pr.stderr += "\nreport: " + r.ReportErr.Error()
		}
		out <- pr
	}()
	return out
}

// waitReady waits (up to 30 s) for a peer's --ready-file: the next peer
// joins once this one is in the room.
func waitReady(ready string) {
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(ready); err == nil {
			return
		}
	}
}

// runPair runs two headless peers as separate processes in one room; during
// the call, mid (if set) runs after the host joined plus midDelay.
func runPair(t *testing.T, url string, peers [2]peerSpec, midDelay time.Duration, mid func()) [2]peerResult {
	t.Helper()
	dir := t.TempDir()
	var results [2]<-chan peerResult
	for i, name := range []string{"alice", "bob"} {
		ready := filepath.Join(dir, name+".ready")
		args := append([]string{"--server", url, "--room", "e2e", "--name", name, "--loopback-only",
			"--ice-policy", "all", "--duration", "5s", "--ready-file", ready}, peers[i].args...)
		results[i] = startPeer(t, peers[i].bin, filepath.Join(dir, name+".json"), args)
		waitReady(ready)
	}
	if mid != nil {
		time.Sleep(midDelay)
		mid()
	}
	return [2]peerResult{<-results[0], <-results[1]}
}

func TestHeadlessEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end call")
	}
	// minFPS is a floor for "the video flows", not a speed target: the
	// sender's 30 fps less what a loaded 2-core machine's encoders drop
	// (a clean call on CI came out just under 25). The rate itself is the
	// bench's (make bench).
	tests := []struct {
		name     string
		args     []string
		minFPS   float64
		maxConc  float64 // audio concealed ratio
		wantLoss bool
	}{
		{"clean", nil, 20, 0.05, false},
		{"loss10", []string{"--simulate-loss", "10"}, 20, 0.05, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, _ := startSignal(t)
			bin := buildHeadless(t, true)
			res := runPair(t, url, [2]peerSpec{{bin, tt.args}, {bin, tt.args}}, 0, nil)
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
				// Clean, the picture keeps its size (in a short call,
				// or the start's ¾ step: startSized); under loss the
				// congestion controller's target may fall and the
				// picture with it, by the ladder's steps (¾, ½, ¼).
				if w, h := rep.VideoIn.Width, rep.VideoIn.Height; !startSized(w, h, 640, 480, rep.CallS) &&
					(!tt.wantLoss || !slices.Contains([]int{480, 320, 160}, w) || h != w*3/4) {
					t.Errorf("peer %d: frame size %dx%d", i, w, h)
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
	bin := buildHeadless(t, true)
	dir := t.TempDir()
	junk := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("this is not a media file at all, just text"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"bad flags", []string{"--room", "r"}, cli.ExitBadFlags},
		{"no server", []string{"--server", "ws://127.0.0.1:1/ws", "--room", "r"}, cli.ExitConnect},
		{"bad video file", []string{"--serve", "127.0.0.1:0", "--room", "r", "--video", "/nonexistent.ivf"}, cli.ExitError},
		{"bad audio source", []string{"--serve", "127.0.0.1:0", "--room", "r", "--audio", "beep"}, cli.ExitBadFlags},
		{"corrupt ogg", []string{"--serve", "127.0.0.1:0", "--room", "r", "--audio", junk("x.ogg")}, cli.ExitError},
		{"corrupt ivf", []string{"--serve", "127.0.0.1:0", "--room", "r", "--video", junk("x.ivf")}, cli.ExitError},
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

// TestHeadlessCGOFreeFilesAndRecording: the static (CGO_ENABLED=0) build
// streams the shipped IVF/Ogg sample and checks received VP8 without
// decoding; its peer records what it received, and the recording reads back.
func TestHeadlessCGOFreeFilesAndRecording(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end call")
	}
	url, _ := startSignal(t)
	static := buildHeadless(t, false)
	full := buildHeadless(t, true)
	rec := t.TempDir()
	sample := func(name string) string {
		p, err := filepath.Abs(filepath.Join("..", "assets", "sample", name))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	res := runPair(t, url, [2]peerSpec{
		{static, []string{"--video", sample("sample.ivf"), "--audio", sample("sample.ogg")}},
		{full, []string{"--record", rec}},
	}, 0, nil)
	for i, r := range res {
		if r.code != 0 {
			t.Fatalf("peer %d exit %d: %s", i, r.code, r.stderr)
		}
	}
	static0, full1 := res[0].rep, res[1].rep
	if static0.VideoIn.FramesDecoded < 100 || static0.VideoIn.Width != 640 {
		t.Errorf("static peer checked %d frames (%dx%d) from the full peer", static0.VideoIn.FramesDecoded, static0.VideoIn.Width, static0.VideoIn.Height)
	}
	if static0.AudioIn.PacketsReceived < 150 {
		t.Errorf("static peer received %d audio packets", static0.AudioIn.PacketsReceived)
	}
	if full1.VideoIn.FramesDecoded < 100 || full1.VideoIn.Width != 320 || full1.VideoIn.Height != 240 {
		t.Errorf("full peer decoded %d frames of %dx%d from the sample file", full1.VideoIn.FramesDecoded, full1.VideoIn.Width, full1.VideoIn.Height)
	}
	ivf, err := capture.OpenIVF(filepath.Join(rec, "video.ivf"), capture.FileOptions{})
	if err != nil {
		t.Fatalf("recorded video: %v", err)
	}
	defer ivf.Close()
	if ivf.Width != 320 || ivf.Height != 240 || ivf.Frames() < 100 {
		t.Errorf("recorded IVF %dx%d with %d frames", ivf.Width, ivf.Height, ivf.Frames())
	}
	ogg, err := capture.OpenOgg(filepath.Join(rec, "audio.ogg"), capture.FileOptions{})
	if err != nil {
		t.Fatalf("recorded audio: %v", err)
	}
	defer ogg.Close()
	if ogg.Packets() < 150 {
		t.Errorf("recorded Ogg has %d packets", ogg.Packets())
	}
}

// TestHeadlessSurvivesSignalingRestart restarts the signaling server in the
// middle of a call: media flows peer to peer, the clients rejoin with their
// resume tokens, and the call runs its full length.
func TestHeadlessSurvivesSignalingRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end call")
	}
	url, restart := startSignal(t, signalserver.WithSecret([]byte("peercall-test-secret-0123456789")))
	bin := buildHeadless(t, true)
	args := []string{"--duration", "6s"}
	res := runPair(t, url, [2]peerSpec{{bin, args}, {bin, args}}, 2500*time.Millisecond, restart)
	for i, r := range res {
		if r.code != 0 {
			t.Fatalf("peer %d exit %d: %s", i, r.code, r.stderr)
		}
		if r.rep.VideoIn.FPS < 25 || r.rep.VideoIn.LongestFreezeMS > 500 {
			t.Errorf("peer %d: %.1f fps, longest freeze %.0f ms across the restart", i, r.rep.VideoIn.FPS, r.rep.VideoIn.LongestFreezeMS)
		}
	}
}

// TestHeadlessNoHostWithoutServers: no-host hides host candidates, so with
// no STUN/TURN server nothing could connect: both peers say so at once
// (exit 4) instead of waiting for the connect timeout.
func TestHeadlessNoHostWithoutServers(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end call")
	}
	url, _ := startSignal(t)
	bin := buildHeadless(t, true)
	args := []string{"--ice-policy", "no-host", "--video", "none", "--audio", "none"}
	start := time.Now()
	res := runPair(t, url, [2]peerSpec{{bin, args}, {bin, args}}, 0, nil)
	for i, r := range res {
		if r.code != cli.ExitConnect || !strings.Contains(r.stderr, "--stun") {
			t.Errorf("peer %d: exit %d, stderr %q; want exit 4 naming --stun", i, r.code, r.stderr)
		}
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("took %v: should fail before any ICE timeout", d)
	}
}
