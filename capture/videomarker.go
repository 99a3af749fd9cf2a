package capture

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"time"
)

// VideoMarker is the machine-readable stamp the synthetic video source puts
// in every frame: a sequence number and the wall-clock capture time (ms).
type VideoMarker struct {
	Seq         uint32
	CaptureTime time.Time
}

// Marker layout: a 16x6 grid of square luma cells, one bit each, near the
// top-left corner. Cells are 16 px when the frame allows it (one VP8
// macroblock, so a cell never shares a transform with the background) and 8
// px on small frames. Bits: 8 sync, 32 seq, 40 time (ms, low bits), 16 check.
// The sync byte holds both colours so the reader calibrates its threshold
// from the frame itself instead of trusting absolute levels after encoding.
const (
	markerCols     = 16
	markerRows     = 6
	markerBits     = markerCols * markerRows
	markerSync     = 0xB2
	markerTimeBits = 40
	lumaBlack      = 16
	lumaWhite      = 235
	// minContrast rejects frames where "white" and "black" sync cells are not
	// clearly apart (no marker, or a frame wrecked by the encoder).
	minContrast = 64
)

const markerTimeMask = 1<<markerTimeBits - 1

// markerGeometry returns cell size and origin for a frame size, or false
// when the frame is too small. Reader and writer derive it from size alone.
func markerGeometry(w, h int) (cell int, ok bool) {
	for _, c := range [...]int{16, 8} {
		if w >= (markerCols+2)*c && h >= (markerRows+2)*c {
			return c, true
		}
	}
	return 0, false
}

// MarkerRect is the area of a w×h frame covered by the video marker (empty
// when the frame is too small). UIs may crop or blur it.
func MarkerRect(w, h int) image.Rectangle {
	c, ok := markerGeometry(w, h)
	if !ok {
		return image.Rectangle{}
	}
	return image.Rect(c, c, c+markerCols*c, c+markerRows*c)
}

// markerPayload packs sync, seq, time and checksum into 12 bytes (96 bits).
func markerPayload(seq uint32, ms uint64) [12]byte {
	var b [12]byte
	b[0] = markerSync
	binary.BigEndian.PutUint32(b[1:5], seq)
	ms &= markerTimeMask
	b[5] = byte(ms >> 32)
	binary.BigEndian.PutUint32(b[6:10], uint32(ms))
	binary.BigEndian.PutUint16(b[10:12], uint16(crc32.ChecksumIEEE(b[:10])))
	return b
}

// WriteVideoMarker stamps seq and t into img (I420 or any YCbCr layout). The
// chroma under the marker is set neutral so colour bleeding cannot bias luma.
func WriteVideoMarker(img *image.YCbCr, seq uint32, t time.Time) error {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	cell, ok := markerGeometry(w, h)
	if !ok {
		return fmt.Errorf("write marker on %dx%d: %w", w, h, ErrFrameTooSmall)
	}
	p := markerPayload(seq, uint64(t.UnixMilli()))
	x0, y0 := img.Rect.Min.X+cell, img.Rect.Min.Y+cell
	for i := range markerBits {
		v := byte(lumaBlack)
		if p[i/8]&(0x80>>(i%8)) != 0 {
			v = lumaWhite
		}
		cx := x0 + (i%markerCols)*cell
		cy := y0 + (i/markerCols)*cell
		for y := cy; y < cy+cell; y++ {
			off := img.YOffset(cx, y)
			row := img.Y[off : off+cell]
			for j := range row {
				row[j] = v
			}
		}
	}
	// Neutral chroma over the whole marker rectangle; the rectangle is
	// 8-aligned, so it maps onto whole chroma samples for every ratio.
	hs, vs := chromaStep(img.SubsampleRatio)
	w8 := markerCols * cell / hs
	for y := y0; y < y0+markerRows*cell; y += vs {
		off := img.COffset(x0, y)
		clear8(img.Cb[off:off+w8], 128)
		clear8(img.Cr[off:off+w8], 128)
	}
	return nil
}

