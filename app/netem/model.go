package netem

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// DefaultQueue is the drop-tail bound when Config.Queue is zero: a packet
// that would wait longer than this for the link is dropped.
const DefaultQueue = 100 * time.Millisecond

// Config is one direction of a link.
type Config struct {
	// Rate is the capacity in bits per second; 0 is unlimited (no queue).
	Rate int64
	// Queue bounds the backlog in time: a packet is dropped (drop-tail)
	// when the packets before it need longer than Queue to leave at the
	// current rate (100 ms at 1 Mbit/s is 12.5 kB). 0 means DefaultQueue.
	Queue time.Duration
	// Delay is the fixed one-way propagation delay.
	Delay time.Duration
	// Jitter adds a uniform random delay in [-Jitter, +Jitter] per packet.
	// Packets keep their order (a later one never overtakes an earlier
	// one, as on a path with one queue) unless Reorder is set.
	Jitter  time.Duration
	Reorder bool
	// Loss drops packets in bursts (the zero value drops none).
	Loss GilbertElliott
	// Schedule changes Rate at times from the link's origin; each step
	// holds until the next. Steps are in increasing At order.
	Schedule []RateStep
	// Outages are times (from the origin) when the link passes nothing.
	Outages []Outage
}

// RateStep sets the capacity to Rate bits per second from At on.
type RateStep struct {
	At   time.Duration
	Rate int64
}

// Outage is a total outage of For starting At after the origin.
type Outage struct {
	At  time.Duration
	For time.Duration
}

// GilbertElliott is the two-state burst loss model: per packet, the good
// state turns bad with probability P and the bad state good with
// probability R; a packet is lost with LossGood in the good state and
// LossBad in the bad one. The mean loss is (R·LossGood + P·LossBad)/(P+R)
// and the mean bad run lasts 1/R packets.
type GilbertElliott struct {
	P, R              float64
	LossGood, LossBad float64
}

// BurstLoss is a Gilbert–Elliott model with mean loss avg (0..1) in bursts
// of meanBurst packets on average: every packet of a bad run is lost, none
// in the good state. BurstLoss(0.05, 5) loses 5 % in runs of 5 packets.
func BurstLoss(avg, meanBurst float64) GilbertElliott {
	if avg <= 0 || meanBurst < 1 {
		return GilbertElliott{}
	}
	r := 1 / meanBurst
	return GilbertElliott{P: avg * r / (1 - avg), R: r, LossBad: 1}
}

// Mean is the model's long-run loss ratio.
func (g GilbertElliott) Mean() float64 {
	if g.P+g.R == 0 {
		return g.LossGood
	}
	return (g.R*g.LossGood + g.P*g.LossBad) / (g.P + g.R)
}

func (g GilbertElliott) on() bool { return g.P > 0 || g.LossGood > 0 }

// Validate refuses what the model cannot run.
func (c Config) Validate() error {
	prob := func(v float64) bool { return v >= 0 && v <= 1 }
	switch {
	case c.Rate < 0 || c.Queue < 0 || c.Delay < 0 || c.Jitter < 0:
		return fmt.Errorf("%w: negative rate, queue, delay or jitter", ErrBadConfig)
	case !prob(c.Loss.P) || !prob(c.Loss.R) || !prob(c.Loss.LossGood) || !prob(c.Loss.LossBad):
		return fmt.Errorf("%w: loss probabilities must be in [0, 1]", ErrBadConfig)
	case c.Loss.P > 0 && c.Loss.R == 0:
		return fmt.Errorf("%w: a bad state that never ends (R = 0)", ErrBadConfig)
	}
	for i, s := range c.Schedule {
		if s.Rate < 0 || s.At < 0 || (i > 0 && s.At <= c.Schedule[i-1].At) {
			return fmt.Errorf("%w: schedule steps need increasing times and rates ≥ 0", ErrBadConfig)
		}
	}
	for _, o := range c.Outages {
		if o.At < 0 || o.For <= 0 {
			return fmt.Errorf("%w: outage at %v for %v", ErrBadConfig, o.At, o.For)
		}
	}
	return nil
}

// Verdict is what the link did with a packet.
type Verdict int

// Verdicts of Link.Offer.
const (
	Delivered     Verdict = iota // will arrive at the time Offer returned
	DroppedQueue                 // the queue was full (drop-tail)
	DroppedLoss                  // the loss model took it
	DroppedOutage                // the link was down
)

func (v Verdict) String() string {
	switch v {
	case Delivered:
		return "delivered"
	case DroppedQueue:
		return "dropped-queue"
	case DroppedLoss:
		return "dropped-loss"
	case DroppedOutage:
		return "dropped-outage"
	default:
		return fmt.Sprintf("Verdict(%d)", int(v))
	}
}

