package capture

import (
	"fmt"
	"image"
	"io"
	"math"
	"sync"
	"time"

	"github.com/pion/mediadevices/pkg/io/video"
)

// PatternConfig describes a synthetic video source.
type PatternConfig struct {
	Width, Height int
	FPS           float64
	// Paced makes Next wait for each frame's slot on the real-time clock.
	// Unpaced sources return frames as fast as asked (tests, file writers).
	Paced bool
	// Now overrides the wall clock stamped into markers (tests). Pacing
	// always uses the real clock.
	Now func() time.Time
	// NoMarker leaves frames unstamped.
	NoMarker bool
}

// VideoFrame is one synthetic frame with the values stamped in it.
type VideoFrame struct {
	Image       *image.YCbCr
	Seq         uint32
	CaptureTime time.Time
}

// PatternSource is a moving test pattern: a pre-rendered, horizontally
// periodic background scrolled a few pixels per frame (one memmove per row,
// no per-pixel math at run time) with a video marker on top.
type PatternSource struct {
	cfg      PatternConfig
	interval time.Duration
	period   int // horizontal period of the background in luma px, even
	step     int // luma px scrolled per frame, even
	// background planes, width period+Width (luma) so any offset in
	// [0,period) gives a contiguous row.
	bgY, bgCb, bgCr []byte
	bgYStride       int
	bgCStride       int

	mu     sync.Mutex
	seq    uint32
	pace   pacer
	closed chan struct{}
	once   sync.Once
}

