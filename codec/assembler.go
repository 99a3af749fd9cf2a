package codec

import (
	"fmt"
	"sync"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
)

const (
	assemblerRing          = 1024 // packets held; power of two
	defaultReorderWindow   = 32   // packets we wait for a missing one
	maxAssemblerReorderWin = assemblerRing / 2
	maxLateRun             = 64 // consecutive late packets that mean a sender restart
)

// Frame is one complete VP8 frame assembled from RTP packets.
type Frame struct {
	Data      []byte // VP8 frame (payloads without descriptors); the caller owns it
	Timestamp uint32 // RTP timestamp (90 kHz)
	FirstSeq  uint16 // sequence number of the first packet
	LastSeq   uint16 // sequence number of the last packet
	KeyFrame  bool   // from the VP8 payload header P bit
	Packets   int
}

// AssemblerStats are running counters of a VP8Assembler.
type AssemblerStats struct {
	Frames           uint64 // complete frames handed out
	Dropped          uint64 // frames with at least one packet received that were discarded
	Gaps             uint64 // sequence gaps that cost a frame
	Duplicates       uint64 // packets received twice
	Late             uint64 // packets that arrived after their frame was handed out or dropped
	Malformed        uint64 // packets rejected by Push with ErrMalformedPacket
	DecodeErrors     uint64 // ReportDecodeError calls
	KeyFrameRequests uint64 // times NeedKeyFrame turned true
}

// AssemblerOption configures a VP8Assembler.
type AssemblerOption func(*VP8Assembler)

// WithReorderWindow sets how many packets past a missing one the assembler
// waits for it before it declares a gap (default 32, at most 512). Larger
// values leave NACK retransmissions time to arrive, at the cost of a longer
// freeze when the packet is really lost.
func WithReorderWindow(packets int) AssemblerOption {
	return func(a *VP8Assembler) {
		a.window = max(1, min(packets, maxAssemblerReorderWin))
	}
}

type asmSlot struct {
	valid   bool
	arrived time.Time
	ext     int64
	ts      uint32
	marker  bool
	start   bool // S=1 and PID=0: first packet of a frame
	key     bool // start packet of a keyframe
	payload []byte
}

// WithMaxHoleWait makes a missing packet count as lost once d has passed
// since the first packet after it arrived, instead of after a window of
// packets. Time is what NACK repair needs (a retransmission takes about one
// round trip plus the NACK interval), while packet counts mislead both ways:
// a keyframe burst fills any window in a millisecond, and at low bitrates 32
// packets take most of a second, which is a long freeze. The packet window
// stays as a backstop at its maximum unless WithReorderWindow sets it.
func WithMaxHoleWait(d time.Duration) AssemblerOption {
	return func(a *VP8Assembler) {
		a.maxWait = max(0, d)
		if a.window == defaultReorderWindow {
			a.window = maxAssemblerReorderWin
		}
	}
}

// SetMaxHoleWait changes the wait of WithMaxHoleWait while packets flow
// (the receiver follows the round trip a NACK repair takes).
func (a *VP8Assembler) SetMaxHoleWait(d time.Duration) {
	a.mu.Lock()
	a.maxWait = max(0, d)
	a.mu.Unlock()
}

// withClock replaces time.Now (tests).
func withClock(now func() time.Time) AssemblerOption {
	return func(a *VP8Assembler) { a.now = now }
}

// VP8Assembler rebuilds VP8 frames from RTP packets (RFC 7741). A frame is
// handed out as soon as its marker packet is in and every packet back to its
// first one (S=1, PID=0) is present, without waiting for the next frame.
// After a sequence gap, a decode error reported back, or a stream that starts
// mid-GOP it drops interframes and reports NeedKeyFrame until a keyframe
// arrives. All methods are safe for concurrent use.
type VP8Assembler struct {
	mu      sync.Mutex
	ring    [assemblerRing]asmSlot
	window  int
	maxWait time.Duration    // 0: holes are judged by packet count only
	now     func() time.Time // clock for maxWait (tests inject one)
	init    bool
	highest int64 // highest extended sequence number seen
	low     int64 // everything below is handed out or dropped
	synced  bool  // low is the first packet of the next frame to hand out
	started bool  // a frame was handed out
	needKF  bool
	lateRun int // consecutive packets older than low
	stats   AssemblerStats
}

