package call

import (
	"encoding/binary"
	"slices"
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

// lossBWE is the call's congestion controller. pion's GCC carries the
// transport-wide feedback; its own estimate only stands in until the
// path meter (pathmeter.go) has read the path from that feedback, and
// the target is then a bound of lossBWE's own:
//   - a queue of backoffQueue standing in the path (growQueueMax at the
//     start, when the rate climbs fastest, once the path's jitter is
//     known; counted over the path's own
//     jitter, the readings' lower quartile over noiseWindow, at most
//     noiseMax) backs the bound off to backoffFactor of the rate the path
//     delivers, less the queue's worth over drainTime, to no less than
//     backoffMin of the bound, at most once per backoffEvery (GCC's
//     overuse rule, from a queue that lasted
//     standingWindow and a rate counted with headers; without the drain a
//     1 Mbit/s link's queue went on filling to its 100 ms for a second
//     after a backoff, the encoders a few frames late and 15 % under the
//     link not enough to empty it);
//   - loss over the last lossShortWindow and in the latest feedback above
//     lossCut cuts it to the current target × (1 − loss/2), not under
//     backoffFactor of the delivered rate, at most once per lossCutEvery,
//     when a queue of growQueueMax stood in front of it within congestedFor
//     or the loss is over lossHeavy: a full link's queue fills before it
//     drops, so loss with no queue is the path's own and is not taken for
//     congestion; a feedback that shows both loss and a queue takes the
//     cut and the backoff; loss over lossHeavy behind a standing queue,
//     or in the latest feedback behind a queue of overflowQueue in its
//     latest arrivals (a queue that has just overflowed), takes it to
//     backoffFactor of the delivered rate, or of the rate that feedback's
//     own packets arrived at (the link's now) when lower and the target
//     is at least filledShare of the delivered rate, or when the
//     delivered rate is not known, at once, at every feedback; one that takes
//     it under narrowedCut of the target reports a link that got much
//     narrower (Config.OnLinkNarrowed);
//   - packets of a feedback spread out on the way (pathReading.spread)
//     behind a queue of overflowQueue that has just formed, arriving at
//     under narrowedCut of the target, take it to backoffFactor of that
//     rate at once and report the same, before any loss is reported;
//   - on a feedback, with loss over lossWindow and the latest one under lossLow
//     (under lossCut when no queue stands), no queue of growQueueMax and
//     the bound under growAckedMax × the delivered rate, it grows every
//     lossGrowEvery: by startGrow at the start (until the first backoff or
//     cut; libwebrtc probes 3× and 6× its start rate at once), by nearGrow
//     within farLevel..1 of the rate delivered at the last backoff (for
//     levelFor), by levelGrow from it to nearLevel of it, by farGrow
//     elsewhere (lossGrow, GCC's, before the path is read);
//   - a run of at least lossOutageRun packets lost in a row, reported by
//     the first feedback after lossOutageSilence without any, is not
//     counted: nothing got through and nothing came back, the link was
//     down, not full. (pion's GCC halved its estimate after an outage of
//     3 s and climbed back at 5 % per 200 ms although the link came back
//     as it was.)
//
// Why not pion's delay-based estimate, as before (bench --network,
// busy-640x480-30.y4m): its overuse detector reads a keyframe's burst as
// overuse and sets the estimate to 0.85 × a rate it counts without
// headers, then climbs 8 % a second; started at 250 kbit/s the call took
// 17 s to fill a 1 Mbit/s link, and started at 600 kbit/s it flooded a
// 300 kbit/s link's 100 ms queue for two seconds (hundreds of packets
// lost each way, a freeze of 1-2 s in every call). With the queue read
// directly: 0 freezes at 300 kbit/s (3-5 before), 640x480 at 30 fps on
// a 3 Mbit/s link within 3 s, and 5 % burst loss without a queue no longer
// holds the call at a few hundred kbit/s.
// (Tried and left, before the meter: tolerating 2–10 % loss while the
// round trip showed no queue; the least round trip was often learnt while
// the start flooded a 300 kbit/s link.)
const (
	lossWindow        = time.Second
	lossShortWindow   = 300 * time.Millisecond
	lossCut           = 0.10
	lossLow           = 0.02
	lossHeavy         = 0.25
	overflowQueue     = 40 * time.Millisecond
	congestedFor      = time.Second
	lossCutEvery      = 200 * time.Millisecond
	lossGrow          = 1.05
	lossGrowEvery     = 200 * time.Millisecond
	lossOutageRun     = 50
	lossOutageSilence = time.Second
	startGrow         = 1.15
	growQueueMax      = 10 * time.Millisecond
	backoffQueue      = 25 * time.Millisecond
	backoffFactor     = 0.85
	backoffEvery      = 400 * time.Millisecond
	drainTime         = time.Second
	drainMax          = 0.25
	backoffMin        = 0.5
	nearLevel         = 1.15
	farLevel          = 0.8
	levelFor          = 10 * time.Second
	nearGrow          = 1.02
	// levelGrow: past the rate the link delivered when it was last full
	// the bound creeps, so that the queue it builds there is read before
	// it overflows. Growing by nearGrow there, a 1 Mbit/s link's bound
	// went from its level of 930 kbit/s to 1.04-1.06 Mbit/s every 4-6 s;
	// the queue stood at 80 ms before the backoff took hold, dropped a
	// packet in ten, and the picture froze for 540-980 ms in about one
	// call of two (bench --network 1M, traced). libwebrtc's AIMD, too,
	// grows by about a packet per round trip near its estimate.
	levelGrow = 1.005
	// levelWider: a path that delivers this much more than the level has
	// got wider since (a capacity that came back): the bound grows as
	// far from it.
	levelWider    = 1.05
	farGrow       = 1.06
	growAckedMax  = 1.5
	startAckedMax = 1.15
	// narrowedCut: an overflow that takes the bound under this share of
	// the target is a link that got much narrower (Config.OnLinkNarrowed;
	// 3 Mbit/s → 500 kbit/s cut 1.5 Mbit/s to 370 kbit/s at once). A
	// full link's own overflows, a keyframe or a step up too many, cut
	// by a third at most (traced, 300 kbit/s: 250 → 170 kbit/s), and the
	// picture there rides them out.
	narrowedCut = 0.5
	// filledShare: a target under this share of the delivered rate does
	// not fill the link (the rate still holds the time before a cut);
	// an overflow then came from a burst.
	filledShare = 0.9
)

// lossBound is the controller's bound on the send rate, from the loss and
// the path's readings in the transport-wide feedback.
type lossBound struct {
	lo, hi int
	bps    float64
	// starting is true until the first sign of a full link.
	starting bool
	// path is the latest reading of the path, if any (read).
	path pathReading
	read bool
	// noise holds the recent readings of the queue; queuedAt is the last
	// time one showed a queue.
	noise    queueNoise
	queuedAt time.Time
	// level is the rate delivered at the last backoff (0: none yet),
	// backoff its time.
	level   float64
	backoff time.Time
	reports []lossReport // within lossWindow, oldest first
	cut     time.Time    // last drop
	grown   time.Time    // last growth
	// narrowed is set by a feedback that took the bound to what a full
	// queue delivers and under narrowedCut of the target in force (the
	// link has just got much narrower), and cleared by whoever reports
	// it (lossBWE.update).
	narrowed bool
}

type lossReport struct {
	at          time.Time
	lost, total int
}

func newLossBound(start, lo, hi int) *lossBound {
	return &lossBound{lo: lo, hi: hi, bps: float64(start), starting: true}
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

// feedback takes a feedback's counts at now (none: 0, 0) and what it told
// of the path (nil: nothing new); current is the target in force. It
// returns the bound.
func (b *lossBound) feedback(now time.Time, lost, total, current int, path *pathReading) int {
	if path != nil {
		b.path, b.read = *path, true
		b.noise.add(now, path.queue)
	}
	// A path's own jitter stands in the reading too (a link that keeps
	// order holds packets behind late ones): the queue counts from the
	// readings' lower quartile over the last noiseWindow, at most
	// noiseMax (an oscillating full link raises it too).
	noise := min(b.noise.quartile(), noiseMax)
	queue := b.path.queue - noise
	queued := b.read && queue >= growQueueMax
	if queued {
		b.queuedAt = now
	}
	// Loss with no queue in front of it for congestedFor is the path's,
	// not congestion (a full link's queue fills before it drops; a
	// keyframe can fill it faster than a standing queue is read), unless
	// it is heavy.
	congested := b.congested(now)
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
	// Loss behind a queue and the queue itself are read from the same
	// feedback, and a link that has just got much narrower shows both: the
	// loss cut and the backoff each apply (a full 500 kbit/s link behind
	// 3 Mbit/s reads 80 % loss and the queue; the cut alone took the
	// bound down by 0.6 per lossCutEvery, and the backoff, to what the
	// link delivers, waited until the loss was over).
	heavy := min(short, latest) > lossHeavy
	lossy := total > 0 && min(short, latest) > lossCut && (congested || heavy)
	// A link that has just got much narrower overflows its queue before
	// the queue has stood for standingWindow: the first feedbacks that
	// show the loss show the queue only in their latest arrivals (traced,
	// 3 Mbit/s → 500 kbit/s: 36-40 % of the latest feedback lost 0.4 s
	// after the drop, the standing queue still read 1 ms, and the cut
	// waited for the standing queue, 0.6-0.8 s more while the link
	// dropped two packets in three). Loss of a quarter or more in one
	// feedback behind a queue of overflowQueue is such an overflow.
	recent := b.path.recent - noise
	overflow := total > 0 && path != nil && latest > lossHeavy && recent >= overflowQueue
	// A queue that has just formed in front of packets arriving at under
	// narrowedCut of the target is a link that got much narrower, read
	// before its queue overflows: behind a queue, packets arrive at the
	// link's rate (a full link's own queue at about the target, a burst's
	// at more). Read from the delay, the drop is known a queue's length
	// and a feedback or two sooner than from the loss, whose report waits
	// for later packets to cross the full queue and comes back through
	// the other way's, full too (traced, 3 Mbit/s → 500 kbit/s, 100 ms
	// queues: the loss reached the sender 350-450 ms after the link's
	// first drop, the picture froze 510-680 ms in half the directions).
	// The packets, two or more, must have been spread out on the way
	// (spreadOut): a few sent as sparsely as they arrived (audio, a
	// frame's last packets) read as a low rate on any link (traced,
	// 300 kbit/s at the start: two packets, read as under 100 kbit/s).
	shrunk := total > 0 && path != nil && path.spread && recent >= overflowQueue && path.latest > 0 &&
		float64(path.latest) < narrowedCut*float64(current)
	delivered := b.read && b.path.acked > 0
	if shrunk && !(heavy && queued || overflow) {
		b.bps = min(float64(current), backoffFactor*float64(path.latest))
		b.cut, b.grown = now, now
		b.starting = false
		b.narrowed = true
		lossy = true
	} else if total > 0 && (heavy && queued || overflow) && (delivered || now.Sub(b.cut) >= lossCutEvery) {
		// A full queue drops a quarter or more of what is sent: the
		// link delivers all it can, so that is its capacity now, and
		// the bound goes there at once rather than by half the loss
		// (traced, 3 Mbit/s → 500 kbit/s: 67 % lost with the queue
		// read, the cut took the bound to 1.17 Mbit/s while the path
		// delivered 857 kbit/s; four calls each, interleaved: freezes
		// at the drop 10 against 14, the longest 524-1068 ms against
		// 816-1078), at every such feedback: it does not compound.
		// Before the path has shown what it delivers, it is what was
		// sent less what was lost, once per lossCutEvery.
		floor := backoffFactor * float64(current) * (1 - latest)
		if delivered {
			floor = backoffFactor * float64(b.path.acked)
		}
		switch {
		case path != nil && path.latest > 0 && delivered && float64(current) >= filledShare*float64(b.path.acked):
			// The delivered rate holds the half second before the
			// queue filled; this feedback's own arrivals are the
			// link's rate now (traced, 3 Mbit/s → 500 kbit/s: the
			// first cut went to 0.85 × 1.05 Mbit/s, and the next
			// feedback came 400 ms later, the others lost in the
			// full queue back, while the link dropped half of what
			// was sent). Only while the target is about the delivered
			// rate or over it (filledShare): a target well under it
			// did not fill the link, a burst did (a keyframe, after
			// a cut), and the few packets of the burst
			// that got through are no measure of the link (traced,
			// 300 kbit/s: 7 of 11 lost, those 4 read as 114 kbit/s
			// while the path delivered 238; the bound went from 171
			// kbit/s to the minimum and the picture to 160x120).
			floor = min(floor, backoffFactor*float64(path.latest))
		case path != nil && path.latest > 0 && !delivered:
			// The same, when feedback lost on the way back has left
			// too short a span to read the delivered rate: what was
			// sent less what was lost is no measure behind a queue
			// that drops most of it (traced, 3 Mbit/s → 500 kbit/s:
			// 79 % of a feedback lost, the bound went to 0.85 × 382 ×
			// 0.21 = 70 kbit/s, the minimum, while that feedback's
			// packets arrived at 449 kbit/s; the picture fell to
			// 160x120 and took 7 s to come back).
			floor = backoffFactor * float64(path.latest)
		}
		b.bps = min(float64(current), floor)
		b.cut, b.grown = now, now
		b.starting = false
		b.narrowed = b.narrowed || b.bps < narrowedCut*float64(current)
		lossy = true
	} else if lossy && now.Sub(b.cut) >= lossCutEvery {
		bps := float64(current) * (1 - short/2)
		if delivered {
			// Not under what the path delivers.
			bps = max(bps, backoffFactor*float64(b.path.acked))
		}
		b.bps = min(float64(current), bps)
		b.cut, b.grown = now, now
		b.starting = false
	}
	backoff := b.read && (queue >= backoffQueue || b.starting && queued && b.noise.known()) && b.path.acked > 0 && now.Sub(b.backoff) >= backoffEvery
	if backoff {
		b.starting = false
		// Less the queue's worth over drainTime, so that it drains
		// instead of standing: the delivered rate is the link's while a
		// queue stands, and the encoders overshoot a lower target for a
		// few frames.
		drain := min(queue.Seconds()/drainTime.Seconds(), drainMax)
		// At most halved at once: after a feedback was lost in a full
		// queue the delivered rate is read from the few packets reported.
		b.bps = min(b.bps, max(backoffMin*b.bps, (backoffFactor-drain)*float64(b.path.acked)))
		b.level = float64(b.path.acked)
		b.backoff, b.grown = now, now
	}
	if !lossy && !backoff && total > 0 && (worst < lossLow || !congested && worst < lossCut) && !queued && now.Sub(b.grown) >= lossGrowEvery {
		// Only a feedback shows that what was sent got through: GCC's
		// own updates between feedbacks (asynchronous) do not grow it.
		// levelKnown: the rate of the last backoff still counts.
		levelKnown := b.level > 0 && now.Sub(b.backoff) < levelFor
		switch {
		case b.read && (b.path.acked == 0 || b.bps >= growAckedMax*float64(b.path.acked)):
			// The senders are not using what they have, or the path
			// has not shown what it delivers yet.
		case b.starting && b.read && b.bps >= startAckedMax*float64(b.path.acked):
			// The start climbs only as fast as the encoders follow.
		case b.starting:
			b.bps *= startGrow
		case levelKnown && b.bps >= b.level && b.bps < nearLevel*b.level && float64(b.path.acked) < levelWider*b.level:
			b.bps *= levelGrow
		case levelKnown && b.bps >= farLevel*b.level && b.bps < b.level:
			b.bps *= nearGrow
		case b.read:
			b.bps *= farGrow
		default:
			b.bps *= lossGrow
		}
		b.grown = now
	}
	b.bps = min(max(b.bps, float64(b.lo)), float64(b.hi))
	if b.bps >= float64(b.hi) {
		b.starting = false
	}
	return int(b.bps)
}

// carried is what the link has shown it carries (Config.OnCarriedBitrate):
// while the rate of the last backoff still counts (levelFor), the larger
// of it and the rate the path delivers now; 0 otherwise.
func (b *lossBound) carried(now time.Time) int {
	if b.level <= 0 || now.Sub(b.backoff) >= levelFor {
		return 0
	}
	return int(max(b.level, float64(b.path.acked)))
}

// congested reports whether loss now would be the link's congestion: a
// queue stood in front of it within congestedFor, or the path is not read
// yet.
func (b *lossBound) congested(now time.Time) bool {
	return !b.read || now.Sub(b.queuedAt) < congestedFor
}

// queueNoise keeps the queue readings of the last noiseWindow.
type queueNoise struct {
	at       []time.Time
	readings []time.Duration
	sorted   []time.Duration
}

const (
	noiseWindow = 5 * time.Second
	noiseMin    = 5
	noiseMax    = 30 * time.Millisecond
)

func (n *queueNoise) add(now time.Time, q time.Duration) {
	i := 0
	for i < len(n.at) && now.Sub(n.at[i]) > noiseWindow {
		i++
	}
	n.at = append(n.at[i:], now)
	n.readings = append(n.readings[i:], q)
}

// known is whether there are noiseMin readings to tell the path's jitter.
func (n *queueNoise) known() bool { return len(n.readings) >= noiseMin }

// quartile is the readings' lower quartile (0 until known).
func (n *queueNoise) quartile() time.Duration {
	if !n.known() {
		return 0
	}
	n.sorted = append(n.sorted[:0], n.readings...)
	slices.Sort(n.sorted)
	return n.sorted[len(n.sorted)/4]
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
	// meter reads the queue and delivered rate from the same feedback.
	meter *pathMeter

	mu       sync.Mutex
	bound    *lossBound
	target   int
	onChange func(int)
	// onNarrowed is told after the new target when a feedback showed
	// the link much narrower (lossBound.narrowed); nil: nobody.
	onNarrowed func()
	// queueFree is set after each update to whether the path is read
	// and no queue stood in it lately (lossBound.congested), for the
	// NACK guard; nil: nobody reads it.
	queueFree *atomic.Bool
	lastFB    time.Time // the latest transport-wide feedback's arrival
	// onCarried (nil: nobody) is told what the link has shown it
	// carries (lossBound.carried) when it changes by carriedStep or
	// more, or to or from 0; carried is the value last told.
	onCarried func(int)
	carried   int
	// carriedNow (nil: nobody) is set after each update to what the
	// link has shown it carries, for the pacer.
	carriedNow *atomic.Int64
}

// carriedStep is the least relative change of the carried rate told to
// the listener (as targetStep for the target).
const carriedStep = 0.05

// newLossBWE wraps bwe; onNarrowed (nil: none) is called after the
// target has followed a link that got much narrower (Config.OnLinkNarrowed).
func newLossBWE(bwe *gcc.SendSideBWE, start, lo, hi int, onNarrowed func()) *lossBWE {
	b := &lossBWE{SendSideBWE: bwe, sent: new([1 << 16 / 32]atomic.Uint32), meter: newPathMeter(time.Now()), bound: newLossBound(start, lo, hi), target: start, onNarrowed: onNarrowed}
	// The delay-based estimate also moves between feedbacks' arrivals.
	bwe.OnTargetBitrateChange(func(int) { b.update(time.Now(), 0, 0, nil) })
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
			b.meter.onSent(seq, h.MarshalSize()+len(payload), time.Now())
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
		var path *pathReading
		if r, ok := b.meter.feedback(c.fb, c.first, now); ok {
			path = &r
		}
		b.update(now, lost, total, path)
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
func (b *lossBWE) update(now time.Time, lost, total int, path *pathReading) {
	b.mu.Lock()
	bound := b.bound.feedback(now, lost, total, b.target, path)
	t := bound
	if !b.bound.read {
		// No queue read yet (no transport-wide feedback): GCC's. Its
		// stats (a map each call) are not read once the path is.
		t = min(b.delayEstimate(), bound)
	}
	t = max(t, b.bound.lo) // bound ≤ hi already
	changed := t != b.target
	b.target = t
	f := b.onChange
	narrowed := b.bound.narrowed && b.onNarrowed != nil
	b.bound.narrowed = false
	if b.queueFree != nil {
		b.queueFree.Store(!b.bound.congested(now))
	}
	carried, tell := b.bound.carried(now), false
	if b.carriedNow != nil {
		b.carriedNow.Store(int64(carried))
	}
	if b.onCarried != nil && carried != b.carried &&
		(carried == 0 || b.carried == 0 || movedBy(b.carried, carried, carriedStep)) {
		b.carried, tell = carried, true
	}
	onCarried := b.onCarried
	b.mu.Unlock()
	if changed && f != nil {
		f(t)
	}
	if narrowed {
		b.onNarrowed()
	}
	if tell {
		onCarried(carried)
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
