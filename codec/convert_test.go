package codec

import (
	"image"
	"testing"
)

// refBT601 is the floating point BT.601 limited-range conversion.
func refBT601(y, cb, cr uint8) (r, g, b float64) {
	yy := 1.164 * (float64(y) - 16)
	c, e := float64(cb)-128, float64(cr)-128
	return yy + 1.596*e, yy - 0.392*c - 0.813*e, yy + 2.017*c
}

func clampF(v float64) float64 { return max(0, min(255, v)) }

func TestYCbCrToRGBA(t *testing.T) {
	cases := []struct {
		name  string
		rect  image.Rectangle
		ratio image.YCbCrSubsampleRatio
	}{
		{"420", image.Rect(0, 0, 64, 48), image.YCbCrSubsampleRatio420},
		{"420 odd", image.Rect(0, 0, 33, 17), image.YCbCrSubsampleRatio420},
		{"420 offset", image.Rect(2, 3, 40, 30), image.YCbCrSubsampleRatio420},
		{"420 large", image.Rect(0, 0, 800, 602), image.YCbCrSubsampleRatio420},
		{"422", image.Rect(0, 0, 30, 20), image.YCbCrSubsampleRatio422},
		{"444", image.Rect(1, 1, 30, 20), image.YCbCrSubsampleRatio444},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := image.NewYCbCr(tc.rect, tc.ratio)
			for i := range src.Y {
				src.Y[i] = uint8(i * 7)
			}
			for i := range src.Cb {
				src.Cb[i] = uint8(i * 13)
				src.Cr[i] = uint8(255 - i*5)
			}
			dst := YCbCrToRGBA(nil, src)
			if dst.Rect != src.Rect {
				t.Fatalf("rect %v, want %v", dst.Rect, src.Rect)
			}
			for y := tc.rect.Min.Y; y < tc.rect.Max.Y; y++ {
				for x := tc.rect.Min.X; x < tc.rect.Max.X; x++ {
					c := src.YCbCrAt(x, y)
					r, g, b := refBT601(c.Y, c.Cb, c.Cr)
					p := dst.RGBAAt(x, y)
					// Blue may be 3 off: libyuv (cgo, 4:2:0) multiplies Cb by
					// 2.0 instead of 2.017, as its SIMD coefficients are int8.
					for _, d := range [][3]float64{{float64(p.R), clampF(r), 2}, {float64(p.G), clampF(g), 2}, {float64(p.B), clampF(b), 3}} {
						if d[0]-d[1] > d[2] || d[1]-d[0] > d[2] {
							t.Fatalf("(%d,%d): got %v, want %.1f %.1f %.1f", x, y, p, r, g, b)
						}
					}
					if p.A != 255 {
						t.Fatalf("alpha %d", p.A)
					}
				}
			}
			// Reuse: the same destination comes back.
			if again := YCbCrToRGBA(dst, src); again != dst {
				t.Fatal("dst not reused")
			}
		})
	}
}

func TestYCbCrToRGBANoAllocs(t *testing.T) {
	src := image.NewYCbCr(image.Rect(0, 0, 320, 240), image.YCbCrSubsampleRatio420)
	dst := YCbCrToRGBA(nil, src)
	if n := testing.AllocsPerRun(10, func() { YCbCrToRGBA(dst, src) }); n != 0 {
		t.Fatalf("%.0f allocations per conversion", n)
	}
}

// TestYCbCrToBGRA: the window-system order is YCbCrToRGBA's with red and
// blue swapped, through libyuv and the Go code alike, into a buffer with
// padded rows; a buffer too small is an error, not a write past its end.
func TestYCbCrToBGRA(t *testing.T) {
	cases := []struct {
		name string
		rect image.Rectangle
	}{
		{"420", image.Rect(0, 0, 64, 48)},
		{"420 odd (Go)", image.Rect(0, 0, 33, 17)},
		{"420 offset", image.Rect(2, 2, 40, 30)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := image.NewYCbCr(tc.rect, image.YCbCrSubsampleRatio420)
			for i := range src.Y {
				src.Y[i] = uint8(i * 7)
			}
			for i := range src.Cb {
				src.Cb[i] = uint8(i * 13)
				src.Cr[i] = uint8(255 - i*5)
			}
			want := YCbCrToRGBA(nil, src)
			w, h := tc.rect.Dx(), tc.rect.Dy()
			stride := 4*w + 12
			pix := make([]byte, h*stride)
			if err := YCbCrToBGRA(pix, stride, src); err != nil {
				t.Fatal(err)
			}
			for y := range h {
				for x := range w {
					g := pix[y*stride+4*x : y*stride+4*x+4]
					o := want.PixOffset(tc.rect.Min.X+x, tc.rect.Min.Y+y)
					wr, wg, wb := want.Pix[o], want.Pix[o+1], want.Pix[o+2]
					if absDiff(g[2], wr) > 2 || absDiff(g[1], wg) > 2 || absDiff(g[0], wb) > 2 || g[3] != 0xff {
						t.Fatalf("pixel (%d,%d) = BGRA %v, want RGB %d %d %d", x, y, g, wr, wg, wb)
					}
				}
			}
			if err := YCbCrToBGRA(pix[:len(pix)-1-12], stride, src); err == nil {
				t.Error("a buffer one byte short was taken")
			}
		})
	}
}

func absDiff(a, b uint8) uint8 {
	if a > b {
		return a - b
	}
	return b - a
}
