package capture

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/pion/webrtc/v4/pkg/media/ivfreader"
	"github.com/pion/webrtc/v4/pkg/media/oggreader"
)

// maxMediaFile bounds what file sources read into memory. Sources are
// parsed whole at open so that a bad file fails there, not mid-call.
const maxMediaFile = 64 << 20

// FileOptions control file sources; pass one (or none) to OpenIVF, OpenOgg
// and their in-memory variants.
type FileOptions struct {
	// Loop restarts at the first frame/packet instead of returning io.EOF.
	Loop bool
	// Paced makes Next wait each item's duration on the real-time clock.
	Paced bool
}

// FileOption is an option for file sources; FileOptions is one.
type FileOption interface{ applyFile(*FileOptions) }

func (o FileOptions) applyFile(dst *FileOptions) {
	dst.Loop = dst.Loop || o.Loop
	dst.Paced = dst.Paced || o.Paced
}

func applyFileOptions(opts []FileOption) FileOptions {
	var o FileOptions
	for _, f := range opts {
		f.applyFile(&o)
	}
	return o
}

// EncodedFrame is one pre-encoded media unit (VP8 frame or Opus packet)
// with its playout duration, ready for a TrackLocalStaticSample.
type EncodedFrame struct {
	Data     []byte
	Duration time.Duration
	// Keyframe is set for VP8 key frames (always false for Opus).
	Keyframe bool
}

// fileSource is the shared playback state of IVF and Ogg sources.
type fileSource struct {
	opts   FileOptions
	frames []EncodedFrame

	mu     sync.Mutex
	pos    int
	pace   pacer
	closed chan struct{}
	once   sync.Once
}

func (s *fileSource) next() (EncodedFrame, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.closed:
		return EncodedFrame{}, ErrClosed
	default:
	}
	if s.pos >= len(s.frames) {
		if !s.opts.Loop {
			return EncodedFrame{}, io.EOF
		}
		s.pos = 0
	}
	f := s.frames[s.pos]
	if s.opts.Paced {
		// Each item is released when the previous one has played out.
		if err := s.pace.wait(f.Duration, s.closed); err != nil {
			return EncodedFrame{}, err
		}
	}
	s.pos++
	return f, nil
}

func (s *fileSource) close() error {
	s.once.Do(func() { close(s.closed) })
	return nil
}

// readMediaFile reads a whole file of at most limit bytes.
func readMediaFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open media file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read media file: %w", err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("media file over %d bytes: %w", limit, ErrUnsupportedFormat)
	}
	return data, nil
}

// IVFSource streams the VP8 frames of an IVF file without re-encoding.
type IVFSource struct {
	fileSource
	Width, Height int
}

const ivfHeaderLen, ivfFrameHeaderLen = 32, 12

// OpenIVF reads a VP8 IVF file.
func OpenIVF(path string, opts ...FileOption) (*IVFSource, error) {
	data, err := readMediaFile(path, maxMediaFile)
	if err != nil {
		return nil, err
	}
	return NewIVFSource(data, opts...)
}

