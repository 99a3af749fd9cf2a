//go:build !(linux && cgo)

package capture

import (
	"fmt"
	"image"
)

// Screen is a screen capture; this build has none (it needs Linux, X11
// and cgo).
type Screen struct{}

// OpenScreen fails with ErrNoScreenCapture in this build.
func OpenScreen(ScreenConfig) (*Screen, error) {
	return nil, fmt.Errorf("open screen: built without X11: %w", ErrNoScreenCapture)
}

// ListScreens fails with ErrNoScreenCapture in this build.
func ListScreens(string) ([]ScreenInfo, error) {
	return nil, fmt.Errorf("list screens: built without X11: %w", ErrNoScreenCapture)
}

// Size is 0x0.
func (*Screen) Size() (w, h int) { return 0, 0 }

// Next fails with ErrNoScreenCapture.
func (*Screen) Next() (*image.YCbCr, error) { return nil, ErrNoScreenCapture }

// NextInto fails with ErrNoScreenCapture.
func (*Screen) NextInto(*image.YCbCr) (ScreenFrame, error) { return ScreenFrame{}, ErrNoScreenCapture }

// NextReusing returns a Next that fails with ErrNoScreenCapture.
func (s *Screen) NextReusing() func() (*image.YCbCr, error) { return s.Next }

// SHM is false.
func (*Screen) SHM() bool { return false }

// Refresh does nothing: there is no capture.
func (*Screen) Refresh() {}

// Close does nothing.
func (*Screen) Close() error { return nil }
