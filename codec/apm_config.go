package codec

import (
	"fmt"
	"time"
)

// AudioProcessingConfig chooses the parts of the capture-side voice
// processing (the WebRTC audio processing module) that run. The zero value
// runs nothing at 48 kHz: frames pass through unchanged.
type AudioProcessingConfig struct {
	// SampleRate is 8000, 16000, 32000 or 48000; default 48000. Frames are
	// mono int16 of SampleRate/100 samples (10 ms).
	SampleRate int
	// EchoCancel removes what the speaker played (given to ProcessRender)
	// from the microphone signal. Delay-agnostic with the extended (128 ms)
	// filter, so the delay hint may be rough and the clocks may drift.
	EchoCancel bool
	// NoiseSuppress removes stationary noise (level "high").
	NoiseSuppress bool
	// GainControl levels the voice digitally (adaptive digital AGC).
	GainControl bool
	// HighPass removes DC and rumble below ~80 Hz.
	HighPass bool
}

// DefaultAudioProcessingConfig is 48 kHz with every part on.
func DefaultAudioProcessingConfig() AudioProcessingConfig {
	return AudioProcessingConfig{SampleRate: 48000, EchoCancel: true, NoiseSuppress: true, GainControl: true, HighPass: true}
}

// FrameSamples is the number of samples in one 10 ms frame.
func (c AudioProcessingConfig) FrameSamples() int { return c.SampleRate / 100 }

func (c AudioProcessingConfig) withDefaults() (AudioProcessingConfig, error) {
	if c.SampleRate == 0 {
		c.SampleRate = 48000
	}
	switch c.SampleRate {
	case 8000, 16000, 32000, 48000:
	default:
		return c, fmt.Errorf("audio processing sample rate %d: %w", c.SampleRate, ErrInvalidConfig)
	}
	return c, nil
}

// maxAPMDelay is the largest delay hint the module takes.
const maxAPMDelay = 500 * time.Millisecond

// AudioProcessingStats is what the module reports about the echo canceller
// and the noise suppressor. Echo figures are in dB, from the module's last
// measured interval (about a second of far-end sound); EchoValid says
// whether it has measured any yet.
type AudioProcessingStats struct {
	EchoValid bool
	// ERL is the echo return loss: far-end power over echo power at the mic.
	ERL float64
	// ERLE is the echo return loss enhancement: echo power over the power
	// left after the canceller (average; ERLEInstant is the latest interval).
	ERLE, ERLEInstant float64
	// RERL is ERL + ERLE.
	RERL float64
	// ANLP is the enhancement before the non-linear processor.
	ANLP float64
	// DelayValid says whether the delay figures below are known.
	DelayValid bool
	// Delay is the median of the canceller's delay estimates over the last
	// second, DelayStdDev their spread and FractionPoorDelays the share that
	// would hurt cancellation. Delay is relative to the module's own
	// far-end buffering, not the acoustic delay (an 80 ms room reads 52 to
	// 68 ms); a steady value and few poor delays mean it has locked on.
	Delay, DelayStdDev time.Duration
	FractionPoorDelays float64
	// HasEcho says whether the last capture frame may have held echo.
	HasEcho bool
	// SpeechProbability is the noise suppressor's speech probability for the
	// last frame, or -1 when noise suppression is off.
	SpeechProbability float64
}