// NewIVFSource parses a VP8 IVF held in memory. Errors match ErrBadFile or
// ErrUnsupportedFormat (e.g. VP9). The stream must start with a key frame so
// that looping restarts cleanly.
func NewIVFSource(data []byte, opts ...FileOption) (*IVFSource, error) {
	r, hdr, err := ivfreader.NewWith(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("ivf header: %w: %w", ErrBadFile, err)
	}
	if hdr.FourCC != "VP80" {
		return nil, fmt.Errorf("ivf codec %q, want VP80: %w", hdr.FourCC, ErrUnsupportedFormat)
	}
	// IVF time base: pts counts units of num/den seconds (bytes 20-23 over
	// 16-19). We read the raw fields: pion's Timestamp rescales them in a
	// way that depends on how the file was written.
	den := binary.LittleEndian.Uint32(data[16:20])
	num := binary.LittleEndian.Uint32(data[20:24])
	unit := float64(num) / float64(den) * float64(time.Second)
	if unit < float64(time.Microsecond)/100 || unit > float64(time.Minute) {
		return nil, fmt.Errorf("ivf time base %d/%d: %w", num, den, ErrBadFile)
	}
	s := &IVFSource{Width: int(hdr.Width), Height: int(hdr.Height)}
	s.opts, s.closed = applyFileOptions(opts), make(chan struct{})
	var pts []uint64
	off := ivfHeaderLen
	for off < len(data) {
		if len(data)-off < ivfFrameHeaderLen {
			return nil, fmt.Errorf("ivf frame %d header truncated: %w", len(pts), ErrBadFile)
		}
		// Check the size before pion allocates it.
		size := binary.LittleEndian.Uint32(data[off:])
		if int64(size) > int64(len(data)-off-ivfFrameHeaderLen) {
			return nil, fmt.Errorf("ivf frame %d truncated: %w", len(pts), ErrBadFile)
		}
		payload, _, err := r.ParseNextFrame()
		if err != nil {
			return nil, fmt.Errorf("ivf frame %d: %w: %w", len(pts), ErrBadFile, err)
		}
		p := binary.LittleEndian.Uint64(data[off+4:])
		if len(pts) > 0 && p <= pts[len(pts)-1] {
			return nil, fmt.Errorf("ivf frame %d: timestamps not increasing: %w", len(pts), ErrBadFile)
		}
		key, err := vp8Keyframe(payload)
		if err != nil {
			return nil, fmt.Errorf("ivf frame %d: %w", len(pts), err)
		}
		if len(pts) == 0 && !key {
			return nil, fmt.Errorf("ivf does not start with a key frame: %w", ErrBadFile)
		}
		pts = append(pts, p)
		s.frames = append(s.frames, EncodedFrame{Data: payload, Keyframe: key})
		off += ivfFrameHeaderLen + int(size)
	}
	if len(s.frames) == 0 {
		return nil, fmt.Errorf("ivf has no frames: %w", ErrBadFile)
	}
	// Durations from pts deltas; the last frame repeats the previous one
	// (or one time-base unit for a single frame).
	for i := range s.frames {
		d := time.Duration(unit)
		switch {
		case i+1 < len(pts):
			d = time.Duration(float64(pts[i+1]-pts[i]) * unit)
		case i > 0:
			d = s.frames[i-1].Duration
		}
		if d <= 0 || d > 10*time.Second {
			return nil, fmt.Errorf("ivf frame %d duration %v: %w", i, d, ErrBadFile)
		}
		s.frames[i].Duration = d
	}
	return s, nil
}

// vp8Keyframe reads the key-frame flag of a VP8 frame and checks a key
// frame's start code (RFC 6386 9.1).
func vp8Keyframe(b []byte) (bool, error) {
	if len(b) < 3 {
		return false, fmt.Errorf("vp8 frame of %d bytes: %w", len(b), ErrBadFile)
	}
	if b[0]&1 != 0 {
		return false, nil
	}
	if len(b) < 10 || b[3] != 0x9d || b[4] != 0x01 || b[5] != 0x2a {
		return false, fmt.Errorf("vp8 key frame without start code: %w", ErrBadFile)
	}
	return true, nil
}

// Next returns the next VP8 frame; io.EOF at the end without Loop,
// ErrClosed after Close.
func (s *IVFSource) Next() (EncodedFrame, error) { return s.next() }

// Frames is how many frames one pass holds.
func (s *IVFSource) Frames() int { return len(s.frames) }

// Close stops the source.
func (s *IVFSource) Close() error { return s.close() }

// OggSource streams the Opus packets of an Ogg Opus file without
// re-encoding.
type OggSource struct {
	fileSource
	Channels int
	// PreSkip is the number of 48 kHz samples the decoder should drop at
	// the start (RFC 7845).
	PreSkip int
}

// OpenOgg reads an Ogg Opus file.
func OpenOgg(path string, opts ...FileOption) (*OggSource, error) {
	data, err := readMediaFile(path, maxMediaFile)
	if err != nil {
		return nil, err
	}
	return NewOggSource(data, opts...)
}

