package call

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
)

// The NACK guard sits between the network and pion's NACK responder and
// drops the requests that would only add load, as libwebrtc's packet
// history does (RtpPacketHistory: a packet is resent at most once per
// round trip, and kept about a second). The peer's requests may come
// faster than that (pion's generator asked every 30 ms, up to 3 times, and
// never saw repairs): on a path with a 100 ms round trip every lost packet
// went out three times, and after a 3 s outage all of it three times over,
// filling the link's queue right when it came back (bench --network,
// issue 16: 1067 packets dropped by the queue in that second, 58 with the
// guard). The round trip it learns also paces our own requests
// (nackgen.go).
//
// libwebrtc also caps repairs at the target bitrate. A cap at the target
// cost frames and keyframe requests at 20 % random loss on loopback (the
// encoder overshoots a low target, repairs then exceed it); with none, a
// queue overflow on a capped link (300 kbit/s, the first keyframes at the
// start rate) drew retransmissions of several times the capacity, each
// lost again and asked for again (bench --network, issue 16: 3 Mbit/s
// offered to a 300 kbit/s link for 5 s). Repairs get half the target,
// with a burst of nackBudgetBurst.
const (
	nackBudgetShare = 0.5
	nackBudgetBurst = 250 * time.Millisecond
	nackBudgetMin   = 4 * 1500 // bytes a burst may always take
)

// nackAgainMin: from the second round of repairs of a packet on (its first
// repair or the request for it was lost), the echo of the request
// (nackEcho, nackgen.go) brings a second copy if it comes at least this
// long after the first: under bursty loss a copy sent right after the
// first falls in the same burst. Traced under 5 % burst loss (bench
// --network burst-loss): both rounds of repairs of a packet lost, a
// keyframe asked for, a freeze of 600-800 ms in about one call of two.
// Only repeated rounds are doubled, and not while a queue stands in the
// path: on a full link a repair asked for again is more often late than
// lost, and a second copy only adds to the queue (bench --network 1M and
// 3M-500k-3M, three calls each, interleaved: freezes of 500 ms or more
// 2 and 4 with second copies there too, 0 and 2 with none at all; with
// none while a queue stands, 0 and 5 against 0 and 7 with none at all,
// the drop's calls varying a lot). Under 5 % burst loss, three 60 s
// calls each: 0 freezes against 6, 0 keyframe requests against 16.
const nackAgainMin = 10 * time.Millisecond

const (
	nackHistory = 1024            // packets remembered per stream (a power of two)
	nackMaxAge  = time.Second     // older packets are not resent (at least 3 RTTs)
	nackMaxRTT  = 5 * time.Second // longer "round trips" are clock noise
)

type nackSent struct {
	seq      uint16
	size     int // bytes of payload and header
	valid    bool
	sent     time.Time // first send
	resentAt time.Time // last time a NACK for it was let through
	rounds   int       // rounds of repairs let through
	doubled  bool      // the latest round's second copy went
}

type nackStream struct {
	pkts [nackHistory]nackSent
	// keyAsked is when the receiver last asked for a keyframe (PLI or
	// FIR): it has given up on the picture before it, and repairs of the
	// packets sent earlier would only queue in front of the keyframe.
	keyAsked time.Time
	// vp8 is whether the stream is VP8; keySent is when its latest
	// keyframe's first packet was sent. The receiver's assembler starts
	// again from a complete keyframe and drops every frame still
	// incomplete before it, so repairs of older packets are not needed.
	vp8     bool
	keySent time.Time
}

// nackGuard is the interceptor; newNACKGuardFactory builds one per peer
// connection.
type nackGuard struct {
	interceptor.NoOp
	now    func() time.Time
	shared *atomic.Int64 // rtt published for the NACK requester (ns)
	target *atomic.Int64 // the GCC target (bit/s) for the repair budget; nil: no budget
	// repaired counts the bytes of the packets let be resent; nil: none.
	repaired *atomic.Int64
	// queueFree is whether the path is read and no queue stood in it
	// lately (lossbwe.go); nil: always.
	queueFree *atomic.Bool
	// narrowedAt is when the link was last found much narrower (unix ns,
	// 0: never); nil: not told.
	narrowedAt *atomic.Int64

	mu      sync.Mutex
	streams map[uint32]*nackStream
	rtt     time.Duration // from receiver reports; 0 unknown
	tokens  float64       // repair budget left, bytes
	filled  time.Time     // when tokens were last topped up
}

type nackGuardFactory struct {
	now    func() time.Time // nil: time.Now
	rtt    *atomic.Int64    // nil: not shared
	target *atomic.Int64    // nil: no repair budget
	// repaired counts the bytes let be resent (sendtarget.go); nil: none.
	repaired *atomic.Int64
	// queueFree: see nackGuard; nil: always.
	queueFree *atomic.Bool
	// narrowedAt: see nackGuard; nil: not told.
	narrowedAt *atomic.Int64
}

