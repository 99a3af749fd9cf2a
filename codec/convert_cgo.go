//go:build cgo

package codec

// #cgo LDFLAGS: -lyuv
// #include <libyuv/convert_argb.h>
// #include <libyuv/scale.h>
import "C"

import "image"

// i420ToRGBA converts src with libyuv. libyuv names formats after a
// little-endian 32-bit word, so its "ABGR" is R, G, B, A in memory: the
// layout of image.RGBA. Its I420 constants are BT.601 limited range, like
// the Go code. The caller has checked src with i420Fits; dst has src's
// bounds. It reports false if libyuv refused the arguments.
func i420ToRGBA(dst *image.RGBA, src *image.YCbCr) bool { return i420To(dst, src, false) }

// i420ToBGRA is i420ToRGBA into B, G, R, A (libyuv's "ARGB").
func i420ToBGRA(dst *image.RGBA, src *image.YCbCr) bool { return i420To(dst, src, true) }

func i420To(dst *image.RGBA, src *image.YCbCr, bgra bool) bool {
	r := src.Rect
	y0 := src.YOffset(r.Min.X, r.Min.Y)
	c0 := src.COffset(r.Min.X, r.Min.Y)
	d0 := dst.PixOffset(r.Min.X, r.Min.Y)
	// Plain byte slices: cgo lets C read them for the duration of the call.
	y, ys := (*C.uint8_t)(&src.Y[y0]), C.int(src.YStride)
	cb, cr, cs := (*C.uint8_t)(&src.Cb[c0]), (*C.uint8_t)(&src.Cr[c0]), C.int(src.CStride)
	d, ds := (*C.uint8_t)(&dst.Pix[d0]), C.int(dst.Stride)
	w, h := C.int(r.Dx()), C.int(r.Dy())
	if bgra {
		return C.I420ToARGB(y, ys, cb, cs, cr, cs, d, ds, w, h) == 0
	}
	return C.I420ToABGR(y, ys, cb, cs, cr, cs, d, ds, w, h) == 0
}

// scaleI420 scales with libyuv's box filter (bilinear when growing).
func scaleI420(dst, src *image.YCbCr) bool {
	r := src.Rect
	y0 := src.YOffset(r.Min.X, r.Min.Y)
	c0 := src.COffset(r.Min.X, r.Min.Y)
	rc := C.I420Scale(
		(*C.uint8_t)(&src.Y[y0]), C.int(src.YStride),
		(*C.uint8_t)(&src.Cb[c0]), C.int(src.CStride),
		(*C.uint8_t)(&src.Cr[c0]), C.int(src.CStride),
		C.int(r.Dx()), C.int(r.Dy()),
		(*C.uint8_t)(&dst.Y[0]), C.int(dst.YStride),
		(*C.uint8_t)(&dst.Cb[0]), C.int(dst.CStride),
		(*C.uint8_t)(&dst.Cr[0]), C.int(dst.CStride),
		C.int(dst.Rect.Dx()), C.int(dst.Rect.Dy()), C.kFilterBox)
	return rc == 0
}
