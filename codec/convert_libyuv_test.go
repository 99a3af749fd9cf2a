//go:build cgo

package codec

import (
	"image"
	"image/color"
	"testing"
)

// libyuvTolerance is the largest per-channel difference allowed between
// libyuv and the Go conversion. libyuv's coefficients have 6 fractional bits
// (Cb to blue is 2.0 instead of 2.017), the Go code's 8; over every Cb, Cr
// pair they differ by at most 2, in blue (TestLibyuvAllChroma logs the
// figure).
const libyuvTolerance = 2

// fillYCbCr gives every plane sample a pseudo-random value (the whole slice,
// padding included) so that reading a wrong offset shows.
func fillYCbCr(m *image.YCbCr, seed uint32) {
	x := seed | 1
	next := func() uint8 {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		return uint8(x >> 24)
	}
	for i := range m.Y {
		m.Y[i] = next()
	}
	for i := range m.Cb {
		m.Cb[i], m.Cr[i] = next(), next()
	}
}

// newStridedYCbCr makes a 4:2:0 picture whose rows are pad bytes longer than
// the picture (as decoders with aligned buffers hand out).
func newStridedYCbCr(r image.Rectangle, pad int) *image.YCbCr {
	w, h := r.Dx(), r.Dy()
	// Chroma covers the 2x2 blocks r touches, as in image.NewYCbCr.
	cw, ch := (r.Max.X+1)/2-r.Min.X/2, (r.Max.Y+1)/2-r.Min.Y/2
	ys, cs := w+pad, cw+pad/2+1
	return &image.YCbCr{
		Y: make([]uint8, ys*h), Cb: make([]uint8, cs*ch), Cr: make([]uint8, cs*ch),
		YStride: ys, CStride: cs, SubsampleRatio: image.YCbCrSubsampleRatio420, Rect: r,
	}
}

// goRGBA converts src with the Go code alone.
func goRGBA(src *image.YCbCr) *image.RGBA {
	dst := image.NewRGBA(src.Rect)
	convertRows(dst, src, 0, src.Rect.Dy())
	return dst
}

// maxDiff returns the largest per-channel difference between a and b over
// r and fails the test on an alpha other than 0xff in a.
func maxDiff(t testing.TB, a, b *image.RGBA, r image.Rectangle) int {
	t.Helper()
	worst := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		pa := a.Pix[a.PixOffset(r.Min.X, y):][:4*r.Dx()]
		pb := b.Pix[b.PixOffset(r.Min.X, y):][:4*r.Dx()]
		for i := range pa {
			if i%4 == 3 {
				if pa[i] != 0xff {
					t.Fatalf("(%d,%d): alpha %d", r.Min.X+i/4, y, pa[i])
				}
				continue
			}
			worst = max(worst, int(pa[i])-int(pb[i]), int(pb[i])-int(pa[i]))
		}
	}
	return worst
}