// NewVP8Assembler returns an assembler waiting for the first keyframe.
func NewVP8Assembler(opts ...AssemblerOption) *VP8Assembler {
	a := &VP8Assembler{window: defaultReorderWindow, now: time.Now}
	for _, o := range opts {
		o(a)
	}
	return a
}

// NeedKeyFrame reports whether the receiver should ask the sender for a
// keyframe (RTCP PLI). It stays true until a keyframe has been handed out;
// rate-limiting the PLIs is up to the caller.
func (a *VP8Assembler) NeedKeyFrame() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.needKF
}

// KeyFrameArriving reports whether, while a keyframe is needed, one is on
// its way: its first packet is held, the packets after it have come in
// with no gap waited out yet (the hole wait) and the latest within that
// wait. A keyframe is big, and on a slow link it is paced out over
// hundreds of milliseconds: asking again while it streams in only made the
// sender encode another one behind it, which filled the link further (a
// storm of five 640x480 keyframes in the second after a capacity drop,
// bench --network 3M-500k-3M, issue 16). Without a hole wait (no
// WithMaxHoleWait) it reports false.
func (a *VP8Assembler) KeyFrameArriving() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.needKF || !a.init || a.maxWait <= 0 {
		return false
	}
	for e := a.highest; e >= a.low && a.highest-e < assemblerRing; e-- {
		p := a.slot(e)
		if !p.valid || p.ext != e || !p.key {
			continue
		}
		for h := e + 1; h <= a.highest; h++ {
			if q := a.slot(h); !q.valid || q.ext != h {
				return a.highest-h < int64(a.window) && !a.waitedOut(h)
			}
		}
		return a.now().Sub(a.slot(a.highest).arrived) < a.maxWait
	}
	return false
}

// ReportDecodeError tells the assembler that the decoder failed on a frame it
// handed out: interframes are dropped and NeedKeyFrame is true until the next
// keyframe.
func (a *VP8Assembler) ReportDecodeError() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stats.DecodeErrors++
	a.synced = false
	a.requestKeyFrame()
}

// Stats returns a snapshot of the counters.
func (a *VP8Assembler) Stats() AssemblerStats {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stats
}

func (a *VP8Assembler) requestKeyFrame() {
	if !a.needKF {
		a.needKF = true
		a.stats.KeyFrameRequests++
	}
}

func (a *VP8Assembler) slot(ext int64) *asmSlot { return &a.ring[ext&(assemblerRing-1)] }

// Push adds one RTP packet and returns the frames it completed, oldest first
// (usually none or one). A packet that is not a valid VP8 RTP payload is
// rejected with an error wrapping ErrMalformedPacket and changes nothing.
// Push copies what it keeps: pkt may be reused afterwards.
func (a *VP8Assembler) Push(pkt *rtp.Packet) ([]Frame, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if pkt == nil {
		a.stats.Malformed++
		return nil, fmt.Errorf("nil packet: %w", ErrMalformedPacket)
	}
	var vp codecs.VP8Packet
	body, err := vp.Unmarshal(pkt.Payload)
	if err != nil {
		a.stats.Malformed++
		return nil, fmt.Errorf("vp8 descriptor: %v: %w", err, ErrMalformedPacket)
	}
	if len(body) == 0 {
		a.stats.Malformed++
		return nil, fmt.Errorf("vp8 packet without payload: %w", ErrMalformedPacket)
	}
	return a.insert(pkt, &vp, body), nil
}

