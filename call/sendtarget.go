package call

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Retransmissions come out of the media's share, as libwebrtc's protection
// bitrate does: the encoders get GCC's estimate less the rate at which
// lost packets are being resent, never under the minimum; the pacer and
// the repair budget keep the whole estimate. Added on top, the repairs of
// a congestion loss raised the load on the full link by up to half again
// (the repair budget, nackguard.go): more loss, more repairs, and a few
// lost packets grew into freezes of seconds (bench --network, issue 16:
// the 3 Mbit/s → 500 kbit/s drop offered 1.3–1.6 Mbit/s to the link for
// 3 s with the encoder at 0.8; the longest freeze 5.4 s).
const (
	// targetEvery is how often the media's target is looked at again
	// between estimates (as video packets leave).
	targetEvery = 100 * time.Millisecond
	// targetStep is the least relative change handed to the encoders
	// between estimates.
	targetStep = 0.05
)

type sendTarget struct {
	hooks    *mediaHooks
	onTarget func(int) // nil: none
	lo       int
	repaired *atomic.Int64 // bytes resent so far (nackguard.go)

	mu      sync.Mutex
	gcc     int       // the estimator's last target, clamped
	looked  time.Time // last look at the resend rate; zero: none yet
	bytes   int64     // repaired at looked
	repair  float64   // resend rate, bit/s (smoothed)
	applied int       // last target handed out
}

func newSendTarget(hooks *mediaHooks, start, lo int, onTarget func(int)) *sendTarget {
	hooks.target.Store(int64(start))
	return &sendTarget{hooks: hooks, onTarget: onTarget, lo: lo, repaired: &hooks.repaired, gcc: start}
}

// estimate takes a new GCC target.
func (t *sendTarget) estimate(now time.Time, bps int) {
	t.mu.Lock()
	t.gcc = bps
	t.update(now, true)
}

// sent notes a video packet leaving at now.
func (t *sendTarget) sent(now time.Time) {
	t.mu.Lock()
	if !t.looked.IsZero() && now.Sub(t.looked) < targetEvery {
		t.mu.Unlock()
		return
	}
	t.update(now, false)
}

// movedBy reports whether a rate handed out as old (0: none yet) has
// moved to now by step of old or more: smaller changes are not handed on.
func movedBy(old, now int, step float64) bool {
	return old != 0 && math.Abs(float64(now-old)) >= step*float64(old)
}

// update recomputes the media's target with t.mu held and releases it;
// force hands it out even when it barely changed.
func (t *sendTarget) update(now time.Time, force bool) {
	b := t.repaired.Load()
	if t.looked.IsZero() {
		t.looked, t.bytes = now, b
	} else if dt := now.Sub(t.looked); dt >= targetEvery {
		inst := float64(b-t.bytes) * 8 / dt.Seconds()
		t.repair = 0.5*t.repair + 0.5*inst
		t.looked, t.bytes = now, b
	}
	t.hooks.target.Store(int64(t.gcc))
	media := max(t.lo, t.gcc-int(t.repair))
	if !force && !movedBy(t.applied, media, targetStep) {
		t.mu.Unlock()
		return
	}
	t.applied = media
	t.mu.Unlock()
	if t.onTarget != nil {
		t.onTarget(media)
	}
}
