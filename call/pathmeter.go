package call

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
)

// pathMeter reads two things about the path from transport-wide feedback:
// the queue standing in it (how much later than the least one-way delay
// of the last owdBuckets seconds the packets of the last standingWindow
// of arrival time arrived, the earliest of them: a burst's own spread,
// a keyframe's, is not a standing queue), the queue of the latest
// arrivals (recentWindow) and the rate it delivered (bytes received over
// the last ackedWindow of arrival time, less what feedback lost on the
// way back left out). The call's
// congestion controller works from them (lossbwe.go).
type pathMeter struct {
	start time.Time
	// sent holds, by transport-wide sequence number modulo sentRing, the
	// number, the send time (ms since start) and size of a packet sent.
	sent [sentRing]atomic.Uint64

	mu     sync.Mutex
	mins   [owdBuckets]owdBucket // least one-way delay per second
	acked  []ackedPacket         // within ackedWindow of the latest arrival
	latest int64                 // latest arrival seen, µs (feedback clock; set while acked holds any)
	// fbCount is the latest feedback's count (FbPktCount; counted: one
	// was read): a gap in the counts is feedback lost on the way back.
	fbCount uint8
	counted bool
}

type owdBucket struct {
	sec int64 // local second since start the bucket holds (-1: none)
	us  int64 // least one-way delay in it, µs (arrival clock − send clock)
}

type ackedPacket struct {
	at    int64 // arrival, µs
	owd   int64 // one-way delay, µs (arrival clock − send clock)
	bytes int
	// afterLost marks the first packet of a feedback that came after
	// one or more were lost: the packets those reported are not known.
	afterLost bool
}

// pathReading is what one feedback told.
type pathReading struct {
	queue time.Duration // standing queue
	// recent is the queue over the last recentWindow of arrivals: a
	// queue that has just formed, not yet standing.
	recent time.Duration
	acked  int // delivered bit/s (0: not known yet)
	// latest is the rate the packets of this feedback arrived at (bit/s;
	// 0: fewer than two, or over less than latestMinSpan): behind a full
	// queue, the link's rate now, where acked still holds some of the
	// half second before.
	latest int
	// spread is whether this feedback's packets, two or more, arrived
	// at under half the rate they were sent at: a narrower link on the
	// way spread them out (packets sent as sparsely as they arrived say
	// nothing of the link).
	spread bool
}

const (
	sentRing    = 4096
	owdBuckets  = 10 // seconds over which the least one-way delay is taken
	ackedWindow = 500 * time.Millisecond
	// standingWindow is how long a queue must stand to be read as one:
	// longer than a keyframe takes to cross a link it fits.
	standingWindow = 250 * time.Millisecond
	// recentWindow is the arrival span the recent queue is read over.
	recentWindow = 50 * time.Millisecond
	// ackedMinSpan is the least arrival span a delivered rate is read
	// over (less what lost feedback left out: see feedback).
	ackedMinSpan = 200 * time.Millisecond
	// latestMinSpan is the least arrival span of one feedback's packets
	// its own rate is read over.
	latestMinSpan = 20 * time.Millisecond
)

func newPathMeter(now time.Time) *pathMeter {
	m := &pathMeter{start: now}
	for i := range m.mins {
		m.mins[i].sec = -1
	}
	return m
}

// onSent notes a packet of size bytes sent with transport-wide number seq.
func (m *pathMeter) onSent(seq uint16, size int, now time.Time) {
	ms := uint64(now.Sub(m.start).Milliseconds()) & 0xffffffff                            //nolint:gosec // ms since start ≥ 0
	m.sent[int(seq)%sentRing].Store(uint64(seq)<<48 | ms<<16 | uint64(min(size, 0xffff))) //nolint:gosec // clamped
}

// sentAt is the send time (ms since start) and size of seq, if it is
// still in the ring.
func (m *pathMeter) sentAt(seq uint16) (ms int64, size int, ok bool) {
	v := m.sent[int(seq)%sentRing].Load()
	if v == 0 || uint16(v>>48) != seq { //nolint:gosec // top 16 bits
		return 0, 0, false
	}
	return int64(v>>16) & 0xffffffff, int(v & 0xffff), true //nolint:gosec // 32 bits
}

