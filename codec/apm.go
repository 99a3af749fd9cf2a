//go:build cgo

package codec

// #cgo pkg-config: webrtc-audio-processing
// #cgo CXXFLAGS: -std=c++11
// #include "apm_shim.h"
import "C"

import (
	"fmt"
	"sync"
	"time"
	"unsafe"
)

// AudioProcessor is the WebRTC audio processing module (libwebrtc-audio-
// processing 0.3, the one PulseAudio's module-echo-cancel uses): echo
// cancellation, noise suppression, automatic gain control and a high-pass
// filter on the microphone signal, in 10 ms mono int16 frames.
//
// ProcessRender and ProcessCapture are meant to be called from different
// goroutines (the speaker callback and the microphone reader), and run at
// the same time: the module keeps its render and capture sides apart
// under locks of its own (the render side only queues the far end for the
// capture side). So the speaker's real-time callback never waits for a
// microphone frame, which on a loaded machine could be preempted halfway
// through its processing for longer than the device's buffer lasts.
// SetConfig and Close wait for both.
//
// The API adds no buffering (ProcessCapture works in place on the frame it
// is given), but the module's filters delay the signal itself: at 48 kHz
// about 1 ms for the band-split filter bank alone (high-pass, AGC), 7 ms
// with noise suppression, 8 ms with the echo canceller and 14 ms for the
// full chain (TestAudioProcessorLatency).
type AudioProcessor struct {
	// mu is held shared by ProcessRender and ProcessCapture, alone by
	// SetConfig and Close (the module's settings).
	mu sync.RWMutex
	// capMu orders the capture side: ProcessCapture (the stream delay is
	// set before each frame) and Stats, which the module wants on one
	// thread at a time.
	capMu  sync.Mutex
	apm    *C.peercall_apm // nil after Close
	cfg    AudioProcessingConfig
	frame  int
	closed bool
	stats  AudioProcessingStats // last good echo metrics, see Stats
}

// NewAudioProcessor creates a processor; see AudioProcessingConfig.
func NewAudioProcessor(cfg AudioProcessingConfig) (*AudioProcessor, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	var code C.int
	h := C.peercall_apm_new(C.int(cfg.SampleRate), &code)
	if h == nil {
		return nil, apmError("create", code)
	}
	p := &AudioProcessor{apm: h, cfg: cfg, frame: cfg.FrameSamples()}
	if err := p.configure(cfg); err != nil {
		C.peercall_apm_free(h)
		return nil, err
	}
	return p, nil
}

func (p *AudioProcessor) configure(cfg AudioProcessingConfig) error {
	c := C.peercall_apm_config{
		echo_cancel:    cBool(cfg.EchoCancel),
		noise_suppress: cBool(cfg.NoiseSuppress),
		gain_control:   cBool(cfg.GainControl),
		high_pass:      cBool(cfg.HighPass),
	}
	if rc := C.peercall_apm_configure(p.apm, &c); rc != 0 {
		return apmError("configure", rc)
	}
	p.cfg = cfg
	return nil
}

// Config returns the current settings.
func (p *AudioProcessor) Config() AudioProcessingConfig {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.cfg
}

// FrameSamples is the number of samples ProcessRender and ProcessCapture
// take (10 ms).
func (p *AudioProcessor) FrameSamples() int { return p.frame }

// SetConfig turns parts on or off during a call; the sample rate cannot
// change (0 keeps it).
func (p *AudioProcessor) SetConfig(cfg AudioProcessingConfig) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	if cfg.SampleRate == 0 {
		cfg.SampleRate = p.cfg.SampleRate
	}
	if cfg.SampleRate != p.cfg.SampleRate {
		return fmt.Errorf("audio processing: sample rate %d, created at %d: %w", cfg.SampleRate, p.cfg.SampleRate, ErrInvalidConfig)
	}
	return p.configure(cfg)
}

