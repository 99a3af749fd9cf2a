package app

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/peercall/peercall/codec"
)

// audioReceiver feeds received Opus RTP into the jitter buffer (FEC for
// single losses, PLC for longer gaps) and records it when asked. Playout
// pulls frames: the GUI through the audio device, headless through a 20 ms
// ticker (playout).
type audioReceiver struct {
	jb  *codec.AudioJitterBuffer
	rec rtpWriter
	log *slog.Logger
	// player, if set, plays jb on a device instead of the 20 ms ticker
	// (the GUI); the returned stop is called before jb closes.
	player func(jb *codec.AudioJitterBuffer) (stop func())

	mu       sync.Mutex
	first    time.Time
	packets  int
	played   int // frames pulled by playout
	lastSeq  uint16
	haveSeq  bool
	seqLost  int
	frameDur time.Duration
}

func newAudioReceiver(rec rtpWriter, log *slog.Logger) *audioReceiver {
	a := &audioReceiver{rec: rec, log: log, frameDur: 20 * time.Millisecond}
	jb, err := codec.NewAudioJitterBuffer(codec.JitterBufferConfig{SampleRate: 48000, Channels: 1})
	if err != nil {
		log.Warn("audio jitter buffer unavailable", "err", err)
	} else {
		a.jb = jb
	}
	return a
}

func (a *audioReceiver) run(tr *webrtc.TrackRemote) {
	defer func() {
		if a.rec != nil {
			_ = a.rec.Close()
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	playDone := make(chan struct{})
	stopPlayer := func() {}
	if a.player != nil && a.jb != nil {
		stopPlayer = a.player(a.jb)
		close(playDone)
	} else {
		go func() {
			defer close(playDone)
			a.playout(ctx)
		}()
	}
	defer func() {
		cancel()
		<-playDone
		stopPlayer()
		if a.jb != nil {
			_ = a.jb.Close()
		}
	}()
	for {
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		now := time.Now()
		a.mu.Lock()
		if a.first.IsZero() {
			a.first = now
		}
		a.packets++
		if a.haveSeq {
			if d := pkt.SequenceNumber - a.lastSeq; d > 1 && d < 0x8000 {
				a.seqLost += int(d - 1)
			}
		}
		if !a.haveSeq || pkt.SequenceNumber-a.lastSeq < 0x8000 {
			a.lastSeq, a.haveSeq = pkt.SequenceNumber, true
		}
		a.mu.Unlock()
		if a.rec != nil {
			_ = a.rec.WriteRTP(pkt)
		}
		if a.jb != nil {
			if err := a.jb.Push(pkt.SequenceNumber, pkt.Timestamp, pkt.Payload, now); err != nil {
				a.log.Debug("dropping audio packet", "err", err)
			}
		}
	}
}

// playout pulls one frame per frame duration once audio has started, as a
// sound card would.
func (a *audioReceiver) playout(ctx context.Context) {
	if a.jb == nil {
		return
	}
	t := time.NewTicker(a.frameDur)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if a.firstPacket().IsZero() {
				continue
			}
			a.jb.Pop()
			a.mu.Lock()
			a.played++
			a.mu.Unlock()
		}
	}
}

func (a *audioReceiver) firstPacket() time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.first
}

func (a *audioReceiver) summary() AudioInStats {
	a.mu.Lock()
	st := AudioInStats{PacketsReceived: a.packets, PacketsLost: a.seqLost}
	played := a.played
	a.mu.Unlock()
	if a.jb != nil {
		js := a.jb.Stats()
		st.FECRecovered = int(js.FECRecovered)
		st.ConcealedMS = float64(js.ConcealedMs)
		if played > 0 {
			st.ConcealedRatio = st.ConcealedMS / (float64(played) * float64(a.frameDur.Milliseconds()))
		}
	}
	return st
}
