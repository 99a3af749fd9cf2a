package app

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/peercall/peercall/app/netem"
)

// Timing of the conditions with an event (capacity drop, outage): the
// event starts NetworkEventAt after the joiner starts, once the call has
// settled; the drop lasts 20 s (issue 16); a call lasts at least the
// event plus NetworkRecoverWindow.
const (
	NetworkEventAt       = 8 * time.Second
	NetworkDropFor       = 20 * time.Second
	NetworkOutageFor     = 3 * time.Second
	NetworkRecoverWindow = 12 * time.Second
)

// NetworkCondition is one emulated link of `bench --network`; both
// directions get Link.
type NetworkCondition struct {
	Name string
	Link netem.Config
}

// NetworkConditions are issue 16's conditions: three capacities with 50 ms
// one-way delay and a 100 ms queue, a capacity drop and its return,
// 150 ± 30 ms jitter (order kept), 5 % Gilbert–Elliott burst loss (bursts
// of 4 packets on average) and a 3 s outage.
func NetworkConditions() []NetworkCondition {
	capped := func(bps int64) netem.Config {
		return netem.Config{Rate: bps, Delay: 50 * time.Millisecond, Queue: 100 * time.Millisecond}
	}
	drop := capped(3_000_000)
	drop.Schedule = []netem.RateStep{{At: NetworkEventAt, Rate: 500_000}, {At: NetworkEventAt + NetworkDropFor, Rate: 3_000_000}}
	outage := capped(3_000_000)
	outage.Outages = []netem.Outage{{At: NetworkEventAt, For: NetworkOutageFor}}
	return []NetworkCondition{
		{"300k", capped(300_000)},
		{"1M", capped(1_000_000)},
		{"3M", capped(3_000_000)},
		{"3M-500k-3M", drop},
		{"jitter", netem.Config{Delay: 150 * time.Millisecond, Jitter: 30 * time.Millisecond}},
		{"burst-loss", netem.Config{Delay: 50 * time.Millisecond, Loss: netem.BurstLoss(0.05, 4)}},
		{"outage", outage},
	}
}

// NetworkConditionNames lists the names --network-conditions takes.
func NetworkConditionNames() []string {
	var out []string
	for _, c := range NetworkConditions() {
		out = append(out, c.Name)
	}
	return out
}

// describe says what the condition is, for the table.
func (c NetworkCondition) describe() string {
	l := c.Link
	var parts []string
	if l.Rate > 0 {
		s := kbit(l.Rate)
		for _, st := range l.Schedule {
			s += " → " + kbit(st.Rate)
		}
		if len(l.Schedule) > 0 {
			s += fmt.Sprintf(" (at %v, for %v)", l.Schedule[0].At, l.Schedule[1].At-l.Schedule[0].At)
		}
		parts = append(parts, s)
	}
	d := fmt.Sprintf("%d ms", l.Delay.Milliseconds())
	if l.Jitter > 0 {
		d += fmt.Sprintf(" ± %d ms", l.Jitter.Milliseconds())
		if !l.Reorder {
			d += " (order kept)"
		}
	}
	parts = append(parts, d)
	if l.Rate > 0 {
		q := l.Queue
		if q == 0 {
			q = netem.DefaultQueue
		}
		parts = append(parts, fmt.Sprintf("queue %d ms", q.Milliseconds()))
	}
	if m := l.Loss.Mean(); m > 0 {
		parts = append(parts, fmt.Sprintf("GE loss %.0f %%, bursts %.0f", 100*m, 1/l.Loss.R))
	}
	for _, o := range l.Outages {
		parts = append(parts, fmt.Sprintf("outage %v at %v", o.For, o.At))
	}
	return strings.Join(parts, ", ")
}

func kbit(bps int64) string {
	if bps >= 1_000_000 && bps%1_000_000 == 0 {
		return fmt.Sprintf("%d Mbit/s", bps/1_000_000)
	}
	if bps >= 1_000_000 {
		return fmt.Sprintf("%.1f Mbit/s", float64(bps)/1e6)
	}
	return fmt.Sprintf("%d kbit/s", bps/1000)
}