// NewPatternSource pre-renders the background for the given size. Any size
// from 2x2 up works; the marker is only stamped when the frame can hold it
// (see MarkerRect).
func NewPatternSource(cfg PatternConfig) (*PatternSource, error) {
	if cfg.Width < 2 || cfg.Height < 2 || cfg.Width > 8192 || cfg.Height > 8192 {
		return nil, fmt.Errorf("pattern %dx%d: %w", cfg.Width, cfg.Height, ErrBadConfig)
	}
	if !(cfg.FPS > 0 && cfg.FPS <= 240) {
		return nil, fmt.Errorf("pattern fps %v: %w", cfg.FPS, ErrBadConfig)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &PatternSource{
		cfg:      cfg,
		interval: time.Duration(float64(time.Second) / cfg.FPS),
		closed:   make(chan struct{}),
	}
	s.period = (cfg.Width + 1) &^ 1
	// One full scroll cycle every ~4 s, at least 2 px per frame.
	s.step = max(2, int(float64(s.period)/(4*cfg.FPS))&^1)
	s.render()
	return s, nil
}

// render draws one period of the background: colour bars with a diagonal
// stripe texture and a soft vertical gradient, so the encoder has edges,
// flat areas and motion to work on.
func (s *PatternSource) render() {
	w, h, p := s.cfg.Width, s.cfg.Height, s.period
	cw, ch, cp := (w+1)/2, (h+1)/2, p/2
	s.bgYStride = p + w
	s.bgCStride = cp + cw
	s.bgY = make([]byte, s.bgYStride*h)
	s.bgCb = make([]byte, s.bgCStride*ch)
	s.bgCr = make([]byte, s.bgCStride*ch)
	// Eight hues (BT.601 video range) around the period.
	bars := [8][3]float64{
		{180, 128, 128}, {168, 44, 136}, {145, 147, 44}, {133, 63, 52},
		{63, 193, 204}, {51, 109, 212}, {28, 212, 120}, {120, 128, 128},
	}
	for y := range h {
		fy := float64(y) / float64(max(1, h-1))
		for x := range s.bgYStride {
			xp := x % p
			bar := bars[xp*8/p]
			// Diagonal stripes, period 24 px, sine-shaped to stay codec-friendly.
			stripe := 18 * math.Sin(2*math.Pi*float64(xp+y)/24)
			v := bar[0]*(0.75+0.35*fy) + stripe
			s.bgY[y*s.bgYStride+x] = clampByte(v)
		}
	}
	for y := range ch {
		for x := range s.bgCStride {
			bar := bars[(2*x%p)*8/p]
			s.bgCb[y*s.bgCStride+x] = byte(bar[1])
			s.bgCr[y*s.bgCStride+x] = byte(bar[2])
		}
	}
}

func clampByte(v float64) byte {
	switch {
	case v < 0:
		return 0
	case v > 255:
		return 255
	}
	return byte(v + 0.5)
}

// NewFrame allocates an I420 frame of the source's size.
func (s *PatternSource) NewFrame() *image.YCbCr {
	return image.NewYCbCr(image.Rect(0, 0, s.cfg.Width, s.cfg.Height), image.YCbCrSubsampleRatio420)
}

// Render draws frame seq into dst (which must be I420 of the source's size)
// and stamps the marker with t. It does not touch the source's state, so it
// is safe for concurrent use with distinct dst.
func (s *PatternSource) Render(dst *image.YCbCr, seq uint32, t time.Time) error {
	w, h := s.cfg.Width, s.cfg.Height
	if dst.Rect.Dx() != w || dst.Rect.Dy() != h || dst.SubsampleRatio != image.YCbCrSubsampleRatio420 {
		return fmt.Errorf("render into %v %v: %w", dst.Rect, dst.SubsampleRatio, ErrBadConfig)
	}
	off := int(uint64(seq) * uint64(s.step) % uint64(s.period))
	for y := range h {
		copy(dst.Y[y*dst.YStride:y*dst.YStride+w], s.bgY[y*s.bgYStride+off:])
	}
	cw, ch, coff := (w+1)/2, (h+1)/2, off/2
	for y := range ch {
		copy(dst.Cb[y*dst.CStride:y*dst.CStride+cw], s.bgCb[y*s.bgCStride+coff:])
		copy(dst.Cr[y*dst.CStride:y*dst.CStride+cw], s.bgCr[y*s.bgCStride+coff:])
	}
	if s.cfg.NoMarker {
		return nil
	}
	if _, ok := markerGeometry(w, h); !ok {
		return nil
	}
	return WriteVideoMarker(dst, seq, t)
}

// NextFrame produces the next frame. A paced source first waits for the
// frame's slot; if the caller fell behind by more than a frame it re-anchors
// instead of bursting to catch up.
func (s *PatternSource) NextFrame() (VideoFrame, error) {
	return s.NextInto(s.NewFrame())
}

// NextInto is NextFrame drawing into dst (I420 of the source's size), so a
// sender that is done with each frame before asking for the next reuses one
// buffer instead of allocating a picture per frame.
func (s *PatternSource) NextInto(dst *image.YCbCr) (VideoFrame, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.closed:
		return VideoFrame{}, ErrClosed
	default:
	}
	if s.cfg.Paced {
		if err := s.pace.wait(s.interval, s.closed); err != nil {
			return VideoFrame{}, err
		}
	}
	seq := s.seq
	t := s.cfg.Now()
	if err := s.Render(dst, seq, t); err != nil {
		return VideoFrame{}, err
	}
	s.seq++
	return VideoFrame{Image: dst, Seq: seq, CaptureTime: time.UnixMilli(t.UnixMilli())}, nil
}

// NextReusing returns a Next that draws every frame into one picture, for a
// reader that is done with each frame before it asks for the next (an
// encoder, a self-view that converts at once): no picture allocated per
// frame. Each returned picture is valid until the following call.
func (s *PatternSource) NextReusing() func() (*image.YCbCr, error) {
	buf := s.NewFrame()
	return func() (*image.YCbCr, error) {
		f, err := s.NextInto(buf)
		return f.Image, err
	}
}

// Next returns the next frame image (the plain pull API).
func (s *PatternSource) Next() (*image.YCbCr, error) {
	f, err := s.NextFrame()
	return f.Image, err
}

// Close stops the source; a Next blocked in pacing returns ErrClosed.
func (s *PatternSource) Close() error {
	s.once.Do(func() { close(s.closed) })
	return nil
}

// Config returns the source's configuration.
func (s *PatternSource) Config() PatternConfig { return s.cfg }

// VideoReader exposes the source as a mediadevices video.Reader (io.EOF
// after Close, like mediadevices' own drivers).
func (s *PatternSource) VideoReader() video.Reader {
	return video.ReaderFunc(func() (image.Image, func(), error) {
		img, err := s.Next()
		if err != nil {
			if err == ErrClosed {
				err = io.EOF
			}
			return nil, func() {}, err
		}
		return img, func() {}, nil
	})
}
