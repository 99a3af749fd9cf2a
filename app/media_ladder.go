package app

import "time"

// The camera's picture follows the bitrate in steps, as a video call
// should degrade: smaller, not frozen. A 640x480 VP8 keyframe needs about
// 6 KB whatever the target, more than a 300 kbit/s link's 100 ms queue
// holds, so at low rates only a smaller picture gets through at all.
// The screen share keeps its size (text must stay legible) and drops
// frames instead.
var ladderScales = [...]struct{ num, den int }{{1, 1}, {3, 4}, {1, 2}, {1, 4}}

const (
	// ladderBitsPerPixel is what each step needs per pixel and frame:
	// 640x480 at 30 fps keeps its size down to about 370 kbit/s.
	ladderBitsPerPixel = 0.04
	// ladderUpMargin and ladderUpHold keep the size from flapping: one
	// step up only with a margin over that step's need, and only after
	// the current size has held a while.
	ladderUpMargin = 1.3
	ladderUpHold   = 3 * time.Second
	// ladderMinSide is the smallest side a step may have.
	ladderMinSide = 16
)

// sizeLadder chooses the picture size for a bitrate.
type sizeLadder struct {
	w, h, fps int // the source's size and rate
	step      int // index into ladderScales
	changed   time.Time
}

// size is the picture size of step k (even sides).
func (l *sizeLadder) size(k int) (w, h int) {
	s := ladderScales[k]
	return (l.w * s.num / s.den) &^ 1, (l.h * s.num / s.den) &^ 1
}

// need is the bitrate step k needs, in bit/s.
func (l *sizeLadder) need(k int) float64 {
	w, h := l.size(k)
	return ladderBitsPerPixel * float64(w*h) * float64(max(l.fps, 1))
}

// next is the step for a target of bps at now: smaller at once when bps
// is under the current step's need, one step larger when bps clears that
// step's need with the margin and the current size has held.
func (l *sizeLadder) next(bps int, now time.Time) int {
	k := l.step
	for k < len(ladderScales)-1 && float64(bps) < l.need(k) {
		if w, h := l.size(k + 1); w < ladderMinSide || h < ladderMinSide {
			break
		}
		k++
	}
	if k == l.step && k > 0 && float64(bps) >= ladderUpMargin*l.need(k-1) && now.Sub(l.changed) >= ladderUpHold {
		k--
	}
	if k != l.step {
		l.step, l.changed = k, now
	}
	return k
}