// callDuration is how long a call of condition c runs for a requested d:
// long enough to see the event and the recovery after it.
func (c NetworkCondition) callDuration(d time.Duration) time.Duration {
	end := time.Duration(0)
	for _, s := range c.Link.Schedule {
		end = max(end, s.At)
	}
	for _, o := range c.Link.Outages {
		end = max(end, o.At+o.For)
	}
	if end > 0 {
		d = max(d, end+NetworkRecoverWindow)
	}
	return d
}

// NetworkResult is one condition's call: figures over both directions
// (means of the two peers, worst of the two for freezes, latency and
// times) and the link's counters.
type NetworkResult struct {
	Condition    string  `json:"condition"`
	Link         string  `json:"link"`
	CapacityKbps float64 `json:"capacity_kbps"` // base capacity, 0 unlimited
	DurationS    float64 `json:"duration_s"`
	// FirstFrameMS is the joiner's time from the start of its join to its
	// first decoded frame (signaling, ICE and DTLS across the link), -1
	// when it had none.
	FirstFrameMS float64 `json:"first_frame_ms"`
	// SendKbps is the mean send rate over the call (timeline mean, video
	// + audio with RTP headers), the mean of the two peers.
	SendKbps float64 `json:"send_kbps"`
	FPS      float64 `json:"fps"`
	// MpxS is the picture delivered: frames shown a second times their
	// size, in megapixels a second (timeline mean, the mean of the two
	// peers) — fps × frame size, the measure of quality at a
	// bitrate.
	MpxS float64 `json:"delivered_mpx_s"`
	// Freezes are gaps ≥ 500 ms between decoded frames, both directions.
	Freezes         int     `json:"freezes"`
	LongestFreezeMS float64 `json:"longest_freeze_ms"`
	LatencyP50      float64 `json:"latency_p50_ms"`
	LatencyP95      float64 `json:"latency_p95_ms"`
	ConcealedPct    float64 `json:"audio_concealed_pct"`
	// AdaptS is how long the rate offered to the link (media,
	// retransmissions, RTCP: the same measure for us and for Chromium)
	// took to get under a new capacity and stay there for 3 s (from the
	// call's start for a fixed one, from the drop for a schedule), read in
	// 1 s windows placed every linkFineEvery; RecoverS how long after
	// capacity returned the send rate was back to 90 % of what it was
	// before the drop with ≥ 25 fps received, or after an outage how long
	// until the picture moved again. Timeline resolution (1 s) for that
	// rate, frame times for the picture; -1 never, absent where the
	// condition has no such event.
	AdaptS   *float64       `json:"adapt_s,omitempty"`
	RecoverS *float64       `json:"recover_s,omitempty"`
	AtoB     netem.Counters `json:"link_a_to_b"`
	BtoA     netem.Counters `json:"link_b_to_a"`
	// LinkTimeline is the link second by second (both directions);
	// LinkKbps the mean offered to it per direction (IP packets: media,
	// RTCP and STUN alike), the same measure for us and for Chromium.
	LinkTimeline []LinkPoint `json:"link_timeline,omitempty"`
	LinkKbps     float64     `json:"link_kbps"`
	// Chromium is the same condition with two Chromium instances
	// (--network-chromium): its reports are built from the link, the
	// pages' presented frames and their markers, so it has no concealment.
	Chromium *NetworkResult `json:"chromium,omitempty"`
	// UnmarkedPct (Chromium only) is the share of presented frames whose
	// latency marker did not read, the worse side.
	UnmarkedPct float64          `json:"unmarked_pct,omitempty"`
	Host        *Report          `json:"host,omitempty"`
	Joiner      *Report          `json:"joiner,omitempty"`
	Err         string           `json:"error,omitempty"`
	cond        NetworkCondition `json:"-"`
}

