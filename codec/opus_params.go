package codec

import (
	"fmt"
	"math"

	mdcodec "github.com/pion/mediadevices/pkg/codec"
	"github.com/pion/mediadevices/pkg/io/audio"
	"github.com/pion/mediadevices/pkg/prop"
	"github.com/pion/mediadevices/pkg/wave"
)

// OpusParams builds Peercall's Opus encoder for mediadevices tracks
// (mediadevices' codec.AudioEncoderBuilder). SampleRate and Channels default
// to the track's properties when zero; the source must already be at a rate
// Opus takes (8, 12, 16, 24 or 48 kHz): there is no resampler.
type OpusParams struct {
	OpusConfig
}

// NewOpusParams returns DefaultOpusConfig as mediadevices parameters.
func NewOpusParams() OpusParams { return OpusParams{DefaultOpusConfig()} }

// RTPCodec describes the RTP payload (Opus, 48 kHz clock, in-band FEC).
func (p *OpusParams) RTPCodec() *mdcodec.RTPCodec {
	c := mdcodec.NewRTPOpusCodec(48000)
	c.Latency = p.FrameDuration
	if c.Latency == 0 {
		c.Latency = DefaultOpusConfig().FrameDuration
	}
	return c
}

// BuildAudioEncoder starts an encoder reading chunks of any size from r. The
// ReadCloser's Controller implements codec.BitRateController and the
// Opus-specific setters of *OpusEncoder (SetPacketLossPerc, SetDTX,
// SetComplexity, SetFEC) through OpusController.
func (p *OpusParams) BuildAudioEncoder(r audio.Reader, m prop.Media) (mdcodec.ReadCloser, error) {
	cfg := p.OpusConfig
	if cfg.SampleRate == 0 {
		cfg.SampleRate = m.SampleRate
	}
	if cfg.Channels == 0 {
		cfg.Channels = m.ChannelCount
	}
	enc, err := NewOpusEncoder(cfg)
	if err != nil {
		return nil, fmt.Errorf("build opus encoder: %w", err)
	}
	c := enc.Config()
	return &opusReadCloser{r: r, enc: enc, cfg: c, frame: c.FrameSamples() * c.Channels}, nil
}

// OpusController is what the Controller of an OpusParams encoder offers.
type OpusController interface {
	mdcodec.BitRateController
	SetPacketLossPerc(int) error
	SetDTX(bool) error
	SetComplexity(int) error
	SetFEC(bool) error
}

type opusReadCloser struct {
	r       audio.Reader
	enc     *OpusEncoder
	cfg     OpusConfig
	frame   int     // samples per frame, all channels
	pending []int16 // interleaved samples not yet encoded
}

var _ OpusController = (*opusReadCloser)(nil)

func (rc *opusReadCloser) Read() ([]byte, func(), error) {
	for len(rc.pending) < rc.frame {
		chunk, release, err := rc.r.Read()
		if err != nil {
			return nil, func() {}, err
		}
		err = rc.appendChunk(chunk)
		release()
		if err != nil {
			return nil, func() {}, err
		}
	}
	pkt, err := rc.enc.Encode(rc.pending[:rc.frame])
	rc.pending = append(rc.pending[:0], rc.pending[rc.frame:]...)
	if err != nil {
		return nil, func() {}, err
	}
	return pkt, func() {}, nil
}

// appendChunk converts a chunk to interleaved int16 with the encoder's
// channel count (mono is duplicated, stereo is averaged to mono).
func (rc *opusReadCloser) appendChunk(a wave.Audio) error {
	info := a.ChunkInfo()
	if info.SamplingRate != 0 && info.SamplingRate != rc.cfg.SampleRate {
		return fmt.Errorf("opus input at %d Hz, encoder at %d Hz: %w", info.SamplingRate, rc.cfg.SampleRate, ErrInvalidConfig)
	}
	if info.Channels < 1 {
		return fmt.Errorf("opus input with %d channels: %w", info.Channels, ErrInvalidConfig)
	}
	if b, ok := a.(*wave.Int16Interleaved); ok && info.Channels == rc.cfg.Channels {
		rc.pending = append(rc.pending, b.Data[:info.Len*info.Channels]...)
		return nil
	}
	sample := func(i, ch int) int32 {
		switch b := a.(type) {
		case *wave.Int16Interleaved:
			return int32(b.Data[i*info.Channels+ch])
		case *wave.Float32Interleaved:
			return int32(max(-32768, min(32767, math.Round(float64(b.Data[i*info.Channels+ch])*32767))))
		default:
			return int32(wave.Int16SampleFormat.Convert(a.At(i, ch)).(wave.Int16Sample))
		}
	}
	for i := 0; i < info.Len; i++ {
		switch {
		case rc.cfg.Channels == 1 && info.Channels > 1:
			var s int32
			for ch := 0; ch < info.Channels; ch++ {
				s += sample(i, ch)
			}
			rc.pending = append(rc.pending, int16(s/int32(info.Channels)))
		case rc.cfg.Channels == 2 && info.Channels == 1:
			s := int16(sample(i, 0))
			rc.pending = append(rc.pending, s, s)
		default:
			for ch := 0; ch < rc.cfg.Channels; ch++ {
				rc.pending = append(rc.pending, int16(sample(i, min(ch, info.Channels-1))))
			}
		}
	}
	return nil
}

func (rc *opusReadCloser) Close() error { return rc.enc.Close() }

func (rc *opusReadCloser) Controller() mdcodec.EncoderController { return rc }

func (rc *opusReadCloser) SetBitRate(bps int) error      { return rc.enc.SetBitRate(bps) }
func (rc *opusReadCloser) SetPacketLossPerc(p int) error { return rc.enc.SetPacketLossPerc(p) }
func (rc *opusReadCloser) SetDTX(on bool) error          { return rc.enc.SetDTX(on) }
func (rc *opusReadCloser) SetComplexity(c int) error     { return rc.enc.SetComplexity(c) }
func (rc *opusReadCloser) SetFEC(on bool) error          { return rc.enc.SetFEC(on) }
