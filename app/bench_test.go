package app

import (
	"strings"
	"testing"
	"time"
)

func TestSpread(t *testing.T) {
	tests := []struct {
		xs   []float64
		want Spread
	}{
		{nil, Spread{}},
		{[]float64{3, 1, 2}, Spread{Median: 2, Min: 1, Max: 3, N: 3}},
		{[]float64{4, 1, 2, 3}, Spread{Median: 2.5, Min: 1, Max: 4, N: 4}},
	}
	for _, tt := range tests {
		if got := spread(tt.xs); got != tt.want {
			t.Errorf("spread(%v) = %+v, want %+v", tt.xs, got, tt.want)
		}
	}
}

// grouped is a group-call peer's report: two peers, the slower at fps,
// one freeze, the worse latency p95.
func grouped(fps, p95 float64) *Report {
	r := &Report{SetupMS: SetupTimes{FirstVideoFrame: 80}, CPU: CPUStats{PercentOfCore: 41}, Peers: []PeerReport{
		{VideoIn: VideoInStats{FramesDecoded: 300, FPS: fps, Freezes: 1}, Latency: LatencyStats{VideoP95: p95}},
		{VideoIn: VideoInStats{FramesDecoded: 300, FPS: 29.9}, Latency: LatencyStats{VideoP95: 12}},
	}}
	r.Totals = total(r.Peers)
	return r
}

func TestBenchMarkdown(t *testing.T) {
	rep := &Report{VideoIn: VideoInStats{FPS: 29.5}, AudioIn: AudioInStats{ConcealedRatio: 0.01, FECRecovered: 7}}
	r := &BenchResult{Time: time.Now(), Machine: MachineInfo{Cores: 2, LoadAvgStart: []float64{0.5}, LoadAvg: []float64{1.5}}, Calls: []BenchCall{
		{Scenario: "quality", Size: "640x480", Host: rep, Joiner: rep},
		{Scenario: "loss", Size: "640x480", Loss: 10, FEC: true, Host: rep, Joiner: rep},
		{Scenario: "quality", Size: "1280x720", Err: "boom"},
		{Scenario: "group", Size: "640x480", Group: []*Report{grouped(26.5, 20), nil, grouped(27, 31)}, Err: "peer2 crashed"},
	}}
	md := r.Markdown()
	for _, want := range []string{"load average [0.5] at the start, [1.5] at the end", "| 640x480 | host | 29.5 |", "| 10 % | on | 1.00 % | 14 |", "failed: boom",
		"### Group call (3 peers, 640x480", "| 1 | 26.5 | 1 | 80.0 | 20.0 | 41 |", "| 2 | failed: peer2 crashed", "| 3 | 27.0 | 1 | 80.0 | 31.0 | 41 |"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}