// RunNetworkBench runs each selected condition (all when names is empty)
// with two headless peers, one per namespace of an emulated link.
func RunNetworkBench(ctx context.Context, o BenchOptions, log io.Writer) ([]NetworkResult, error) {
	if err := netem.Check(); err != nil {
		return nil, fmt.Errorf("bench --network: %w", err)
	}
	var out []NetworkResult
	for _, c := range NetworkConditions() {
		if len(o.NetworkConditions) > 0 && !slices.Contains(o.NetworkConditions, c.Name) {
			continue
		}
		fmt.Fprintf(log, "bench: network %s (%s)\n", c.Name, c.describe())
		r := runNetworkCondition(ctx, o, c)
		if r.Err != "" {
			fmt.Fprintf(log, "bench: network %s failed: %s\n", c.Name, r.Err)
		}
		if o.NetworkChromium && ctx.Err() == nil {
			fmt.Fprintf(log, "bench: network %s, Chromium\n", c.Name)
			dur := c.callDuration(o.NetworkDur)
			cc, err := runChromiumCall(ctx, o, c, dur)
			ch := chromiumResult(c, cc, dur)
			if err != nil {
				ch.Err = err.Error()
				fmt.Fprintf(log, "bench: network %s, Chromium failed: %s\n", c.Name, ch.Err)
			}
			r.Chromium = &ch
		}
		out = append(out, r)
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
	}
	return out, nil
}

// runNetworkCondition runs one call over c and measures it.
func runNetworkCondition(ctx context.Context, o BenchOptions, c NetworkCondition) NetworkResult {
	dur := c.callDuration(o.NetworkDur)
	res := NetworkResult{Condition: c.Name, Link: c.describe(), CapacityKbps: float64(c.Link.Rate) / 1000, cond: c}
	call, err := runNetworkCall(ctx, o, c, dur)
	res.Host, res.Joiner, res.AtoB, res.BtoA = call.host, call.joiner, call.ab, call.ba
	res.LinkTimeline = call.series
	if err != nil {
		res.Err = err.Error()
	}
	res.analyse(call.origin, call.offered)
	return res
}

// networkCall is what one emulated call left: the reports, the link's
// counters and the time its schedule counted from.
type networkCall struct {
	host, joiner *Report
	ab, ba       netem.Counters
	origin       time.Time
	series       []LinkPoint
	offered      []offeredSample
}

// LinkPoint is one second of the emulated link, per direction (A→B, B→A):
// the capacity then, what was delivered, and what the queue and the loss
// model (outages included) dropped.
type LinkPoint struct {
	UnixMS        int64      `json:"unix_ms"`
	CapacityKbps  [2]float64 `json:"capacity_kbps"`
	OfferedKbps   [2]float64 `json:"offered_kbps"`
	DeliveredKbps [2]float64 `json:"delivered_kbps"`
	QueueDrops    [2]int64   `json:"queue_drops"`
	LossDrops     [2]int64   `json:"loss_drops"`
}

// offeredSample is what had been offered to the link by a time, in bytes
// per direction (A→B, B→A). The link is sampled every linkFineEvery.
type offeredSample struct {
	at time.Time
	in [2]int64
}

// linkFineEvery is the link's sampling interval for AdaptS: the cut
// after a drop lands within a second, so a 1 s grid put the drop's own
// second, at the old rate, in the first window half the time.
const linkFineEvery = 100 * time.Millisecond

// linkPoint is the second from prev to cur of a direction pair.
func linkPoint(t time.Time, dt time.Duration, caps [2]int64, prev, cur [2]netem.Counters) LinkPoint {
	p := LinkPoint{UnixMS: t.UnixMilli()}
	for i := range 2 {
		p.CapacityKbps[i] = float64(caps[i]) / 1000
		p.OfferedKbps[i] = round1(float64(cur[i].InBytes-prev[i].InBytes) * 8 / dt.Seconds() / 1000)
		p.DeliveredKbps[i] = round1(float64(cur[i].DeliveredBytes-prev[i].DeliveredBytes) * 8 / dt.Seconds() / 1000)
		p.QueueDrops[i] = cur[i].QueueDropPackets - prev[i].QueueDropPackets
		p.LossDrops[i] = cur[i].LossDropPackets - prev[i].LossDropPackets + cur[i].OutageDropPackets - prev[i].OutageDropPackets
	}
	return p
}

