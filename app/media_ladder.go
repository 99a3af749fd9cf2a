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
	// ladderDownHold is how long the target must stay under the current
	// size's need before the picture shrinks: every change of size costs
	// a keyframe, and a dip of a few hundred milliseconds (one congestion
	// cut) is cheaper to ride out at the encoder's lower quality than
	// with a keyframe down now and others on the way back up.
	ladderDownHold = 500 * time.Millisecond
	// ladderDeepCut: a target under this share of the size's need is not
	// a dip to ride out. The encoder cannot come down that far at the
	// size (at 68 kbit/s it still made 1-1.5 KB 640x480 pictures of the
	// busy clip, 300 kbit/s), so the link's queue overflows and the
	// picture breaks anyway; the receiver then needs a keyframe, cheapest
	// at the smaller size, and sooner than the hold would make it (bench
	// --network 3M-500k-3M, traced: 640x480 held 535 ms after a cut to
	// 262 kbit/s, 800 kbit/s offered to the 500 kbit/s link).
	ladderDeepCut = 0.5
	// ladderUpMargin and ladderUpHold keep the size from flapping: larger
	// only with a margin over that size's need, and, once the picture has
	// had to shrink, only after the current size has held a while. Until
	// then the size follows the call's start as it climbs (it starts at
	// 250 kbit/s, call.DefaultStartBitrate). The margin also leaves room
	// for the step's keyframe, larger than the frames around it (about
	// 6 KB at 640x480): with 1.3, a 500 kbit/s link stepped up to 640x480
	// at 480 kbit/s, its 100 ms queue overflowed and the picture froze
	// and fell to 160x120 (bench --network 3M-500k-3M: in 4 of 16 calls,
	// and in 1 of 4 with 1.5).
	ladderUpMargin = 1.5
	ladderUpHold   = 3 * time.Second
	// ladderNarrowedMargin: when the controller finds the link much
	// narrower than what is sent (call.Config.OnLinkNarrowed), the
	// picture shrinks at once to the size the new target affords with
	// this margin. The receiver's picture is broken then, and the size
	// change brings the keyframe that mends it, one that fits the
	// narrower link, without waiting for the hold or for the keyframe
	// request to cross the full queue back (bench --network 3M-500k-3M,
	// traced: 640x480 held 300 ms after the first cut to 370 kbit/s,
	// the keyframe at 320x240 came with the deep cut, and the picture
	// froze 650 ms). Twice the need: the target goes on falling over
	// the next feedbacks (traced: 400 → 290 kbit/s in 300 ms), and the
	// keyframe crosses a queue that still drops half of what reaches
	// it, where one or two packets (320x240, 1.2-1.5 KB) get through
	// more often than three.
	ladderNarrowedMargin = 2.0
	// ladderMinSide is the smallest side a step may have.
	ladderMinSide = 16
	// ladderOverrun: an encoder whose output runs this far over the
	// target for a window (overshoot.overrun), its correction at the
	// bound, cannot make this size's pictures small enough: the picture
	// shrinks a step at once, and the rate that size took is its need
	// for ladderLearnFor (or until the link carries it with the margin:
	// forget), and its share per pixel the larger sizes'. The
	// need per pixel (ladderBitsPerPixel) suits a camera's picture, not a
	// busy one: the busy clip at 480x360 ran at 430 kbit/s for a 344
	// kbit/s target on a 500 kbit/s link, whose queue then overflowed
	// every few hundred milliseconds with the repairs on top, and the
	// picture froze 0.5-1.3 s in half the calls (bench --network
	// 3M-500k-3M, traced).
	ladderOverrun  = 1.2
	ladderLearnFor = 20 * time.Second
)

// sizeLadder chooses the picture size for a bitrate.
type sizeLadder struct {
	w, h, fps int // the source's size and rate
	step      int // index into ladderScales
	started   bool
	changed   time.Time
	// shrunk is whether the picture has had to get smaller.
	shrunk bool
	// belowSince is when the target fell under the current step's need
	// (zero while it is not), peak the highest target since then.
	belowSince time.Time
	peak       int
	// learned is what each step was found to need (overran), when.
	learned [len(ladderScales)]learnedNeed
	now     time.Time // the latest time the ladder was asked at
}

// learnedNeed is a rate a step's pictures were found to need, in bit/s.
type learnedNeed struct {
	bps float64
	at  time.Time
}

// size is the picture size of step k (even sides).
func (l *sizeLadder) size(k int) (w, h int) {
	s := ladderScales[k]
	return (l.w * s.num / s.den) &^ 1, (l.h * s.num / s.den) &^ 1
}

// need is the bitrate step k needs, in bit/s: ladderBitsPerPixel, or
// what the encoder was found to need per pixel at k or a smaller step
// lately, if more.
func (l *sizeLadder) need(k int) float64 {
	w, h := l.size(k)
	n := ladderBitsPerPixel * float64(w*h) * float64(max(l.fps, 1))
	for i := k; i < len(ladderScales); i++ {
		lr := l.learned[i]
		if lr.at.IsZero() || l.now.Sub(lr.at) >= ladderLearnFor {
			continue
		}
		if wi, hi := l.size(i); wi*hi > 0 {
			n = max(n, lr.bps*float64(w*h)/float64(wi*hi))
		}
	}
	return n
}