func (f *nackGuardFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	g := newNACKGuard(f.now)
	if f.rtt != nil {
		g.shared = f.rtt
	}
	g.target = f.target
	g.repaired = f.repaired
	g.queueFree = f.queueFree
	g.narrowedAt = f.narrowedAt
	return g, nil
}

func newNACKGuard(now func() time.Time) *nackGuard {
	if now == nil {
		now = time.Now
	}
	return &nackGuard{now: now, shared: &atomic.Int64{}, streams: map[uint32]*nackStream{}}
}

// BindLocalStream remembers when each media packet was sent.
func (g *nackGuard) BindLocalStream(info *interceptor.StreamInfo, writer interceptor.RTPWriter) interceptor.RTPWriter {
	ssrc := info.SSRC
	g.mu.Lock()
	st := &nackStream{vp8: strings.EqualFold(info.MimeType, webrtc.MimeTypeVP8)}
	g.streams[ssrc] = st
	g.mu.Unlock()
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		if h.SSRC == ssrc {
			g.mu.Lock()
			now := g.now()
			p := &st.pkts[h.SequenceNumber%nackHistory]
			*p = nackSent{seq: h.SequenceNumber, size: h.MarshalSize() + len(payload), valid: true, sent: now}
			if st.vp8 && vp8KeyStart(payload) {
				st.keySent = now
			}
			g.mu.Unlock()
		}
		return writer.Write(h, payload, a)
	})
}

// UnbindLocalStream forgets the stream.
func (g *nackGuard) UnbindLocalStream(info *interceptor.StreamInfo) {
	g.mu.Lock()
	delete(g.streams, info.SSRC)
	g.mu.Unlock()
}

// BindRTCPReader learns the round trip from reception reports and takes
// the unwanted sequence numbers out of NACKs before the responder sees
// them. Other RTCP passes unchanged (byte for byte when nothing was taken).
func (g *nackGuard) BindRTCPReader(reader interceptor.RTCPReader) interceptor.RTCPReader {
	return interceptor.RTCPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		for {
			n, attr, err := reader.Read(b, a)
			if err != nil {
				return n, attr, err
			}
			pkts, err := rtcp.Unmarshal(b[:n])
			if err != nil {
				return n, attr, nil // not ours to judge
			}
			out, changed := g.filter(pkts)
			if !changed {
				return n, attr, nil
			}
			if len(out) == 0 {
				continue // nothing left of this compound packet
			}
			raw, err := rtcp.Marshal(out)
			if err != nil || len(raw) > len(b) {
				return n, attr, nil
			}
			// Drop what a layer below may have cached of the old packet.
			var clean interceptor.Attributes
			if attr != nil {
				clean = interceptor.Attributes{}
				for k, v := range attr {
					if _, isPkts := v.([]rtcp.Packet); !isPkts {
						clean[k] = v
					}
				}
			}
			return copy(b, raw), clean, nil
		}
	})
}

// filter returns pkts without the NACKed packets not worth resending, and
// whether it changed anything.
func (g *nackGuard) filter(pkts []rtcp.Packet) ([]rtcp.Packet, bool) {
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, p := range pkts {
		switch r := p.(type) {
		case *rtcp.ReceiverReport:
			g.learnRTT(now, r.Reports)
		case *rtcp.SenderReport:
			g.learnRTT(now, r.Reports)
		case *rtcp.PictureLossIndication:
			g.keyAsked(now, r.MediaSSRC)
		case *rtcp.FullIntraRequest:
			for _, e := range r.FIR {
				g.keyAsked(now, e.SSRC)
			}
		}
	}
	changed := false
	out := pkts[:0:0]
	for _, p := range pkts {
		nack, ok := p.(*rtcp.TransportLayerNack)
		if !ok {
			out = append(out, p)
			continue
		}
		st := g.streams[nack.MediaSSRC]
		if st == nil {
			out = append(out, p)
			continue
		}
		var keep []uint16
		all := 0
		for _, pair := range nack.Nacks {
			for _, seq := range pair.PacketList() {
				all++
				if g.allow(now, st, seq) {
					keep = append(keep, seq)
				}
			}
		}
		if len(keep) == all {
			out = append(out, p)
			continue
		}
		changed = true
		if len(keep) > 0 {
			out = append(out, &rtcp.TransportLayerNack{SenderSSRC: nack.SenderSSRC, MediaSSRC: nack.MediaSSRC,
				Nacks: rtcp.NackPairsFromSequenceNumbers(keep)})
		}
	}
	return out, changed
}

// keyAsked notes a keyframe request for the stream ssrc at now (g.mu held).
func (g *nackGuard) keyAsked(now time.Time, ssrc uint32) {
	if st := g.streams[ssrc]; st != nil {
		st.keyAsked = now
	}
}

