package call

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/transport/v4/test"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
)

// pair is two sessions joined by in-memory signaling.
type pair struct {
	a, b     *Session
	sa, sb   *PipeSignaler
	updA     *collector
	updB     *collector
	received atomic.Int64 // RTP packets b received
}

// collector drains a session's updates and lets tests wait for them.
type collector struct {
	mu   sync.Mutex
	all  []Update
	wake chan struct{}
	done chan struct{}
}

func collect(s *Session) *collector {
	c := &collector{wake: make(chan struct{}, 1), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for u := range s.Updates() {
			c.mu.Lock()
			c.all = append(c.all, u)
			c.mu.Unlock()
			select {
			case c.wake <- struct{}{}:
			default:
			}
		}
	}()

	return c
}

// wait returns the first update (from index 0) matching f, or fails.
func (c *collector) wait(t *testing.T, what string, d time.Duration, f func(Update) bool) Update {
	t.Helper()
	deadline := time.After(d)
	for {
		c.mu.Lock()
		for _, u := range c.all {
			if f(u) {
				c.mu.Unlock()

				return u
			}
		}
		c.mu.Unlock()
		select {
		case <-c.wake:
		case <-c.done:
			c.mu.Lock()
			for _, u := range c.all {
				if f(u) {
					c.mu.Unlock()

					return u
				}
			}
			c.mu.Unlock()
			t.Fatalf("updates closed while waiting for %s", what)
		case <-deadline:
			t.Fatalf("timeout waiting for %s; states: %v", what, c.states())
		}
	}
}

func (c *collector) count(f func(Update) bool) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, u := range c.all {
		if f(u) {
			n++
		}
	}

	return n
}

func (c *collector) states() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, u := range c.all {
		if u.Kind == UpdateState {
			out = append(out, u.State.String()+"("+u.Reason+")")
		}
	}

	return out
}

func isState(st State) func(Update) bool {
	return func(u Update) bool { return u.Kind == UpdateState && u.State == st }
}

func loopbackICE() ICEOptions {
	return ICEOptions{Loopback: true}
}

func newVP8Track(t *testing.T, id string) *webrtc.TrackLocalStaticSample {
	t.Helper()
	tr, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, id, "peercall")
	if err != nil {
		t.Fatal(err)
	}

	return tr
}

// countPackets is an OnTrack that reads a track to its end, counting packets.
func countPackets(n *atomic.Int64) func(*webrtc.TrackRemote, *webrtc.RTPReceiver) {
	return func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			if _, _, err := tr.ReadRTP(); err != nil {
				return
			}
			n.Add(1)
		}
	}
}

func newPair(t *testing.T, mod func(a, b *Config)) *pair {
	t.Helper()
	p := &pair{}
	p.sa, p.sb = NewPipeSignalers("alice", "bob")
	ca := Config{LocalID: "alice", RemoteID: "bob", Signaler: p.sa, ICE: loopbackICE(), InterfacePoll: -1}
	cb := Config{LocalID: "bob", RemoteID: "alice", Signaler: p.sb, ICE: loopbackICE(), InterfacePoll: -1}
	cb.OnTrack = countPackets(&p.received)
	if os.Getenv("PEERCALL_DEBUG") != "" {
		h := slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})
		ca.Logger, cb.Logger = slog.New(h), slog.New(h)
	}
	if mod != nil {
		mod(&ca, &cb)
	}
	var err error
	if p.a, err = New(ca); err != nil {
		t.Fatal(err)
	}
	if p.b, err = New(cb); err != nil {
		t.Fatal(err)
	}
	p.updA, p.updB = collect(p.a), collect(p.b)

	return p
}

func (p *pair) start(t *testing.T) {
	t.Helper()
	if err := p.a.Start(); err != nil {
		t.Fatal(err)
	}
	if err := p.b.Start(); err != nil {
		t.Fatal(err)
	}
}

func (p *pair) close() {
	_ = p.a.Close()
	_ = p.b.Close()
	<-p.updA.done
	<-p.updB.done
}

func (p *pair) waitConnected(t *testing.T) {
	t.Helper()
	p.updA.wait(t, "alice connected", 15*time.Second, isState(StateConnected))
	p.updB.wait(t, "bob connected", 15*time.Second, isState(StateConnected))
}

