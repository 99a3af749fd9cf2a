//go:build !(linux && cgo)

package capture

import (
	"context"
	"fmt"
	"image"
)

// PortalConfig says what the portal's picker offers.
type PortalConfig struct {
	Windows bool
	Cursor  bool
}

// PortalAvailable fails: this build reads no PipeWire (it needs Linux and
// cgo).
func PortalAvailable(context.Context) error {
	return fmt.Errorf("desktop portal: built without PipeWire: %w", ErrNoScreenCapture)
}

// PortalScreen is a portal screen cast; this build has none.
type PortalScreen struct{}

// OpenPortalScreen fails with ErrNoScreenCapture in this build.
func OpenPortalScreen(context.Context, PortalConfig, float64) (*PortalScreen, error) {
	return nil, fmt.Errorf("desktop portal: built without PipeWire: %w", ErrNoScreenCapture)
}

// Size is 0x0.
func (*PortalScreen) Size() (w, h int) { return 0, 0 }

// Next fails with ErrNoScreenCapture.
func (*PortalScreen) Next() (*image.YCbCr, error) { return nil, ErrNoScreenCapture }

// NextInto fails with ErrNoScreenCapture.
func (*PortalScreen) NextInto(*image.YCbCr) (ScreenFrame, error) {
	return ScreenFrame{}, ErrNoScreenCapture
}

// NextReusing returns a Next that fails with ErrNoScreenCapture.
func (s *PortalScreen) NextReusing() func() (*image.YCbCr, error) { return s.Next }

// Close does nothing.
func (*PortalScreen) Close() error { return nil }

// Refresh does nothing: there is no capture.
func (*PortalScreen) Refresh() {}
