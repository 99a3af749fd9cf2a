package capture

import (
	"fmt"
	"image"
	"math"
	"time"
)

// ScreenConfig describes a screen (or window) capture.
type ScreenConfig struct {
	// Display is the X display name; "" uses $DISPLAY.
	Display string
	// Region is the part to capture, in root-window coordinates (or in the
	// window's own when Window is set). The zero Rectangle means all of it.
	// An odd width or height loses its last column or row (I420).
	Region image.Rectangle
	// Window captures one window by X id instead of the whole screen; 0 =
	// the root window. See ListScreens.
	Window uint32
	// FPS is the most frames per second Next returns; 0 means 15. A still
	// screen yields far fewer (see Screen.Next).
	FPS float64
	// Cursor draws the mouse pointer into the frames.
	Cursor bool
	// Hide lists windows painted over in the frames wherever they are
	// (moved, raised, unmapped): Peercall's own, so a shared screen does
	// not show the call, the share's own picture in it, in a hall of
	// mirrors. Ignored for the window captured itself.
	Hide []uint32

	// noSHM forces the XGetImage path a remote display takes (tests).
	noSHM bool
}

// ScreenInfo is one thing ListScreens found to capture: a monitor or a
// top-level window.
type ScreenInfo struct {
	// Name is the monitor's output name (e.g. "DP-1") or the window title.
	Name string
	// Bounds is where it is, in root-window coordinates: a monitor's
	// Bounds is the Region to capture it.
	Bounds image.Rectangle
	// Primary marks the primary monitor.
	Primary bool
	// Window is the window id to put in ScreenConfig.Window; 0 for a
	// monitor.
	Window uint32
}

// ScreenFrame is one picture from a Screen.
type ScreenFrame struct {
	Image *image.YCbCr
	// Changed is false for a keepalive: the same picture as before, sent
	// so that the receiver knows the sender is alive.
	Changed bool
	// Dirty bounds the rows (full width) that differ from the previous
	// frame; empty for a keepalive, everything for the first frame.
	Dirty       image.Rectangle
	CaptureTime time.Time
}

const (
	defaultScreenFPS = 15
	// screenKeepalive is the longest Next waits on a still screen before
	// it repeats the last picture.
	screenKeepalive = time.Second
)

var _ VideoSource = (*Screen)(nil)

// screenInterval checks the rate and returns the frame interval.
func screenInterval(fps float64) (time.Duration, error) {
	if fps == 0 {
		fps = defaultScreenFPS
	}
	if math.IsNaN(fps) || fps < 0.1 || fps > 120 {
		return 0, fmt.Errorf("screen fps %v: %w", fps, ErrBadConfig)
	}
	return time.Duration(float64(time.Second) / fps), nil
}

// screenRegion resolves the asked region against the bounds of what is
// captured and crops it to even sizes.
func screenRegion(region, bounds image.Rectangle) (image.Rectangle, error) {
	r := region
	if r == (image.Rectangle{}) {
		r = bounds
	}
	if r.Empty() || !r.In(bounds) {
		return image.Rectangle{}, fmt.Errorf("screen region %v outside %v: %w", region, bounds, ErrBadConfig)
	}
	r.Max.X = r.Min.X + r.Dx()&^1
	r.Max.Y = r.Min.Y + r.Dy()&^1
	if r.Empty() {
		return image.Rectangle{}, fmt.Errorf("screen region %v smaller than 2x2: %w", region, ErrBadConfig)
	}
	return r, nil
}

// copyI420 copies src into dst, both I420 of the same size.
func copyI420(dst, src *image.YCbCr) {
	w, h := src.Rect.Dx(), src.Rect.Dy()
	for y := range h {
		copy(dst.Y[y*dst.YStride:y*dst.YStride+w], src.Y[y*src.YStride:])
	}
	cw, ch := (w+1)/2, (h+1)/2
	for y := range ch {
		copy(dst.Cb[y*dst.CStride:y*dst.CStride+cw], src.Cb[y*src.CStride:])
		copy(dst.Cr[y*dst.CStride:y*dst.CStride+cw], src.Cr[y*src.CStride:])
	}
}