// writeSamples writes fake VP8 frames until stop is closed.
// streamSamples writes a fake VP8 sample to each track every 20 ms until
// the returned stop function is called; stop waits for the writers and may
// be called more than once.
func streamSamples(tracks ...*webrtc.TrackLocalStaticSample) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	frame := make([]byte, 800)
	frame[0] = 0x10 // VP8 payload descriptor start bit; content is opaque to RTP
	for _, tr := range tracks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-done:
					return
				case <-tick.C:
					_ = tr.WriteSample(media.Sample{Data: frame, Duration: 20 * time.Millisecond})
				}
			}
		}()
	}

	var once sync.Once

	return func() { once.Do(func() { close(done); wg.Wait() }) }
}

func TestSessionLoopbackCall(t *testing.T) {
	defer test.TimeOut(30 * time.Second).Stop()
	defer test.CheckRoutines(t)()

	video := newVP8Track(t, "camera")
	audio, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "mic", "peercall")
	if err != nil {
		t.Fatal(err)
	}
	var bitrates, losses atomic.Int64
	var badBitrate atomic.Bool
	p := newPair(t, func(a, _ *Config) {
		a.Tracks = []webrtc.TrackLocal{video, audio}
		a.MinBitrate, a.MaxBitrate = 150_000, 1_000_000
		a.OnTargetBitrate = func(bps int) {
			bitrates.Add(1)
			if bps < 150_000 || bps > 1_000_000 {
				badBitrate.Store(true)
			}
		}
		a.OnAudioLoss = func(pct int) {
			if pct >= 0 && pct <= 100 {
				losses.Add(1)
			}
		}
	})
	if p.a.Polite() || !p.b.Polite() {
		t.Fatal("bob (greater id) must be polite")
	}
	p.start(t)
	p.waitConnected(t)

	stopSamples := streamSamples(video, audio)
	defer stopSamples()

	t.Run("media", func(t *testing.T) {
		deadline := time.Now().Add(10 * time.Second)
		for p.received.Load() < 20 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if n := p.received.Load(); n < 20 {
			t.Fatalf("bob received %d RTP packets", n)
		}
	})

	t.Run("feedback", func(t *testing.T) {
		// GCC (fed by TWCC) and RTCP receiver reports for audio.
		deadline := time.Now().Add(10 * time.Second)
		for (bitrates.Load() == 0 || losses.Load() == 0) && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		if bitrates.Load() == 0 || losses.Load() == 0 {
			t.Fatalf("OnTargetBitrate calls %d, OnAudioLoss calls %d", bitrates.Load(), losses.Load())
		}
		if badBitrate.Load() {
			t.Fatal("target bitrate outside [min, max]")
		}
		if tb := p.a.TargetBitrate(); tb < 150_000 || tb > 1_000_000 {
			t.Fatalf("TargetBitrate() = %d", tb)
		}
	})

	t.Run("sas", func(t *testing.T) {
		ua := p.updA.wait(t, "alice sas", 5*time.Second, func(u Update) bool { return u.Kind == UpdateSAS })
		ub := p.updB.wait(t, "bob sas", 5*time.Second, func(u Update) bool { return u.Kind == UpdateSAS })
		if ua.SAS.Digits != ub.SAS.Digits || !slices.Equal(ua.SAS.Words, ub.SAS.Words) {
			t.Fatalf("sas differs: %+v vs %+v", ua.SAS, ub.SAS)
		}
		if ua.SAS.LocalFingerprint != ub.SAS.RemoteFingerprint {
			t.Fatal("fingerprints do not cross-match")
		}
		got, err := p.a.SAS()
		if err != nil || got.Digits != ua.SAS.Digits {
			t.Fatalf("SAS() = %+v, %v", got, err)
		}
	})

	t.Run("chat", func(t *testing.T) {
		deadline := time.Now().Add(5 * time.Second)
		for {
			err := p.a.SendChat("hello bob")
			if err == nil {
				break
			}
			if !errors.Is(err, ErrChatUnavailable) || time.Now().After(deadline) {
				t.Fatal(err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		u := p.updB.wait(t, "chat at bob", 5*time.Second, func(u Update) bool { return u.Kind == UpdateChat })
		if u.Chat.Text != "hello bob" || u.Chat.From != "alice" || time.Since(u.Chat.Time) > time.Minute {
			t.Fatalf("chat = %+v", u.Chat)
		}
		if err := p.b.SendChat("hi alice"); err != nil {
			t.Fatal(err)
		}
		p.updA.wait(t, "chat at alice", 5*time.Second, func(u Update) bool {
			return u.Kind == UpdateChat && u.Chat.Text == "hi alice" && u.Chat.From == "bob"
		})
		if err := p.a.SendChat(string(make([]byte, MaxChatBytes+1))); !errors.Is(err, ErrChatTooLong) {
			t.Fatalf("long chat: %v", err)
		}
	})

	t.Run("stats", func(t *testing.T) {
		u := p.updA.wait(t, "alice stats with video out", 5*time.Second, func(u Update) bool {
			return u.Kind == UpdateStats && u.Stats.VideoOut.Bitrate > 0
		})
		if u.Stats.LocalCandidate != "host" || u.Stats.Relayed {
			t.Fatalf("stats = %+v", u.Stats)
		}
		p.updB.wait(t, "bob stats with video in", 5*time.Second, func(u Update) bool {
			return u.Kind == UpdateStats && u.Stats.VideoIn.Bitrate > 0 && u.Stats.VideoIn.Packets > 0
		})
	})

	t.Run("camera off and on", func(t *testing.T) {
		if err := p.a.ReplaceTrack("camera", nil); err != nil {
			t.Fatal(err)
		}
		if err := p.a.ReplaceTrack("camera", video); err != nil {
			t.Fatal(err)
		}
		if err := p.a.ReplaceTrack("nope", nil); !errors.Is(err, ErrUnknownTrack) {
			t.Fatalf("unknown id: %v", err)
		}
		if err := p.a.RequestKeyFrame(1234); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("bye", func(t *testing.T) {
		stopSamples()
		if err := p.a.Close(); err != nil {
			t.Fatal(err)
		}
		u := p.updB.wait(t, "bob ended", 5*time.Second, isState(StateEnded))
		if !errors.Is(u.Err, ErrRemoteHangup) || u.Event != EventBye {
			t.Fatalf("bob end = %+v", u)
		}
		if err := p.a.SendChat("late"); err == nil {
			t.Fatal("chat after close")
		}
		if err := p.a.AddTrack(newVP8Track(t, "late")); !errors.Is(err, ErrClosed) {
			t.Fatalf("AddTrack after close: %v", err)
		}
	})
	p.close()
}

// TestSessionGlare: both sides add a track at once after connecting, so both
// want to offer at the same moment (alice offers, bob, polite, asks for an
// offer); negotiation must converge and deliver both tracks.
func TestSessionGlare(t *testing.T) {
	defer test.TimeOut(30 * time.Second).Stop()
	defer test.CheckRoutines(t)()

	var aGot atomic.Int64
	p := newPair(t, func(a, _ *Config) {
		a.OnTrack = countPackets(&aGot)
	})
	defer p.close()
	p.start(t)
	p.waitConnected(t)

	va, vb := newVP8Track(t, "va"), newVP8Track(t, "vb")
	// Hold each side's first offer until the other side has offered too,
	// so the offers cross: real glare, not a lucky ordering.
	var offers atomic.Int32
	both := make(chan struct{})
	hold := func(s Signal) {
		if s.Kind != SignalOffer && s.Kind != SignalOfferRequest {
			return
		}
		switch offers.Add(1) {
		case 1:
		case 2:
			close(both)
		default:
			return
		}
		select {
		case <-both:
		case <-time.After(10 * time.Second):
		}
	}
	p.sa.Tap(hold)
	p.sb.Tap(hold)
	var wg sync.WaitGroup
	for _, x := range []struct {
		s *Session
		t *webrtc.TrackLocalStaticSample
	}{{p.a, va}, {p.b, vb}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := x.s.AddTrack(x.t); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	select {
	case <-both:
	case <-time.After(10 * time.Second):
		t.Fatal("both sides did not offer")
	}

	defer streamSamples(va, vb)()
	deadline := time.Now().Add(15 * time.Second)
	for (p.received.Load() < 10 || aGot.Load() < 10) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if p.received.Load() < 10 || aGot.Load() < 10 {
		t.Fatalf("after glare: bob got %d, alice got %d packets", p.received.Load(), aGot.Load())
	}
	if p.a.State() != StateConnected || p.b.State() != StateConnected {
		t.Fatalf("states %s %s", p.a.State(), p.b.State())
	}
}

func TestSessionConnectTimeout(t *testing.T) {
	defer test.TimeOut(20 * time.Second).Stop()
	defer test.CheckRoutines(t)()

	sa, _ := NewPipeSignalers("alice", "bob")
	s, err := New(Config{
		LocalID: "alice", RemoteID: "bob", Signaler: sa, ICE: loopbackICE(),
		ConnectTimeout: 300 * time.Millisecond, InterfacePoll: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	c := collect(s)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	u := c.wait(t, "failed", 5*time.Second, isState(StateFailed))
	if !errors.Is(u.Err, ErrTimeout) {
		t.Fatalf("err = %v", u.Err)
	}
	<-s.Done()
	_ = s.Close()
	<-c.done
	if got := c.states(); len(got) != 3 {
		t.Fatalf("states %v", got)
	}
}

func TestSessionPeerLeftAndCloseBeforeStart(t *testing.T) {
	defer test.TimeOut(20 * time.Second).Stop()
	defer test.CheckRoutines(t)()

	sa, sb := NewPipeSignalers("alice", "bob")
	s, err := New(Config{LocalID: "bob", RemoteID: "alice", Signaler: sb, ICE: loopbackICE(), InterfacePoll: -1})
	if err != nil {
		t.Fatal(err)
	}
	c := collect(s)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	c.wait(t, "waiting", 5*time.Second, isState(StateWaiting))
	_ = sa.Send(context.Background(), Signal{Kind: SignalPeerLeft})
	u := c.wait(t, "ended", 5*time.Second, isState(StateEnded))
	if !errors.Is(u.Err, ErrPeerLeft) {
		t.Fatalf("err = %v", u.Err)
	}
	_ = s.Close()
	<-c.done

	s2, err := New(Config{LocalID: "a", RemoteID: "b", Signaler: sa})
	if err != nil {
		t.Fatal(err)
	}
	_ = s2.Close()
	if err := s2.Start(); !errors.Is(err, ErrClosed) {
		t.Fatalf("start after close: %v", err)
	}
	if u := <-s2.Updates(); u.State != StateEnded {
		t.Fatalf("update %+v", u)
	}
}

func TestNewValidates(t *testing.T) {
	sa, _ := NewPipeSignalers("a", "b")
	bad := []Config{
		{RemoteID: "b", Signaler: sa},
		{LocalID: "a", RemoteID: "a", Signaler: sa},
		{LocalID: "a", RemoteID: "b"},
		{LocalID: "a", RemoteID: "b", Signaler: sa, MinBitrate: 2e6, MaxBitrate: 1e6},
		{LocalID: "a", RemoteID: "b", Signaler: sa, Policy: "bogus"},
		{LocalID: "a", RemoteID: "b", Signaler: sa, Policy: PolicyRelay},
	}
	for i, c := range bad {
		if _, err := New(c); err == nil {
			t.Errorf("config %d accepted", i)
		}
	}
}

func TestSessionFlexFEC(t *testing.T) {
	defer test.TimeOut(30 * time.Second).Stop()
	defer test.CheckRoutines(t)()

	video := newVP8Track(t, "camera")
	p := newPair(t, func(a, b *Config) {
		a.Tracks = []webrtc.TrackLocal{video}
		a.FlexFEC, b.FlexFEC = true, true
	})
	defer p.close()
	var offers sent
	p.sa.Tap(offers.tap)
	p.start(t)
	p.waitConnected(t)
	defer streamSamples(video)()
	deadline := time.Now().Add(10 * time.Second)
	for p.received.Load() < 20 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := p.received.Load(); n < 20 {
		t.Fatalf("bob received %d RTP packets with FlexFEC on", n)
	}
	sigs := offers.all()
	if len(sigs) == 0 || sigs[0].Kind != SignalOffer ||
		!strings.Contains(sigs[0].SDP, "flexfec-03") || !strings.Contains(sigs[0].SDP, "FEC-FR") {
		t.Fatal("offer does not announce a flexfec-03 repair stream")
	}
}

// reorderSignaler holds back every offer and answer until the candidates
// sent after it have gone out, so the peer sees candidates before the
// description they belong to.
type reorderSignaler struct {
	*PipeSignaler
	mu   sync.Mutex
	held []Signal
}

func (r *reorderSignaler) Send(ctx context.Context, s Signal) error {
	r.mu.Lock()
	if s.Kind == SignalOffer || s.Kind == SignalAnswer {
		r.held = append(r.held, s)
		r.mu.Unlock()
		go func() { // release after the trickle burst
			time.Sleep(300 * time.Millisecond)
			r.mu.Lock()
			held := r.held
			r.held = nil
			r.mu.Unlock()
			for _, h := range held {
				_ = r.PipeSignaler.Send(context.Background(), h)
			}
		}()

		return nil
	}
	r.mu.Unlock()

	return r.PipeSignaler.Send(ctx, s)
}

func TestSessionLateDescription(t *testing.T) {
	defer test.TimeOut(30 * time.Second).Stop()
	defer test.CheckRoutines(t)()

	var order []SignalKind
	var mu sync.Mutex
	p := newPair(t, func(a, _ *Config) {
		ps := a.Signaler.(*PipeSignaler)
		ps.Tap(func(s Signal) {
			mu.Lock()
			order = append(order, s.Kind)
			mu.Unlock()
		})
		a.Signaler = &reorderSignaler{PipeSignaler: ps}
	})
	defer p.close()
	p.start(t)
	p.waitConnected(t)
	time.Sleep(300 * time.Millisecond) // let the held goroutine finish
	mu.Lock()
	defer mu.Unlock()
	first := slices.Index(order, SignalCandidate)
	offer := slices.Index(order, SignalOffer)
	if first < 0 || offer < 0 || first > offer {
		t.Fatalf("bob did not get candidates before the offer: %v", order)
	}
	// Bob's remote candidates are alice's host candidates, not prflx
	// learned from checks: the queued candidates were applied.
	found := false
	for _, st := range p.b.pcPtr.Load().GetStats() {
		if c, ok := st.(webrtc.ICECandidateStats); ok && c.Type == webrtc.StatsTypeRemoteCandidate && c.CandidateType == webrtc.ICECandidateTypeHost {
			found = true
		}
	}
	if !found {
		t.Fatal("queued candidates were not applied")
	}
}

// dropNext loses the next signal of one kind while armed: an offer sent
// before the peer's signaling listens, an answer lost in a signaling restart
// (messages to a peer in resume grace are dropped).
type dropNext struct {
	*PipeSignaler
	kind    SignalKind
	armed   atomic.Bool
	dropped atomic.Int32
}

func (d *dropNext) Send(ctx context.Context, s Signal) error {
	if s.Kind == d.kind && d.armed.CompareAndSwap(true, false) {
		d.dropped.Add(1)

		return nil
	}

	return d.PipeSignaler.Send(ctx, s)
}

func TestSessionLostFirstOffer(t *testing.T) {
	defer test.TimeOut(30 * time.Second).Stop()
	defer test.CheckRoutines(t)()

	var drop *dropNext
	p := newPair(t, func(a, _ *Config) {
		drop = &dropNext{PipeSignaler: a.Signaler.(*PipeSignaler), kind: SignalOffer}
		drop.armed.Store(true)
		a.Signaler = drop
	})
	defer p.close()
	// Alice (impolite) starts alone; her offer is lost. Bob's later
	// "here" request must make her send it again.
	if err := p.a.Start(); err != nil {
		t.Fatal(err)
	}
	p.updA.wait(t, "alice waiting", 5*time.Second, isState(StateWaiting))
	time.Sleep(200 * time.Millisecond)
	if err := p.b.Start(); err != nil {
		t.Fatal(err)
	}
	p.waitConnected(t)
	if drop.dropped.Load() == 0 {
		t.Fatal("no offer was dropped")
	}
}

// TestSessionLostAnswerRecovers: the polite side's answer to a
// renegotiation is lost, leaving the impolite side with an unanswered offer
// it cannot replace. The polite side's next offer request makes it resend
// the offer, the duplicate is answered again, and the pending negotiation
// completes: media from the polite side's new tracks arrives.
func TestSessionLostAnswerRecovers(t *testing.T) {
	defer test.TimeOut(30 * time.Second).Stop()
	defer test.CheckRoutines(t)()

	var drop *dropNext
	var aGot atomic.Int64
	p := newPair(t, func(a, b *Config) {
		drop = &dropNext{PipeSignaler: b.Signaler.(*PipeSignaler), kind: SignalAnswer}
		b.Signaler = drop
		a.OnTrack = countPackets(&aGot)
	})
	defer p.close()
	p.start(t)
	p.waitConnected(t)

	v1, v2 := newVP8Track(t, "v1"), newVP8Track(t, "v2")
	drop.armed.Store(true)
	if err := p.b.AddTrack(v1); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for drop.dropped.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if drop.dropped.Load() == 0 {
		t.Fatal("no answer was dropped")
	}
	// A second track: another offer request reaches the stuck side.
	if err := p.b.AddTrack(v2); err != nil {
		t.Fatal(err)
	}
	defer streamSamples(v1, v2)()
	for aGot.Load() < 20 && time.Now().Before(deadline.Add(10*time.Second)) {
		time.Sleep(50 * time.Millisecond)
	}
	if aGot.Load() < 20 {
		t.Fatalf("alice got %d packets from bob's new tracks after a lost answer", aGot.Load())
	}
}
