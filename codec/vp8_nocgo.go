//go:build !cgo

package codec

import (
	"image"
	"time"
)

// VP8Encoder is unavailable without cgo; every method returns ErrNoCGO.
type VP8Encoder struct{}

// NewVP8Encoder returns ErrNoCGO in a CGO_ENABLED=0 build.
func NewVP8Encoder(VP8Config) (*VP8Encoder, error) { return nil, ErrNoCGO }

// Encode returns ErrNoCGO.
func (*VP8Encoder) Encode(image.Image, time.Duration) ([]byte, bool, error) {
	return nil, false, ErrNoCGO
}

// SetBitRate returns ErrNoCGO.
func (*VP8Encoder) SetBitRate(int) error { return ErrNoCGO }

// SetCPUUsed returns ErrNoCGO.
func (*VP8Encoder) SetCPUUsed(int) error { return ErrNoCGO }

// BitRate returns 0.
func (*VP8Encoder) BitRate() int { return 0 }

// ForceKeyFrame does nothing.
func (*VP8Encoder) ForceKeyFrame() {}

// KeyFramePending reports false.
func (*VP8Encoder) KeyFramePending() bool { return false }

// Close does nothing.
func (*VP8Encoder) Close() error { return nil }

// VP8Decoder is unavailable without cgo.
type VP8Decoder struct{}

// NewVP8Decoder returns ErrNoCGO in a CGO_ENABLED=0 build.
func NewVP8Decoder() (*VP8Decoder, error) { return nil, ErrNoCGO }

// Decode returns ErrNoCGO.
func (*VP8Decoder) Decode([]byte) (*image.YCbCr, error) { return nil, ErrNoCGO }

// Close does nothing.
func (*VP8Decoder) Close() error { return nil }
