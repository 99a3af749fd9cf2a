package codec

import (
	"image"
	"math"
)

// movingPattern draws frame n of a synthetic scene into img: a smooth
// gradient background, a moving checkerboard box and a moving bar, with some
// fine texture so that the encoder has detail to spend bits on.
func movingPattern(img *image.YCbCr, n int) {
	b := img.Rect
	w, h := b.Dx(), b.Dy()
	bx, by := (n*7)%w, (n*3)%h
	for y := 0; y < h; y++ {
		row := img.Y[y*img.YStride:]
		for x := 0; x < w; x++ {
			v := 40 + (x*120)/w + (y*60)/h
			dx, dy := (x-bx+w)%w, (y-by+h)%h
			if dx < w/4 && dy < h/4 {
				if ((dx/16)+(dy/16))&1 == 0 {
					v = 220
				} else {
					v = 30
				}
			}
			if (x+n*5)%w < 24 {
				v = 235 - (y & 31)
			}
			v += int(8 * math.Sin(float64(x*y+n*13)*0.05))
			if v < 16 {
				v = 16
			} else if v > 235 {
				v = 235
			}
			row[x] = uint8(v)
		}
	}
	cw, ch := (w+1)/2, (h+1)/2
	for y := 0; y < ch; y++ {
		for x := 0; x < cw; x++ {
			i := y*img.CStride + x
			img.Cb[i] = uint8(128 + 60*math.Sin(float64(x+n)*0.03))
			img.Cr[i] = uint8(128 + 60*math.Cos(float64(y+n)*0.04))
		}
	}
}

// psnrY returns the luma PSNR of b against a, in dB.
func psnrY(a, b *image.YCbCr) float64 {
	w, h := a.Rect.Dx(), a.Rect.Dy()
	var se float64
	for y := 0; y < h; y++ {
		ra, rb := a.Y[y*a.YStride:], b.Y[y*b.YStride:]
		for x := 0; x < w; x++ {
			d := float64(ra[x]) - float64(rb[x])
			se += d * d
		}
	}
	mse := se / float64(w*h)
	if mse == 0 {
		return 99
	}
	return 10 * math.Log10(255*255/mse)
}
