package capture

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
)

// WAVInfo describes a parsed WAV file.
type WAVInfo struct {
	SampleRate int
	Channels   int
	Frames     int // samples per channel
}

// maxWAVSize bounds what we read into memory; sample clips are small.
const maxWAVSize = 256 << 20

// pcmSubFormat is the KSDATAFORMAT_SUBTYPE_PCM GUID of WAVE_FORMAT_EXTENSIBLE.
var pcmSubFormat = []byte{0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71}

// ParseWAV decodes a RIFF/WAVE file holding 16-bit integer PCM and mixes it
// down to mono. Other sample formats (8/24/32-bit, float, compressed) give
// ErrUnsupportedFormat; truncated or malformed files give ErrBadFile.
func ParseWAV(data []byte) ([]int16, WAVInfo, error) {
	if len(data) < 12 || string(data[0:4]) != "RIFF" || string(data[8:12]) != "WAVE" {
		return nil, WAVInfo{}, fmt.Errorf("wav: not a RIFF/WAVE file: %w", ErrBadFile)
	}
	var info WAVInfo
	var haveFmt bool
	rest := data[12:]
	for len(rest) >= 8 {
		id := string(rest[0:4])
		size := int64(binary.LittleEndian.Uint32(rest[4:8]))
		body := rest[8:]
		if size > int64(len(body)) {
			if id != "data" {
				return nil, WAVInfo{}, fmt.Errorf("wav: chunk %q truncated: %w", id, ErrBadFile)
			}
			// Streaming writers leave the data size unset; take what is there.
			size = int64(len(body))
		}
		chunk := body[:size]
		switch id {
		case "fmt ":
			if len(chunk) < 16 {
				return nil, WAVInfo{}, fmt.Errorf("wav: short fmt chunk: %w", ErrBadFile)
			}
			format := binary.LittleEndian.Uint16(chunk[0:2])
			info.Channels = int(binary.LittleEndian.Uint16(chunk[2:4]))
			info.SampleRate = int(binary.LittleEndian.Uint32(chunk[4:8]))
			bits := binary.LittleEndian.Uint16(chunk[14:16])
			if format == 0xFFFE {
				if len(chunk) < 40 {
					return nil, WAVInfo{}, fmt.Errorf("wav: short extensible fmt chunk: %w", ErrBadFile)
				}
				if !bytes.Equal(chunk[24:40], pcmSubFormat) {
					return nil, WAVInfo{}, fmt.Errorf("wav: extensible sub-format is not PCM: %w", ErrUnsupportedFormat)
				}
				format = 1
			}
			if format != 1 {
				return nil, WAVInfo{}, fmt.Errorf("wav: format tag %#x, want PCM: %w", format, ErrUnsupportedFormat)
			}
			if bits != 16 {
				return nil, WAVInfo{}, fmt.Errorf("wav: %d-bit samples, want 16: %w", bits, ErrUnsupportedFormat)
			}
			if info.Channels < 1 || info.Channels > 16 || info.SampleRate < 1000 || info.SampleRate > 384000 {
				return nil, WAVInfo{}, fmt.Errorf("wav: %d channels at %d Hz: %w", info.Channels, info.SampleRate, ErrBadFile)
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return nil, WAVInfo{}, fmt.Errorf("wav: data before fmt: %w", ErrBadFile)
			}
			ch := info.Channels
			info.Frames = len(chunk) / (2 * ch)
			pcm := make([]int16, info.Frames)
			for i := range pcm {
				var sum int
				for c := range ch {
					sum += int(int16(binary.LittleEndian.Uint16(chunk[2*(i*ch+c):])))
				}
				pcm[i] = int16(sum / ch)
			}
			return pcm, info, nil
		}
		// Chunks are padded to even length.
		adv := 8 + size + size&1
		if adv > int64(len(rest)) {
			break
		}
		rest = rest[adv:]
	}
	if !haveFmt {
		return nil, WAVInfo{}, fmt.Errorf("wav: no fmt chunk: %w", ErrBadFile)
	}
	return nil, WAVInfo{}, fmt.Errorf("wav: no data chunk: %w", ErrBadFile)
}

// wavGen plays PCM, looping or ending with io.EOF.
type wavGen struct {
	pcm  []int16
	pos  int
	loop bool
}

func (g *wavGen) fill(buf []float64) error {
	if !g.loop && g.pos >= len(g.pcm) {
		return io.EOF
	}
	for i := range buf {
		if g.pos >= len(g.pcm) {
			if !g.loop {
				// Pad the last chunk with silence; EOF comes next call.
				clear(buf[i:])
				return nil
			}
			g.pos = 0
		}
		buf[i] = float64(g.pcm[g.pos]) / 32767
		g.pos++
	}
	return nil
}

// NewWAVSource plays a PCM16 WAV (mixed to mono) at its own sample rate,
// with markers overlaid like the synthetic sources. cfg.SampleRate must be 0
// or equal the file's rate: we do not resample. Without loop, Next returns
// io.EOF after the last chunk.
func NewWAVSource(data []byte, loop bool, cfg AudioConfig) (*AudioSource, error) {
	pcm, info, err := ParseWAV(data)
	if err != nil {
		return nil, err
	}
	if len(pcm) == 0 {
		return nil, fmt.Errorf("wav: no samples: %w", ErrBadFile)
	}
	if cfg.SampleRate != 0 && cfg.SampleRate != info.SampleRate {
		return nil, fmt.Errorf("wav at %d Hz, want %d Hz (no resampling): %w", info.SampleRate, cfg.SampleRate, ErrUnsupportedFormat)
	}
	cfg.SampleRate = info.SampleRate
	return newAudioSource(cfg, &wavGen{pcm: pcm, loop: loop})
}

// OpenWAV reads a WAV file and returns NewWAVSource for it.
func OpenWAV(path string, loop bool, cfg AudioConfig) (*AudioSource, error) {
	data, err := readMediaFile(path, maxWAVSize)
	if err != nil {
		return nil, err
	}
	return NewWAVSource(data, loop, cfg)
}
