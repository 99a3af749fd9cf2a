package capture

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4/pkg/media/ivfwriter"
	"github.com/pion/webrtc/v4/pkg/media/oggwriter"
)

// The writers go through RTP because that is what pion's ivfwriter and
// oggwriter take; it also proves our files round-trip through the same
// packetisation a call uses.

const rtpMTU = 1200

// WriteIVF writes VP8 frames as an IVF file with a 90 kHz time base, so
// frame durations survive exactly.
func WriteIVF(w io.Writer, width, height int, frames []EncodedFrame) error {
	if width <= 0 || height <= 0 || width > 65535 || height > 65535 {
		return fmt.Errorf("ivf size %dx%d: %w", width, height, ErrBadConfig)
	}
	iw, err := ivfwriter.NewWith(w,
		ivfwriter.WithCodec("video/VP8"),
		ivfwriter.WithWidthAndHeight(uint16(width), uint16(height)),
		ivfwriter.WithFrameRate(1, 90000),
		ivfwriter.WithDirectPTS())
	if err != nil {
		return fmt.Errorf("ivf writer: %w", err)
	}
	var pay codecs.VP8Payloader
	var seq uint16
	var ts uint32
	for i, f := range frames {
		payloads := pay.Payload(rtpMTU, f.Data)
		for j, p := range payloads {
			pkt := &rtp.Packet{
				Header:  rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts, Marker: j == len(payloads)-1},
				Payload: p,
			}
			seq++
			if err := iw.WriteRTP(pkt); err != nil {
				return fmt.Errorf("ivf frame %d: %w", i, err)
			}
		}
		ts += uint32((f.Duration*90000 + time.Second/2) / time.Second)
	}
	return iw.Close()
}

// oggSerial is the stream serial of files we write; fixed (instead of
// random) so generated files are reproducible.
const oggSerial = 0x5043_4c4c

// WriteOgg writes Opus packets (48 kHz clock) as an Ogg Opus file.
func WriteOgg(w io.Writer, channels int, packets []EncodedFrame) error {
	if channels < 1 || channels > 2 {
		return fmt.Errorf("ogg channels %d: %w", channels, ErrBadConfig)
	}
	ow, err := oggwriter.NewWriter(w, oggwriter.WithSampleRate(48000), oggwriter.WithChannelCount(uint16(channels)))
	if err != nil {
		return fmt.Errorf("ogg writer: %w", err)
	}
	const ssrc = 1
	track, err := ow.NewTrack(ssrc, oggwriter.WithSerial(oggSerial))
	if err != nil {
		return fmt.Errorf("ogg track: %w", err)
	}
	var ts uint32
	for i, p := range packets {
		pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SSRC: ssrc, SequenceNumber: uint16(i), Timestamp: ts}, Payload: p.Data}
		if err := track.WriteRTP(pkt); err != nil {
			return fmt.Errorf("ogg packet %d: %w", i, err)
		}
		ts += uint32((p.Duration*48000 + time.Second/2) / time.Second)
	}
	return ow.Close()
}

// IVFRecorder writes VP8 frames to an IVF file as a call receives them, with
// a 1/90000 time base so RTP timestamps map onto pts exactly. Frames must
// come with increasing pts; Close patches the header and removes a file that
// never got a frame (a recording of nothing is no file, not a broken one).
type IVFRecorder struct {
	f       *os.File
	w       *bufio.Writer
	path    string
	frames  int
	lastPTS int64
	width   uint16
	height  uint16
	err     error
}

// ivfTimeBase is the IVF clock: RTP's 90 kHz video clock.
const ivfTimeBase = 90000

// CreateIVF creates (or truncates) path and writes a provisional header.
func CreateIVF(path string) (*IVFRecorder, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("ivf recorder: %w", err)
	}
	r := &IVFRecorder{f: f, w: bufio.NewWriter(f), path: path, lastPTS: -1}
	if _, err := r.w.Write(r.header()); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("ivf recorder: %w", err)
	}
	return r, nil
}

// header is the 32-byte IVF file header for what was written so far.
// Bytes 24-27 hold the length in time-base units: that is how ffmpeg writes
// and reads the field (libvpx calls it a frame count, which under a 1/90000
// time base would make ffprobe report a 300-frame recording as 3 ms long).
func (r *IVFRecorder) header() []byte {
	h := make([]byte, 32)
	copy(h[0:], "DKIF")
	binary.LittleEndian.PutUint16(h[4:], 0)
	binary.LittleEndian.PutUint16(h[6:], 32)
	copy(h[8:], "VP80")
	binary.LittleEndian.PutUint16(h[12:], r.width)
	binary.LittleEndian.PutUint16(h[14:], r.height)
	binary.LittleEndian.PutUint32(h[16:], ivfTimeBase)
	binary.LittleEndian.PutUint32(h[20:], 1)
	binary.LittleEndian.PutUint32(h[24:], uint32(min(r.Length(), math.MaxUint32)))
	return h
}

