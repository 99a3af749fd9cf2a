package app

import (
	"reflect"
	"testing"
	"time"
)

// TestFreezes: a gap counts when it is longer than max(3 × the mean frame
// interval, 150 ms), the end of the window included; each is listed with
// its start and length, up to maxFreezeSpans.
func TestFreezes(t *testing.T) {
	t0 := time.UnixMilli(1_000_000)
	at := func(ms ...int) []time.Time {
		var out []time.Time
		for _, m := range ms {
			out = append(out, t0.Add(time.Duration(m)*time.Millisecond))
		}
		return out
	}
	every := func(step, to int, skip ...[2]int) []int {
		var out []int
	next:
		for m := 0; m <= to; m += step {
			for _, s := range skip {
				if m > s[0] && m < s[1] {
					continue next
				}
			}
			out = append(out, m)
		}
		return out
	}
	span := func(start int, ms float64) FreezeSpan {
		return FreezeSpan{StartUnixMS: t0.UnixMilli() + int64(start), MS: ms}
	}
	var manyGaps [][2]int
	for i := range maxFreezeSpans + 3 {
		manyGaps = append(manyGaps, [2]int{1000 * (i + 1), 1000*(i+1) + 200})
	}
	tests := []struct {
		name    string
		times   []int
		to      int // window end, ms after t0
		n       int
		longest float64
		spans   []FreezeSpan
	}{
		{"smooth", every(30, 3000), 3000, 0, 0, nil},
		{"a 150 ms gap is no freeze", every(30, 3000, [2]int{990, 1140}), 3000, 0, 0, nil},
		{"a 210 ms gap is one", every(30, 3000, [2]int{990, 1200}), 3000, 1, 210, []FreezeSpan{span(990, 210)}},
		{"two gaps", every(30, 3000, [2]int{480, 810}, [2]int{1980, 2640}), 3000, 2, 660, []FreezeSpan{span(480, 330), span(1980, 660)}},
		{"video stopped before the end", every(30, 1980), 3000, 1, 1020, []FreezeSpan{span(1980, 1020)}},
		{"no frame at all", nil, 3000, 1, 3000, []FreezeSpan{span(0, 3000)}},
		{"at 4 fps a 750 ms gap is no freeze (the limit is 3 intervals)", every(250, 3000, [2]int{1000, 1750}), 3000, 0, 0, nil},
		{"at 5 fps an 800 ms gap is one", every(200, 3000, [2]int{1000, 1800}), 3000, 1, 800, []FreezeSpan{span(1000, 800)}},
		{"the list is bounded, the count is not", every(10, 40*1000, manyGaps...), 40 * 1000, maxFreezeSpans + 3, 200, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, longest, spans := freezes(at(tt.times...), t0, t0.Add(time.Duration(tt.to)*time.Millisecond))
			if n != tt.n || longest != tt.longest {
				t.Errorf("%d freezes, longest %.1f ms; want %d, %.1f", n, longest, tt.n, tt.longest)
			}
			if tt.n > maxFreezeSpans {
				if len(spans) != maxFreezeSpans || spans[0] != span(1000, 200) {
					t.Errorf("%d spans starting %+v, want the first %d", len(spans), spans[0], maxFreezeSpans)
				}
				return
			}
			if !reflect.DeepEqual(spans, tt.spans) {
				t.Errorf("spans %+v, want %+v", spans, tt.spans)
			}
		})
	}
}
