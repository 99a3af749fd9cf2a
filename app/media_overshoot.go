package app

import (
	"time"

	"github.com/peercall/peercall/codec"
)

// overshoot measures how far the camera encoder's output runs over the
// rate it is given, so that the rate it is given can be lowered by as
// much (libwebrtc's encoder bitrate adjuster does the same). At a steady
// target libvpx keeps to it within a few percent over 1.5 s, but in a
// call the target moves with every feedback, and libvpx spends a lower
// target's share of its buffer late: over 1.5 s windows of the busy clip
// at 320x240 and 120-220 kbit/s it ran up to 28 % over (bench --network,
// 300 kbit/s, traced). The controller fills a link close to its
// capacity, so an overshoot overflowed the link's queue, losing packets
// and sometimes their repairs: freezes (issue 16). With the correction,
// 11 calls interleaved with 11 without: 300 kbit/s 8 freezes against 14,
// 1 Mbit/s 2 against 7, delivered picture unchanged.
//
// Keyframes are left out: they come on request, are capped by the
// encoder (VP8E_SET_MAX_INTRA_BITRATE_PCT) and are not the steady rate.
type overshoot struct {
	bits, budget [overshootFrames]float64
	// wanted is each frame's share of the target itself (before the
	// correction).
	wanted      [overshootFrames]float64
	n, next     int // frames in the window, the slot to write next
	sinceUpdate int
	// sized counts the delta frames since the picture last changed size,
	// offered those and the frames the sender dropped before encoding
	// (skipped).
	sized, offered int
	factor         float64 // what the given rate is divided by, ≥ 1
}

const (
	// overshootFrames is the window: 1.5 s at 30 fps, long enough to span
	// libvpx's rate control buffer swings, short enough to follow a
	// change of picture.
	overshootFrames = 45
	// overshootEvery is how many frames pass between two changes of the
	// factor: each change reconfigures the encoder.
	overshootEvery = 15
	// overshootMax bounds the correction: beyond it the encoder is at its
	// coarsest quantiser and a lower rate would not lower its output.
	overshootMax = 1.3
)

func newOvershoot() *overshoot { return &overshoot{factor: 1} }

// frame records an encoded frame of size bytes, encoded while the encoder
// was given givenBps, dur after the frame before it in the encoder's
// timestamps (libvpx budgets each frame by them; the frames the sender
// dropped are not in them, so the window measures the pictures at the
// full frame rate).
func (o *overshoot) frame(size int, key bool, givenBps, targetBps int, dur time.Duration) {
	if key || givenBps <= 0 || dur <= 0 {
		return
	}
	o.sized++
	o.offered++
	o.bits[o.next], o.budget[o.next] = float64(size)*8, float64(givenBps)*dur.Seconds()
	o.wanted[o.next] = float64(max(targetBps, givenBps)) * dur.Seconds()
	o.next = (o.next + 1) % overshootFrames
	o.n = min(o.n+1, overshootFrames)
	if o.sinceUpdate++; o.sinceUpdate < overshootEvery || o.n < overshootFrames {
		return
	}
	o.sinceUpdate = 0
	var bits, budget float64
	for i := range o.n {
		bits += o.bits[i]
		budget += o.budget[i]
	}
	o.factor = min(max(bits/budget, 1), overshootMax)
}

// resized notes a change of the picture's size: overrun waits for a
// window of the new size's frames.
func (o *overshoot) resized() { o.sized, o.offered = 0, 0 }

// skipped notes a camera frame the sender dropped before encoding it
// (frameDropper): it counts towards the time overrun waits for.
func (o *overshoot) skipped() { o.offered++ }

// overrun is how far the encoder's output ran over the target itself
// over the current size's frames in the window, when the correction is
// at its bound and a window's time of frames (overshootFrames, dropped
// ones included) has been offered at this size, overshootEvery or more
// of them encoded; 0 otherwise. Over 1 the encoder cannot make pictures
// of this size as small as the target wants: at its coarsest quantiser
// a busy picture costs what it costs. The dropped frames count in time,
// not in the ratio (their time is left out of the encoder's, so each
// encoded frame is measured against a full frame's budget): counted
// only by encoded frames, the window took 4.5 s to fill while the
// sender dropped two frames in three, and the link's queue overflowed
// meanwhile (bench --network 3M-500k-3M, traced: the busy clip at
// 480x360 on the 500 kbit/s link, 2.5-4.6 KB frames for a 344 kbit/s
// target, a freeze of 868 ms).
func (o *overshoot) overrun() float64 {
	if o.factor < overshootMax || o.n < overshootFrames || o.offered < overshootFrames || o.sized < overshootEvery {
		return 0
	}
	var bits, wanted float64
	for i := range min(o.sized, o.n) {
		k := (o.next - 1 - i + overshootFrames) % overshootFrames
		bits += o.bits[k]
		wanted += o.wanted[k]
	}
	if wanted <= 0 {
		return 0
	}
	return bits / wanted
}

// adjust is the rate to give the encoder for a target of bps. It lowers
// no rate under the encoder's least.
func (o *overshoot) adjust(bps int) int {
	return max(int(float64(bps)/o.factor), min(bps, codec.MinVP8BitRate))
}
