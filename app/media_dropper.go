package app

import "time"

// frameDropper skips a camera's frames before they are encoded while what
// the encoder made has run ahead of the target by more than a link's
// queue holds: a leaky bucket that fills with each frame's time at the
// target (its bits over the target it was sent at) and drains in real
// time. Kept in time rather than bits, a cut of the target (a screen
// share taking its part of the rate) does not turn what was sent at the
// old one into a long run of dropped frames.
//
// libvpx's own frame dropping (rc_dropframe_thresh) reads its rate
// control's buffer, which allows a second of the rate (rc_buf_sz) and
// starts skipping only once 0.9 s of it is spent: a busy picture at the
// coarsest quantiser ran 12-40 % over the target for over a second at
// the clip's scene cuts and libvpx skipped none (bench --network,
// 3M-500k-3M and 300k, traced), while the link's 100 ms queue overflowed
// and the picture froze. libwebrtc keeps a frame dropper of its own in
// front of the encoder for the same reason. With it, 8 calls against 6
// without, interleaved (bench --network, busy clip): freezes at 1 Mbit/s
// 0 against 4, at 300 kbit/s 0 against 1, on 3M-500k-3M 2 against 4 (the
// two left at the drop itself, none within the 500 kbit/s stretch), the
// picture delivered unchanged.
type frameDropper struct {
	level time.Duration // how far what was sent runs ahead of the target
	last  time.Time     // when level was last drained
	run   int           // frames skipped in a row
}

const (
	// dropperSpan is how far ahead of the target the output may run, in
	// time at the target: what the link's queue and the pacer absorb.
	// A keyframe three frames large (VP8E_SET_MAX_INTRA_BITRATE_PCT 300)
	// leaves the bucket two frames up, under it.
	dropperSpan = 100 * time.Millisecond
	// dropperMaxRun is the most frames skipped in a row: at 30 fps the
	// picture then pauses 100 ms at most, under what a viewer (and the
	// report, 150 ms) counts as a freeze, while skipping two frames in
	// three still takes the output down to a third of the encoder's. After a
	// cut of the target libvpx's frames stay sized for the old one for a
	// few frames, and unbounded the dropper stopped the picture for
	// 170-230 ms each time a screen share started and took its part of
	// the rate (TestHeadlessShareStartStop).
	dropperMaxRun = 2
	// dropperCap bounds the level, so that no frame thins the picture
	// for much longer than a second: a frame that large would not cross
	// the link's queue whole anyway.
	dropperCap = time.Second
)

// skip drains the bucket up to now and reports whether the frame due now
// should be skipped.
func (d *frameDropper) skip(now time.Time) bool {
	if !d.last.IsZero() {
		d.level = max(0, d.level-now.Sub(d.last))
	}
	d.last = now
	if d.level <= dropperSpan || d.run >= dropperMaxRun {
		d.run = 0
		return false
	}
	d.run++
	return true
}

// sent adds an encoded frame of size bytes sent at a target of bps
// (none: nothing), up to dropperCap.
func (d *frameDropper) sent(size, bps int) {
	d.run = 0
	if bps <= 0 {
		return
	}
	d.level = min(d.level+time.Duration(8*float64(size)/float64(bps)*float64(time.Second)), dropperCap)
}

// reset forgets what was sent: the pacer dropped its stale video at a
// narrowing of the link.
func (d *frameDropper) reset() { d.level = 0 }