// analyse fills the figures from the two reports and the link's samples.
func (r *NetworkResult) analyse(origin time.Time, offered []offeredSample) {
	reps := []*Report{r.Host, r.Joiner}
	r.FirstFrameMS = -1
	if r.Joiner != nil && r.Joiner.SetupMS.FirstVideoFrame > 0 {
		r.FirstFrameMS = r.Joiner.SetupMS.FirstVideoFrame
	}
	var n int
	for _, p := range reps {
		if p == nil {
			continue
		}
		n++
		r.DurationS = max(r.DurationS, p.CallS)
		r.SendKbps += meanSend(p.Timeline)
		r.FPS += p.VideoIn.FPS
		r.MpxS += meanPixelRate(p.Timeline)
		r.ConcealedPct += 100 * p.AudioIn.ConcealedRatio
		r.Freezes += len(p.VideoIn.LongFreezes)
		for _, f := range p.VideoIn.LongFreezes {
			r.LongestFreezeMS = max(r.LongestFreezeMS, f.MS)
		}
		if p.VideoIn.FramesDecoded == 0 && len(p.VideoIn.LongFreezes) == 0 && p.CallS > LongFreeze.Seconds() {
			// No video track ever arrived: the whole call was frozen.
			r.Freezes++
			r.LongestFreezeMS = max(r.LongestFreezeMS, round1(p.CallS*1000))
		}
		r.LatencyP50 = max(r.LatencyP50, p.Latency.VideoP50)
		r.LatencyP95 = max(r.LatencyP95, p.Latency.VideoP95)
	}
	for _, p := range r.LinkTimeline {
		r.LinkKbps += (p.OfferedKbps[0] + p.OfferedKbps[1]) / 2
	}
	if len(r.LinkTimeline) > 0 {
		r.LinkKbps = round1(r.LinkKbps / float64(len(r.LinkTimeline)))
	}
	if n == 0 {
		return
	}
	r.SendKbps, r.FPS, r.ConcealedPct = round1(r.SendKbps/float64(n)), round1(r.FPS/float64(n)), round1(r.ConcealedPct/float64(n))
	r.MpxS = math.Round(100*r.MpxS/float64(n)) / 100
	l := r.cond.Link
	// Each peer's send timeline against the capacity of the direction it
	// sends on; the picture against the other's receive side.
	worst := func(f func(dir int, send, recv *Report) float64) *float64 {
		v := 0.0
		for i, p := range reps {
			q := reps[1-i]
			if p == nil || q == nil {
				v = -1
				break
			}
			x := f(i, p, q)
			if x < 0 {
				v = -1
				break
			}
			v = max(v, x)
		}
		v = round1(v)
		return &v
	}
	switch {
	case len(l.Schedule) > 0:
		down, up := origin.Add(l.Schedule[0].At), origin.Add(l.Schedule[1].At)
		newCap := float64(l.Schedule[0].Rate) / 1000
		r.AdaptS = worst(func(dir int, _, _ *Report) float64 { return timeUnder(offered, dir, down, newCap) })
		r.RecoverS = worst(func(_ int, s, q *Report) float64 {
			before := meanBetween(s.Timeline, down.Add(-3*time.Second), down)
			return timeRecovered(s.Timeline, q.Timeline, up, 0.9*before)
		})
	case len(l.Outages) > 0:
		back := origin.Add(l.Outages[0].At + l.Outages[0].For)
		r.RecoverS = worst(func(_ int, _, q *Report) float64 { return pictureBack(q.VideoIn.LongFreezes, back) })
	case l.Rate > 0:
		r.AdaptS = worst(func(dir int, _, _ *Report) float64 { return timeUnder(offered, dir, origin, float64(l.Rate)/1000) })
	}
}

