//go:build !cgo

package codec

import (
	"errors"
	"testing"
)

func TestAudioProcessorNoCGO(t *testing.T) {
	p, err := NewAudioProcessor(DefaultAudioProcessingConfig())
	if !errors.Is(err, ErrNoAudioProcessing) || !errors.Is(err, ErrNoCGO) || p != nil {
		t.Fatalf("NewAudioProcessor without cgo: %v, %v; want ErrNoAudioProcessing (an ErrNoCGO)", p, err)
	}
}