// insert stores a parsed packet and returns the frames it completed.
func (a *VP8Assembler) insert(pkt *rtp.Packet, vp *codecs.VP8Packet, body []byte) []Frame {
	var ext int64
	if !a.init {
		a.init = true
		ext = 1<<32 + int64(pkt.SequenceNumber)
		a.highest = ext
		a.low = ext - int64(a.window) // leave room for packets reordered before the first one
	} else {
		ext = a.highest + int64(int16(pkt.SequenceNumber-uint16(a.highest)))
	}
	if ext < a.low {
		a.stats.Late++
		if a.lateRun++; a.lateRun >= maxLateRun {
			// Nothing but "late" packets: the sender restarted with
			// new sequence numbers far from the old ones. Start over.
			a.restart()
			return a.insert(pkt, vp, body)
		}
		return nil
	}
	a.lateRun = 0
	if ext > a.highest {
		a.highest = ext
	}
	if ext-a.low >= assemblerRing {
		// A jump past the ring: what is left behind can no longer complete.
		if a.synced {
			a.stats.Gaps++
			a.synced = false
			a.requestKeyFrame()
		}
		a.discard(a.low, ext-assemblerRing+1)
	}
	s := a.slot(ext)
	if s.valid && s.ext == ext {
		a.stats.Duplicates++
		return nil
	}
	start := vp.S == 1 && vp.PID == 0
	var arrived time.Time
	if a.maxWait > 0 {
		arrived = a.now()
	}
	*s = asmSlot{
		valid:   true,
		arrived: arrived,
		ext:     ext,
		ts:      pkt.Timestamp,
		marker:  pkt.Marker,
		start:   start,
		key:     start && body[0]&1 == 0,
		payload: append(s.payload[:0], body...),
	}
	return a.assemble(ext)
}

// restart forgets the stream (keeping the counters) after the sender jumped
// to unrelated sequence numbers.
func (a *VP8Assembler) restart() {
	for i := range a.ring {
		a.ring[i].valid = false
	}
	a.init, a.synced, a.lateRun = false, false, 0
	a.stats.Gaps++
	a.requestKeyFrame()
}

// assemble hands out what packet ext made complete.
func (a *VP8Assembler) assemble(ext int64) []Frame {
	var out []Frame
	out = a.drain(out)
	{
		// The frame holding ext, or the one before it when ext starts a
		// frame (its marker may have been lost), may be a complete keyframe
		// to resynchronise on (at once, even while an earlier frame still
		// waits for a packet), or reveal a stream that started mid-GOP.
		for _, s := range a.frameStarts(ext) {
			if a.synced && s == a.low {
				continue
			}
			end, ok := a.complete(s)
			if !ok {
				continue
			}
			if a.slot(s).key {
				if a.synced {
					if a.discard(a.low, s) {
						a.stats.Gaps++
					}
				} else {
					a.discard(a.low, s)
				}
				out = append(out, a.take(s, end))
				a.low = end + 1
				a.synced = true
				a.needKF = false
				out = a.drain(out)
				break
			}
			if !a.synced {
				if !a.started {
					a.requestKeyFrame() // the stream started mid-GOP
				}
				// Waiting for a keyframe: a complete interframe and all
				// before it are useless, unless an incomplete keyframe
				// precedes it. That one may still be repaired (NACK
				// retransmission, reordering) and then the interframes
				// after it are good again.
				if !a.keyStartIn(a.low, s) {
					a.discard(a.low, end+1)
				}
			}
		}
	}
	if a.synced {
		// A packet missing since a window of later packets came in is
		// lost. (Measured from the hole, not from the frame start: a big
		// keyframe spans many more packets than the window.)
		if hole, ok := a.firstHole(); ok && (a.highest-hole >= int64(a.window) || a.waitedOut(hole)) {
			a.stats.Gaps++
			a.synced = false
			a.requestKeyFrame()
		}
	}
	return out
}

// waitedOut reports whether the hole at ext has been waited for maxWait,
// counted from the arrival of the first packet after it.
func (a *VP8Assembler) waitedOut(hole int64) bool {
	if a.maxWait <= 0 {
		return false
	}
	for e := hole + 1; e <= a.highest; e++ {
		if p := a.slot(e); p.valid && p.ext == e {
			return a.now().Sub(p.arrived) >= a.maxWait
		}
	}
	return false
}

