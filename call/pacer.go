package call

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
)

// The pacer spreads each video frame's packets over time at a multiple of
// the congestion controller's target, as libwebrtc's pacer does (pacing
// factor 2.5). Unpaced, a frame left in one burst: a keyframe of 10 KB or
// more went into a 1 Mbit/s link's 100 ms queue (12.5 KB) at once and
// overflowed it, and the burst's queueing read to GCC as overuse, which
// cut the target (bench --network, issue 16: the 1 Mbit/s link dropped
// hundreds of packets per call in such bursts, each a freeze and a
// keyframe request). Audio is not paced: it is small and must not wait
// behind a keyframe. Video streams take turns packet by packet, so a
// camera frame does not wait behind a shared screen's keyframe.
const (
	pacingFactor = 2.5
	// pacerMaxQueue bounds the delay: a queue longer than this at the
	// pacing rate is sent faster, so that it drains within it. Two frame
	// intervals: a keyframe for someone joining a group call, paced at
	// 2.5× the target over up to 200 ms, held everyone's picture that long
	// (TestHeadlessGroupLeaveAndRejoin); spread over 60 ms it still fits a
	// 1 Mbit/s link's 100 ms queue (a 300 % keyframe there is 12.5 KB,
	// 7.5 KB of which the link drains meanwhile).
	pacerMaxQueue = 60 * time.Millisecond
	// pacerBurst is how far sending may catch up after an idle spell: a
	// few packets at once, never a whole frame.
	pacerBurst = 5 * time.Millisecond
	// pacerMinRate is the least pacing rate (bit/s), below any target.
	pacerMinRate = 250_000
	// While the link has shown what it carries (a backoff lately,
	// Config.OnCarriedBitrate), video leaves at most pacerLinkFactor times
	// that, and a backlog drains within pacerLinkMaxQueue instead of
	// pacerMaxQueue. Sent faster than the link takes it, a large frame
	// (a keyframe, or a scene cut's inter frame) only waits in the link's
	// queue instead of ours, and overflows it: a 300 kbit/s link's 100 ms
	// queue holds 3.75 KB, and the freezes of 0.5-1.3 s there fell every
	// 10 s, where the busy clip loops (a scene cut: an inter frame as
	// large as a keyframe) (bench --network 300k: 6 in 9 calls, 2 in 9
	// with this). Its last packet crosses the link no later for being
	// paced at the link's rate.
	pacerLinkFactor   = 1.25
	pacerLinkMaxQueue = 400 * time.Millisecond
	// When the link is found much narrower than what was sent
	// (Config.OnLinkNarrowed), its queue is full of the old rate's
	// packets and drops what reaches it; the picture has broken, and the
	// camera's next frame is a keyframe of a size the link affords. The
	// video still queued here from before is dropped (the keyframe
	// mends the picture; the NACK guard does not repair it either), and
	// video waits narrowedHold so that the link's queue has room for that
	// keyframe: 60 ms of a 500 kbit/s link is 3.75 KB, a 320x240
	// keyframe (1.3-1.5 KB) and the frame after it. Sent at once, it
	// was lost in the full queue in about half the calls (bench
	// --network 3M-500k-3M, traced), and the picture froze until the
	// receiver's own keyframe request was answered, 530-680 ms.
	narrowedHold = 60 * time.Millisecond
)

type pacedPacket struct {
	h       rtp.Header
	payload []byte
	attr    interceptor.Attributes
	w       interceptor.RTPWriter
	queued  time.Time
}

func (p *pacedPacket) size() int { return p.h.MarshalSize() + len(p.payload) }

// pacer is the interceptor; target is the session's clamped GCC target
// (bit/s).
type pacer struct {
	interceptor.NoOp
	target *atomic.Int64
	// carried is what the link has shown it carries (bit/s, 0: not
	// known; lossBound.carried); nil: never known.
	carried *atomic.Int64
	// maxQueue is pacerMaxQueue (tests set a longer one).
	maxQueue time.Duration
	onSend   func(time.Time) // set before the first packet; nil: none
	// narrowedAt is when the link was last found much narrower (unix
	// ns, 0: never); nil: never told.
	narrowedAt *atomic.Int64

	mu      sync.Mutex
	streams map[uint32]*pacedQueue
	ring    []uint32 // the streams in turn order
	turn    int      // index into ring of the stream to serve next
	queued  int      // bytes in all queues
	closed  bool
	started bool
	wake    chan struct{}
	done    chan struct{}
	wg      sync.WaitGroup
}

type pacedQueue struct {
	q    []pacedPacket
	head int
}

type pacerFactory struct {
	target     *atomic.Int64
	carried    *atomic.Int64   // nil: none
	narrowedAt *atomic.Int64   // nil: none
	onSend     func(time.Time) // each video packet as it leaves; nil: none
}

