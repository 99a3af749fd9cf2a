//go:build !cgo

package codec

import "time"

// AudioProcessor is unavailable without cgo; NewAudioProcessor returns
// ErrNoAudioProcessing and every method ErrNoAudioProcessing.
type AudioProcessor struct{}

// NewAudioProcessor returns ErrNoAudioProcessing in a CGO_ENABLED=0 build.
func NewAudioProcessor(AudioProcessingConfig) (*AudioProcessor, error) {
	return nil, ErrNoAudioProcessing
}

// Config returns the zero config.
func (*AudioProcessor) Config() AudioProcessingConfig { return AudioProcessingConfig{} }

// FrameSamples returns 0.
func (*AudioProcessor) FrameSamples() int { return 0 }

// SetConfig returns ErrNoAudioProcessing.
func (*AudioProcessor) SetConfig(AudioProcessingConfig) error { return ErrNoAudioProcessing }

// ProcessRender returns ErrNoAudioProcessing.
func (*AudioProcessor) ProcessRender([]int16) error { return ErrNoAudioProcessing }

// ProcessCapture returns ErrNoAudioProcessing.
func (*AudioProcessor) ProcessCapture([]int16, time.Duration) error { return ErrNoAudioProcessing }

// Stats returns ErrNoAudioProcessing.
func (*AudioProcessor) Stats() (AudioProcessingStats, error) {
	return AudioProcessingStats{}, ErrNoAudioProcessing
}

// Close does nothing.
func (*AudioProcessor) Close() error { return nil }