// allow decides one sequence number and books it when it goes through.
func (g *nackGuard) allow(now time.Time, st *nackStream, seq uint16) bool {
	p := &st.pkts[seq%nackHistory]
	if !p.valid || p.seq != seq {
		return true // unknown here: the responder decides
	}
	if now.Sub(p.sent) > max(nackMaxAge, 3*g.rtt) {
		return false // stale: the receiver has moved on
	}
	if p.sent.Before(st.keyAsked) {
		// Superseded: the receiver asked for a keyframe after it was
		// sent. Over a full 1 Mbit/s link's queue the repairs of a
		// congestion's losses went on for a second after the keyframe
		// request, resent twice and three times, a third of the link,
		// and kept the queue full in front of the keyframe (bench
		// --network 1M, traced: 80 ms of queue for 0.6 s after a
		// backoff to 0.77 of the link's rate).
		return false
	}
	if st.vp8 && g.narrowedAt != nil && p.sent.UnixNano() < g.narrowedAt.Load() {
		// Sent before the link was found much narrower: the picture it
		// belongs to broke in the overflow, and the keyframe of the
		// smaller size mends it. Repairs only fill the overflowing
		// queue in front of that keyframe (bench --network
		// 3M-500k-3M, traced: 3.6 KB of repairs went out as the link
		// was found narrower, the keyframe after them was lost, and the
		// picture froze 580 ms, until the next one).
		return false
	}
	if p.sent.Before(st.keySent) {
		// Superseded by a keyframe sent since, such as the smaller one a
		// narrower link brings (media_ladder.go): after a 3 Mbit/s link
		// fell to 500 kbit/s, the repairs of the larger picture's losses
		// took the repair budget, half the target, in front of it
		// (bench --network 3M-500k-3M, traced).
		return false
	}
	rtt := g.rtt
	if rtt <= 0 {
		rtt = nackDefaultRTT
	}
	again := false
	if !p.resentAt.IsZero() && now.Sub(p.resentAt) < rtt {
		// The last repair cannot have arrived yet; a repeated round's
		// echo brings its second copy.
		again = p.rounds >= 2 && !p.doubled && now.Sub(p.resentAt) >= nackAgainMin &&
			(g.queueFree == nil || g.queueFree.Load())
		if !again {
			return false
		}
	}
	if !g.spend(now, p.size) {
		return false // over the repair budget: asked again later
	}
	if again {
		p.doubled = true
	} else {
		p.resentAt, p.rounds, p.doubled = now, p.rounds+1, false
	}
	if g.repaired != nil {
		g.repaired.Add(int64(p.size))
	}
	return true
}

// spend takes size bytes from the repair budget if it has them.
func (g *nackGuard) spend(now time.Time, size int) bool {
	if g.target == nil {
		return true
	}
	rate := nackBudgetShare * float64(g.target.Load()) / 8 // bytes/s
	depth := max(rate*nackBudgetBurst.Seconds(), nackBudgetMin)
	if g.filled.IsZero() {
		g.tokens = depth
	} else {
		g.tokens = min(depth, g.tokens+rate*now.Sub(g.filled).Seconds())
	}
	g.filled = now
	if g.tokens < float64(size) {
		return false
	}
	g.tokens -= float64(size)
	return true
}

// learnRTT takes the round trip from reports on our streams: now − LSR −
// DLSR in 1/65536 s (RFC 3550 6.4.1; LSR is our own clock echoed).
func (g *nackGuard) learnRTT(now time.Time, reports []rtcp.ReceptionReport) {
	mid := ntpMiddle(now)
	for _, r := range reports {
		if r.LastSenderReport == 0 || g.streams[r.SSRC] == nil {
			continue
		}
		units := mid - r.LastSenderReport - r.Delay
		rtt := time.Duration(uint64(units) * uint64(time.Second) >> 16)
		if rtt <= 0 || rtt > nackMaxRTT {
			continue
		}
		if g.rtt == 0 {
			g.rtt = rtt
		} else {
			g.rtt = (7*g.rtt + rtt) / 8
		}
		g.shared.Store(int64(g.rtt))
	}
}

// ntpMiddle is the middle 32 bits of t's NTP timestamp, as pion's sender
// reports stamp it.
func ntpMiddle(t time.Time) uint32 {
	s := float64(t.UnixNano())/1e9 + 2208988800
	sec := uint32(s)
	frac := uint32((s - float64(sec)) * 0xFFFFFFFF)
	return uint32((uint64(sec)<<32 | uint64(frac)) >> 16)
}

// vp8KeyStart reports whether payload, a VP8 RTP payload (RFC 7741), is
// the first packet of a keyframe: S set, partition 0, and the VP8 payload
// header's P bit clear (the receiver's assembler reads it alike).
func vp8KeyStart(payload []byte) bool {
	var vp codecs.VP8Packet
	body, err := vp.Unmarshal(payload)
	return err == nil && vp.S == 1 && vp.PID == 0 && len(body) > 0 && body[0]&1 == 0
}