// chromiumResult measures a Chromium call like ours: each side's report
// is built from the link (what it offered), its presented frames and the
// latencies their markers gave (capture → presented for composition).
func chromiumResult(c NetworkCondition, cc chromiumCall, dur time.Duration) NetworkResult {
	r := NetworkResult{Condition: c.Name, Link: c.describe(), CapacityKbps: float64(c.Link.Rate) / 1000, cond: c,
		AtoB: cc.ab, BtoA: cc.ba, LinkTimeline: cc.series}
	var reps [2]*Report
	for s := range 2 {
		frames := cc.frames[s]
		if len(frames) == 0 {
			continue
		}
		rep := &Report{CallS: dur.Seconds()}
		first := -1
		for i := range frames {
			if frames[i].n > 0 {
				first = i
				break
			}
		}
		last := frames[len(frames)-1]
		if first >= 0 && last.at.After(frames[first].at) {
			rep.VideoIn.FramesDecoded = last.n
			rep.VideoIn.FPS = float64(last.n-frames[first].n) / last.at.Sub(frames[first].at).Seconds()
		}
		rep.VideoIn.LongFreezes = sampleFreezes(frames)
		rep.SetupMS.FirstVideoFrame = -1
		if cc.joined[s] > 0 && cc.first[s] > cc.joined[s] {
			// Join → first frame as ours counts it: from the join (the
			// form's submit, which opens the signaling socket) to
			// the first remote frame presented.
			rep.SetupMS.FirstVideoFrame = round1(cc.first[s] - cc.joined[s])
		}
		if xs := slices.Clone(cc.latency[s]); len(xs) > 0 {
			rep.Latency = LatencyStats{VideoP50: percentile(xs, 50), VideoP95: percentile(xs, 95), Samples: len(xs)}
		}
		if n := cc.marked[s] + cc.unmarked[s]; n > 0 {
			r.UnmarkedPct = max(r.UnmarkedPct, round1(100*float64(cc.unmarked[s])/float64(n)))
		}
		for _, p := range cc.series {
			pt := TimelinePoint{UnixMS: p.UnixMS, SendKbps: p.OfferedKbps[s]}
			to := time.UnixMilli(p.UnixMS)
			pt.FPSIn = framesBetween(frames, to.Add(-time.Second), to)
			pt.WidthIn, pt.HeightIn = sizeAt(frames, to)
			rep.Timeline = append(rep.Timeline, pt)
		}
		reps[s] = rep
	}
	r.Host, r.Joiner = reps[0], reps[1]
	r.analyse(cc.origin, cc.offered)
	return r
}

// chromiumCall is what a Chromium call left: per side the decoded frame
// count over time, the capture-to-presentation latencies (ms) read from
// the frame markers and how many presented frames had a readable marker
// and how many not, the wall-clock times (unix ms, 0: none) of its join
// and of the first remote frame it presented, the link's counters and
// series.
type chromiumCall struct {
	frames           [2][]frameSample
	latency          [2][]float64
	marked, unmarked [2]int
	joined, first    [2]float64
	ab, ba           netem.Counters
	origin           time.Time
	series           []LinkPoint
	offered          []offeredSample
}

// frameSample is a page's presented-frame counter at a time (-1 before
// its remote video exists).
type frameSample struct {
	at   time.Time
	n    int
	w, h int // size of the frames shown then (0 unknown)
}

// sampleFreezes finds the gaps of at least LongFreeze in a sampled frame
// counter, from the first frame shown to the last sample (the whole span
// when none was shown).
func sampleFreezes(fs []frameSample) []FreezeSpan {
	if len(fs) == 0 {
		return nil
	}
	var out []FreezeSpan
	add := func(from, to time.Time) {
		if gap := to.Sub(from); gap >= LongFreeze {
			out = append(out, FreezeSpan{StartUnixMS: from.UnixMilli(), MS: float64(gap.Milliseconds())})
		}
	}
	since, prev := fs[0].at, 0 // the last change of the counter
	shown := false
	for _, f := range fs {
		switch {
		case f.n > 0 && !shown:
			since, prev, shown = f.at, f.n, true
		case shown && f.n > prev:
			add(since, f.at)
			since, prev = f.at, f.n
		}
	}
	add(since, fs[len(fs)-1].at)
	return out
}

