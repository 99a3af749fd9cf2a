package codec

import (
	"fmt"
	"image"
)

// ScaleI420 scales src (I420) into dst (I420, any size, even sides): the
// camera picture at the size the bitrate affords. dst is reused when it
// already has the asked size, else allocated.
func ScaleI420(dst, src *image.YCbCr, w, h int) (*image.YCbCr, error) {
	if src.SubsampleRatio != image.YCbCrSubsampleRatio420 || w < 2 || h < 2 || w%2 != 0 || h%2 != 0 {
		return nil, fmt.Errorf("scale %v to %dx%d: %w", src.Rect, w, h, ErrUnsupportedImage)
	}
	r := image.Rect(0, 0, w, h)
	if dst == nil || dst.Rect != r || dst.SubsampleRatio != image.YCbCrSubsampleRatio420 {
		dst = image.NewYCbCr(r, image.YCbCrSubsampleRatio420)
	}
	if !scaleI420(dst, src) {
		scaleNearest(dst, src)
	}
	return dst, nil
}

// scaleNearest is the Go fallback: nearest sample, plane by plane.
func scaleNearest(dst, src *image.YCbCr) {
	sw, sh := src.Rect.Dx(), src.Rect.Dy()
	dw, dh := dst.Rect.Dx(), dst.Rect.Dy()
	y0 := src.YOffset(src.Rect.Min.X, src.Rect.Min.Y)
	c0 := src.COffset(src.Rect.Min.X, src.Rect.Min.Y)
	for y := range dh {
		sy := y * sh / dh
		for x := range dw {
			dst.Y[y*dst.YStride+x] = src.Y[y0+sy*src.YStride+x*sw/dw]
		}
	}
	for y := range dh / 2 {
		sy := y * sh / dh
		for x := range dw / 2 {
			si := c0 + sy*src.CStride + x*sw/dw
			dst.Cb[y*dst.CStride+x] = src.Cb[si]
			dst.Cr[y*dst.CStride+x] = src.Cr[si]
		}
	}
}