// Counters are a direction's totals. Bytes are IP packet sizes.
type Counters struct {
	InPackets, InBytes               int64
	DeliveredPackets, DeliveredBytes int64
	QueueDropPackets, QueueDropBytes int64
	LossDropPackets, LossDropBytes   int64
	// OutageDropPackets are the packets that met the link down.
	OutageDropPackets, OutageDropBytes int64
}

// Link is the model of one direction. Offer decides each packet's fate and
// arrival time from the time it is offered; the caller delivers it then.
// It is safe for concurrent use.
type Link struct {
	mu     sync.Mutex
	cfg    Config
	origin time.Time
	rng    *rand.Rand
	// busyUntil is when the link has sent everything queued so far.
	busyUntil time.Time
	// lastArrival keeps packets in order under jitter.
	lastArrival time.Time
	bad         bool
	c           Counters
}

// NewLink returns the model of cfg with schedule and outages counted from
// origin and random draws from rng (a fixed seed gives the same run).
func NewLink(cfg Config, origin time.Time, rng *rand.Rand) (*Link, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Queue == 0 {
		cfg.Queue = DefaultQueue
	}
	cfg.Schedule = slices.Clone(cfg.Schedule)
	cfg.Outages = slices.Clone(cfg.Outages)
	return &Link{cfg: cfg, origin: origin, rng: rng}, nil
}

// SetOrigin moves the time schedule and outages count from (the start of
// the call rather than of the link).
func (l *Link) SetOrigin(t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.origin = t
}

// Origin is the time schedule and outages count from.
func (l *Link) Origin() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.origin
}

// Counters returns the totals so far.
func (l *Link) Counters() Counters {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.c
}

// RateAt is the capacity in force at t (bits per second, 0 unlimited).
func (l *Link) RateAt(t time.Time) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rateAt(t)
}

func (l *Link) rateAt(t time.Time) int64 {
	rate, d := l.cfg.Rate, t.Sub(l.origin)
	for _, s := range l.cfg.Schedule {
		if s.At > d {
			break
		}
		rate = s.Rate
	}
	return rate
}

func (l *Link) down(t time.Time) bool {
	d := t.Sub(l.origin)
	for _, o := range l.cfg.Outages {
		if d >= o.At && d < o.At+o.For {
			return true
		}
	}
	return false
}

// lost steps the Gilbert–Elliott chain once and draws the packet's fate.
func (l *Link) lost() bool {
	g := l.cfg.Loss
	if !g.on() {
		return false
	}
	if l.bad {
		if l.rng.Float64() < g.R {
			l.bad = false
		}
	} else if l.rng.Float64() < g.P {
		l.bad = true
	}
	p := g.LossGood
	if l.bad {
		p = g.LossBad
	}
	return p > 0 && l.rng.Float64() < p
}

// Offer passes a packet of size bytes offered at now through the link:
// outage, then loss (a lost packet takes no capacity), then the queue and
// the serialisation at the rate in force when the packet starts to leave,
// then delay and jitter. A Delivered packet arrives at the returned time.
func (l *Link) Offer(now time.Time, size int) (time.Time, Verdict) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.c.InPackets++
	l.c.InBytes += int64(size)
	drop := func(v Verdict, pkts, bytes *int64) (time.Time, Verdict) {
		*pkts++
		*bytes += int64(size)
		return time.Time{}, v
	}
	if l.down(now) {
		return drop(DroppedOutage, &l.c.OutageDropPackets, &l.c.OutageDropBytes)
	}
	if l.lost() {
		return drop(DroppedLoss, &l.c.LossDropPackets, &l.c.LossDropBytes)
	}
	start := now
	if l.busyUntil.After(now) {
		if l.busyUntil.Sub(now) > l.cfg.Queue {
			return drop(DroppedQueue, &l.c.QueueDropPackets, &l.c.QueueDropBytes)
		}
		start = l.busyUntil
	}
	sent := start
	if rate := l.rateAt(start); rate > 0 {
		sent = start.Add(time.Duration(float64(size*8) / float64(rate) * float64(time.Second)))
	}
	// The link goes down while the packet waits: it is lost with it.
	if start.After(now) && l.down(start) {
		return drop(DroppedOutage, &l.c.OutageDropPackets, &l.c.OutageDropBytes)
	}
	l.busyUntil = sent
	at := sent.Add(l.cfg.Delay)
	if j := l.cfg.Jitter; j > 0 {
		at = at.Add(time.Duration(l.rng.Int64N(int64(2*j)+1)) - j)
		if at.Before(sent) {
			at = sent
		}
	}
	if !l.cfg.Reorder && at.Before(l.lastArrival) {
		at = l.lastArrival
	}
	if at.After(l.lastArrival) {
		l.lastArrival = at
	}
	l.c.DeliveredPackets++
	l.c.DeliveredBytes += int64(size)
	return at, Delivered
}
