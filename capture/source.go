package capture

import "image"

// VideoSource is what the call layer pulls I420 frames from: a camera, the
// test pattern, or anything else that can stand in for one.
type VideoSource interface {
	Next() (*image.YCbCr, error)
	Close() error
}

// PCMSource is what the call layer pulls mono PCM16 chunks from: a
// microphone or a synthetic/WAV source.
type PCMSource interface {
	Next() ([]int16, error)
	SampleRate() int
	Close() error
}

var (
	_ VideoSource = (*Camera)(nil)
	_ VideoSource = (*PatternSource)(nil)
	_ PCMSource   = (*Microphone)(nil)
	_ PCMSource   = (*AudioSource)(nil)
)
