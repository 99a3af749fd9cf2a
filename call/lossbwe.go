package call

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/interceptor/pkg/gcc"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
)

// A total outage is not congestion. pion's GCC counts the packets lost
// while the link was down like any other loss: the first feedback after it
// reports seconds of packets lost, its loss-based part halves the
// estimate, and the call climbs back at 5 % per 200 ms at best although
// the link came back as it was (bench --network, outage 3 s: 0.9 Mbit/s
// sent over the call against Chromium's 2.0, 0.81× its delivered picture).
//
// lossBWE keeps GCC's delay-based estimate and puts a loss-based bound of
// its own beside it, GCC's rules from the transport-wide feedback, but for
// outages:
//   - loss over the last lossShortWindow and in the latest feedback above
//     lossCut: the bound drops to the current target × (1 − loss/2), at
//     most once per lossCutEvery;
//   - loss over the last lossWindow and in the latest feedback under
//     lossLow: the bound grows by lossGrow every lossGrowEvery, up to the
//     maximum; between the two it holds (a queue that stands full);
//   - a run of at least lossOutageRun packets lost in a row, reported by
//     the first feedback after lossOutageSilence without any, is not
//     counted: nothing got through and nothing came back, the link was
//     down, not full. A full link still delivers some packets and their
//     feedback, so its losses always count.
//
// The target is the smaller of the bound and the delay-based estimate.
// (Tried and left: tolerating 2–10 % loss while the round trip showed no
// queue, for paths with loss of their own. The least round trip was often
// learnt while the start flooded a 300 kbit/s link, and the link then
// stayed overfull for seconds.)
const (
	lossWindow        = time.Second
	lossShortWindow   = 300 * time.Millisecond
	lossCut           = 0.10
	lossLow           = 0.02
	lossCutEvery      = 200 * time.Millisecond
	lossGrow          = 1.05
	lossGrowEvery     = 200 * time.Millisecond
	lossOutageRun     = 50
	lossOutageSilence = time.Second
)

// lossBound is the loss-based bound on the send rate.
type lossBound struct {
	lo, hi  int
	bps     float64
	reports []lossReport // within lossWindow, oldest first
	cut     time.Time    // last drop
	grown   time.Time    // last growth
}

type lossReport struct {
	at          time.Time
	lost, total int
}

func newLossBound(start, lo, hi int) *lossBound {
	return &lossBound{lo: lo, hi: hi, bps: float64(start)}
}

// loss is the share of packets lost in the reports of the last d.
func (b *lossBound) loss(now time.Time, d time.Duration) float64 {
	lost, total := 0, 0
	for _, r := range b.reports {
		if now.Sub(r.at) <= d {
			lost += r.lost
			total += r.total
		}
	}
	if total == 0 {
		return 0
	}
	return float64(lost) / float64(total)
}

// feedback takes a feedback's counts at now (none: 0, 0); current is the
// target in force. It returns the bound.
func (b *lossBound) feedback(now time.Time, lost, total, current int) int {
	if total > 0 {
		b.reports = append(b.reports, lossReport{now, lost, total})
	}
	i := 0
	for i < len(b.reports) && now.Sub(b.reports[i].at) > lossWindow {
		i++
	}
	b.reports = b.reports[i:]
	long, short := b.loss(now, lossWindow), b.loss(now, lossShortWindow)
	latest := short
	if total > 0 {
		latest = float64(lost) / float64(total)
	}
	worst := max(long, latest)
	switch {
	case total > 0 && min(short, latest) > lossCut:
		if now.Sub(b.cut) >= lossCutEvery {
			b.bps = float64(current) * (1 - short/2)
			b.cut, b.grown = now, now
		}
	case worst < lossLow && now.Sub(b.grown) >= lossGrowEvery:
		b.bps *= lossGrow
		b.grown = now
	}
	b.bps = min(max(b.bps, float64(b.lo)), float64(b.hi))
	return int(b.bps)
}

// eachStatus calls f with each packet status of a transport-wide feedback
// in order (received or not), PacketStatusCount of them: a vector
// chunk's padding past the count is left out.
func eachStatus(fb *rtcp.TransportLayerCC, f func(received bool)) {
	left := int(fb.PacketStatusCount)
	for _, c := range fb.PacketChunks {
		switch c := c.(type) {
		case *rtcp.RunLengthChunk:
			for n := min(int(c.RunLength), left); n > 0; n-- {
				left--
				f(c.PacketStatusSymbol != rtcp.TypeTCCPacketNotReceived)
			}
		case *rtcp.StatusVectorChunk:
			for _, s := range c.SymbolList[:min(len(c.SymbolList), left)] {
				left--
				f(s != rtcp.TypeTCCPacketNotReceived)
			}
		}
		if left == 0 {
			return
		}
	}
}

