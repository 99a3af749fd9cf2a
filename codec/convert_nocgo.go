//go:build !cgo

package codec

import "image"

// i420ToRGBA has no libyuv without cgo; YCbCrToRGBA converts in Go.
func i420ToRGBA(*image.RGBA, *image.YCbCr) bool { return false }

// i420ToBGRA has no libyuv without cgo; YCbCrToBGRA converts in Go.
func i420ToBGRA(*image.RGBA, *image.YCbCr) bool { return false }

// scaleI420 has no libyuv without cgo; ScaleI420 scales in Go.
func scaleI420(*image.YCbCr, *image.YCbCr) bool { return false }
