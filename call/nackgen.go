package call

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// The NACK requester asks for lost packets, once per round trip and until
// they arrive, as libwebrtc's NackRequester does, and echoes each request
// once (nackEcho). pion's generator asked up
// to three times 30 ms apart and never saw repairs (they arrive on the RTX
// stream): on a path with a 100 ms round trip the guard let one request
// through, and when that retransmission was lost too the receiver waited
// its hole out and asked for a keyframe, a freeze of half a second or more
// (bench --network, issue 16: under 5 % burst loss 8-11 such gaps per
// peer and call, 0-2 with this requester). Here a retransmission seen on
// the RTX stream (its original sequence number) ends the requests for
// that packet.
const (
	nackRetryMin   = 30 * time.Millisecond  // never ask again sooner
	nackDefaultRTT = 100 * time.Millisecond // before the first report
	nackMaxTries   = 10
	nackMaxMissing = 1000 // a larger gap is a restart, not loss
	// nackEcho: each request goes out again this much later, unless the
	// repair came in between. Under bursty loss the request is lost on
	// its way about as often as the repair on its way back, and the
	// sender's guard lets the echo through only if the first never came
	// (a repair at most once per round trip). Traced under 5 % burst
	// loss (bench --network burst-loss): both rounds of a packet's
	// repair lost, the hole waited out and a keyframe asked for, a
	// freeze of 600-800 ms in about one call of two.
	nackEcho = 20 * time.Millisecond
)

type nackMissing struct {
	seen  time.Time // when the gap was noticed
	asked time.Time // last request (zero: not yet)
	echo  time.Time // when the last request goes out again (zero: done)
	tries int
}

type nackRecvStream struct {
	started bool
	highest uint16
	missing map[uint16]*nackMissing
}

// nackRequester is the interceptor; rtt is shared with the session's NACK
// guard, which learns it from reception reports (0 unknown), iceRTT with
// the session, which reads it from ICE (0 unknown, nil none).
type nackRequester struct {
	interceptor.NoOp
	now      func() time.Time
	interval time.Duration
	rtt      *atomic.Int64
	iceRTT   *atomic.Int64

	mu      sync.Mutex
	streams map[uint32]*nackRecvStream // media SSRC → state
	// lastRepair is when a retransmission last arrived (repairs.go).
	lastRepair time.Time
	started    bool
	gap        chan struct{} // a new gap: ask at once, not at the next tick
	done       chan struct{}
	wg         sync.WaitGroup
}

type nackRequesterFactory struct {
	interval time.Duration
	rtt      *atomic.Int64
	iceRTT   *atomic.Int64    // nil: none
	now      func() time.Time // nil: time.Now
	// latest is set to each requester built (the session's track readers
	// ask it whether a repair is on its way); nil: not kept.
	latest *atomic.Pointer[nackRequester]
}

func (f *nackRequesterFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	n := newNACKRequester(f.interval, f.rtt, f.now)
	n.iceRTT = f.iceRTT
	if f.latest != nil {
		f.latest.Store(n)
	}
	return n, nil
}

func newNACKRequester(interval time.Duration, rtt *atomic.Int64, now func() time.Time) *nackRequester {
	if now == nil {
		now = time.Now
	}
	if rtt == nil {
		rtt = &atomic.Int64{}
	}
	return &nackRequester{now: now, interval: interval, rtt: rtt, streams: map[uint32]*nackRecvStream{},
		gap: make(chan struct{}, 1), done: make(chan struct{})}
}

// wantsNACK reports whether the stream negotiated generic NACK.
func wantsNACK(info *interceptor.StreamInfo) bool {
	for _, fb := range info.RTCPFeedback {
		if fb.Type == "nack" && fb.Parameter == "" {
			return true
		}
	}
	return false
}

// BindRemoteStream watches media streams for gaps and the RTX stream for
// repairs.
func (n *nackRequester) BindRemoteStream(info *interceptor.StreamInfo, reader interceptor.RTPReader) interceptor.RTPReader {
	rtx := strings.EqualFold(info.MimeType, webrtc.MimeTypeRTX)
	if !rtx && !wantsNACK(info) {
		return reader
	}
	ssrc := info.SSRC
	if !rtx {
		n.mu.Lock()
		n.streams[ssrc] = &nackRecvStream{missing: map[uint16]*nackMissing{}}
		n.mu.Unlock()
	}
	return interceptor.RTPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		i, attr, err := reader.Read(b, a)
		if err != nil {
			return i, attr, err
		}
		if attr == nil {
			attr = interceptor.Attributes{}
		}
		h, err := attr.GetRTPHeader(b[:i])
		if err != nil {
			return i, attr, nil // not ours to judge
		}
		if rtx {
			// RFC 4588: the payload starts with the original sequence number.
			if off := h.MarshalSize(); i >= off+2 {
				n.repaired(uint16(b[off])<<8 | uint16(b[off+1]))
			}
		} else {
			n.received(ssrc, h.SequenceNumber)
		}
		return i, attr, nil
	})
}

// UnbindRemoteStream forgets the stream.
func (n *nackRequester) UnbindRemoteStream(info *interceptor.StreamInfo) {
	n.mu.Lock()
	delete(n.streams, info.SSRC)
	n.mu.Unlock()
}

