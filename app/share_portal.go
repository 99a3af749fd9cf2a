package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/peercall/peercall/capture"
)

// portalPickTimeout bounds the wait for the user's choice in the
// desktop's own picker.
const portalPickTimeout = 3 * time.Minute

// waylandSession reports whether the desktop is a Wayland session, where
// only the desktop portal can see the screen (an X11 capture through
// XWayland would see X clients only).
func waylandSession() bool {
	return os.Getenv("XDG_SESSION_TYPE") == "wayland" || os.Getenv("WAYLAND_DISPLAY") != ""
}

// openPortalShare asks the desktop portal for a screen cast: the desktop
// shows its picker (a screen or a window), then PipeWire delivers it.
func openPortalShare() (ShareSource, error) {
	ctx, cancel := context.WithTimeout(context.Background(), portalPickTimeout)
	defer cancel()
	scr, err := capture.OpenPortalScreen(ctx, capture.PortalConfig{Windows: true, Cursor: true}, shareFPS)
	switch {
	case errors.Is(err, capture.ErrShareCanceled):
		return ShareSource{}, fmt.Errorf("%w: %w", ErrShareCanceled, err)
	case err != nil:
		return ShareSource{}, fmt.Errorf("%w: %w", ErrShareSource, err)
	}
	w, h := scr.Size()
	return ShareSource{Next: scr.NextReusing(), Width: w, Height: h, FPS: shareFPS, Close: scr.Close, Refresh: scr.Refresh}, nil
}

// listPortalChoices is the one choice a Wayland desktop offers: its own
// picker, or why there is none.
func listPortalChoices() ([]ShareChoice, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := capture.PortalAvailable(ctx); err != nil {
		return nil, fmt.Errorf("%w: this Wayland desktop offers no screen sharing portal (install xdg-desktop-portal and your desktop's back end: xdg-desktop-portal-gnome, -kde or -wlr): %w", ErrShareSource, err)
	}
	return []ShareChoice{{Label: "Screen or window… (your desktop asks which)", Spec: "portal"}}, nil
}