// countTWCC counts a transport-wide feedback's packets and those reported
// lost; after an outage it leaves out runs of at least lossOutageRun lost
// in a row. first[k] (nil: every packet counts) tells whether this is the
// first report of the packet base+k: a receiver reports a range again when
// a packet arrives with an old transport-wide number (a duplicate on the
// path, or a sender whose retransmissions keep their original's header
// extensions, as ours did before they took numbers of their own:
// media.go), and only the first report counts.
func countTWCC(fb *rtcp.TransportLayerCC, outage bool, first []bool) (lost, total int) {
	k := 0
	run := 0
	flush := func() {
		if !outage || run < lossOutageRun {
			lost += run
			total += run
		}
		run = 0
	}
	eachStatus(fb, func(received bool) {
		ok := first == nil || first[k]
		k++
		switch {
		case !ok:
		case received:
			flush()
			total++
		default:
			run++
		}
	})
	flush()
	return lost, total
}

// lossBWE is pion's GCC with lossBound in place of its loss-based part.
type lossBWE struct {
	*gcc.SendSideBWE
	// sent has a transport-wide sequence number's bit set while a packet
	// sent with it has not been reported yet (set by the senders, cleared
	// by the first feedback that reports it).
	sent *[1 << 16 / 32]atomic.Uint32

	mu       sync.Mutex
	bound    *lossBound
	target   int
	onChange func(int)
	lastFB   time.Time // the latest transport-wide feedback's arrival
}

func newLossBWE(bwe *gcc.SendSideBWE, start, lo, hi int) *lossBWE {
	b := &lossBWE{SendSideBWE: bwe, sent: new([1 << 16 / 32]atomic.Uint32), bound: newLossBound(start, lo, hi), target: start}
	// The delay-based estimate also moves between feedbacks' arrivals.
	bwe.OnTargetBitrateChange(func(int) { b.update(time.Now(), 0, 0) })
	return b
}

// AddStream has GCC send the stream and notes each packet's transport-wide
// sequence number on the way.
func (b *lossBWE) AddStream(info *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	next := b.SendSideBWE.AddStream(info, w)
	if info.SSRCRetransmission != 0 {
		// Retransmissions come down the stream's writer on the RTX SSRC:
		// GCC's (no-op) pacer sends by SSRC and drops unknown ones.
		rtx := *info
		rtx.SSRC = info.SSRCRetransmission
		b.SendSideBWE.AddStream(&rtx, w)
	}
	var id uint8
	for _, e := range info.RTPHeaderExtensions {
		if e.URI == sdp.TransportCCURI {
			id = uint8(e.ID) //nolint:gosec // extension ids are 1-255
		}
	}
	if id == 0 {
		return next
	}
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		if ext := h.GetExtension(id); len(ext) >= 2 {
			seq := binary.BigEndian.Uint16(ext)
			b.sent[seq/32].Or(1 << (seq % 32))
		}
		return next.Write(h, payload, a)
	})
}

// first reports whether a feedback's report of seq is the first since a
// packet was sent with it, and notes that it was reported.
func (b *lossBWE) first(seq uint16) bool {
	bit := uint32(1) << (seq % 32)
	return b.sent[seq/32].And(^bit)&bit != 0
}

// firstReports tells, for each packet fb reports (by index from its base
// sequence number), whether this is its first report, and notes them as
// reported; again is whether any was reported before.
func (b *lossBWE) firstReports(fb *rtcp.TransportLayerCC) (first []bool, again bool) {
	first = make([]bool, fb.PacketStatusCount)
	for k := range first {
		first[k] = b.first(fb.BaseSequenceNumber + uint16(k)) //nolint:gosec // k < 65536
		again = again || !first[k]
	}
	return first, again
}

