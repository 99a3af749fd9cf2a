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

func TestBenchMarkdown(t *testing.T) {
	rep := &Report{VideoIn: VideoInStats{FPS: 29.5}, AudioIn: AudioInStats{ConcealedRatio: 0.01, FECRecovered: 7}}
	r := &BenchResult{Time: time.Now(), Machine: MachineInfo{Cores: 2, LoadAvgStart: []float64{0.5}, LoadAvg: []float64{1.5}}, Calls: []BenchCall{
		{Scenario: "quality", Size: "640x480", Host: rep, Joiner: rep},
		{Scenario: "loss", Size: "640x480", Loss: 10, FEC: true, Host: rep, Joiner: rep},
		{Scenario: "quality", Size: "1280x720", Err: "boom"},
	}}
	md := r.Markdown()
	for _, want := range []string{"load average [0.5] at the start, [1.5] at the end", "| 640x480 | host | 29.5 |", "| 10 % | on | 1.00 % | 14 |", "failed: boom"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}