// SetSize records the picture size (from a keyframe) for the header.
func (r *IVFRecorder) SetSize(width, height int) {
	if width > 0 && height > 0 && width <= math.MaxUint16 && height <= math.MaxUint16 {
		r.width, r.height = uint16(width), uint16(height)
	}
}

// WriteFrame appends one frame at pts (90 kHz units). A pts not after the
// previous one is refused: IVF players need increasing timestamps.
func (r *IVFRecorder) WriteFrame(data []byte, pts int64) error {
	if r.err != nil {
		return r.err
	}
	if pts <= r.lastPTS || pts < 0 {
		return fmt.Errorf("ivf pts %d after %d: %w", pts, r.lastPTS, ErrBadConfig)
	}
	var fh [12]byte
	binary.LittleEndian.PutUint32(fh[0:], uint32(len(data)))
	binary.LittleEndian.PutUint64(fh[4:], uint64(pts))
	if _, err := r.w.Write(fh[:]); err != nil {
		r.err = fmt.Errorf("ivf recorder: %w", err)
		return r.err
	}
	if _, err := r.w.Write(data); err != nil {
		r.err = fmt.Errorf("ivf recorder: %w", err)
		return r.err
	}
	r.frames++
	r.lastPTS = pts
	return nil
}

// Frames is the number of frames written.
func (r *IVFRecorder) Frames() int { return r.frames }

// Length is the recording's duration in 90 kHz units: the last pts plus one
// mean frame interval (as ffmpeg computes it), 0 when empty.
func (r *IVFRecorder) Length() int64 {
	switch r.frames {
	case 0:
		return 0
	case 1:
		return r.lastPTS + ivfTimeBase/30
	}
	return r.lastPTS + r.lastPTS/int64(r.frames-1)
}

// Close finishes the file: the header gets the true size and length, or the
// file is removed when no frame was written.
func (r *IVFRecorder) Close() error {
	err := r.w.Flush()
	if err == nil && r.frames > 0 {
		_, err = r.f.WriteAt(r.header(), 0)
	}
	if cerr := r.f.Close(); err == nil {
		err = cerr
	}
	if r.frames == 0 {
		if rerr := os.Remove(r.path); err == nil {
			err = rerr
		}
	}
	if err != nil {
		return fmt.Errorf("ivf recorder: %w", err)
	}
	return r.err
}

// OggRecorder writes Opus packets to an Ogg Opus file, one packet per page
// so each packet carries its own granule position. Gaps in the timeline are
// the caller's to fill (OpusSilence) or to leave as granule jumps.
type OggRecorder struct {
	f       *os.File
	w       *bufio.Writer
	path    string
	pageSeq uint32
	packets int
	granule int64
	pending []byte // last data page, written on Close with end-of-stream set
	err     error
}

// OpusSilence is a 20 ms Opus packet (CELT, fullband, mono) that decodes to
// silence: the filler for time no packet covers.
var OpusSilence = []byte{0xf8, 0xff, 0xfe}

// CreateOgg creates (or truncates) path and writes the Opus headers for a
// 48 kHz stream of the given channel count.
func CreateOgg(path string, channels int) (*OggRecorder, error) {
	if channels < 1 || channels > 2 {
		return nil, fmt.Errorf("ogg channels %d: %w", channels, ErrBadConfig)
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("ogg recorder: %w", err)
	}
	r := &OggRecorder{f: f, w: bufio.NewWriter(f), path: path}
	head := make([]byte, 19)
	copy(head, "OpusHead")
	head[8] = 1
	head[9] = byte(channels)
	// Pre-skip 0: the stream starts mid-call, there is no encoder start-up to hide.
	binary.LittleEndian.PutUint32(head[12:], 48000)
	const vendor = "peercall"
	tags := make([]byte, 0, 16+len(vendor))
	tags = append(tags, "OpusTags"...)
	tags = binary.LittleEndian.AppendUint32(tags, uint32(len(vendor)))
	tags = append(tags, vendor...)
	tags = binary.LittleEndian.AppendUint32(tags, 0)
	_, err = r.w.Write(r.page(head, 0, 0x02))
	if err == nil {
		_, err = r.w.Write(r.page(tags, 0, 0))
	}
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("ogg recorder: %w", err)
	}
	return r, nil
}

