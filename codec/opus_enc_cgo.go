//go:build cgo

package codec

import (
	"fmt"
	"sync"

	"github.com/hraban/opus"
)

// maxOpusPacket is the largest packet libopus writes for one frame (RFC 6716
// limits a frame to 1275 bytes; 60 ms packets hold up to three).
const maxOpusPacket = 4000

// OpusEncoder encodes PCM to Opus packets on libopus (VOIP application). All
// methods are safe for concurrent use, so the call can tune it while the
// capture goroutine encodes.
type OpusEncoder struct {
	mu     sync.Mutex
	enc    *opus.Encoder
	cfg    OpusConfig
	buf    []byte
	closed bool
}

// NewOpusEncoder creates an encoder; see OpusConfig for the defaults.
func NewOpusEncoder(cfg OpusConfig) (*OpusEncoder, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	enc, err := opus.NewEncoder(cfg.SampleRate, cfg.Channels, opus.AppVoIP)
	if err != nil {
		return nil, fmt.Errorf("opus encoder: %v: %w", err, ErrCodec)
	}
	e := &OpusEncoder{enc: enc, cfg: cfg, buf: make([]byte, maxOpusPacket)}
	for _, set := range []func() error{
		func() error { return enc.SetBitrate(cfg.BitRate) },
		func() error { return enc.SetComplexity(cfg.Complexity) },
		func() error { return enc.SetInBandFEC(cfg.FEC) },
		func() error { return enc.SetDTX(cfg.DTX) },
		func() error { return enc.SetPacketLossPerc(cfg.PacketLossPerc) },
	} {
		if err := set(); err != nil {
			return nil, fmt.Errorf("opus encoder setup: %v: %w", err, ErrCodec)
		}
	}
	return e, nil
}

// Config returns the current settings.
func (e *OpusEncoder) Config() OpusConfig {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.cfg
}

// FrameSamples is the number of samples per channel Encode expects.
func (e *OpusEncoder) FrameSamples() int { return e.Config().FrameSamples() }

// Encode compresses one frame of interleaved 16-bit PCM (FrameSamples() ×
// channels samples) and returns a new packet the caller owns.
func (e *OpusEncoder) Encode(pcm []int16) ([]byte, error) {
	return encodeFrame(e, pcm, e.enc.Encode)
}

// EncodeFloat32 is Encode for float PCM in [-1, 1].
func (e *OpusEncoder) EncodeFloat32(pcm []float32) ([]byte, error) {
	return encodeFrame(e, pcm, e.enc.EncodeFloat32)
}

func encodeFrame[S int16 | float32](e *OpusEncoder, pcm []S, encode func([]S, []byte) (int, error)) ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, ErrClosed
	}
	if want := e.cfg.FrameSamples() * e.cfg.Channels; len(pcm) != want {
		return nil, fmt.Errorf("opus encode: %d samples, want %d: %w", len(pcm), want, ErrInvalidConfig)
	}
	n, err := encode(pcm, e.buf)
	if err != nil {
		return nil, fmt.Errorf("opus encode: %v: %w", err, ErrCodec)
	}
	return append([]byte(nil), e.buf[:n]...), nil
}

// set applies one setting under the lock.
func (e *OpusEncoder) set(what string, v int, apply func() error, store func()) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return ErrClosed
	}
	if err := apply(); err != nil {
		return fmt.Errorf("opus set %s %d: %v: %w", what, v, err, ErrCodec)
	}
	store()
	return nil
}

// SetBitRate sets the target bitrate in bits per second (6000..510000).
func (e *OpusEncoder) SetBitRate(bps int) error {
	if bps < 6000 || bps > 510000 {
		return fmt.Errorf("opus bitrate %d: %w", bps, ErrInvalidConfig)
	}
	return e.set("bitrate", bps, func() error { return e.enc.SetBitrate(bps) }, func() { e.cfg.BitRate = bps })
}

// SetPacketLossPerc tells the encoder the loss to protect against (0..100);
// the call feeds it the loss measured from RTCP receiver reports.
func (e *OpusEncoder) SetPacketLossPerc(p int) error {
	if p < 0 || p > 100 {
		return fmt.Errorf("opus packet loss %d%%: %w", p, ErrInvalidConfig)
	}
	return e.set("packet loss", p, func() error { return e.enc.SetPacketLossPerc(p) }, func() { e.cfg.PacketLossPerc = p })
}

// SetComplexity sets the computational complexity (0..10).
func (e *OpusEncoder) SetComplexity(c int) error {
	if c < 0 || c > 10 {
		return fmt.Errorf("opus complexity %d: %w", c, ErrInvalidConfig)
	}
	return e.set("complexity", c, func() error { return e.enc.SetComplexity(c) }, func() { e.cfg.Complexity = c })
}

// SetDTX turns discontinuous transmission on or off.
func (e *OpusEncoder) SetDTX(on bool) error {
	return e.set("dtx", boolInt(on), func() error { return e.enc.SetDTX(on) }, func() { e.cfg.DTX = on })
}

// SetFEC turns in-band FEC on or off.
func (e *OpusEncoder) SetFEC(on bool) error {
	return e.set("fec", boolInt(on), func() error { return e.enc.SetInBandFEC(on) }, func() { e.cfg.FEC = on })
}

// Close releases the encoder (its state is Go memory; Close makes later calls
// fail instead of touching it).
func (e *OpusEncoder) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
