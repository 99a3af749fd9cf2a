//go:build !cgo

package codec

import (
	"fmt"
	"sync"

	"github.com/pion/opus"
)

// OpusDecoder decodes Opus packets to interleaved 16-bit PCM. Without cgo it
// is pion/opus (pure Go): no FEC and no packet loss concealment, so
// DecodeFEC and DecodePLC return ErrNoCGO and the jitter buffer plays
// silence for lost frames. Methods are safe for concurrent use.
type OpusDecoder struct {
	mu       sync.Mutex
	dec      opus.Decoder
	rate     int
	channels int
	closed   bool
}

// NewOpusDecoder creates a decoder for the given output format.
func NewOpusDecoder(sampleRate, channels int) (*OpusDecoder, error) {
	if err := validOpusFormat(sampleRate, channels); err != nil {
		return nil, err
	}
	dec, err := opus.NewDecoderWithOutput(sampleRate, channels)
	if err != nil {
		return nil, fmt.Errorf("opus decoder: %v: %w", err, ErrCodec)
	}
	return &OpusDecoder{dec: dec, rate: sampleRate, channels: channels}, nil
}

// CanConceal reports whether DecodeFEC and DecodePLC work (only with cgo).
func (d *OpusDecoder) CanConceal() bool { return false }

// Decode decodes one packet into pcm (interleaved, with room for the
// packet's duration, at most 120 ms) and returns the samples per channel.
func (d *OpusDecoder) Decode(packet []byte, pcm []int16) (n int, err error) {
	if len(packet) == 0 {
		return 0, fmt.Errorf("opus decode: empty packet: %w", ErrMalformedPacket)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return 0, ErrClosed
	}
	defer func() {
		// A pure-Go decoder fed network input must not take the process
		// down on a bitstream it mishandles.
		if r := recover(); r != nil {
			n, err = 0, fmt.Errorf("opus decode: %v: %w", r, ErrCodec)
		}
	}()
	n, err = d.dec.DecodeToInt16(packet, pcm)
	if err != nil {
		return 0, fmt.Errorf("opus decode: %v: %w", err, ErrCodec)
	}
	return n, nil
}

// DecodeFEC returns ErrNoCGO.
func (d *OpusDecoder) DecodeFEC([]byte, []int16) error { return ErrNoCGO }

// DecodePLC returns ErrNoCGO.
func (d *OpusDecoder) DecodePLC([]int16) error { return ErrNoCGO }

// Close releases the decoder.
func (d *OpusDecoder) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	return nil
}
