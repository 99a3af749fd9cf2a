package app

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/peercall/peercall/codec"
)

// VoiceProcessing says which parts of the microphone's processing run: the
// same choice in settings, headless flags and the bench.
type VoiceProcessing struct {
	EchoCancel    bool
	NoiseSuppress bool
	GainControl   bool
}

// On reports whether any part runs.
func (v VoiceProcessing) On() bool { return v.EchoCancel || v.NoiseSuppress || v.GainControl }

// DefaultVoiceProcessing is every part on, as a desktop call wants.
func DefaultVoiceProcessing() VoiceProcessing {
	return VoiceProcessing{EchoCancel: true, NoiseSuppress: true, GainControl: true}
}

func (v VoiceProcessing) codecConfig() codec.AudioProcessingConfig {
	return codec.AudioProcessingConfig{
		SampleRate: voiceRate, EchoCancel: v.EchoCancel, NoiseSuppress: v.NoiseSuppress,
		GainControl: v.GainControl, HighPass: v.On(),
	}
}

// voiceRate is the rate of the one capture path and of the playback mix.
const voiceRate = 48000

// voiceProcessor runs echo cancellation, noise suppression, gain control
// and the high-pass filter on the microphone, in the one capture path
// (before the level meter and the Opus encoder). Its far-end reference is
// what the playback mix sends to the speaker (render), fed from the
// speaker's callback; the module estimates the delay between the two
// itself (delay-agnostic), so separate devices with drifting clocks work.
type voiceProcessor struct {
	apm   *codec.AudioProcessor
	frame int // samples in 10 ms
	log   *slog.Logger

	renderMu  sync.Mutex // render arrives in the device's period, any length
	renderBuf []int16

	captureBuf []int16      // capture goroutine only: samples short of a frame
	outBuf     []int16      // capture goroutine only: processed, not yet returned
	delay      atomic.Int64 // hint, ns: speaker plus microphone latency
}

// newVoiceProcessor returns nil (and no error) when nothing is asked for;
// a build without the module says so with codec.ErrNoAudioProcessing.
func newVoiceProcessor(v VoiceProcessing, log *slog.Logger) (*voiceProcessor, error) {
	if !v.On() {
		return nil, nil
	}
	apm, err := codec.NewAudioProcessor(v.codecConfig())
	if err != nil {
		return nil, err
	}
	return &voiceProcessor{apm: apm, frame: apm.FrameSamples(), log: log}, nil
}

// newVoiceOrNone is newVoiceProcessor for a call that goes on without the
// processing when it cannot run (a build without the module).
func newVoiceOrNone(v VoiceProcessing, log *slog.Logger) *voiceProcessor {
	p, err := newVoiceProcessor(v, log)
	if err != nil {
		level := slog.LevelWarn
		if errors.Is(err, codec.ErrNoAudioProcessing) {
			level = slog.LevelInfo
		}
		log.Log(context.Background(), level, "microphone processing off", "err", err)
		return nil
	}
	return p
}

// set turns parts on or off during a call.
func (p *voiceProcessor) set(v VoiceProcessing) error {
	if p == nil {
		return nil
	}
	return p.apm.SetConfig(v.codecConfig())
}

// render is the speaker's reference: every sample the mix sends out, in
// the device callback's chunks.
func (p *voiceProcessor) render(pcm []int16) {
	if p == nil {
		return
	}
	p.renderMu.Lock()
	defer p.renderMu.Unlock()
	p.renderBuf = append(p.renderBuf, pcm...)
	n := 0
	for ; n+p.frame <= len(p.renderBuf); n += p.frame {
		if err := p.apm.ProcessRender(p.renderBuf[n : n+p.frame]); err != nil {
			p.renderBuf = p.renderBuf[:0]
			return
		}
	}
	p.renderBuf = append(p.renderBuf[:0], p.renderBuf[n:]...)
}

// wrap processes a microphone source. Frames that are whole 10 ms frames
// (the usual 20 ms) are processed in place without delay; others go
// through a buffer of less than one frame.
func (p *voiceProcessor) wrap(next func() ([]int16, error)) func() ([]int16, error) {
	if p == nil {
		return next
	}
	return func() ([]int16, error) {
		pcm, err := next()
		if err != nil {
			return nil, err
		}
		hint := time.Duration(p.delay.Load())
		if len(p.captureBuf) == 0 && len(pcm)%p.frame == 0 {
			for i := 0; i < len(pcm); i += p.frame {
				if err := p.apm.ProcessCapture(pcm[i:i+p.frame], hint); err != nil {
					return nil, err
				}
			}
			return pcm, nil
		}
		p.captureBuf = append(p.captureBuf, pcm...)
		n := 0
		for ; n+p.frame <= len(p.captureBuf); n += p.frame {
			f := p.captureBuf[n : n+p.frame]
			if err := p.apm.ProcessCapture(f, hint); err != nil {
				return nil, err
			}
			p.outBuf = append(p.outBuf, f...)
		}
		p.captureBuf = append(p.captureBuf[:0], p.captureBuf[n:]...)
		// As many samples out as in: silence first, until a frame is done.
		out := make([]int16, len(pcm))
		k := min(len(out), len(p.outBuf))
		copy(out[len(out)-k:], p.outBuf[:k])
		p.outBuf = append(p.outBuf[:0], p.outBuf[k:]...)
		return out, nil
	}
}

// setDelay is the hint from the devices' latencies.
func (p *voiceProcessor) setDelay(d time.Duration) {
	if p != nil {
		p.delay.Store(int64(d))
	}
}

// stats are the module's figures (zero value when off).
func (p *voiceProcessor) stats() codec.AudioProcessingStats {
	if p == nil {
		return codec.AudioProcessingStats{}
	}
	st, err := p.apm.Stats()
	if err != nil {
		return codec.AudioProcessingStats{}
	}
	return st
}

func (p *voiceProcessor) close() {
	if p != nil {
		_ = p.apm.Close()
	}
}
