package netem

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newTestLink(t *testing.T, cfg Config) *Link {
	t.Helper()
	l, err := NewLink(cfg, t0, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// offerCBR offers size-byte packets at bps for dur from start and returns
// the arrival times (zero for drops) and the offer times.
func offerCBR(l *Link, start time.Time, bps int64, size int, dur time.Duration) (sent, arrived []time.Time) {
	gap := time.Duration(float64(size*8) / float64(bps) * float64(time.Second))
	for now := start; now.Before(start.Add(dur)); now = now.Add(gap) {
		at, v := l.Offer(now, size)
		if v != Delivered {
			at = time.Time{}
		}
		sent = append(sent, now)
		arrived = append(arrived, at)
	}
	return sent, arrived
}

func TestLinkDelayAtLowLoad(t *testing.T) {
	l := newTestLink(t, Config{Rate: 1_000_000, Delay: 50 * time.Millisecond})
	// 1000 bytes at 1 Mbit/s take 8 ms on the wire, then 50 ms of delay.
	at, v := l.Offer(t0, 1000)
	if v != Delivered || at.Sub(t0) != 58*time.Millisecond {
		t.Fatalf("got %v after %v, want delivered after 58ms", v, at.Sub(t0))
	}
	// An idle link again a second later: the same.
	at, _ = l.Offer(t0.Add(time.Second), 1000)
	if d := at.Sub(t0.Add(time.Second)); d != 58*time.Millisecond {
		t.Fatalf("second packet after %v, want 58ms", d)
	}
}

func TestLinkCapacityAndQueue(t *testing.T) {
	const rate = 1_000_000
	l := newTestLink(t, Config{Rate: rate, Delay: 50 * time.Millisecond, Queue: 100 * time.Millisecond})
	// Offer twice the capacity for 10 s.
	sent, arrived := offerCBR(l, t0, 2*rate, 1200, 10*time.Second)
	c := l.Counters()
	gotRate := float64(c.DeliveredBytes*8) / 10
	if math.Abs(gotRate-rate)/rate > 0.02 {
		t.Errorf("delivered %.0f bit/s, want %d ± 2 %%", gotRate, rate)
	}
	if c.QueueDropPackets == 0 || c.QueueDropPackets+c.DeliveredPackets != c.InPackets {
		t.Errorf("counters don't add up: %+v", c)
	}
	// Nobody waits longer than queue + one packet + delay.
	limit := 100*time.Millisecond + 10*time.Millisecond + 50*time.Millisecond
	var worst time.Duration
	for i := range sent {
		if !arrived[i].IsZero() {
			worst = max(worst, arrived[i].Sub(sent[i]))
		}
	}
	if worst > limit || worst < 140*time.Millisecond {
		t.Errorf("worst one-way time %v, want a full queue and at most %v", worst, limit)
	}
}

func TestLinkUnlimitedHasNoQueue(t *testing.T) {
	l := newTestLink(t, Config{Delay: 10 * time.Millisecond})
	_, arrived := offerCBR(l, t0, 100_000_000, 1200, time.Second)
	for i, a := range arrived {
		if a.IsZero() {
			t.Fatalf("packet %d dropped on an unlimited link", i)
		}
	}
}

func TestLinkJitterKeepsOrder(t *testing.T) {
	l := newTestLink(t, Config{Delay: 150 * time.Millisecond, Jitter: 30 * time.Millisecond})
	sent, arrived := offerCBR(l, t0, 500_000, 1000, 10*time.Second)
	lo, hi := time.Hour, time.Duration(0)
	for i := range sent {
		d := arrived[i].Sub(sent[i])
		lo, hi = min(lo, d), max(hi, d)
		if i > 0 && arrived[i].Before(arrived[i-1]) {
			t.Fatalf("packet %d overtook the one before", i)
		}
	}
	if lo < 120*time.Millisecond || hi > 180*time.Millisecond+16*time.Millisecond || hi-lo < 40*time.Millisecond {
		t.Errorf("one-way delay %v..%v, want spread within 120..196ms", lo, hi)
	}
}

func TestLinkJitterReorders(t *testing.T) {
	l := newTestLink(t, Config{Delay: 150 * time.Millisecond, Jitter: 30 * time.Millisecond, Reorder: true})
	_, arrived := offerCBR(l, t0, 500_000, 1000, 2*time.Second)
	n := 0
	for i := 1; i < len(arrived); i++ {
		if arrived[i].Before(arrived[i-1]) {
			n++
		}
	}
	if n == 0 {
		t.Error("no packet overtook another with Reorder")
	}
}

func TestBurstLossMeanAndBursts(t *testing.T) {
	g := BurstLoss(0.05, 4)
	if math.Abs(g.Mean()-0.05) > 1e-9 {
		t.Fatalf("Mean = %v, want 0.05", g.Mean())
	}
	l := newTestLink(t, Config{Loss: g})
	var lost, runs, run int
	const n = 400_000
	for i := range n {
		_, v := l.Offer(t0.Add(time.Duration(i)*time.Millisecond), 100)
		if v == DroppedLoss {
			lost++
			run++
			continue
		}
		if run > 0 {
			runs++
			run = 0
		}
	}
	ratio := float64(lost) / n
	burst := float64(lost) / float64(runs)
	if math.Abs(ratio-0.05) > 0.004 {
		t.Errorf("lost %.4f, want 0.05 ± 0.004", ratio)
	}
	if math.Abs(burst-4) > 0.3 {
		t.Errorf("mean burst %.2f packets, want 4 ± 0.3", burst)
	}
	if c := l.Counters(); c.LossDropPackets != int64(lost) || c.DeliveredPackets != n-int64(lost) {
		t.Errorf("counters %+v, lost %d", c, lost)
	}
}

func TestLinkOutage(t *testing.T) {
	l := newTestLink(t, Config{Rate: 1_000_000, Outages: []Outage{{At: 2 * time.Second, For: 3 * time.Second}}})
	sent, arrived := offerCBR(l, t0, 500_000, 1000, 7*time.Second)
	for i, s := range sent {
		d := s.Sub(t0)
		down := d >= 2*time.Second && d < 5*time.Second
		if down != arrived[i].IsZero() {
			t.Fatalf("packet at %v: delivered %v, link down %v", d, !arrived[i].IsZero(), down)
		}
	}
	if c := l.Counters(); c.OutageDropPackets == 0 || c.LossDropPackets != 0 {
		t.Errorf("counters %+v", c)
	}
}

func TestLinkScheduleAndOrigin(t *testing.T) {
	cfg := Config{Rate: 3_000_000, Schedule: []RateStep{{At: 5 * time.Second, Rate: 500_000}, {At: 25 * time.Second, Rate: 3_000_000}}}
	l := newTestLink(t, cfg)
	for _, c := range []struct {
		at   time.Duration
		want int64
	}{{0, 3_000_000}, {4 * time.Second, 3_000_000}, {5 * time.Second, 500_000}, {24 * time.Second, 500_000}, {25 * time.Second, 3_000_000}} {
		if got := l.RateAt(t0.Add(c.at)); got != c.want {
			t.Errorf("rate at %v = %d, want %d", c.at, got, c.want)
		}
	}
	// Delivered rate follows the schedule (offered 4 Mbit/s throughout).
	for _, p := range []struct {
		from, to time.Duration
		want     float64
	}{{0, 5 * time.Second, 3e6}, {5 * time.Second, 25 * time.Second, 5e5}, {25 * time.Second, 30 * time.Second, 3e6}} {
		before := l.Counters().DeliveredBytes
		offerCBR(l, t0.Add(p.from), 4_000_000, 1200, p.to-p.from)
		got := float64((l.Counters().DeliveredBytes-before)*8) / (p.to - p.from).Seconds()
		if math.Abs(got-p.want)/p.want > 0.05 {
			t.Errorf("%v..%v: %.0f bit/s, want %.0f ± 5 %%", p.from, p.to, got, p.want)
		}
	}
	l.SetOrigin(t0.Add(time.Minute))
	if got := l.RateAt(t0.Add(time.Minute + 6*time.Second)); got != 500_000 || !l.Origin().Equal(t0.Add(time.Minute)) {
		t.Errorf("after SetOrigin: rate %d, origin %v", got, l.Origin())
	}
}

func TestLinkDeterministic(t *testing.T) {
	cfg := Config{Rate: 1_000_000, Jitter: 20 * time.Millisecond, Loss: BurstLoss(0.05, 3)}
	run := func() []time.Time {
		_, a := offerCBR(newTestLink(t, cfg), t0, 1_500_000, 1000, 3*time.Second)
		return a
	}
	a, b := run(), run()
	for i := range a {
		if !a[i].Equal(b[i]) {
			t.Fatalf("packet %d: %v then %v with the same seed", i, a[i], b[i])
		}
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"zero", Config{}, true},
		{"full", Config{Rate: 1, Queue: time.Second, Delay: time.Second, Jitter: time.Millisecond, Loss: BurstLoss(0.05, 4),
			Schedule: []RateStep{{At: 1, Rate: 2}, {At: 2, Rate: 1}}, Outages: []Outage{{At: 0, For: 1}}}, true},
		{"negative rate", Config{Rate: -1}, false},
		{"negative delay", Config{Delay: -1}, false},
		{"loss above one", Config{Loss: GilbertElliott{P: 1.5, R: 1}}, false},
		{"bad state forever", Config{Loss: GilbertElliott{P: 0.1, LossBad: 1}}, false},
		{"schedule out of order", Config{Schedule: []RateStep{{At: 2}, {At: 1}}}, false},
		{"empty outage", Config{Outages: []Outage{{At: 1}}}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.cfg.Validate()
			if (err == nil) != c.ok || (err != nil && !errors.Is(err, ErrBadConfig)) {
				t.Fatalf("Validate = %v, want ok %v", err, c.ok)
			}
		})
	}
}

func TestVerdictString(t *testing.T) {
	for v, want := range map[Verdict]string{Delivered: "delivered", DroppedQueue: "dropped-queue",
		DroppedLoss: "dropped-loss", DroppedOutage: "dropped-outage", Verdict(9): "Verdict(9)"} {
		if v.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(v), v.String(), want)
		}
	}
}
