package app_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/peercall/peercall/app"
	"github.com/peercall/peercall/app/cli"
)

// BusyClip returns the busy 640x480@30 test clip (10 s, scripts/busy-clip.sh),
// made with ffmpeg on first use and kept in build/.
func BusyClip(t testing.TB) string {
	t.Helper()
	app.RequireFFmpeg(t)
	out, err := exec.Command("../scripts/busy-clip.sh", "../build/busy-640x480-30.y4m").CombinedOutput()
	if err != nil {
		t.Fatalf("busy clip: %v\n%s", err, out)
	}
	p, err := filepath.Abs(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// writeY4M writes a Y4M file of n grey frames with header hdr.
func writeY4M(t *testing.T, hdr string, w, h, n int) string {
	t.Helper()
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\n", hdr)
	for range n {
		b.WriteString("FRAME\n")
		b.Write(bytes.Repeat([]byte{128}, w*h+2*((w+1)/2)*((h+1)/2)))
	}
	p := filepath.Join(t.TempDir(), "clip.y4m")
	if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestHeadlessVideoY4MFlag: a --video FILE.y4m that cannot be sent is
// refused before joining (exit 2), saying why.
func TestHeadlessVideoY4MFlag(t *testing.T) {
	good := writeY4M(t, "YUV4MPEG2 W320 H240 F30:1 C420jpeg", 320, 240, 2)
	truncated := filepath.Join(t.TempDir(), "short.y4m")
	b, _ := os.ReadFile(good)
	if err := os.WriteFile(truncated, b[:len(b)-10], 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, want string
	}{
		{"good", good, ""},
		{"upper-case suffix", writeY4M(t, "YUV4MPEG2 W16 H16 F25:1", 16, 16, 1), ""},
		{"missing", filepath.Join(t.TempDir(), "none.y4m"), "no such file"},
		{"truncated", truncated, "y4m frame 1 truncated"},
		{"4:4:4", writeY4M(t, "YUV4MPEG2 W16 H16 F30:1 C444", 16, 16, 1), "want 4:2:0 8-bit"},
		{"odd size", writeY4M(t, "YUV4MPEG2 W33 H17 F30:1", 33, 17, 1), "33x17: sides must be even"},
		{"no frame rate", writeY4M(t, "YUV4MPEG2 W16 H16", 16, 16, 1), "without a frame rate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.path
			if tt.name == "upper-case suffix" {
				path = strings.TrimSuffix(path, ".y4m") + ".Y4M"
				if err := os.Rename(tt.path, path); err != nil {
					t.Fatal(err)
				}
			}
			_, err := cli.ParseHeadlessFlags([]string{"--serve", "127.0.0.1:0", "--room", "r", "--video", path}, io.Discard)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, app.ErrBadFlags) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "--video") {
				t.Fatalf("err = %v, want ErrBadFlags naming --video and saying %q", err, tt.want)
			}
		})
	}
}

// TestHeadlessY4MEndToEnd: two headless peers on 127.0.0.1 send each other
// the busy clip through their encoders: full rate at the clip's size (or
// the ladder's step under it), and
// the markers stamped into its frames give latency figures.
func TestHeadlessY4MEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end call")
	}
	clip := BusyClip(t)
	url, _ := startSignal(t)
	bin := buildHeadless(t, true)
	// --size differs from the clip's: the clip's size wins.
	args := []string{"--video", clip, "--size", "320x240"}
	res := runPair(t, url, [2]peerSpec{{bin, args}, {bin, args}}, 0, nil)
	for i, r := range res {
		if r.code != 0 {
			t.Fatalf("peer %d exit %d: %s", i, r.code, r.stderr)
		}
		rep := r.rep
		if !rep.OK {
			t.Errorf("peer %d: report not ok: %s", i, rep.Error)
		}
		if rep.VideoIn.FPS < 25 {
			t.Errorf("peer %d: received %.1f fps, want >= 25", i, rep.VideoIn.FPS)
		}
		// The size follows the bitrate (media_ladder.go): the call starts
		// at the ladder's ¾ step and a backoff on a loaded machine can
		// hold a 5 s call there (twice in CI runs: once at the end, once
		// throughout, the sender's target at 224 kbit/s). The clip's size
		// wins if the largest size received is on its ladder above
		// --size: 640x480 or its ¾ step, 480x360, which 320x240's
		// ladder (320, 240, 160 and 80 wide) never sends.
		w, h := rep.VideoIn.Width, rep.VideoIn.Height
		for _, p := range rep.Timeline {
			if p.WidthIn > w {
				w, h = p.WidthIn, p.HeightIn
			}
		}
		if !(w == 640 && h == 480) && !(w == 480 && h == 360) {
			t.Errorf("peer %d: largest frame size %dx%d, want the clip's 640x480 or its ¾ step 480x360", i, w, h)
		}
		if rep.Latency.Samples < 100 || rep.Latency.VideoP95 <= 0 {
			t.Errorf("peer %d: %d latency samples (p95 %.1f ms) from the clip's markers", i, rep.Latency.Samples, rep.Latency.VideoP95)
		}
		t.Logf("peer %d: fps %.1f, latency p50/p95 %.1f/%.1f ms (%d samples), encode %.2f ms/frame, sent %.0f kbit/s, cpu %.0f%%",
			i, rep.VideoIn.FPS, rep.Latency.VideoP50, rep.Latency.VideoP95, rep.Latency.Samples,
			rep.VideoOut.EncodeMSAvg, rep.VideoOut.BitrateKbps, rep.CPU.PercentOfCore)
	}
}
