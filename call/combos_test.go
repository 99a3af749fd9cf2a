package call

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/transport/v4/test"
	"github.com/pion/webrtc/v4"
)

// sends says which media kinds one side sends.
type sends struct{ audio, video bool }

func (s sends) String() string {
	switch {
	case s.audio && s.video:
		return "av"
	case s.audio:
		return "a"
	case s.video:
		return "v"
	default:
		return "-"
	}
}

func (s sends) tracks(t *testing.T, side string) []webrtc.TrackLocal {
	t.Helper()
	var out []webrtc.TrackLocal
	if s.audio {
		tr, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "mic-"+side, "peercall")
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tr)
	}
	if s.video {
		out = append(out, newVP8Track(t, "camera-"+side))
	}

	return out
}

// kindCounter counts received packets per media kind.
type kindCounter struct {
	audio, video atomic.Int64
}

func (k *kindCounter) onTrack(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	n := &k.audio
	if tr.Kind() == webrtc.RTPCodecTypeVideo {
		n = &k.video
	}
	for {
		if _, _, err := tr.ReadRTP(); err != nil {
			return
		}
		n.Add(1)
	}
}

// TestSessionMediaCombinations calls with every combination of audio and
// video sent or not on either side: each connects, stays connected, carries
// exactly what each side sends, and negotiates a bounded number of times
// (an m-line nobody sends is negotiated once, never again).
func TestSessionMediaCombinations(t *testing.T) {
	all := []sends{{false, false}, {true, false}, {false, true}, {true, true}}
	for _, sa := range all {
		for _, sb := range all {
			t.Run(fmt.Sprintf("alice=%v/bob=%v", sa, sb), func(t *testing.T) {
				t.Parallel()
				testCombination(t, sa, sb)
			})
		}
	}
}

func testCombination(t *testing.T, sa, sb sends) {
	defer test.TimeOut(30 * time.Second).Stop()
	var ka, kb kindCounter
	var mu sync.Mutex
	offers := map[string]int{}
	tapper := func(side string) func(Signal) {
		return func(s Signal) {
			if s.Kind == SignalOffer || s.Kind == SignalOfferRequest || s.Kind == SignalAnswer {
				mu.Lock()
				offers[side+" "+s.Kind.String()]++
				mu.Unlock()
			}
		}
	}
	ta, tb := sa.tracks(t, "a"), sb.tracks(t, "b")
	p := newPair(t, func(a, b *Config) {
		a.Tracks, b.Tracks = ta, tb
		a.OnTrack, b.OnTrack = ka.onTrack, kb.onTrack
	})
	p.sa.Tap(tapper("alice"))
	p.sb.Tap(tapper("bob"))
	var samples []*webrtc.TrackLocalStaticSample
	for _, tr := range append(append([]webrtc.TrackLocal{}, ta...), tb...) {
		samples = append(samples, tr.(*webrtc.TrackLocalStaticSample))
	}
	p.start(t)
	stop := streamSamples(samples...)
	defer p.close()
	defer stop()
	p.waitConnected(t)
	time.Sleep(1500 * time.Millisecond)
	for _, s := range []*Session{p.a, p.b} {
		if st := s.State(); st != StateConnected {
			t.Errorf("%s: state %v after 1.5 s, want connected", s.cfg.LocalID, st)
		}
	}
	check := func(who string, got *kindCounter, want sends) {
		if a := got.audio.Load(); (a > 0) != want.audio {
			t.Errorf("%s received %d audio packets; peer sends audio: %v", who, a, want.audio)
		}
		if v := got.video.Load(); (v > 0) != want.video {
			t.Errorf("%s received %d video packets; peer sends video: %v", who, v, want.video)
		}
	}
	check("alice", &ka, sb)
	check("bob", &kb, sa)
	mu.Lock()
	defer mu.Unlock()
	total := 0
	for k, n := range offers {
		if n > 2 {
			t.Errorf("%d × %s: renegotiation without a change", n, k)
		}
		total += n
	}
	if total > 5 {
		t.Errorf("negotiation signals %v, want at most a first offer, an answer and one round for late tracks", offers)
	}
}
