package codec

import (
	"image"
	"runtime"
	"sync"
)

// parallelMinPixels is the picture size from which YCbCrToRGBA splits the
// rows over several goroutines; below it the goroutine hand-off costs more
// than it saves.
const parallelMinPixels = 640 * 480

// YCbCrToRGBA converts src into dst and returns dst. dst is reused when its
// bounds equal src's, otherwise a new image is allocated (pass nil the first
// time). The conversion is BT.601 limited range ("studio swing", what
// cameras, libvpx and libyuv use) in 8.8 fixed point. 4:2:0 has a fast path;
// other subsampling ratios take a slower generic path. Large pictures are
// converted by up to GOMAXPROCS goroutines, each on its own rows.
func YCbCrToRGBA(dst *image.RGBA, src *image.YCbCr) *image.RGBA {
	if dst == nil || dst.Rect != src.Rect {
		dst = image.NewRGBA(src.Rect)
	}
	h := src.Rect.Dy()
	if h <= 0 || src.Rect.Dx() <= 0 {
		return dst
	}
	workers := runtime.GOMAXPROCS(0)
	if src.Rect.Dx()*h < parallelMinPixels || workers < 2 {
		convertRows(dst, src, 0, h)
		return dst
	}
	convertParallel(dst, src, min(workers, 4))
	return dst
}

// convertParallel is apart from YCbCrToRGBA so that the goroutine closure
// does not move dst to the heap on the sequential path.
func convertParallel(dst *image.RGBA, src *image.YCbCr, workers int) {
	h := src.Rect.Dy()
	// Bands of an even number of rows so that 4:2:0 chroma rows are not split.
	band := (h/workers + 1) &^ 1
	var wg sync.WaitGroup
	for y0 := 0; y0 < h; y0 += band {
		y1 := min(y0+band, h)
		wg.Add(1)
		go func() {
			defer wg.Done()
			convertRows(dst, src, y0, y1)
		}()
	}
	wg.Wait()
}

// convertRows converts rows [y0, y1) counted from the top of src.Rect.
func convertRows(dst *image.RGBA, src *image.YCbCr, y0, y1 int) {
	r := src.Rect
	w := r.Dx()
	for y := y0; y < y1; y++ {
		py := r.Min.Y + y
		drow := dst.Pix[dst.PixOffset(r.Min.X, py):]
		drow = drow[:4*w]
		yrow := src.Y[src.YOffset(r.Min.X, py):]
		yrow = yrow[:w]
		if src.SubsampleRatio == image.YCbCrSubsampleRatio420 && r.Min.X&1 == 0 {
			c0 := src.COffset(r.Min.X, py)
			cw := (w + 1) / 2
			rowI420(drow, yrow, src.Cb[c0:c0+cw], src.Cr[c0:c0+cw])
			continue
		}
		for x := 0; x < w; x++ {
			ci := src.COffset(r.Min.X+x, py)
			putRGBA(drow[4*x:4*x+4], yrow[x], src.Cb[ci], src.Cr[ci])
		}
	}
}

// rowI420 converts one row whose chroma is shared by pixel pairs.
func rowI420(d, ys, cbs, crs []uint8) {
	w := len(ys)
	pairs := w / 2
	d = d[:4*w]
	cbs, crs = cbs[:(w+1)/2], crs[:(w+1)/2]
	for cx := 0; cx < pairs; cx++ {
		cb := int32(cbs[cx]) - 128
		cr := int32(crs[cx]) - 128
		rc := 409*cr + 128
		gc := -100*cb - 208*cr + 128
		bc := 516*cb + 128
		y0 := (int32(ys[2*cx]) - 16) * 298
		y1 := (int32(ys[2*cx+1]) - 16) * 298
		p := d[8*cx : 8*cx+8 : 8*cx+8]
		p[0] = clamp8((y0 + rc) >> 8)
		p[1] = clamp8((y0 + gc) >> 8)
		p[2] = clamp8((y0 + bc) >> 8)
		p[3] = 0xff
		p[4] = clamp8((y1 + rc) >> 8)
		p[5] = clamp8((y1 + gc) >> 8)
		p[6] = clamp8((y1 + bc) >> 8)
		p[7] = 0xff
	}
	if w&1 == 1 {
		putRGBA(d[4*(w-1):4*w], ys[w-1], cbs[pairs], crs[pairs])
	}
}

func putRGBA(p []uint8, y, cb, cr uint8) {
	yy := (int32(y)-16)*298 + 128
	c := int32(cb) - 128
	e := int32(cr) - 128
	p[0] = clamp8((yy + 409*e) >> 8)
	p[1] = clamp8((yy - 100*c - 208*e) >> 8)
	p[2] = clamp8((yy + 516*c) >> 8)
	p[3] = 0xff
}

func clamp8(v int32) uint8 {
	if uint32(v) > 255 {
		if v < 0 {
			return 0
		}
		return 255
	}
	return uint8(v)
}
