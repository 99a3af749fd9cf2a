//go:build !cgo

package codec

// OpusEncoder is unavailable without cgo; every method returns ErrNoCGO.
type OpusEncoder struct{}

// NewOpusEncoder returns ErrNoCGO in a CGO_ENABLED=0 build.
func NewOpusEncoder(OpusConfig) (*OpusEncoder, error) { return nil, ErrNoCGO }

// Config returns the zero config.
func (*OpusEncoder) Config() OpusConfig { return OpusConfig{} }

// FrameSamples returns 0.
func (*OpusEncoder) FrameSamples() int { return 0 }

// Encode returns ErrNoCGO.
func (*OpusEncoder) Encode([]int16) ([]byte, error) { return nil, ErrNoCGO }

// EncodeFloat32 returns ErrNoCGO.
func (*OpusEncoder) EncodeFloat32([]float32) ([]byte, error) { return nil, ErrNoCGO }

// SetBitRate returns ErrNoCGO.
func (*OpusEncoder) SetBitRate(int) error { return ErrNoCGO }

// SetPacketLossPerc returns ErrNoCGO.
func (*OpusEncoder) SetPacketLossPerc(int) error { return ErrNoCGO }

// SetComplexity returns ErrNoCGO.
func (*OpusEncoder) SetComplexity(int) error { return ErrNoCGO }

// SetDTX returns ErrNoCGO.
func (*OpusEncoder) SetDTX(bool) error { return ErrNoCGO }

// SetFEC returns ErrNoCGO.
func (*OpusEncoder) SetFEC(bool) error { return ErrNoCGO }

// Close does nothing.
func (*OpusEncoder) Close() error { return nil }