// received books media packet seq of stream ssrc: a jump forward opens
// gaps, an older packet (late or resent on the same SSRC) closes one.
func (n *nackRequester) received(ssrc uint32, seq uint16) {
	now := n.now()
	n.mu.Lock()
	defer n.mu.Unlock()
	st := n.streams[ssrc]
	if st == nil {
		return
	}
	if !st.started {
		st.started, st.highest = true, seq
		return
	}
	d := int16(seq - st.highest)
	if d <= 0 {
		delete(st.missing, seq)
		return
	}
	if d > nackMaxMissing {
		clear(st.missing)
	} else if d > 1 {
		for s := st.highest + 1; s != seq; s++ {
			st.missing[s] = &nackMissing{seen: now}
		}
		select {
		case n.gap <- struct{}{}:
		default:
		}
	}
	st.highest = seq
}

// repaired books a retransmission of seq from the RTX stream. The RTX
// stream does not say which media stream it repairs; a sequence number
// missing in two streams at once is rare, and costs one request.
func (n *nackRequester) repaired(seq uint16) {
	now := n.now()
	n.mu.Lock()
	defer n.mu.Unlock()
	n.lastRepair = now
	for _, st := range n.streams {
		delete(st.missing, seq)
	}
}

// awaiting reports whether stream ssrc has packets asked for and not yet
// back, or a retransmission arrived within the last within.
func (n *nackRequester) awaiting(ssrc uint32, within time.Duration) bool {
	now := n.now()
	n.mu.Lock()
	defer n.mu.Unlock()
	if st := n.streams[ssrc]; st != nil && len(st.missing) > 0 {
		return true
	}
	return !n.lastRepair.IsZero() && now.Sub(n.lastRepair) < within
}

// roundTrip is the round trip from reception reports, else from ICE (0
// unknown).
func (n *nackRequester) roundTrip() time.Duration {
	return effectiveRTT(n.rtt, n.iceRTT)
}

// effectiveRTT is the round trip from reception reports (rtt), else from
// ICE's connectivity checks (ice, may be nil); 0 when neither is known.
// Reports come only for the streams we send: a side that sends nothing
// (no camera, no microphone) learns its round trip from ICE alone, and
// waited for its repairs as on a 100 ms path whatever the path's.
func effectiveRTT(rtt, ice *atomic.Int64) time.Duration {
	if v := rtt.Load(); v > 0 {
		return time.Duration(v)
	}
	if ice != nil {
		return time.Duration(ice.Load())
	}
	return 0
}

// retryGap is how long a request is given before the next: one round trip
// and a quarter (the guard at the sender lets one through per its RTT).
func (n *nackRequester) retryGap() time.Duration {
	rtt := n.roundTrip()
	if rtt <= 0 {
		rtt = nackDefaultRTT
	}
	return max(rtt+rtt/4, nackRetryMin)
}

// due returns, per media SSRC, the sequence numbers to request now, and
// books the requests.
func (n *nackRequester) due() map[uint32][]uint16 {
	now := n.now()
	gap := n.retryGap()
	giveUp := max(nackMaxAge, 3*n.roundTrip())
	n.mu.Lock()
	defer n.mu.Unlock()
	var out map[uint32][]uint16
	for ssrc, st := range n.streams {
		for seq, m := range st.missing {
			if m.tries >= nackMaxTries && m.echo.IsZero() || now.Sub(m.seen) > giveUp {
				delete(st.missing, seq)
				continue
			}
			switch {
			case !m.echo.IsZero() && !now.Before(m.echo):
				m.echo = time.Time{} // the same request again
			case !m.asked.IsZero() && now.Sub(m.asked) < gap:
				continue
			default:
				m.asked = now
				m.tries++
				m.echo = now.Add(nackEcho)
			}
			if out == nil {
				out = map[uint32][]uint16{}
			}
			out[ssrc] = append(out[ssrc], seq)
		}
	}
	return out
}

// BindRTCPWriter starts the loop that sends the requests.
func (n *nackRequester) BindRTCPWriter(writer interceptor.RTCPWriter) interceptor.RTCPWriter {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.started {
		return writer
	}
	n.started = true
	n.wg.Add(1)
	go n.loop(writer)
	return writer
}

func (n *nackRequester) loop(writer interceptor.RTCPWriter) {
	defer n.wg.Done()
	t := time.NewTicker(n.interval)
	defer t.Stop()
	// The sender SSRC of a NACK is informational (RFC 4585); pion's
	// generator uses a random one, a fixed one does as well.
	const sender = 0
	for {
		select {
		case <-n.done:
			return
		case <-t.C:
		case <-n.gap:
		}
		for ssrc, seqs := range n.due() {
			sortSeqs(seqs)
			pkt := &rtcp.TransportLayerNack{SenderSSRC: sender, MediaSSRC: ssrc, Nacks: rtcp.NackPairsFromSequenceNumbers(seqs)}
			// A failed write (closing, or a full socket) is retried
			// at the next tick for what is still missing.
			_, _ = writer.Write([]rtcp.Packet{pkt}, interceptor.Attributes{})
		}
	}
}

// sortSeqs orders sequence numbers by wrap-around distance from the
// oldest, which NackPairsFromSequenceNumbers needs to pack them.
func sortSeqs(s []uint16) {
	if len(s) < 2 {
		return
	}
	low := s[0]
	for _, x := range s[1:] {
		if int16(x-low) < 0 {
			low = x
		}
	}
	slices.SortFunc(s, func(a, b uint16) int { return int(a-low) - int(b-low) })
}

// Close stops the loop.
func (n *nackRequester) Close() error {
	n.mu.Lock()
	select {
	case <-n.done:
	default:
		close(n.done)
	}
	n.mu.Unlock()
	n.wg.Wait()
	return nil
}
