package app

import (
	"log/slog"
	"testing"
	"time"
)

func TestHoleWaitFollowsRTT(t *testing.T) {
	for _, tc := range []struct {
		rtt, wait, kfGap time.Duration
	}{
		{rtt: 0, wait: holeWait, kfGap: keyFrameRequestGap},                                        // unknown
		{rtt: time.Millisecond, wait: holeWait, kfGap: keyFrameRequestGap},                         // loopback
		{rtt: 100 * time.Millisecond, wait: 290 * time.Millisecond, kfGap: 250 * time.Millisecond}, // 50 ms each way
		{rtt: 200 * time.Millisecond, wait: 540 * time.Millisecond, kfGap: 300 * time.Millisecond},
		{rtt: time.Second, wait: maxHoleWait, kfGap: 1100 * time.Millisecond},
	} {
		if got := holeWaitFor(tc.rtt); got != tc.wait {
			t.Errorf("holeWaitFor(%v) = %v, want %v", tc.rtt, got, tc.wait)
		}
		if got := keyFrameGap(tc.rtt); got != tc.kfGap {
			t.Errorf("keyFrameGap(%v) = %v, want %v", tc.rtt, got, tc.kfGap)
		}
	}
}

// TestVideoReceiverFollowsRTT: the receiver resizes its wait when the
// round trip moves by more than a tenth, not on every report's noise.
func TestVideoReceiverFollowsRTT(t *testing.T) {
	rtt := time.Duration(0)
	v := newVideoReceiver(nil, nil, nil, slog.New(slog.DiscardHandler))
	defer func() {
		if v.dec != nil {
			_ = v.dec.Close()
		}
	}()
	v.rtt = func() time.Duration { return rtt }
	for _, step := range []struct {
		rtt, want time.Duration
	}{
		{rtt: 0, want: 0},
		{rtt: 100 * time.Millisecond, want: 100 * time.Millisecond},
		{rtt: 108 * time.Millisecond, want: 100 * time.Millisecond}, // within a tenth
		{rtt: 111 * time.Millisecond, want: 111 * time.Millisecond},
		{rtt: 60 * time.Millisecond, want: 60 * time.Millisecond},
		{rtt: 0, want: 60 * time.Millisecond}, // no report: keep the last
	} {
		rtt = step.rtt
		v.followRTT()
		if v.waitRTT != step.want {
			t.Errorf("rtt %v: wait set for %v, want %v", step.rtt, v.waitRTT, step.want)
		}
	}
}

// TestVideoReceiverAfterOutage: a keyframe is asked for at once only when
// packets went missing across a pause of outageGap (not after a pause
// without loss, a still screen, nor after loss without a pause).
func TestVideoReceiverAfterOutage(t *testing.T) {
	t0 := time.Unix(100, 0)
	for _, tc := range []struct {
		name  string
		pause time.Duration
		last  uint16 // the packet before the pause (after last-1)
		next  uint16
		want  bool
	}{
		{name: "outage", pause: 3 * time.Second, last: 10, next: 300, want: true},
		{name: "pause without loss", pause: 3 * time.Second, last: 10, next: 11, want: false},
		{name: "loss without pause", pause: 40 * time.Millisecond, last: 10, next: 14, want: false},
		{name: "just under the gap", pause: outageGap - time.Millisecond, last: 10, next: 30, want: false},
		{name: "late packet after a pause", pause: time.Second, last: 10, next: 5, want: false},
		{name: "across the wrap", pause: time.Second, last: 65535, next: 40, want: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := &videoReceiver{}
			if v.afterOutage(tc.last-1, t0) || v.afterOutage(tc.last, t0.Add(33*time.Millisecond)) {
				t.Fatal("outage at the start")
			}
			if got := v.afterOutage(tc.next, t0.Add(33*time.Millisecond+tc.pause)); got != tc.want {
				t.Errorf("afterOutage = %v, want %v", got, tc.want)
			}
		})
	}
}