// NewOggSource parses an Ogg Opus stream held in memory. Pages are read and
// CRC-checked by pion's oggreader; packets are split with the page's lacing
// values (several packets per page, and packets spanning pages, both occur
// in files from opusenc).
func NewOggSource(data []byte, opts ...FileOption) (*OggSource, error) {
	if len(data) < 4 || string(data[:4]) != "OggS" {
		return nil, fmt.Errorf("ogg: no OggS capture pattern: %w", ErrBadFile)
	}
	r, hdr, err := oggreader.NewWith(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("ogg opus header: %w: %w", ErrBadFile, err)
	}
	if hdr.Channels < 1 || hdr.Channels > 2 {
		return nil, fmt.Errorf("ogg opus with %d channels: %w", hdr.Channels, ErrUnsupportedFormat)
	}
	s := &OggSource{Channels: int(hdr.Channels), PreSkip: int(hdr.PreSkip)}
	s.opts, s.closed = applyFileOptions(opts), make(chan struct{})
	// Skip the ID header page pion already consumed.
	off, err := oggPageLen(data, 0)
	if err != nil {
		return nil, err
	}
	var pending []byte // packet continued from the previous page
	serial := binary.LittleEndian.Uint32(data[14:18])
	sawTags := false
	for off < len(data) {
		n, err := oggPageLen(data, off)
		if err != nil {
			return nil, err
		}
		payload, ph, err := r.ParseNextPage()
		if err != nil {
			return nil, fmt.Errorf("ogg page at %d: %w: %w", off, ErrBadFile, err)
		}
		if ph.Serial != serial {
			return nil, fmt.Errorf("ogg: multiplexed streams: %w", ErrUnsupportedFormat)
		}
		lacing := data[off+27 : off+27+int(data[off+26])]
		pos := 0
		for _, l := range lacing {
			pending = append(pending, payload[pos:pos+int(l)]...)
			pos += int(l)
			if l == 255 {
				continue // packet goes on in the next segment
			}
			pkt := pending
			pending = nil
			if !sawTags {
				if !bytes.HasPrefix(pkt, []byte("OpusTags")) {
					return nil, fmt.Errorf("ogg: missing OpusTags: %w", ErrBadFile)
				}
				sawTags = true
				continue
			}
			d, err := OpusPacketDuration(pkt)
			if err != nil {
				return nil, fmt.Errorf("ogg packet %d: %w", len(s.frames), err)
			}
			s.frames = append(s.frames, EncodedFrame{Data: pkt, Duration: d})
		}
		off += n
	}
	if len(s.frames) == 0 {
		return nil, fmt.Errorf("ogg has no audio packets: %w", ErrBadFile)
	}
	return s, nil
}

// oggPageLen validates the framing of the page at off and returns its total
// length, so lacing values can be read straight from the bytes.
func oggPageLen(data []byte, off int) (int, error) {
	if len(data)-off < 27 || string(data[off:off+4]) != "OggS" {
		return 0, fmt.Errorf("ogg page at %d: bad header: %w", off, ErrBadFile)
	}
	nseg := int(data[off+26])
	if len(data)-off < 27+nseg {
		return 0, fmt.Errorf("ogg page at %d: truncated: %w", off, ErrBadFile)
	}
	n := 27 + nseg
	for _, l := range data[off+27 : off+27+nseg] {
		n += int(l)
	}
	if len(data)-off < n {
		return 0, fmt.Errorf("ogg page at %d: truncated: %w", off, ErrBadFile)
	}
	return n, nil
}

// OpusPacketDuration is the audio length of an Opus packet from its TOC byte
// and frame count (RFC 6716 3.1).
func OpusPacketDuration(pkt []byte) (time.Duration, error) {
	if len(pkt) < 1 {
		return 0, fmt.Errorf("empty opus packet: %w", ErrBadFile)
	}
	toc := pkt[0]
	cfg := toc >> 3
	var frame time.Duration
	switch {
	case cfg < 12: // SILK: 10, 20, 40, 60 ms
		frame = []time.Duration{10, 20, 40, 60}[cfg%4] * time.Millisecond
	case cfg < 16: // Hybrid: 10, 20 ms
		frame = []time.Duration{10, 20}[cfg%2] * time.Millisecond
	default: // CELT: 2.5, 5, 10, 20 ms
		frame = []time.Duration{2500, 5000, 10000, 20000}[cfg%4] * time.Microsecond
	}
	var count int
	switch toc & 3 {
	case 0:
		count = 1
	case 1, 2:
		count = 2
	case 3:
		if len(pkt) < 2 {
			return 0, fmt.Errorf("opus code-3 packet without count: %w", ErrBadFile)
		}
		count = int(pkt[1] & 0x3f)
	}
	d := time.Duration(count) * frame
	if count == 0 || d > 120*time.Millisecond {
		return 0, fmt.Errorf("opus packet of %d frames (%v): %w", count, d, ErrBadFile)
	}
	return d, nil
}

// Next returns the next Opus packet; io.EOF at the end without Loop,
// ErrClosed after Close.
func (s *OggSource) Next() (EncodedFrame, error) { return s.next() }

// Packets is how many packets one pass holds.
func (s *OggSource) Packets() int { return len(s.frames) }

// Close stops the source.
func (s *OggSource) Close() error { return s.close() }