// framesBetween is the frame rate of the samples in (from, to].
func framesBetween(fs []frameSample, from, to time.Time) float64 {
	lo, hi := -1, -1
	var t0, t1 time.Time
	for _, f := range fs {
		if f.n < 0 || !f.at.After(from) || f.at.After(to) {
			continue
		}
		if lo < 0 {
			lo, t0 = f.n, f.at
		}
		hi, t1 = f.n, f.at
	}
	if lo < 0 || !t1.After(t0) {
		return 0
	}
	return round1(float64(hi-lo) / t1.Sub(t0).Seconds())
}

// sizeAt is the size of the frames shown at the last sample up to t.
func sizeAt(fs []frameSample, t time.Time) (w, h int) {
	for _, f := range fs {
		if f.at.After(t) {
			break
		}
		if f.w > 0 && f.h > 0 {
			w, h = f.w, f.h
		}
	}
	return w, h
}

// meanPixelRate is the timeline's mean of frames shown a second times
// their size, in megapixels a second.
func meanPixelRate(tl []TimelinePoint) float64 {
	if len(tl) == 0 {
		return 0
	}
	var px float64
	for _, p := range tl {
		px += p.FPSIn * float64(p.WidthIn*p.HeightIn)
	}
	return px / float64(len(tl)) / 1e6
}

func meanSend(tl []TimelinePoint) float64 {
	if len(tl) == 0 {
		return 0
	}
	var s float64
	for _, p := range tl {
		s += p.SendKbps
	}
	return s / float64(len(tl))
}

