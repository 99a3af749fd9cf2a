package codec

import (
	"fmt"
	"time"
)

// opusRTPClock is the RTP clock rate of Opus, whatever the sample rate
// (RFC 7587).
const opusRTPClock = 48000

// OpusConfig configures an OpusEncoder. Start from DefaultOpusConfig: the zero
// value of FEC is false.
type OpusConfig struct {
	SampleRate int // 8000, 12000, 16000, 24000 or 48000; default 48000
	Channels   int // 1 or 2; default 1
	BitRate    int // bits per second, 6000..510000; default 32000
	// Complexity is 0..10 (libopus' default is 9). 0 means the default; use
	// SetComplexity(0) for the cheapest setting.
	Complexity int
	// FEC turns on in-band forward error correction (LBRR). libopus only adds
	// it when PacketLossPerc > 0, for frames it classifies as speech, and at
	// an adequate bitrate.
	FEC bool
	// DTX sends almost nothing during silence.
	DTX bool
	// PacketLossPerc is the expected packet loss (0..100) that tunes FEC;
	// feed measured loss with SetPacketLossPerc.
	PacketLossPerc int
	// FrameDuration is 10, 20, 40 or 60 ms; default 20 ms.
	FrameDuration time.Duration
}

// DefaultOpusConfig is 48 kHz mono speech at 32 kbit/s, 20 ms frames, FEC on
// and tuned for 10 % loss until measured loss comes in.
func DefaultOpusConfig() OpusConfig {
	return OpusConfig{
		SampleRate:     48000,
		Channels:       1,
		BitRate:        32000,
		Complexity:     9,
		FEC:            true,
		PacketLossPerc: 10,
		FrameDuration:  20 * time.Millisecond,
	}
}

func (c OpusConfig) withDefaults() (OpusConfig, error) {
	if c.SampleRate == 0 {
		c.SampleRate = 48000
	}
	if c.Channels == 0 {
		c.Channels = 1
	}
	if c.BitRate == 0 {
		c.BitRate = 32000
	}
	if c.Complexity == 0 {
		c.Complexity = 9
	}
	if c.FrameDuration == 0 {
		c.FrameDuration = 20 * time.Millisecond
	}
	if err := validOpusFormat(c.SampleRate, c.Channels); err != nil {
		return c, err
	}
	if c.BitRate < 6000 || c.BitRate > 510000 {
		return c, fmt.Errorf("opus bitrate %d: %w", c.BitRate, ErrInvalidConfig)
	}
	if c.Complexity < 0 || c.Complexity > 10 {
		return c, fmt.Errorf("opus complexity %d: %w", c.Complexity, ErrInvalidConfig)
	}
	if c.PacketLossPerc < 0 || c.PacketLossPerc > 100 {
		return c, fmt.Errorf("opus packet loss %d%%: %w", c.PacketLossPerc, ErrInvalidConfig)
	}
	if err := validFrameDuration(c.FrameDuration); err != nil {
		return c, err
	}
	return c, nil
}

// validFrameDuration accepts the Opus frame sizes Peercall uses.
func validFrameDuration(d time.Duration) error {
	switch d {
	case 10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond, 60 * time.Millisecond:
		return nil
	}
	return fmt.Errorf("opus frame duration %v: %w", d, ErrInvalidConfig)
}

// FrameSamples is the number of samples per channel in one frame.
func (c OpusConfig) FrameSamples() int {
	return int(int64(c.SampleRate) * int64(c.FrameDuration) / int64(time.Second))
}

func validOpusFormat(rate, channels int) error {
	switch rate {
	case 8000, 12000, 16000, 24000, 48000:
	default:
		return fmt.Errorf("opus sample rate %d: %w", rate, ErrInvalidConfig)
	}
	if channels != 1 && channels != 2 {
		return fmt.Errorf("opus channels %d: %w", channels, ErrInvalidConfig)
	}
	return nil
}
