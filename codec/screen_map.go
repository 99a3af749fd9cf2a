//go:build cgo

package codec

import (
	"bytes"
	"image"
	"time"
)

// stillRefine is how many frames after a change a screen's macroblock is
// coded again to sharpen it; after that libvpx sends it as unchanged until
// it changes again. A still screen repeats its picture about once a
// second (a keepalive) and libvpx gives each repeat a second's worth of
// bits: on 1920x1080 text two repeats take the page from the keyframe's
// 28 dB to 41-47 dB (1-2.5 Mbit/s; TestVP8ScreenStill); unbounded, later
// ones kept spending 10-70 KB each, 10 s on, for a few dB more.
const stillRefine = 2

// stillRefineFor is the least time a changed macroblock keeps being coded,
// however many frames that is: a source that repeats an unchanged picture
// often (the desktop portal's PipeWire stream at 15 fps) gives each
// repeat a fifteenth of a second's bits, and two of them left a 1280x720
// page at 27 dB.
const stillRefineFor = 2 * time.Second

// screenMap chooses the macroblocks libvpx codes in a screen's next frame
// (VP8E_SET_ACTIVEMAP): those that changed since the last picture, and
// for stillRefine coded frames and stillRefineFor after, the same again. The rest the
// decoder keeps as they are, so a still screen costs a few hundred bytes
// a frame and a change costs what changed, not the whole page again.
type screenMap struct {
	last *image.YCbCr // the last picture
	// owed counts, per macroblock (row by row), the coded frames it is
	// still to be in: 1+stillRefine when it changes.
	owed []uint8
	// until is, per macroblock, the frame time up to which it is coded
	// (stillRefineFor after its last change).
	until  []time.Duration
	active []byte // the next frame's map: 1 = code the macroblock
	cols   int
}

// next compares img (4:2:0), the frame at pts, with the last picture,
// keeps a copy of it and fills m.active. It returns how many macroblocks
// are active.
func (m *screenMap) next(img *image.YCbCr, pts time.Duration) int {
	const fresh = 1 + stillRefine
	r := img.Rect
	w, h := r.Dx(), r.Dy()
	if m.last == nil || m.last.Rect != r {
		m.cols = (w + 15) / 16
		n := m.cols * ((h + 15) / 16)
		m.last = image.NewYCbCr(r, image.YCbCrSubsampleRatio420)
		m.owed, m.active, m.until = make([]uint8, n), make([]byte, n), make([]time.Duration, n)
		for i := range m.owed {
			m.owed[i], m.until[i] = fresh, pts+stillRefineFor
		}
	}
	// plane compares a plane's rows, marks the macroblocks (mb pixels
	// wide and high in it) where they differ and copies them.
	plane := func(dst, src []byte, ds, ss, pw, ph, mb int) {
		for y := range ph {
			d, s := dst[y*ds:][:pw], src[y*ss:][:pw]
			if bytes.Equal(d, s) {
				continue
			}
			owed, until := m.owed[y/mb*m.cols:][:m.cols], m.until[y/mb*m.cols:][:m.cols]
			for c := range owed {
				if x := c * mb; owed[c] != fresh && !bytes.Equal(d[x:min(x+mb, pw)], s[x:min(x+mb, pw)]) {
					owed[c], until[c] = fresh, pts+stillRefineFor
				}
			}
			copy(d, s)
		}
	}
	l := m.last
	plane(l.Y[l.YOffset(r.Min.X, r.Min.Y):], img.Y[img.YOffset(r.Min.X, r.Min.Y):], l.YStride, img.YStride, w, h, 16)
	lc, ic := l.COffset(r.Min.X, r.Min.Y), img.COffset(r.Min.X, r.Min.Y)
	plane(l.Cb[lc:], img.Cb[ic:], l.CStride, img.CStride, (w+1)/2, (h+1)/2, 8)
	plane(l.Cr[lc:], img.Cr[ic:], l.CStride, img.CStride, (w+1)/2, (h+1)/2, 8)
	n := 0
	for i, o := range m.owed {
		m.active[i] = 0
		if o > 0 || pts < m.until[i] {
			m.active[i] = 1
			n++
		}
	}
	return n
}

// coded records that the frame next prepared (at pts) went out; key: as
// a keyframe, which codes every macroblock and starts the refinement of all.
func (m *screenMap) coded(key bool, pts time.Duration) {
	for i, o := range m.owed {
		switch {
		case key:
			m.owed[i], m.until[i] = stillRefine, pts+stillRefineFor
		case o > 0:
			m.owed[i] = o - 1
		}
	}
}