// meanBetween is the mean send rate of the points in (from, to].
func meanBetween(tl []TimelinePoint, from, to time.Time) float64 {
	var s float64
	var n int
	for _, p := range tl {
		if t := time.UnixMilli(p.UnixMS); t.After(from) && !t.After(to) {
			s += p.SendKbps
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return s / float64(n)
}

// adaptHold is how many adaptWindow windows in a row the offered rate
// must stay under a new capacity to count as adapted (a single low second
// between bursts does not).
const (
	adaptHold   = 3
	adaptWindow = time.Second
)

// timeUnder is the seconds from t to the end of the first adaptWindow
// window starting at a sample after t from which the rate offered in
// direction dir stays at most capKbps for adaptHold windows in a row (or
// to the end of the samples), -1 if none.
func timeUnder(s []offeredSample, dir int, t time.Time, capKbps float64) float64 {
	// next is the first sample adaptWindow (less half a sample's
	// interval, for the ticker's jitter) after sample i, -1 if none.
	next := func(i int) int {
		for j := i + 1; j < len(s); j++ {
			if s[j].at.Sub(s[i].at) >= adaptWindow-linkFineEvery/2 {
				return j
			}
		}
		return -1
	}
	for i := range s {
		if s[i].at.Before(t) {
			continue
		}
		first, held := -1, true
		for k, n := i, 0; n < adaptHold && held; n++ {
			j := next(k)
			if j < 0 {
				break
			}
			if n == 0 {
				first = j
			}
			kbps := float64(s[j].in[dir]-s[k].in[dir]) * 8 / s[j].at.Sub(s[k].at).Seconds() / 1000
			held = kbps <= capKbps
			k = j
		}
		if held && first >= 0 {
			return s[first].at.Sub(t).Seconds()
		}
	}
	return -1
}

// timeRecovered is the seconds from t to the first point after it where
// the sender is back to wantKbps and the receiver decodes ≥ 25 fps.
func timeRecovered(send, recv []TimelinePoint, t time.Time, wantKbps float64) float64 {
	fpsAt := func(ms int64) float64 {
		best, bestD := 0.0, int64(1500) // the receiver's point within 1.5 s
		for _, p := range recv {
			if d := abs64(p.UnixMS - ms); d < bestD {
				best, bestD = p.FPSIn, d
			}
		}
		return best
	}
	for _, p := range send {
		if pt := time.UnixMilli(p.UnixMS); pt.After(t) && p.SendKbps >= wantKbps && fpsAt(p.UnixMS) >= 25 {
			return pt.Sub(t).Seconds()
		}
	}
	return -1
}

// pictureBack is the seconds from the link's return at t until frames
// were decoded again: the end of the freeze spanning t (0 when none did).
func pictureBack(freezes []FreezeSpan, t time.Time) float64 {
	ms := t.UnixMilli()
	for _, f := range freezes {
		end := f.StartUnixMS + int64(f.MS)
		if f.StartUnixMS <= ms && end >= ms {
			return float64(end-ms) / 1000
		}
	}
	return 0
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// networkMarkdown renders the "Bad networks" section.
func networkMarkdown(m MachineInfo, rs []NetworkResult, video string) string {
	var b strings.Builder
	b.WriteString("## Bad networks\n\n")
	cmd := "peercall-headless bench --network"
	if hasChromium(rs) {
		cmd += " --network-chromium"
	}
	fmt.Fprintf(&b, "Command: `%s` (two headless peers, each in its own network namespace, "+
		"joined by the userspace link emulator app/netem; %s both ways, synthetic speech; figures over both directions).\n\n", cmd, video)
	fmt.Fprintf(&b, "Machine: %d cores (%s), load average %v at the start, %v at the end.\n\n", m.Cores, m.Model, m.LoadAvgStart, m.LoadAvg)
	b.WriteString("| condition | link | join → first frame (ms) | call (s) | send kbit/s (mean) | fps | freezes ≥ 500 ms | longest (ms) | latency p50 / p95 (ms) | audio concealed | adapt (s) | recover (s) |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rs {
		if r.Host == nil && r.Joiner == nil {
			fmt.Fprintf(&b, "| %s | %s | failed: %s | | | | | | | | | |\n", r.Condition, r.Link, cell(r.Err))
			continue
		}
		fail := ""
		if r.Err != "" {
			fail = " (" + cell(r.Err) + ")"
		}
		fmt.Fprintf(&b, "| %s%s | %s | %s | %.0f | %.0f | %.1f | %d | %.0f | %.0f / %.0f | %.2f %% | %s | %s |\n", r.Condition, fail, r.Link, optMS(r.FirstFrameMS), r.DurationS,
			r.SendKbps, r.FPS, r.Freezes, r.LongestFreezeMS, r.LatencyP50, r.LatencyP95, r.ConcealedPct, optS(r.AdaptS), optS(r.RecoverS))
	}
	if hasChromium(rs) {
		b.WriteString("\nThe same links with two Chromium instances (one per namespace, the bundled web page; its camera a 640x480@30 canvas " +
			"drawing the same clip as ours under --network-video, else a moving picture, stamped with a capture-time marker; fake audio), both measured alike: the joiner's join → first frame (ours: from the start of its join to its first decoded frame; " +
			"Chromium: from the page's join, the form's submit that opens its signaling socket, to its first remote frame presented), kbit/s offered to the link (IP packets, the two directions' mean), " +
			"frames shown (Chromium: the remote video's presented frames, sampled every 100 ms) and latency from the frames' markers, the worse direction " +
			"(ours: capture → decoded, headless; Chromium: canvas drawn → frame presented for composition, requestVideoFrameCallback's presentationTime).\n\n")
		b.WriteString("| condition | join → first frame (ms): ours / Chromium | kbit/s at the link: ours / Chromium | fps: ours / Chromium | delivered Mpx/s (fps × frame size): ours / Chromium | freezes ≥ 500 ms: ours / Chromium | longest (ms): ours / Chromium | " +
			"latency p50 (ms): ours / Chromium | latency p95 (ms): ours / Chromium | adapt (s): ours / Chromium | recover (s): ours / Chromium |\n")
		b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, r := range rs {
			ch := r.Chromium
			switch {
			case ch == nil:
				continue
			case ch.Host == nil && ch.Joiner == nil:
				fmt.Fprintf(&b, "| %s | Chromium failed: %s | | | | | | | | | |\n", r.Condition, cell(ch.Err))
				continue
			}
			p95 := optMS(ch.LatencyP95)
			if ch.UnmarkedPct > 10 {
				p95 += fmt.Sprintf(" (%.0f %% of frames unread)", ch.UnmarkedPct)
			}
			fmt.Fprintf(&b, "| %s | %s / %s | %.0f / %.0f | %.1f / %.1f | %.2f / %.2f (%s) | %d / %d | %.0f / %.0f | %s / %s | %s / %s | %s / %s | %s / %s |\n", r.Condition,
				optMS(r.FirstFrameMS), optMS(ch.FirstFrameMS), r.LinkKbps, ch.LinkKbps, r.FPS, ch.FPS, r.MpxS, ch.MpxS, ratio(r.MpxS, ch.MpxS), r.Freezes, ch.Freezes, r.LongestFreezeMS, ch.LongestFreezeMS,
				optMS(r.LatencyP50), optMS(ch.LatencyP50), optMS(r.LatencyP95), p95,
				optS(r.AdaptS), optS(ch.AdaptS), optS(r.RecoverS), optS(ch.RecoverS))
		}
	}
	b.WriteString("\nGoals (issue 16): send rate under a new capacity within 2 s without freezes over 500 ms; capture-to-display p95 under the link's delay + 150 ms; " +
		"full quality within 10 s after capacity returns, picture within 1 s after an outage; audio concealed ≤ 5 % under burst loss. " +
		"Adapt reads the rate offered to the link (retransmissions and RTCP included) in 1 s windows placed every 100 ms, and counts to the end of the first of three windows in a row under the capacity; recover uses the 1 s timeline (picture after an outage: frame times). Link counters per direction are in the JSON (`--json`).\n")
	return b.String()
}

// ratio is ours over Chromium's as "1.23×" ("–" without a figure of
// Chromium's).
func ratio(ours, theirs float64) string {
	if theirs <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", ours/theirs)
}

// cell is an error made fit for a table cell: its last line, without
// pipes, at most 160 characters.
func cell(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	s = strings.ReplaceAll(s, "|", "/")
	if len(s) > 160 {
		s = s[:157] + "..."
	}
	return s
}

func hasChromium(rs []NetworkResult) bool {
	for _, r := range rs {
		if r.Chromium != nil {
			return true
		}
	}
	return false
}

// optMS formats a time in ms measured as positive ("–" when not).
func optMS(v float64) string {
	if v <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f", v)
}

// optS formats a time in s ("–" when not measured, "never" when it did
// not happen).
func optS(v *float64) string {
	switch {
	case v == nil:
		return "–"
	case *v < 0:
		return "never"
	default:
		return fmt.Sprintf("%.1f", *v)
	}
}

// section is the "## title" section of doc up to the next "## " heading,
// without the blank line before it ("" when doc has none).
func section(doc, title string) string {
	head := "## " + title + "\n"
	i := strings.Index(doc, head)
	if i < 0 {
		return ""
	}
	rest := doc[i:]
	if j := strings.Index(rest[len(head):], "\n## "); j >= 0 {
		rest = rest[:len(head)+j+1]
	}
	return strings.TrimRight(rest, "\n") + "\n"
}

// replaceSection replaces the "## title" section of doc (up to the next
// "## " heading) with sec, or inserts sec before the heading before (or at
// the end) when doc has none.
func replaceSection(doc, title, sec, before string) string {
	head := "## " + title + "\n"
	if i := strings.Index(doc, head); i >= 0 {
		rest := doc[i+len(head):]
		end := len(doc)
		if j := strings.Index(rest, "\n## "); j >= 0 {
			end = i + len(head) + j + 1
		}
		if end < len(doc) {
			sec += "\n" // a blank line before the next heading
		}
		return doc[:i] + sec + doc[end:]
	}
	if i := strings.Index(doc, "## "+before+"\n"); i >= 0 {
		return doc[:i] + sec + "\n" + doc[i:]
	}
	if !strings.HasSuffix(doc, "\n\n") {
		doc += "\n"
	}
	return doc + sec
}