// forget drops what a step was found to need once up clears that need
// with ladderUpMargin: the link now carries that step with room to spare,
// and the need, learned on a narrower link, stands in the way of the
// larger steps it is scaled to. Kept, it held the picture small after
// the link came back: at 320x240 the camera's output is capped
// (cameraMaxBitrate) and the controller's target does not climb far
// past what is sent, so a larger step's scaled need was never cleared,
// and the picture stayed at 320x240 for the rest of ladderLearnFor
// (bench --network 3M-500k-3M: 320x240's need learned at 22 s, the
// target held at 1040 kbit/s from 33 s to the end of the call). If the
// picture is still too busy for its size, it overruns and is learned
// again.
func (l *sizeLadder) forget(up int) {
	for i, lr := range l.learned {
		if !lr.at.IsZero() && float64(up) >= ladderUpMargin*lr.bps {
			l.learned[i] = learnedNeed{}
		}
	}
}

// overran notes that the encoder ran ratio times over a target of bps at
// the current step: that rate is the step's need, and the picture
// shrinks a step at once, if it can.
func (l *sizeLadder) overran(bps int, ratio float64, now time.Time) {
	if !l.started {
		return
	}
	l.now = now
	l.learned[l.step] = learnedNeed{bps: float64(bps) * ratio, at: now}
	if k := l.step + 1; k < len(ladderScales) && l.allowed(k) {
		l.shrinkTo(k, now)
	}
}

// allowed reports whether step k's sides are at least ladderMinSide.
func (l *sizeLadder) allowed(k int) bool {
	w, h := l.size(k)
	return w >= ladderMinSide && h >= ladderMinSide
}

// shrinkTo takes the picture to the smaller step k at once.
func (l *sizeLadder) shrinkTo(k int, now time.Time) {
	l.step, l.changed, l.belowSince, l.shrunk = k, now, time.Time{}, true
}

// fit is the largest picture's step that bps affords with margin, the
// smallest allowed picture's if none does.
func (l *sizeLadder) fit(bps int, margin float64) int {
	k := 0
	for k < len(ladderScales)-1 && float64(bps) < margin*l.need(k) && l.allowed(k+1) {
		k++
	}
	return k
}

// narrowed shrinks the picture at once to the size bps affords with
// ladderNarrowedMargin, if that is smaller: the link has just been found
// much narrower than what was sent.
func (l *sizeLadder) narrowed(bps int, now time.Time) {
	if !l.started {
		return
	}
	l.now = now
	if k := l.fit(bps, ladderNarrowedMargin); k > l.step {
		l.shrinkTo(k, now)
	}
}

// next is the step for a target of bps at now. The first picture gets
// the size bps affords with ladderUpMargin: its keyframe comes before the
// link is known, and at the call's start of 250 kbit/s a 480x360
// keyframe of the busy clip overflowed a 300 kbit/s link's queue (bench
// --network 300k: a freeze of 875 ms at 0.6 s). Later the picture shrinks once bps has stayed
// under the current size's need for ladderDownHold, to the size the
// highest target of that time affords, or at once to the size bps
// affords when bps falls under ladderDeepCut of that need; it grows,
// possibly by several steps at once (one keyframe), once bps clears a
// larger size's need with the margin and, after a shrink, the current
// size has held ladderUpHold. Growing reads up, the target within what
// the link has shown it carries (call.Config.OnCarriedBitrate): a target
// past the link's rate, where a controller's probe takes it, is no room
// for the step's keyframe (bench --network 300k, traced: the bound went
// from 300 to 366 kbit/s, the picture stepped up to 480x360, and its
// keyframe overflowed the link's 3.75 KB queue; a freeze of 0.5-1.1 s).
func (l *sizeLadder) next(bps, up int, now time.Time) int {
	l.now = now
	l.forget(up)
	if !l.started {
		l.started, l.step, l.changed = true, l.fit(bps, ladderUpMargin), now
		return l.step
	}
	k := l.step
	if float64(bps) < l.need(k) && k < l.fit(0, 1) {
		if l.belowSince.IsZero() {
			l.belowSince, l.peak = now, bps
		}
		l.peak = max(l.peak, bps)
		switch {
		case float64(bps) < ladderDeepCut*l.need(k):
			k = max(k, l.fit(bps, 1))
		case now.Sub(l.belowSince) >= ladderDownHold:
			k = max(k, l.fit(l.peak, 1))
		}
	} else {
		l.belowSince = time.Time{}
		if k > 0 && (!l.shrunk || now.Sub(l.changed) >= ladderUpHold) {
			k = min(k, l.fit(up, ladderUpMargin))
		}
	}
	if k != l.step {
		l.shrunk = l.shrunk || k > l.step
		l.step, l.changed, l.belowSince = k, now, time.Time{}
	}
	return k
}