// ProcessRender gives the module one 10 ms frame of what the speaker plays
// (after mixing every peer), the reference the echo canceller removes. far
// is not changed.
func (p *AudioProcessor) ProcessRender(far []int16) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if err := p.check("render", far); err != nil {
		return err
	}
	// A Go slice may be read by C for the duration of the call.
	if rc := C.peercall_apm_render(p.apm, (*C.int16_t)(unsafe.Pointer(&far[0])), C.size_t(len(far))); rc != 0 {
		return apmError("render", rc)
	}
	return nil
}

// ProcessCapture processes one 10 ms microphone frame in place. delayHint is
// the time from a frame's ProcessRender to its sound reaching ProcessCapture
// (output plus input latency), clamped to 0..500 ms. The module estimates
// the real delay itself, so a rough hint does: measured, 0 works for echo
// delays up to 150 ms, but a 250 ms delay with a hint of 0 is not cancelled
// (2.5 dB) while the right hint gives 34 dB (TestAudioProcessorEcho).
func (p *AudioProcessor) ProcessCapture(near []int16, delayHint time.Duration) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	p.capMu.Lock()
	defer p.capMu.Unlock()
	if err := p.check("capture", near); err != nil {
		return err
	}
	ms := min(max(delayHint, 0), maxAPMDelay).Milliseconds()
	if rc := C.peercall_apm_capture(p.apm, (*C.int16_t)(unsafe.Pointer(&near[0])), C.size_t(len(near)), C.int(ms)); rc != 0 {
		return apmError("capture", rc)
	}
	return nil
}

func (p *AudioProcessor) check(what string, pcm []int16) error {
	if p.closed {
		return ErrClosed
	}
	if len(pcm) != p.frame {
		return fmt.Errorf("audio processing %s: %d samples, want %d (10 ms mono at %d Hz): %w",
			what, len(pcm), p.frame, p.cfg.SampleRate, ErrInvalidConfig)
	}
	return nil
}

// Stats reports the echo canceller's and noise suppressor's figures. The
// module's echo metrics come per measuring interval and are -100 (or
// garbage, when the output was digital silence) for an interval it could
// not measure: Stats keeps the last measured value of each.
func (p *AudioProcessor) Stats() (AudioProcessingStats, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	p.capMu.Lock()
	defer p.capMu.Unlock()
	if p.closed {
		return AudioProcessingStats{}, ErrClosed
	}
	var s C.peercall_apm_stats
	C.peercall_apm_get_stats(p.apm, &s)
	st := &p.stats
	if s.echo_valid != 0 {
		keep := func(dst *float64, v C.int) {
			if v > -100 && v < 1000 {
				*dst = float64(v)
				st.EchoValid = true
			}
		}
		keep(&st.ERL, s.erl)
		keep(&st.ERLE, s.erle)
		keep(&st.ERLEInstant, s.erle_instant)
		keep(&st.RERL, s.rerl)
		keep(&st.ANLP, s.a_nlp)
	}
	st.DelayValid = s.delay_valid != 0
	st.Delay = time.Duration(s.delay_median_ms) * time.Millisecond
	st.DelayStdDev = time.Duration(s.delay_std_ms) * time.Millisecond
	st.FractionPoorDelays = float64(s.fraction_poor_delays)
	st.HasEcho = s.has_echo != 0
	st.SpeechProbability = float64(s.speech_probability)
	return *st, nil
}

// Close frees the module. It is safe to call more than once; later calls of
// the other methods return ErrClosed.
func (p *AudioProcessor) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		C.peercall_apm_free(p.apm)
		p.apm = nil
		p.closed = true
	}
	return nil
}

func cBool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// apmErrors names the module's error codes (AudioProcessing::Error).
var apmErrors = map[C.int]string{
	-1: "unspecified error", -2: "creation failed", -3: "unsupported component",
	-4: "unsupported function", -5: "null pointer", -6: "bad parameter",
	-7: "bad sample rate", -8: "bad data length", -9: "bad number of channels",
	-10: "file error", -11: "stream parameter not set", -12: "not enabled",
	-13: "bad stream parameter",
}

func apmError(what string, code C.int) error {
	name, ok := apmErrors[code]
	if !ok {
		name = "unknown error"
	}
	return fmt.Errorf("audio processing %s: %s (%d): %w", what, name, int(code), ErrCodec)
}
