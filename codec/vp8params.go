package codec

import (
	"errors"
	"fmt"
	"sync"
	"time"

	mdcodec "github.com/pion/mediadevices/pkg/codec"
	"github.com/pion/mediadevices/pkg/io/video"
	"github.com/pion/mediadevices/pkg/prop"
)

// VP8Params builds Peercall's VP8 encoder for mediadevices tracks
// (mediadevices' codec.VideoEncoderBuilder). Width, Height and FPS default to
// the track's properties.
type VP8Params struct {
	VP8Config
}

// NewVP8Params returns parameters with Peercall's defaults (see VP8Config;
// CPUUsed stays 0 so that the encoder picks the setting for the machine).
func NewVP8Params() VP8Params {
	return VP8Params{VP8Config{BitRate: 1_000_000}}
}

// RTPCodec describes the RTP payload (VP8, 90 kHz).
func (p *VP8Params) RTPCodec() *mdcodec.RTPCodec {
	return mdcodec.NewRTPVP8Codec(90000)
}

// BuildVideoEncoder starts an encoder reading pictures from r. The returned
// ReadCloser's Controller implements codec.BitRateController and
// codec.KeyFrameController.
func (p *VP8Params) BuildVideoEncoder(r video.Reader, m prop.Media) (mdcodec.ReadCloser, error) {
	cfg := p.VP8Config
	if cfg.Width == 0 {
		cfg.Width = m.Width
	}
	if cfg.Height == 0 {
		cfg.Height = m.Height
	}
	if cfg.FPS == 0 && m.FrameRate > 0 {
		cfg.FPS = int(m.FrameRate + 0.5)
	}
	enc, err := NewVP8Encoder(cfg)
	if err != nil {
		return nil, fmt.Errorf("build vp8 encoder: %w", err)
	}
	return &vp8ReadCloser{r: r, enc: enc}, nil
}

// vp8ReadCloser adapts VP8Encoder to mediadevices' pull model.
type vp8ReadCloser struct {
	r     video.Reader
	enc   *VP8Encoder
	once  sync.Once
	start time.Time
}

var (
	_ mdcodec.BitRateController  = (*vp8ReadCloser)(nil)
	_ mdcodec.KeyFrameController = (*vp8ReadCloser)(nil)
)

func (rc *vp8ReadCloser) Read() ([]byte, func(), error) {
	for {
		img, release, err := rc.r.Read()
		if err != nil {
			return nil, func() {}, err
		}
		now := time.Now()
		rc.once.Do(func() { rc.start = now })
		out, _, err := rc.enc.Encode(img, now.Sub(rc.start))
		release()
		if errors.Is(err, ErrNoFrame) {
			continue
		}
		if err != nil {
			return nil, func() {}, err
		}
		return out, func() {}, nil
	}
}

func (rc *vp8ReadCloser) Close() error { return rc.enc.Close() }

func (rc *vp8ReadCloser) Controller() mdcodec.EncoderController { return rc }

// SetBitRate implements codec.BitRateController.
func (rc *vp8ReadCloser) SetBitRate(bps int) error { return rc.enc.SetBitRate(bps) }

// ForceKeyFrame implements codec.KeyFrameController.
func (rc *vp8ReadCloser) ForceKeyFrame() error {
	rc.enc.ForceKeyFrame()
	return nil
}
