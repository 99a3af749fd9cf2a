//go:build cgo

package codec

import (
	"fmt"
	"sync"

	"github.com/hraban/opus"
)

// OpusDecoder decodes Opus packets to interleaved 16-bit PCM. With cgo it is
// libopus, with FEC and packet loss concealment; without cgo it is pion/opus,
// which has neither (see CanConceal). Methods are safe for concurrent use.
type OpusDecoder struct {
	mu       sync.Mutex
	dec      *opus.Decoder
	rate     int
	channels int
	closed   bool
}

// NewOpusDecoder creates a decoder for the given output format.
func NewOpusDecoder(sampleRate, channels int) (*OpusDecoder, error) {
	if err := validOpusFormat(sampleRate, channels); err != nil {
		return nil, err
	}
	dec, err := opus.NewDecoder(sampleRate, channels)
	if err != nil {
		return nil, fmt.Errorf("opus decoder: %v: %w", err, ErrCodec)
	}
	return &OpusDecoder{dec: dec, rate: sampleRate, channels: channels}, nil
}

// CanConceal reports whether DecodeFEC and DecodePLC work (only with cgo).
func (d *OpusDecoder) CanConceal() bool { return true }

// Decode decodes one packet into pcm (interleaved, with room for the
// packet's duration, at most 120 ms) and returns the samples per channel.
func (d *OpusDecoder) Decode(packet []byte, pcm []int16) (int, error) {
	if len(packet) == 0 {
		return 0, fmt.Errorf("opus decode: empty packet: %w", ErrMalformedPacket)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return 0, ErrClosed
	}
	// hraban/opus sizes the output by cap: bound it by len.
	l := len(pcm) - len(pcm)%d.channels
	n, err := d.dec.Decode(packet, pcm[:l:l])
	if err != nil {
		return 0, fmt.Errorf("opus decode: %v: %w", err, ErrCodec)
	}
	return n, nil
}

// DecodeFEC rebuilds the frame lost just before next from the FEC data in
// next (libopus falls back to PLC when next carries none). len(pcm) must be
// exactly the lost duration × channels.
func (d *OpusDecoder) DecodeFEC(next []byte, pcm []int16) error {
	if len(next) == 0 {
		return fmt.Errorf("opus fec: empty packet: %w", ErrMalformedPacket)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	l := len(pcm) - len(pcm)%d.channels
	if err := d.dec.DecodeFEC(next, pcm[:l:l]); err != nil {
		return fmt.Errorf("opus fec: %v: %w", err, ErrCodec)
	}
	return nil
}

// DecodePLC conceals one lost frame of len(pcm)/channels samples.
func (d *OpusDecoder) DecodePLC(pcm []int16) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	l := len(pcm) - len(pcm)%d.channels
	if err := d.dec.DecodePLC(pcm[:l:l]); err != nil {
		return fmt.Errorf("opus plc: %v: %w", err, ErrCodec)
	}
	return nil
}

// Close releases the decoder.
func (d *OpusDecoder) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	return nil
}