func (f *pacerFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	p := newPacer(f.target)
	p.carried = f.carried
	p.narrowedAt = f.narrowedAt
	p.onSend = f.onSend
	return p, nil
}

func newPacer(target *atomic.Int64) *pacer {
	return &pacer{target: target, maxQueue: pacerMaxQueue, streams: map[uint32]*pacedQueue{}, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// BindLocalStream paces video streams; others pass straight through.
func (p *pacer) BindLocalStream(info *interceptor.StreamInfo, writer interceptor.RTPWriter) interceptor.RTPWriter {
	if !strings.HasPrefix(strings.ToLower(info.MimeType), "video/") {
		return writer
	}
	p.mu.Lock()
	if !p.started && !p.closed {
		p.started = true
		p.wg.Add(1)
		go p.loop()
	}
	p.mu.Unlock()
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		// The caller reuses its buffers: keep copies.
		pkt := pacedPacket{h: h.Clone(), payload: append([]byte(nil), payload...), attr: a, w: writer, queued: time.Now()}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return writer.Write(h, payload, a)
		}
		q := p.streams[h.SSRC]
		if q == nil {
			q = &pacedQueue{}
			p.streams[h.SSRC] = q
			p.ring = append(p.ring, h.SSRC)
		}
		q.q = append(q.q, pkt)
		p.queued += pkt.size()
		p.mu.Unlock()
		select {
		case p.wake <- struct{}{}:
		default:
		}
		return len(payload), nil
	})
}

// limits are the pacing rate (bit/s) and the longest a packet waits:
// pacingFactor times the target, and maxQueue; while the link has shown
// what it carries, at most pacerLinkFactor times that, and
// pacerLinkMaxQueue.
func (p *pacer) limits() (float64, time.Duration) {
	r := max(pacingFactor*float64(p.target.Load()), pacerMinRate)
	if p.carried != nil {
		if c := p.carried.Load(); c > 0 {
			return min(r, pacerLinkFactor*float64(c)), max(p.maxQueue, pacerLinkMaxQueue)
		}
	}
	return r, p.maxQueue
}

// rate is the pacing rate in bit/s for queued bytes waiting, the oldest
// of them for waited: fast enough to send them all within the longest
// wait.
func (p *pacer) rate(queued int, waited time.Duration) float64 {
	r, maxWait := p.limits()
	left := max(maxWait-waited, pacerBurst)
	return max(r, float64(queued)*8/left.Seconds())
}

// pop takes the next stream's oldest packet, if any, and returns the
// bytes queued before it was taken.
func (p *pacer) pop() (pacedPacket, int, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range p.ring {
		k := (p.turn + i) % len(p.ring)
		q := p.streams[p.ring[k]]
		if q.head == len(q.q) {
			q.q, q.head = q.q[:0], 0
			continue
		}
		pkt := q.q[q.head]
		q.q[q.head] = pacedPacket{}
		q.head++
		p.turn = k + 1
		queued := p.queued
		p.queued -= pkt.size()
		return pkt, queued, true
	}
	return pacedPacket{}, 0, false
}

func (p *pacer) loop() {
	defer p.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var next time.Time // when the next packet may leave
	for {
		pkt, queued, ok := p.pop()
		if !ok {
			select {
			case <-p.done:
				return
			case <-p.wake:
			}
			continue
		}
		// No packet waits longer than the limit.
		_, maxWait := p.limits()
		if deadline := pkt.queued.Add(maxWait); deadline.Before(next) {
			next = deadline
		}
		if p.narrowedAt != nil {
			if at := p.narrowedAt.Load(); at != 0 {
				if pkt.queued.UnixNano() < at {
					continue // the old rate's: dropped
				}
				if hold := time.Unix(0, at).Add(narrowedHold); next.Before(hold) {
					next = hold
				}
			}
		}
		if wait := time.Until(next); wait > 0 {
			timer.Reset(wait)
			select {
			case <-p.done:
				return
			case <-timer.C:
			}
		}
		// A failed write (closing, or a full socket) loses the packet as
		// the network would; NACK or a keyframe request repairs it.
		_, _ = pkt.w.Write(&pkt.h, pkt.payload, pkt.attr)
		now := time.Now()
		if p.onSend != nil {
			p.onSend(now)
		}
		if floor := now.Add(-pacerBurst); next.Before(floor) {
			next = floor
		}
		rate := p.rate(queued, now.Sub(pkt.queued))
		next = next.Add(time.Duration(float64(pkt.size()*8) / rate * float64(time.Second)))
	}
}

// Close stops the loop; what is still queued is dropped.
func (p *pacer) Close() error {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.done)
	}
	p.mu.Unlock()
	p.wg.Wait()
	return nil
}
