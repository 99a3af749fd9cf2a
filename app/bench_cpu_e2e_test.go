package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/peercall/peercall/app"
)

// TestCPUBenchEndToEnd runs one round of bench --cpu-chromium for real:
// Chromium calling itself in two windows and in one page, and two headless
// peers, all on the busy clip over 127.0.0.1. Every client must have
// called at the clip's rate both ways with its CPU measured; the figures
// themselves are the bench's business (make bench), not this test's.
func TestCPUBenchEndToEnd(t *testing.T) {
	skipUnlessBrowser(t)
	clip := BusyClip(t)
	bin := browserHeadlessBin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	o := app.BenchOptions{CPUClip: clip, CPURounds: 1, CPUWarmup: 2 * time.Second, CPUWindow: 3 * time.Second,
		Binary: bin, Timeout: 40 * time.Second}
	var log strings.Builder
	r, err := app.RunCPUBench(ctx, o, &log)
	if err != nil {
		t.Fatalf("RunCPUBench: %v\n%s", err, log.String())
	}
	seen := map[string]bool{}
	for _, s := range r.Samples {
		seen[s.Client] = true
		if s.Err != "" {
			t.Errorf("%s: %s", s.Client, s.Err)
			continue
		}
		if len(s.PerPeer) == 0 {
			t.Errorf("%s: no CPU figure", s.Client)
		}
		for _, v := range s.PerPeer {
			if v <= 0 || v > 200 {
				t.Errorf("%s: %.1f %% of a core per peer", s.Client, v)
			}
		}
		// A loaded CI machine may lose a few frames, not the call.
		if s.FPSIn < 15 || s.SentKbps < 100 {
			t.Errorf("%s: %.1f fps in, %.0f kbit/s sent", s.Client, s.FPSIn, s.SentKbps)
		}
		t.Logf("%s: %v %% of a core per peer, %.1f fps, %.0f kbit/s, %s, parts %v", s.Client, s.PerPeer, s.FPSIn, s.SentKbps, s.Codec, s.Parts)
	}
	for _, c := range []string{"chromium", "chromium-1-page", "headless"} {
		if !seen[c] {
			t.Errorf("no %s call in %+v", c, r.Samples)
		}
	}
}
