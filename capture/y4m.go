package capture

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"strconv"
	"sync"
	"time"
)

// YUV4MPEG2 (.y4m) is raw video: one text header line, then per frame a
// "FRAME" line and the planes. It is what ffmpeg writes with -f yuv4mpegpipe
// and what Chromium's --use-file-for-fake-video-capture reads, so the same
// clip can feed both.
const (
	y4mMagic = "YUV4MPEG2"
	// y4mMaxLine bounds a header or FRAME line: real ones are well under
	// 100 bytes, and a file without a newline fails fast.
	y4mMaxLine = 1024
	// y4mMaxSide bounds W and H (what VP8 can encode).
	y4mMaxSide = 16383
)

// Y4MHeader is what a Y4M stream header says about its frames.
type Y4MHeader struct {
	Width, Height int
	// FPSNum/FPSDen is the frame rate (F30:1, F30000:1001).
	FPSNum, FPSDen int
	// Colorspace is the C tag ("420jpeg" when absent, the spec's default).
	Colorspace string
}

// FPS is the frame rate as a number.
func (h Y4MHeader) FPS() float64 { return float64(h.FPSNum) / float64(h.FPSDen) }

// frameSize is the byte length of one 4:2:0 picture.
func (h Y4MHeader) frameSize() int64 {
	cw, ch := (h.Width+1)/2, (h.Height+1)/2
	return int64(h.Width)*int64(h.Height) + 2*int64(cw)*int64(ch)
}

// ParseY4MHeader parses a stream header line (without its newline). Only
// 8-bit 4:2:0 is read (C420, C420jpeg, C420paldv, C420mpeg2 or no C tag);
// other chroma formats are ErrUnsupportedFormat, anything malformed
// ErrBadFile. The frame rate is required: pacing depends on it.
func ParseY4MHeader(line []byte) (Y4MHeader, error) {
	h := Y4MHeader{Colorspace: "420jpeg"}
	rest, ok := bytes.CutPrefix(line, []byte(y4mMagic))
	if !ok || (len(rest) > 0 && rest[0] != ' ') {
		return h, fmt.Errorf("y4m: no %s signature: %w", y4mMagic, ErrBadFile)
	}
	for _, f := range bytes.Fields(rest) {
		tag, val := f[0], string(f[1:])
		var err error
		switch tag {
		case 'W':
			h.Width, err = y4mInt(val, y4mMaxSide)
		case 'H':
			h.Height, err = y4mInt(val, y4mMaxSide)
		case 'F':
			n, d, ok := bytes.Cut(f[1:], []byte(":"))
			if !ok {
				err = errors.New("not N:D")
				break
			}
			if h.FPSNum, err = y4mInt(string(n), 1<<30); err == nil {
				h.FPSDen, err = y4mInt(string(d), 1<<30)
			}
		case 'C':
			h.Colorspace = val
		}
		// I (interlacing), A (aspect), X (comments) and unknown tags do not
		// change how the planes are laid out.
		if err != nil {
			return h, fmt.Errorf("y4m header field %.20q: %w: %w", f, ErrBadFile, err)
		}
	}
	switch {
	case h.Width == 0 || h.Height == 0:
		return h, fmt.Errorf("y4m header without W and H: %w", ErrBadFile)
	case h.FPSNum == 0 || h.FPSDen == 0:
		return h, fmt.Errorf("y4m header without a frame rate (F): %w", ErrBadFile)
	case h.FPS() > 240 || h.FPS() < 0.1:
		return h, fmt.Errorf("y4m frame rate %d:%d: %w", h.FPSNum, h.FPSDen, ErrBadFile)
	}
	switch h.Colorspace {
	case "420", "420jpeg", "420paldv", "420mpeg2":
	default:
		return h, fmt.Errorf("y4m colorspace C%.20s, want 4:2:0 8-bit: %w", h.Colorspace, ErrUnsupportedFormat)
	}
	return h, nil
}

// y4mInt parses a positive decimal up to limit.
func y4mInt(s string, limit int) (int, error) {
	v, err := strconv.Atoi(s)
	if err != nil || v <= 0 || v > limit {
		return 0, fmt.Errorf("%.20q is not a number in 1..%d", s, limit)
	}
	return v, nil
}

// Y4MConfig configures a Y4M source.
type Y4MConfig struct {
	// Loop restarts at the first frame instead of returning io.EOF.
	Loop bool
	// Paced makes Next wait for each frame's slot (the header's rate) on
	// the real-time clock.
	Paced bool
	// NoMarker sends the clip as it is. By default every frame is stamped
	// with a video marker (as the pattern source does) so that the
	// receiver measures capture-to-display latency.
	NoMarker bool
	// Now overrides the wall clock stamped into markers (tests).
	Now func() time.Time
}

// Y4MSource plays a Y4M file as a VideoSource. Frames are read from the file
// into one picture that every call reuses: the file is never held in memory
// (a 10 s 640x480 clip is 138 MB), and nothing is allocated per frame.
type Y4MSource struct {
	Header Y4MHeader

	cfg      Y4MConfig
	interval time.Duration
	f        io.ReaderAt
	closer   io.Closer
	offsets  []int64 // where each frame's planes start
	frame    *image.YCbCr
	buf      []byte // the planes of frame, back to back as in the file

	mu     sync.Mutex
	pos    int
	seq    uint32
	pace   pacer
	closed chan struct{}
	once   sync.Once
}

