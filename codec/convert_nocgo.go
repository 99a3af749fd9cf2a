//go:build !cgo

package codec

import "image"

// i420ToRGBA has no libyuv without cgo; YCbCrToRGBA converts in Go.
func i420ToRGBA(*image.RGBA, *image.YCbCr) bool { return false }