// WritePacket appends one Opus packet whose last sample ends at granule
// (48 kHz samples since the start of the recording). Granules must grow.
func (r *OggRecorder) WritePacket(data []byte, granule int64) error {
	if r.err != nil {
		return r.err
	}
	if granule <= r.granule || len(data) == 0 || len(data) > 255*255-1 {
		return fmt.Errorf("ogg packet at granule %d after %d (%d bytes): %w", granule, r.granule, len(data), ErrBadConfig)
	}
	if r.pending != nil {
		if _, err := r.w.Write(r.pending); err != nil {
			r.err = fmt.Errorf("ogg recorder: %w", err)
			return r.err
		}
	}
	r.pending = r.page(data, granule, 0)
	r.granule = granule
	r.packets++
	return nil
}

// Packets is the number of packets written; Granule the end of the last.
func (r *OggRecorder) Packets() int   { return r.packets }
func (r *OggRecorder) Granule() int64 { return r.granule }

// page builds one Ogg page holding one whole packet.
func (r *OggRecorder) page(data []byte, granule int64, flags byte) []byte {
	nseg := len(data)/255 + 1
	p := make([]byte, 27+nseg, 27+nseg+len(data))
	copy(p, "OggS")
	p[5] = flags
	binary.LittleEndian.PutUint64(p[6:], uint64(granule))
	binary.LittleEndian.PutUint32(p[14:], oggSerial)
	binary.LittleEndian.PutUint32(p[18:], r.pageSeq)
	r.pageSeq++
	p[26] = byte(nseg)
	for i := range nseg - 1 {
		p[27+i] = 255
	}
	p[27+nseg-1] = byte(len(data) % 255)
	p = append(p, data...)
	binary.LittleEndian.PutUint32(p[22:], oggCRC(p))
	return p
}

// Close writes the last page with the end-of-stream flag, or removes the
// file when no packet was written.
func (r *OggRecorder) Close() error {
	var err error
	if r.pending != nil {
		r.pending[5] |= 0x04
		binary.LittleEndian.PutUint32(r.pending[22:], 0)
		binary.LittleEndian.PutUint32(r.pending[22:], oggCRC(r.pending))
		_, err = r.w.Write(r.pending)
		r.pending = nil
	}
	if ferr := r.w.Flush(); err == nil {
		err = ferr
	}
	if cerr := r.f.Close(); err == nil {
		err = cerr
	}
	if r.packets == 0 {
		if rerr := os.Remove(r.path); err == nil {
			err = rerr
		}
	}
	if err != nil {
		return fmt.Errorf("ogg recorder: %w", err)
	}
	return r.err
}

// oggCRCTable is Ogg's CRC-32: polynomial 0x04c11db7, MSB first, no
// reflection, zero initial value and no final xor (not hash/crc32's IEEE).
var oggCRCTable = func() (t [256]uint32) {
	for i := range t {
		c := uint32(i) << 24
		for range 8 {
			if c&0x8000_0000 != 0 {
				c = c<<1 ^ 0x04c11db7
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

func oggCRC(p []byte) uint32 {
	var c uint32
	for _, b := range p {
		c = c<<8 ^ oggCRCTable[byte(c>>24)^b]
	}
	return c
}

// OpusPacketSamples returns the 48 kHz sample count of an Opus packet from
// its TOC byte (RFC 6716 section 3.1), or 0 when the packet is malformed.
func OpusPacketSamples(p []byte) int {
	if len(p) == 0 {
		return 0
	}
	toc := p[0]
	cfg := int(toc >> 3)
	var frame int // in units of 2.5 ms = 120 samples
	switch {
	case cfg < 12: // SILK: 10, 20, 40, 60 ms
		frame = []int{4, 8, 16, 24}[cfg%4]
	case cfg < 16: // hybrid: 10, 20 ms
		frame = []int{4, 8}[cfg%2]
	default: // CELT: 2.5, 5, 10, 20 ms
		frame = []int{1, 2, 4, 8}[cfg%4]
	}
	n := 1
	switch toc & 3 {
	case 1, 2:
		n = 2
	case 3:
		if len(p) < 2 {
			return 0
		}
		n = int(p[1] & 0x3f)
	}
	return n * frame * 120
}
