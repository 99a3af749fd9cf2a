package app_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/peercall/peercall/app"
	"github.com/peercall/peercall/app/netem"
)

// TestBenchNetworkEndToEnd runs two of bench --network's conditions for
// real: two headless processes in network namespaces joined by the link
// emulator. It asserts the goals we meet and logs the rest.
func TestBenchNetworkEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	if err := netem.Check(); err != nil {
		app.SkipOrFail(t, "%v", err)
	}
	bin := buildHeadless(t, true)
	for _, name := range []string{"1M", "outage"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Second)
			defer cancel()
			o := app.BenchOptions{Network: true, NetworkDur: 15 * time.Second, NetworkConditions: []string{name},
				Binary: bin, Timeout: 40 * time.Second}
			var log strings.Builder
			rs, err := app.RunNetworkBench(ctx, o, &log)
			if err != nil || len(rs) != 1 {
				t.Fatalf("RunNetworkBench: %v (%d results)\n%s", err, len(rs), log.String())
			}
			r := rs[0]
			if r.Err != "" || r.Host == nil || r.Joiner == nil {
				t.Fatalf("call failed: %s", r.Err)
			}
			t.Logf("%s: send %.0f kbit/s, fps %.1f, freezes ≥500 ms %d (longest %.0f ms), latency p50/p95 %.0f/%.0f ms, concealed %.2f %%, adapt %s, recover %s",
				name, r.SendKbps, r.FPS, r.Freezes, r.LongestFreezeMS, r.LatencyP50, r.LatencyP95, r.ConcealedPct, fmtS(r.AdaptS), fmtS(r.RecoverS))
			t.Logf("link A→B %+v", r.AtoB)
			t.Logf("link B→A %+v", r.BtoA)
			for _, rep := range []*app.Report{r.Host, r.Joiner} {
				// The media crossed the emulated link on the pinned
				// addresses: host candidates, nothing else.
				if rep.ICE.SelectedPair.Local != "host" || rep.ICE.SelectedPair.Remote != "host" {
					t.Errorf("selected pair %+v, want host-host over the TUN link", rep.ICE.SelectedPair)
				}
				if len(rep.Timeline) < 10 {
					t.Errorf("timeline has %d points", len(rep.Timeline))
				}
			}
			if r.AtoB.DeliveredPackets < 1000 || r.BtoA.DeliveredPackets < 1000 {
				t.Errorf("the link carried too little: %d / %d packets", r.AtoB.DeliveredPackets, r.BtoA.DeliveredPackets)
			}
			// Goal: capture-to-display p95 under the link's delay + 150 ms.
			// The test fails at twice that (bufferbloat would be seconds):
			// a machine busy with other tests stalls the peers now and then.
			goal(t, "latency p95 ≤ 200 ms (50 ms link + 150)", r.LatencyP95 > 0 && r.LatencyP95 <= 200, r.LatencyP95 > 0 && r.LatencyP95 <= 400)
			// Video flows (how well is logged above).
			if r.FPS < 10 {
				t.Errorf("%.1f fps received", r.FPS)
			}
			switch name {
			case "1M":
				// Goal: the send rate under the capacity within 2 s.
				ok := r.AdaptS != nil && *r.AdaptS >= 0
				goal(t, "send rate under 1 Mbit/s within 2 s", ok && *r.AdaptS <= 2, ok && *r.AdaptS <= 4)
				if r.SendKbps > 1000 {
					t.Errorf("mean send %.0f kbit/s over a 1 Mbit/s link", r.SendKbps)
				}
				// Goal: no freeze of 500 ms or more (Chromium has none on
				// this link). With pacing, NACK until repaired and no
				// periodic keyframes a quiet machine shows none in 30 s;
				// a loaded one now and then one.
				goal(t, "no freeze ≥ 500 ms at 1 Mbit/s", r.Freezes == 0, r.Freezes <= 3)
			case "outage":
				if r.AtoB.OutageDropPackets == 0 || r.BtoA.OutageDropPackets == 0 {
					t.Errorf("no packet met the outage: %+v %+v", r.AtoB, r.BtoA)
				}
				// Goal: the picture back within 1 s of the link.
				ok := r.RecoverS != nil && *r.RecoverS >= 0
				goal(t, "picture back within 1 s of the link", ok && *r.RecoverS <= 1, ok && *r.RecoverS <= 2)
			}
		})
	}
}

// goal logs whether an issue-16 goal was met; the test fails only when
// even the bound (twice the goal) was missed.
func goal(t *testing.T, what string, met, withinBound bool) {
	t.Helper()
	switch {
	case met:
		t.Logf("goal met: %s", what)
	case withinBound:
		t.Logf("goal missed, within twice its bound (a busy machine?): %s", what)
	default:
		t.Errorf("goal missed by more than twice its bound: %s", what)
	}
}

func fmtS(v *float64) string {
	if v == nil {
		return "n/a"
	}
	return fmt.Sprintf("%.1f", *v)
}
