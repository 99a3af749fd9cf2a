package app

import (
	"sync"
	"time"
)

// TimelinePoint is one stats interval (a second) of a headless call: what
// this side sent and what it received from its first peer. Times are wall
// clock, so points of two processes on one machine (and an emulated link's
// schedule) line up.
type TimelinePoint struct {
	UnixMS int64 `json:"unix_ms"`
	// SendKbps is video plus audio sent over the interval (RTP with
	// headers); TargetKbps the congestion controller's estimate then.
	SendKbps   float64 `json:"send_kbps"`
	TargetKbps float64 `json:"target_kbps"`
	// FPSIn is frames decoded in the interval; WidthIn and HeightIn the
	// size of the latest one.
	FPSIn    float64 `json:"fps_in"`
	WidthIn  int     `json:"width_in"`
	HeightIn int     `json:"height_in"`
	// LatencyMS is the latest capture-to-display marker latency (0 before
	// the first marked frame).
	LatencyMS float64 `json:"latency_ms"`
}

// FreezeSpan is a gap of at least LongFreeze between decoded frames.
type FreezeSpan struct {
	StartUnixMS int64   `json:"start_unix_ms"`
	MS          float64 `json:"ms"`
}

// LongFreeze is the gap that counts as a freeze a person notices (the
// freezes of the report's video_in count shorter stalls too).
const LongFreeze = 500 * time.Millisecond

// maxTimeline bounds a report's timeline (a day-long run keeps its last
// hours only).
const maxTimeline = 4 * 3600

// timeline samples a conference once a stats interval until stopped.
type timeline struct {
	mu     sync.Mutex
	points []TimelinePoint
	once   sync.Once
	stopc  chan struct{}
	done   chan struct{}
}

// startTimeline samples conf every second; stop ends it.
func startTimeline(conf *conference) *timeline {
	tl := &timeline{stopc: make(chan struct{}), done: make(chan struct{})}
	go tl.run(conf)
	return tl
}

func (tl *timeline) run(conf *conference) {
	defer close(tl.done)
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	var last time.Time // the stats snapshot last taken
	var frames int64
	for {
		select {
		case <-tl.stopc:
			return
		case <-t.C:
		}
		ps := conf.Peers()
		if len(ps) == 0 || ps[0].sess == nil {
			continue
		}
		p := ps[0]
		st := p.sess.Stats()
		if st.Time.IsZero() || !st.Time.After(last) {
			continue // a new snapshot comes once a stats interval
		}
		pt := TimelinePoint{UnixMS: st.Time.UnixMilli(),
			SendKbps:   float64(st.VideoOut.Bitrate+st.AudioOut.Bitrate) / 1000,
			TargetKbps: float64(st.TargetBitrate) / 1000}
		if v := p.video(); v != nil {
			n, w, h, lat := v.live()
			if !last.IsZero() {
				pt.FPSIn = float64(n-frames) / st.Time.Sub(last).Seconds()
			}
			frames = n
			pt.WidthIn, pt.HeightIn, pt.LatencyMS = w, h, round1(lat)
		}
		pt.FPSIn = round1(pt.FPSIn)
		last = st.Time
		tl.mu.Lock()
		if len(tl.points) >= maxTimeline {
			tl.points = tl.points[1:]
		}
		tl.points = append(tl.points, pt)
		tl.mu.Unlock()
	}
}

// stop ends sampling and waits for it; safe on nil and more than once.
func (tl *timeline) stop() {
	if tl == nil {
		return
	}
	tl.once.Do(func() { close(tl.stopc) })
	<-tl.done
}

// get returns the points so far (nil on nil).
func (tl *timeline) get() []TimelinePoint {
	if tl == nil {
		return nil
	}
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return append([]TimelinePoint(nil), tl.points...)
}

// longFreezes lists the gaps of at least LongFreeze between frames decoded
// in [from, to], the end of the window included (video stopped for good);
// a window without any frame is one freeze.
func (v *videoReceiver) longFreezes(from, to time.Time) []FreezeSpan {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []FreezeSpan
	prev := time.Time{}
	add := func(a, b time.Time) {
		if b.Sub(a) >= LongFreeze {
			out = append(out, FreezeSpan{StartUnixMS: a.UnixMilli(), MS: float64(b.Sub(a).Milliseconds())})
		}
	}
	for _, t := range v.decodedAt {
		if t.Before(from) || t.After(to) {
			continue
		}
		if !prev.IsZero() {
			add(prev, t)
		}
		prev = t
	}
	if prev.IsZero() {
		prev = from // no frame at all: the whole window is one freeze
	}
	add(prev, to)
	return out
}