// chromaStep is the luma distance between chroma samples.
func chromaStep(r image.YCbCrSubsampleRatio) (h, v int) {
	switch r {
	case image.YCbCrSubsampleRatio422:
		return 2, 1
	case image.YCbCrSubsampleRatio420:
		return 2, 2
	case image.YCbCrSubsampleRatio440:
		return 1, 2
	case image.YCbCrSubsampleRatio411:
		return 4, 1
	case image.YCbCrSubsampleRatio410:
		return 4, 2
	}
	return 1, 1
}

func clear8(b []byte, v byte) {
	for i := range b {
		b[i] = v
	}
}

// cellMean averages the centre half of a cell; edges are where compression
// rings, the centre survives.
func cellMean(img *image.YCbCr, cx, cy, cell int) int {
	q := cell / 4
	sum, n := 0, 0
	for y := cy + q; y < cy+cell-q; y++ {
		off := img.YOffset(cx+q, y)
		for _, v := range img.Y[off : off+cell-2*q] {
			sum += int(v)
			n++
		}
	}
	return sum / n
}

// ReadVideoMarker recovers the marker written by WriteVideoMarker. The 40-bit
// time is unwrapped to the instant nearest to now. Misreads are reported as
// ErrNoMarker (sync not found) or ErrMarkerChecksum, never as wrong values
// (barring a 1-in-65536 checksum collision).
func ReadVideoMarker(img *image.YCbCr) (VideoMarker, error) {
	return readVideoMarkerAt(img, time.Now())
}

func readVideoMarkerAt(img *image.YCbCr, now time.Time) (VideoMarker, error) {
	if img == nil {
		return VideoMarker{}, fmt.Errorf("read marker: nil frame: %w", ErrNoMarker)
	}
	w, h := img.Rect.Dx(), img.Rect.Dy()
	cell, ok := markerGeometry(w, h)
	if !ok {
		return VideoMarker{}, fmt.Errorf("read marker on %dx%d: %w", w, h, ErrFrameTooSmall)
	}
	x0, y0 := img.Rect.Min.X+cell, img.Rect.Min.Y+cell
	var means [markerBits]int
	for i := range means {
		means[i] = cellMean(img, x0+(i%markerCols)*cell, y0+(i/markerCols)*cell, cell)
	}
	// Calibrate from the sync byte: mean of its ones vs its zeros.
	var sumHi, nHi, sumLo, nLo int
	for i := range 8 {
		if markerSync&(0x80>>i) != 0 {
			sumHi += means[i]
			nHi++
		} else {
			sumLo += means[i]
			nLo++
		}
	}
	hi, lo := sumHi/nHi, sumLo/nLo
	if hi-lo < minContrast {
		return VideoMarker{}, fmt.Errorf("read marker: contrast %d: %w", hi-lo, ErrNoMarker)
	}
	thr := (hi + lo) / 2
	var p [12]byte
	for i, m := range means {
		if m > thr {
			p[i/8] |= 0x80 >> (i % 8)
		}
	}
	if p[0] != markerSync {
		return VideoMarker{}, fmt.Errorf("read marker: sync %#x: %w", p[0], ErrNoMarker)
	}
	if binary.BigEndian.Uint16(p[10:12]) != uint16(crc32.ChecksumIEEE(p[:10])) {
		return VideoMarker{}, fmt.Errorf("read marker: %w", ErrMarkerChecksum)
	}
	seq := binary.BigEndian.Uint32(p[1:5])
	low := uint64(p[5])<<32 | uint64(binary.BigEndian.Uint32(p[6:10]))
	ms := unwrapMillis(low, markerTimeBits, now.UnixMilli())
	return VideoMarker{Seq: seq, CaptureTime: time.UnixMilli(ms)}, nil
}

// unwrapMillis returns the full Unix ms whose low `bits` bits equal low and
// which is nearest to ref.
func unwrapMillis(low uint64, bits uint, ref int64) int64 {
	period := int64(1) << bits
	mask := period - 1
	base := ref &^ mask
	best := base + int64(low)
	for _, c := range []int64{best - period, best + period} {
		if absInt64(c-ref) < absInt64(best-ref) {
			best = c
		}
	}
	return best
}

func absInt64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