// feedback reads a transport-wide feedback received at now; first[k]
// (nil: all) says whether packet base+k is reported for the first time.
// ok is false when it reported no packet this meter knows.
func (m *pathMeter) feedback(fb *rtcp.TransportLayerCC, first []bool, now time.Time) (r pathReading, ok bool) {
	arrival := int64(fb.ReferenceTime) * 64000 // µs
	deltas := fb.RecvDeltas
	k := 0
	// The least one-way delay in this feedback (any sign: the two ends'
	// clocks start apart).
	least, have := int64(0), false
	var got []ackedPacket
	eachStatus(fb, func(received bool) {
		seq := fb.BaseSequenceNumber + uint16(k) //nolint:gosec // k < 65536
		counts := first == nil || first[k]
		k++
		if !received || len(deltas) == 0 {
			return
		}
		arrival += deltas[0].Delta
		deltas = deltas[1:]
		ms, size, known := m.sentAt(seq)
		if !counts || !known {
			return
		}
		owd := arrival - ms*1000
		if !have || owd < least {
			least, have = owd, true
		}
		got = append(got, ackedPacket{at: arrival, owd: owd, bytes: size})
	})
	if !have {
		return r, false
	}
	r.latest = arrivalRate(got)
	r.spread = spreadOut(got)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.counted && fb.FbPktCount != m.fbCount+1 {
		got[0].afterLost = true
	}
	m.fbCount, m.counted = fb.FbPktCount, true
	sec := int64(now.Sub(m.start) / time.Second)
	b := &m.mins[sec%owdBuckets]
	if b.sec != sec {
		b.sec, b.us = sec, least
	}
	b.us = min(b.us, least)
	base := least
	for _, o := range m.mins {
		if o.sec >= 0 && sec-o.sec < owdBuckets {
			base = min(base, o.us)
		}
	}
	fresh := len(m.acked) == 0 // latest not set yet
	for _, p := range got {
		if fresh || p.at > m.latest {
			m.latest, fresh = p.at, false
		}
	}
	m.acked = append(m.acked, got...)
	from, standingFrom := m.latest-ackedWindow.Microseconds(), m.latest-standingWindow.Microseconds()
	recentFrom := m.latest - recentWindow.Microseconds()
	// n packets over the span between the first and last: the first
	// one's bytes arrived before it. A feedback lost on the way back
	// leaves out its packets, not the time they took, so the span from
	// the packet before to the first one the next feedback reported is
	// left out too (with that packet's bytes): read over the whole
	// window, the rate came out short by the share of feedback lost
	// (traced, 3 Mbit/s → 500 kbit/s, half the feedback lost in the
	// full queue back: 230-270 kbit/s read off a link delivering 500,
	// and the cut and the level followed it). The standing queue is the
	// least one-way delay of the last standingWindow, which holds the
	// latest arrival, so it is never empty.
	i, bytes, earliest, firstBytes := 0, 0, m.latest, 0
	var holes int64
	standing, in := int64(0), false
	recent, inRecent := int64(0), false
	for _, p := range m.acked {
		if p.at <= from {
			continue
		}
		if p.at >= standingFrom && (!in || p.owd < standing) {
			standing, in = p.owd, true
		}
		if p.at >= recentFrom && (!inRecent || p.owd < recent) {
			recent, inRecent = p.owd, true
		}
		if p.afterLost && i > 0 {
			holes += max(p.at-m.acked[i-1].at, 0)
			bytes -= p.bytes
		}
		m.acked[i] = p
		i++
		bytes += p.bytes
		if p.at < earliest || i == 1 {
			earliest, firstBytes = p.at, p.bytes
		}
	}
	m.acked = m.acked[:i]
	r.queue = time.Duration(standing-base) * time.Microsecond
	r.recent = time.Duration(recent-base) * time.Microsecond
	if span := m.latest - earliest - holes; span >= ackedMinSpan.Microseconds() {
		r.acked = int(int64(bytes-firstBytes) * 8 * 1_000_000 / span)
	}
	return r, true
}

// spreadOut reports whether packets ps, two or more, arrived over more
// than twice the span they were sent over (send times have millisecond
// steps; sent within one, they count as sent at once), and over at least
// latestMinSpan. Two are enough: a 500 kbit/s link delivers two or three
// packets between two feedbacks, and the first feedbacks behind the
// queue of a capacity drop reported two each (one in two lost in the
// full queue back), spread over 20 ms at 460-480 kbit/s behind a queue
// of 60-82 ms; asking for three, the drop was read from the loss a
// feedback later, about 100 ms (bench --network 3M-500k-3M, traced).
// With two, interleaved, 17 calls each: a freeze of 500 ms or more at
// the drop in 1 of 34 directions against 5 (503-534 ms), one anywhere
// in the call in 3 calls against 7; the picture frozen around the drop
// about the same, 670 ms a direction.
func spreadOut(ps []ackedPacket) bool {
	if len(ps) < 2 {
		return false
	}
	first, last := ps[0].at, ps[0].at
	sentFirst, sentLast := ps[0].at-ps[0].owd, ps[0].at-ps[0].owd
	for _, p := range ps {
		first, last = min(first, p.at), max(last, p.at)
		sent := p.at - p.owd
		sentFirst, sentLast = min(sentFirst, sent), max(sentLast, sent)
	}
	return last-first >= latestMinSpan.Microseconds() && last-first > 2*max(sentLast-sentFirst, 1000)
}

// arrivalRate is the rate packets ps arrived at: the bytes after the
// earliest over the span from the earliest arrival to the latest (bit/s;
// 0 over less than latestMinSpan).
func arrivalRate(ps []ackedPacket) int {
	if len(ps) < 2 {
		return 0
	}
	first, last, firstBytes, bytes := ps[0].at, ps[0].at, ps[0].bytes, 0
	for _, p := range ps {
		bytes += p.bytes
		if p.at < first {
			first, firstBytes = p.at, p.bytes
		}
		last = max(last, p.at)
	}
	span := last - first
	if span < latestMinSpan.Microseconds() {
		return 0
	}
	return int(int64(bytes-firstBytes) * 8 * 1_000_000 / span)
}
