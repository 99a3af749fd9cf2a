package app

import (
	"image"

	"github.com/peercall/peercall/call"
	"github.com/peercall/peercall/codec"
)

// The GUI imports app only (see the package map); these forward the few
// lower-level things it shows or needs on its video path.

// ICEPolicy names an ICE privacy preset (docs/ice-policy.md).
type ICEPolicy = call.Policy

// PolicyNames lists the ICE policy presets in the order the GUI offers them.
func PolicyNames() []string {
	names := make([]string, len(call.Policies))
	for i, p := range call.Policies {
		names[i] = string(p)
	}
	return names
}

// ToRGBA converts a decoded picture for display, reusing dst when it fits
// (codec.YCbCrToRGBA). Safe to call off the main thread.
func ToRGBA(dst *image.RGBA, src *image.YCbCr) *image.RGBA {
	return codec.YCbCrToRGBA(dst, src)
}

// ToBGRA converts a decoded picture into window-system pixels: rows of
// stride bytes, B, G, R, A (codec.YCbCrToBGRA). Safe off the main thread.
func ToBGRA(pix []byte, stride int, src *image.YCbCr) error {
	return codec.YCbCrToBGRA(pix, stride, src)
}

// ScalePicture scales a decoded picture to w x h (even), reusing dst when
// it fits (codec.ScaleI420).
func ScalePicture(dst, src *image.YCbCr, w, h int) (*image.YCbCr, error) {
	return codec.ScaleI420(dst, src, w, h)
}

// Call types that snapshots and call events carry, named here so the GUI
// needs no import of call.
type (
	SASCode     = call.SASCode
	Stats       = call.Stats
	StreamStats = call.StreamStats
	ChatMessage = call.ChatMessage
	MediaState  = call.MediaState
)
