package codec

import (
	"errors"
	"fmt"
)

// Sentinel errors. Callers branch on them with errors.Is; the concrete errors
// wrap them with short context.
var (
	// ErrNoCGO is returned by the cgo-only parts (VP8 encoder/decoder, Opus
	// encoder, FEC/PLC, audio devices) in a CGO_ENABLED=0 build.
	ErrNoCGO = errors.New("codec: not available without cgo")
	// ErrCodec wraps a failure reported by libvpx or libopus.
	ErrCodec = errors.New("codec: codec library error")
	// ErrClosed is returned by methods called after Close.
	ErrClosed = errors.New("codec: closed")
	// ErrInvalidConfig reports a configuration value out of range.
	ErrInvalidConfig = errors.New("codec: invalid configuration")
	// ErrUnsupportedImage reports an image the encoder cannot take (wrong size, nil).
	ErrUnsupportedImage = errors.New("codec: unsupported image")
	// ErrMalformedPacket reports an RTP packet or payload that cannot be parsed.
	ErrMalformedPacket = errors.New("codec: malformed packet")
	// ErrMalformedFrame reports a VP8 frame whose header is invalid.
	ErrMalformedFrame = errors.New("codec: malformed VP8 frame")
	// ErrNeedKeyFrame reports that decoding cannot go on until a keyframe arrives.
	ErrNeedKeyFrame = errors.New("codec: need keyframe")
	// ErrNoFrame is returned by an encoder or decoder that consumed its input
	// without producing output; not a failure, go on with the next input.
	ErrNoFrame = errors.New("codec: no frame produced")
	// ErrNoDevice reports that no audio output device matches.
	ErrNoDevice = errors.New("codec: no audio output device")
	// ErrNoAudioProcessing is returned by NewAudioProcessor in a CGO_ENABLED=0
	// build: echo cancellation and noise suppression need the WebRTC module
	// (cgo). It wraps ErrNoCGO.
	ErrNoAudioProcessing = fmt.Errorf("codec: audio processing (echo cancellation) not available: %w", ErrNoCGO)
)