// WriteRTCP hands the feedback to GCC, with the packets reported again
// left out, and counts its losses.
func (b *lossBWE) WriteRTCP(pkts []rtcp.Packet, attr interceptor.Attributes) error {
	now := time.Now()
	type counted struct {
		fb    *rtcp.TransportLayerCC
		first []bool // by index from the base sequence number
	}
	var fbs []counted
	copied := false
	for i, p := range pkts {
		fb, ok := p.(*rtcp.TransportLayerCC)
		if !ok {
			continue
		}
		first, again := b.firstReports(fb)
		if again {
			if !copied { // the caller's slice stays as it was
				pkts, copied = append([]rtcp.Packet(nil), pkts...), true
			}
			pkts[i] = firstReportsOnly(fb, first)
		}
		fbs = append(fbs, counted{fb, first})
	}
	err := b.SendSideBWE.WriteRTCP(pkts, attr)
	for _, c := range fbs {
		b.mu.Lock()
		outage := !b.lastFB.IsZero() && now.Sub(b.lastFB) >= lossOutageSilence
		b.lastFB = now
		b.mu.Unlock()
		lost, total := countTWCC(c.fb, outage, c.first)
		b.update(now, lost, total)
	}
	return err
}

// firstReportsOnly is fb with the packets reported before (first[k] false
// for base+k) turned into not received, each one's arrival delta carried
// to the next packet received. pion's GCC reads a report again as new
// arrivals, and a packet that has left its send history (250 packets)
// does not take its arrival delta, which shifts every later packet's
// arrival in that feedback onto the wrong packet.
func firstReportsOnly(fb *rtcp.TransportLayerCC, first []bool) *rtcp.TransportLayerCC {
	out := &rtcp.TransportLayerCC{
		Header:             fb.Header,
		SenderSSRC:         fb.SenderSSRC,
		MediaSSRC:          fb.MediaSSRC,
		BaseSequenceNumber: fb.BaseSequenceNumber,
		PacketStatusCount:  fb.PacketStatusCount,
		ReferenceTime:      fb.ReferenceTime,
		FbPktCount:         fb.FbPktCount,
	}
	deltas := fb.RecvDeltas
	k := 0
	var carry int64 // µs
	var vec *rtcp.StatusVectorChunk
	eachStatus(fb, func(received bool) {
		sym := uint16(rtcp.TypeTCCPacketNotReceived)
		if received && len(deltas) > 0 {
			d := deltas[0].Delta + carry
			deltas = deltas[1:]
			carry = 0
			if first[k] {
				sym = rtcp.TypeTCCPacketReceivedLargeDelta
				if d >= 0 && d <= 255*rtcp.TypeTCCDeltaScaleFactor {
					sym = rtcp.TypeTCCPacketReceivedSmallDelta
				}
				out.RecvDeltas = append(out.RecvDeltas, &rtcp.RecvDelta{Type: sym, Delta: d})
			} else {
				carry = d
			}
		}
		if vec == nil || len(vec.SymbolList) == 7 {
			vec = &rtcp.StatusVectorChunk{SymbolSize: rtcp.TypeTCCSymbolSizeTwoBit}
			out.PacketChunks = append(out.PacketChunks, vec)
		}
		vec.SymbolList = append(vec.SymbolList, sym)
		k++
	})
	// The header as it would go on the wire: 20 bytes of header and
	// fields, the chunks, the deltas, padded to 32-bit words.
	n := 20 + 2*len(out.PacketChunks)
	for _, d := range out.RecvDeltas {
		n++
		if d.Type == rtcp.TypeTCCPacketReceivedLargeDelta {
			n++
		}
	}
	out.Header.Padding = n%4 != 0
	out.Header.Length = uint16(out.MarshalSize()/4 - 1) //nolint:gosec // at most 65535 statuses
	return out
}

// update recomputes the target and tells the listener if it changed.
func (b *lossBWE) update(now time.Time, lost, total int) {
	delay := b.delayEstimate()
	b.mu.Lock()
	bound := b.bound.feedback(now, lost, total, b.target)
	t := max(min(delay, bound), b.bound.lo) // bound ≤ hi already
	changed := t != b.target
	b.target = t
	f := b.onChange
	b.mu.Unlock()
	if changed && f != nil {
		f(t)
	}
}

// delayEstimate is GCC's delay-based estimate.
func (b *lossBWE) delayEstimate() int {
	if d, ok := b.SendSideBWE.GetStats()["delayTargetBitrate"].(int); ok && d > 0 {
		return d
	}
	return b.SendSideBWE.GetTargetBitrate()
}

// GetTargetBitrate is the target in force.
func (b *lossBWE) GetTargetBitrate() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.target
}

// OnTargetBitrateChange sets the listener for target changes.
func (b *lossBWE) OnTargetBitrateChange(f func(int)) {
	b.mu.Lock()
	b.onChange = f
	b.mu.Unlock()
}

var _ cc.BandwidthEstimator = (*lossBWE)(nil)