var _ VideoSource = (*Y4MSource)(nil)

// OpenY4M opens a Y4M file. Its frames are indexed at once, so a truncated
// or malformed file fails here (ErrBadFile) rather than mid-call.
func OpenY4M(path string, cfg Y4MConfig) (*Y4MSource, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open y4m: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("open y4m: %w", err)
	}
	s, err := NewY4MSource(f, fi.Size(), cfg)
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	s.closer = f
	return s, nil
}

// NewY4MSource reads a Y4M stream of size bytes from r (a file, or a
// bytes.Reader in tests).
func NewY4MSource(r io.ReaderAt, size int64, cfg Y4MConfig) (*Y4MSource, error) {
	line, off, err := y4mLine(r, 0, size)
	if err != nil {
		return nil, fmt.Errorf("y4m header: %w", err)
	}
	h, err := ParseY4MHeader(line)
	if err != nil {
		return nil, err
	}
	fs := h.frameSize()
	var offsets []int64
	for off < size {
		line, next, err := y4mLine(r, off, size)
		if err != nil {
			return nil, fmt.Errorf("y4m frame %d header: %w", len(offsets), err)
		}
		if !bytes.Equal(line, []byte("FRAME")) && !bytes.HasPrefix(line, []byte("FRAME ")) {
			return nil, fmt.Errorf("y4m frame %d: no FRAME marker: %w", len(offsets), ErrBadFile)
		}
		if size-next < fs {
			return nil, fmt.Errorf("y4m frame %d truncated: %d of %d bytes: %w", len(offsets), size-next, fs, ErrBadFile)
		}
		offsets = append(offsets, next)
		off = next + fs
	}
	if len(offsets) == 0 {
		return nil, fmt.Errorf("y4m has no frames: %w", ErrBadFile)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Y4MSource{
		Header:   h,
		cfg:      cfg,
		interval: time.Duration(float64(time.Second) * float64(h.FPSDen) / float64(h.FPSNum)),
		f:        r,
		offsets:  offsets,
		buf:      make([]byte, fs),
		closed:   make(chan struct{}),
	}
	// The picture's planes are views of buf: one read per frame fills them.
	cw, ch := (h.Width+1)/2, (h.Height+1)/2
	ys, cs := h.Width*h.Height, cw*ch
	s.frame = &image.YCbCr{
		Y: s.buf[:ys:ys], Cb: s.buf[ys : ys+cs : ys+cs], Cr: s.buf[ys+cs:],
		YStride: h.Width, CStride: cw,
		SubsampleRatio: image.YCbCrSubsampleRatio420,
		Rect:           image.Rect(0, 0, h.Width, h.Height),
	}
	return s, nil
}

// y4mLine returns the line at off (without its newline) and the offset
// after it.
func y4mLine(r io.ReaderAt, off, size int64) ([]byte, int64, error) {
	var b [y4mMaxLine]byte
	n, err := r.ReadAt(b[:min(int64(len(b)), size-off)], off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, 0, fmt.Errorf("read: %w", err)
	}
	i := bytes.IndexByte(b[:n], '\n')
	if i < 0 {
		return nil, 0, fmt.Errorf("no end of line within %d bytes: %w", len(b), ErrBadFile)
	}
	return append([]byte(nil), b[:i]...), off + int64(i) + 1, nil
}

// Frames is how many frames one pass holds.
func (s *Y4MSource) Frames() int { return len(s.offsets) }

// NextFrame reads the next frame into the source's one picture (valid until
// the next call) and stamps its marker. A paced source first waits for the
// frame's slot; one that fell behind re-anchors instead of bursting. After
// the last frame it returns io.EOF, or starts over with Loop.
func (s *Y4MSource) NextFrame() (VideoFrame, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.closed:
		return VideoFrame{}, ErrClosed
	default:
	}
	if s.pos >= len(s.offsets) {
		if !s.cfg.Loop {
			return VideoFrame{}, io.EOF
		}
		s.pos = 0
	}
	if s.cfg.Paced {
		if err := s.pace.wait(s.interval, s.closed); err != nil {
			return VideoFrame{}, err
		}
	}
	if _, err := s.f.ReadAt(s.buf, s.offsets[s.pos]); err != nil {
		// The file changed under us (it was checked at open).
		return VideoFrame{}, fmt.Errorf("y4m frame %d: %w: %w", s.pos, ErrBadFile, err)
	}
	seq, t := s.seq, s.cfg.Now()
	if !s.cfg.NoMarker {
		if _, ok := markerGeometry(s.Header.Width, s.Header.Height); ok {
			if err := WriteVideoMarker(s.frame, seq, t); err != nil {
				return VideoFrame{}, err
			}
		}
	}
	s.pos++
	s.seq++
	return VideoFrame{Image: s.frame, Seq: seq, CaptureTime: time.UnixMilli(t.UnixMilli())}, nil
}

// Next returns the next picture; it is reused by the following call (see
// NextFrame).
func (s *Y4MSource) Next() (*image.YCbCr, error) {
	f, err := s.NextFrame()
	return f.Image, err
}

// Close stops the source (a Next waiting for its slot returns ErrClosed)
// and closes the file.
func (s *Y4MSource) Close() error {
	s.once.Do(func() { close(s.closed) })
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closer == nil {
		return nil
	}
	err := s.closer.Close()
	s.closer = nil
	return err
}
