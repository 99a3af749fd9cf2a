package app

import (
	"fmt"
	"image"
	"os"
	"strings"

	"github.com/peercall/peercall/capture"
)

// shareFPS is the most a screen share sends; a still screen sends about
// one frame a second.
const shareFPS = 15

// openX11Share captures an X display (capture.OpenScreen): the whole
// screen or a region of it, the pointer drawn in, only changed frames.
func openX11Share(spec shareSpec) (ShareSource, error) {
	scr, err := capture.OpenScreen(capture.ScreenConfig{Display: spec.Display, Region: spec.Region, Window: spec.Window, FPS: shareFPS, Cursor: true})
	if err != nil {
		return ShareSource{}, fmt.Errorf("%w: %w", ErrShareSource, err)
	}
	w, h := scr.Size()
	return ShareSource{Next: scr.NextReusing(), Width: w, Height: h, FPS: shareFPS, Close: scr.Close}, nil
}

// listX11Choices lists the X display's monitors (each a region of the
// screen) and its windows by title.
func listX11Choices() ([]ShareChoice, error) {
	if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") != "" {
		// A Wayland session without XWayland: its screen is only shared
		// through xdg-desktop-portal and PipeWire, not built in yet.
		return nil, fmt.Errorf("%w: this is a Wayland session; Peercall shares X11 screens only (Wayland needs the desktop portal, not supported yet)", ErrShareSource)
	}
	infos, err := capture.ListScreens("")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrShareSource, err)
	}
	var out []ShareChoice
	n := 0
	for _, in := range infos {
		b := in.Bounds
		if b.Dx() < 16 || b.Dy() < 16 {
			continue
		}
		label := strings.TrimSpace(in.Name)
		if in.Window == 0 {
			n++
			label = fmt.Sprintf("Screen %d %s (%dx%d)", n, label, b.Dx(), b.Dy())
			if in.Primary {
				label += ", primary"
			}
		} else if label == "" {
			continue // untitled windows are not worth offering
		} else {
			out = append(out, ShareChoice{Label: "Window: " + label, Spec: fmt.Sprintf("window:%#x", in.Window)})
			continue
		}
		out = append(out, ShareChoice{Label: label, Spec: regionSpec(b)})
	}
	return out, nil
}

// regionSpec is the share spec of a region of $DISPLAY.
func regionSpec(b image.Rectangle) string {
	return fmt.Sprintf("screen::%dx%d+%d+%d", b.Dx(), b.Dy(), b.Min.X, b.Min.Y)
}
