package app

import (
	"strings"
	"testing"
	"time"
)

// TestChromiumResultLatency checks that a Chromium call's marker latencies
// become its p50/p95 (the worse side, like ours), and that unreadable
// markers show in the table once they pass 10 % of the frames.
func TestChromiumResultLatency(t *testing.T) {
	tests := []struct {
		name             string
		lat              [2][]float64
		marked, unmarked [2]int
		p50, p95         float64
		unmarkedPct      float64
		row              string
	}{
		{
			name: "both sides read",
			lat: [2][]float64{
				{60, 70, 80, 90, 100, 110, 120, 130, 140, 400},
				{50, 55, 60, 65, 70, 75, 80, 85, 90, 95},
			},
			marked: [2]int{10, 10}, unmarked: [2]int{1, 0},
			p50: 100, p95: 400, unmarkedPct: 9.1,
			row: "| 1M | – / – | 850 / 800 | 25.0 / 30.0 | 0.00 / 0.00 (–) | 0 / 0 | 0 / 0 | 90 / 100 | 150 / 400 |",
		},
		{
			name:   "markers mostly unread",
			lat:    [2][]float64{{80, 90}, {70}},
			marked: [2]int{2, 1}, unmarked: [2]int{8, 0},
			p50: 80, p95: 90, unmarkedPct: 80,
			row: "| 90 / 80 | 150 / 90 (80 % of frames unread) |",
		},
		{
			name: "no marker read",
			row:  "| 90 / – | 150 / – |",
		},
	}
	c := NetworkConditions()[1] // 1M
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc := chromiumCall{origin: tBase, latency: tt.lat, marked: tt.marked, unmarked: tt.unmarked}
			for i := range 50 {
				at := tBase.Add(time.Duration(i) * 100 * time.Millisecond)
				cc.frames[0] = append(cc.frames[0], frameSample{at: at, n: 3 * i})
				cc.frames[1] = append(cc.frames[1], frameSample{at: at, n: 3 * i})
			}
			for i := 1; i <= 5; i++ {
				cc.series = append(cc.series, LinkPoint{UnixMS: tBase.Add(time.Duration(i) * time.Second).UnixMilli(), OfferedKbps: [2]float64{900, 700}})
			}
			r := chromiumResult(c, cc, 5*time.Second)
			if r.LatencyP50 != tt.p50 || r.LatencyP95 != tt.p95 || r.UnmarkedPct != tt.unmarkedPct {
				t.Errorf("latency p50/p95 %v/%v, unmarked %v %%; want %v/%v, %v %%", r.LatencyP50, r.LatencyP95, r.UnmarkedPct, tt.p50, tt.p95, tt.unmarkedPct)
			}
			if n := len(tt.lat[0]); r.Host.Latency.Samples != n {
				t.Errorf("host samples %d, want %d", r.Host.Latency.Samples, n)
			}
			ours := NetworkResult{Condition: "1M", Link: "l", Host: &Report{}, Joiner: &Report{}, LinkKbps: 850, FPS: 25,
				LatencyP50: 90, LatencyP95: 150, Chromium: &r}
			md := networkMarkdown(MachineInfo{}, []NetworkResult{ours}, "synthetic")
			if !strings.Contains(md, tt.row) {
				t.Errorf("table has no %q:\n%s", tt.row, md)
			}
			if !strings.Contains(md, "presented for composition") {
				t.Errorf("table note lacks Chromium's latency definition:\n%s", md)
			}
		})
	}
}
