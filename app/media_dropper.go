package app

import "time"

// frameDropper skips a camera's frames before they are encoded while what
// the encoder made has run ahead of the target by more than a link's
// queue holds: a leaky bucket that fills with each frame's bits and
// drains at the target's rate.
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
	level float64   // bits sent beyond the target, in bits
	last  time.Time // when level was last drained
}

const (
	// dropperSpan is how far ahead of the target the output may run, in
	// time at the target: what the link's queue and the pacer absorb.
	// A keyframe three frames large (VP8E_SET_MAX_INTRA_BITRATE_PCT 300)
	// leaves the bucket two frames up, under it.
	dropperSpan = 100 * time.Millisecond
	// dropperCap bounds the level, so that no frame pauses the picture
	// for much longer than a second: a frame that large would not cross
	// the link's queue whole anyway.
	dropperCap = time.Second
)

// skip drains the bucket up to now at bps and reports whether the frame
// due now should be skipped.
func (d *frameDropper) skip(now time.Time, bps int) bool {
	if bps <= 0 {
		return false
	}
	if !d.last.IsZero() {
		d.level = max(0, d.level-float64(bps)*now.Sub(d.last).Seconds())
	}
	d.last = now
	return d.level > float64(bps)*dropperSpan.Seconds()
}

// sent adds an encoded frame of size bytes, bounded at bps's cap.
func (d *frameDropper) sent(size, bps int) {
	d.level = min(d.level+8*float64(size), float64(max(bps, 0))*dropperCap.Seconds())
}

// reset forgets what was sent: the pacer dropped its stale video at a
// narrowing of the link.
func (d *frameDropper) reset() { d.level = 0 }
