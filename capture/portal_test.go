//go:build linux && cgo

package capture

import (
	"context"
	"errors"
	"image"
	"testing"
	"time"

	"github.com/peercall/peercall/capture/portaltest"
)

// TestPortalScreen shares a Wayland-style desktop through the real
// xdg-desktop-portal and PipeWire: the picture arrives intact, a still
// screen repeats only as keepalive, the desktop's Stop ends the capture
// and Close ends the portal session.
func TestPortalScreen(t *testing.T) {
	const w, h = 640, 360
	want := screenPicture(w, h, 3)
	d := portaltest.Start(t, w, h, 5)
	d.Show(want)
	d.Setenv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := PortalAvailable(ctx); err != nil {
		t.Fatalf("portal: %v\n%s", err, d.Logs())
	}
	s, err := OpenPortalScreen(ctx, PortalConfig{Cursor: true, Windows: true}, 15)
	if err != nil {
		t.Fatalf("open: %v\n%s", err, d.Logs())
	}
	defer s.Close()
	if gw, gh := s.Size(); gw != w || gh != h {
		t.Fatalf("size %dx%d, want %dx%d", gw, gh, w, h)
	}
	dst := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	f, err := s.NextInto(dst)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Changed || f.Dirty.Empty() {
		t.Errorf("first frame: changed %v dirty %v", f.Changed, f.Dirty)
	}
	if p := lumaPSNR(f.Image, want, want.Rect); p < 40 {
		t.Errorf("luma PSNR %.1f dB, want >= 40", p)
	} else {
		t.Logf("luma PSNR %.1f dB", p)
	}
	// The producer repeats the picture 5 times a second: at most that
	// many frames (at 15 fps asked), none faster.
	start := time.Now()
	n := 0
	for time.Since(start) < 2*time.Second {
		if _, err := s.NextInto(dst); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n < 4 || n > 14 {
		t.Errorf("%d frames in 2 s from a 5 fps stream", n)
	}

	d.EndCasts()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := s.NextInto(dst)
		if errors.Is(err, ErrNoScreenCapture) {
			break
		}
		if err != nil || time.Now().After(deadline) {
			t.Fatalf("after the desktop ended the cast: %v", err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.NextInto(dst); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
}

// TestPortalCanceled: the user closes the picker.
func TestPortalCanceled(t *testing.T) {
	d := portaltest.Start(t, 64, 64, 5)
	d.Setenv(t)
	d.CancelPicker(true)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := OpenPortalScreen(ctx, PortalConfig{}, 15)
	if !errors.Is(err, ErrShareCanceled) {
		t.Fatalf("canceled picker: %v", err)
	}
	d.CancelPicker(false)
	s, err := OpenPortalScreen(ctx, PortalConfig{}, 15)
	if err != nil {
		t.Fatalf("after a cancel: %v\n%s", err, d.Logs())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		started, closed := d.Casts()
		if started == 1 && closed == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("casts started %d, closed %d", started, closed)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
