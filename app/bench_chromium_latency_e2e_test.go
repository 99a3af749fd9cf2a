//go:build linux

package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/peercall/peercall/app"
	"github.com/peercall/peercall/app/netem"
)

// TestBenchNetworkChromiumLatency runs bench --network's 1 Mbit/s
// condition with --network-chromium for real: our two headless peers, then
// two Chromium instances in the namespaces, whose pages measure
// capture-to-presentation latency from the injected canvas markers and
// the joiner's join → first frame.
func TestBenchNetworkChromiumLatency(t *testing.T) {
	skipUnlessBrowser(t)
	if err := netem.Check(); err != nil {
		app.SkipOrFail(t, "%v", err)
	}
	bin := buildHeadless(t, true)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	o := app.BenchOptions{Network: true, NetworkDur: 15 * time.Second, NetworkConditions: []string{"1M"},
		NetworkChromium: true, Binary: bin, Timeout: 40 * time.Second}
	var log strings.Builder
	rs, err := app.RunNetworkBench(ctx, o, &log)
	if err != nil || len(rs) != 1 {
		t.Fatalf("RunNetworkBench: %v (%d results)\n%s", err, len(rs), log.String())
	}
	ch := rs[0].Chromium
	if ch == nil || ch.Err != "" || ch.Host == nil || ch.Joiner == nil {
		t.Fatalf("Chromium call failed: %+v\n%s", ch, log.String())
	}
	t.Logf("latency p50/p95: ours %.0f/%.0f ms, Chromium %.0f/%.0f ms (markers unread %.1f %%); fps ours %.1f, Chromium %.1f",
		rs[0].LatencyP50, rs[0].LatencyP95, ch.LatencyP50, ch.LatencyP95, ch.UnmarkedPct, rs[0].FPS, ch.FPS)
	for _, rep := range []*app.Report{ch.Host, ch.Joiner} {
		// Each side read markers from most of its frames, over the call.
		if rep.Latency.Samples < 100 {
			t.Errorf("%d latency samples in a 15 s call", rep.Latency.Samples)
		}
		// Above the link's one-way 50 ms, and nowhere near seconds
		// (a marker misread or a clock mixed up would be).
		if rep.Latency.VideoP50 <= 50 || rep.Latency.VideoP95 >= 2000 {
			t.Errorf("Chromium latency p50/p95 %.0f/%.0f ms, want within (50, 2000)", rep.Latency.VideoP50, rep.Latency.VideoP95)
		}
	}
	// Join → first frame on the joiner's page: at least the round trips
	// of signaling, ICE and DTLS across the 50 ms link, and within the
	// call.
	t.Logf("join → first frame: ours %.0f ms, Chromium %.0f ms", rs[0].FirstFrameMS, ch.FirstFrameMS)
	if ch.FirstFrameMS < 200 || ch.FirstFrameMS > 15000 {
		t.Errorf("Chromium's join → first frame %.0f ms, want within [200, 15000]", ch.FirstFrameMS)
	}
	if ch.UnmarkedPct > 10 {
		t.Errorf("%.1f %% of Chromium's presented frames had no readable marker", ch.UnmarkedPct)
	}
}