// firstHole returns the first missing sequence number after low, if any
// packet after it has arrived.
func (a *VP8Assembler) firstHole() (int64, bool) {
	for e := a.low; e <= a.highest; e++ {
		if p := a.slot(e); !p.valid || p.ext != e {
			return e, true
		}
	}
	return 0, false
}

// keyStartIn reports whether a keyframe's first packet is in [from, to).
func (a *VP8Assembler) keyStartIn(from, to int64) bool {
	for e := max(from, to-assemblerRing); e < to; e++ {
		if p := a.slot(e); p.valid && p.ext == e && p.key {
			return true
		}
	}
	return false
}

// drain hands out consecutive complete frames from low while synced.
func (a *VP8Assembler) drain(out []Frame) []Frame {
	for a.synced {
		end, ok := a.complete(a.low)
		if !ok {
			break
		}
		out = append(out, a.take(a.low, end))
		a.low = end + 1
	}
	return out
}

// frameStarts returns the first packet of the frame holding ext and, when
// ext itself starts a frame, the first packet of the frame just before.
func (a *VP8Assembler) frameStarts(ext int64) []int64 {
	var starts []int64
	findStart := func(from int64) (int64, bool) {
		s := a.slot(from)
		if !s.valid || s.ext != from {
			return 0, false
		}
		ts := s.ts
		for e := from; e >= a.low && from-e < assemblerRing; e-- {
			p := a.slot(e)
			if !p.valid || p.ext != e || p.ts != ts {
				return 0, false
			}
			if p.start {
				return e, true
			}
		}
		return 0, false
	}
	if s, ok := findStart(ext); ok {
		starts = append(starts, s)
		if s == ext && ext-1 >= a.low {
			if p, ok := findStart(ext - 1); ok {
				starts = append(starts, p)
			}
		}
	}
	return starts
}

// complete reports whether the frame starting at s is complete and where it
// ends: the packets from s to a marker packet with the same timestamp are all
// present, or (lost marker) the packet after the last one starts a new frame.
func (a *VP8Assembler) complete(s int64) (int64, bool) {
	first := a.slot(s)
	if !first.valid || first.ext != s || !first.start {
		return 0, false
	}
	for e := s; e <= a.highest && e-s < assemblerRing; e++ {
		p := a.slot(e)
		if !p.valid || p.ext != e {
			return 0, false
		}
		if p.ts != first.ts {
			if p.start && e > s {
				return e - 1, true
			}
			return 0, false
		}
		if e > s && p.start {
			return 0, false // a second frame start with the same timestamp
		}
		if p.marker {
			return e, true
		}
	}
	return 0, false
}

// take hands out the frame [s, end] and frees its slots.
func (a *VP8Assembler) take(s, end int64) Frame {
	n := 0
	for e := s; e <= end; e++ {
		n += len(a.slot(e).payload)
	}
	f := Frame{
		Data:      make([]byte, 0, n),
		Timestamp: a.slot(s).ts,
		FirstSeq:  uint16(s),
		LastSeq:   uint16(end),
		KeyFrame:  a.slot(s).key,
		Packets:   int(end - s + 1),
	}
	for e := s; e <= end; e++ {
		p := a.slot(e)
		f.Data = append(f.Data, p.payload...)
		p.valid = false
	}
	a.stats.Frames++
	a.started = true
	return f
}

// discard drops the packets in [from, to), counts the frames they belonged
// to, moves low to to, and reports whether any packet was missing.
func (a *VP8Assembler) discard(from, to int64) (holes bool) {
	if to-from > assemblerRing {
		from = to - assemblerRing
		holes = true
	}
	var lastTS uint32
	have := false
	for e := from; e < to; e++ {
		p := a.slot(e)
		if !p.valid || p.ext != e {
			holes = true
			continue
		}
		if !have || p.ts != lastTS {
			a.stats.Dropped++
			lastTS, have = p.ts, true
		}
		p.valid = false
	}
	if to > a.low {
		a.low = to
	}
	return holes
}