func TestYCbCrToRGBALibyuvMatchesGo(t *testing.T) {
	sub := func(outer, r image.Rectangle) func() *image.YCbCr {
		return func() *image.YCbCr {
			m := image.NewYCbCr(outer, image.YCbCrSubsampleRatio420)
			fillYCbCr(m, uint32(r.Dx()*977+r.Dy()))
			return m.SubImage(r).(*image.YCbCr)
		}
	}
	plain := func(w, h int) func() *image.YCbCr {
		return sub(image.Rect(0, 0, w, h), image.Rect(0, 0, w, h))
	}
	strided := func(r image.Rectangle, pad int) func() *image.YCbCr {
		return func() *image.YCbCr {
			m := newStridedYCbCr(r, pad)
			fillYCbCr(m, uint32(pad))
			return m
		}
	}
	cases := []struct {
		name   string
		src    func() *image.YCbCr
		libyuv bool // whether the libyuv path applies
	}{
		{"1x1", plain(1, 1), true},
		{"2x2", plain(2, 2), true},
		{"3x5", plain(3, 5), true},
		{"33x17", plain(33, 17), true},
		{"64x48", plain(64, 48), true},
		{"639x479", plain(639, 479), true},
		{"640x480", plain(640, 480), true},
		{"1280x720", plain(1280, 720), true},
		{"sub even origin", sub(image.Rect(0, 0, 64, 48), image.Rect(2, 4, 35, 31)), true},
		{"sub even origin to edge", sub(image.Rect(0, 0, 64, 48), image.Rect(10, 6, 64, 48)), true},
		{"sub of offset picture", sub(image.Rect(4, 2, 70, 52), image.Rect(6, 8, 41, 33)), true},
		{"stride > width", strided(image.Rect(0, 0, 100, 60), 28), true},
		{"stride > width odd", strided(image.Rect(0, 0, 101, 61), 27), true},
		{"stride > width offset", strided(image.Rect(8, 6, 109, 67), 32), true},
		{"stride > width odd origin", strided(image.Rect(3, 5, 60, 40), 20), false},
		{"sub odd x", sub(image.Rect(0, 0, 64, 48), image.Rect(3, 4, 40, 30)), false},
		{"sub odd y", sub(image.Rect(0, 0, 64, 48), image.Rect(2, 5, 40, 30)), false},
		{"negative origin", sub(image.Rect(-8, -6, 40, 30), image.Rect(-8, -6, 40, 30)), false},
		{"444", func() *image.YCbCr {
			m := image.NewYCbCr(image.Rect(0, 0, 30, 20), image.YCbCrSubsampleRatio444)
			fillYCbCr(m, 7)
			return m
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := tc.src()
			r := src.Rect
			// dst is a window of a larger picture filled with a sentinel, so
			// a write past the rectangle or with the wrong stride shows.
			big := image.NewRGBA(image.Rect(r.Min.X-3, r.Min.Y-2, r.Max.X+5, r.Max.Y+2))
			for i := range big.Pix {
				big.Pix[i] = 0x5a
			}
			sentinel := color.RGBA{0x5a, 0x5a, 0x5a, 0x5a}
			dst := big.SubImage(r).(*image.RGBA)
			if got := i420Fits(dst, src); got != tc.libyuv {
				t.Fatalf("i420Fits = %v, want %v", got, tc.libyuv)
			}
			if out := YCbCrToRGBA(dst, src); out != dst {
				t.Fatal("dst not reused")
			}
			want := goRGBA(src)
			if d := maxDiff(t, dst, want, r); d > libyuvTolerance || (!tc.libyuv && d != 0) {
				t.Fatalf("max channel difference %d from the Go conversion", d)
			}
			for y := big.Rect.Min.Y; y < big.Rect.Max.Y; y++ {
				for x := big.Rect.Min.X; x < big.Rect.Max.X; x++ {
					if !(image.Point{x, y}).In(r) && big.RGBAAt(x, y) != sentinel {
						t.Fatalf("(%d,%d) outside %v written: %v", x, y, r, big.RGBAAt(x, y))
					}
				}
			}
		})
	}
}

// TestLibyuvAllChroma converts every (Cb, Cr) pair, each 2x2 block with four
// different Y values (every Y occurs about 4000 times), and bounds the
// difference between libyuv and Go.
func TestLibyuvAllChroma(t *testing.T) {
	src := image.NewYCbCr(image.Rect(0, 0, 512, 512), image.YCbCrSubsampleRatio420)
	for y := 0; y < 512; y++ {
		for x := 0; x < 512; x++ {
			src.Y[src.YOffset(x, y)] = uint8(x*7 + y*131 + (x>>1)*(y>>1))
			ci := src.COffset(x, y)
			src.Cb[ci], src.Cr[ci] = uint8(x/2), uint8(y/2)
		}
	}
	dst := YCbCrToRGBA(nil, src)
	d := maxDiff(t, dst, goRGBA(src), src.Rect)
	t.Logf("libyuv vs Go: max channel difference %d", d)
	if d > libyuvTolerance {
		t.Fatalf("max channel difference %d > %d", d, libyuvTolerance)
	}
}

func FuzzYCbCrToRGBA(f *testing.F) {
	f.Add([]byte{16, 128, 128, 235, 0, 255}, uint8(7), uint8(5), uint8(0), uint8(0), uint8(0))
	f.Add([]byte{1, 2, 3}, uint8(64), uint8(48), uint8(2), uint8(4), uint8(9))
	f.Fuzz(func(t *testing.T, data []byte, w, h, ox, oy, pad uint8) {
		if len(data) == 0 {
			return
		}
		r := image.Rect(0, 0, 1+int(w%96), 1+int(h%96)).Add(image.Pt(int(ox%6), int(oy%6)))
		src := newStridedYCbCr(r, int(pad%40))
		for i := range src.Y {
			src.Y[i] = data[i%len(data)]
		}
		for i := range src.Cb {
			src.Cb[i] = data[(i*3+1)%len(data)]
			src.Cr[i] = data[(i*5+2)%len(data)]
		}
		dst := YCbCrToRGBA(nil, src)
		if d := maxDiff(t, dst, goRGBA(src), r); d > libyuvTolerance {
			t.Fatalf("%v: max channel difference %d", r, d)
		}
	})
}
