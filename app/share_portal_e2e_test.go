//go:build linux && cgo

package app_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/peercall/peercall/app"
	"github.com/peercall/peercall/capture/portaltest"
)

// TestScreenShareThroughPortal: on a Wayland-style desktop (the real
// xdg-desktop-portal and PipeWire; see portaltest), the picker offers the
// desktop's own chooser, and a headless peer sharing through it reaches
// the other peer intact: the received luma matches the screen's picture.
func TestScreenShareThroughPortal(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end call")
	}
	const w, h = 1280, 720
	d := portaltest.Start(t, w, h, 15)
	pic := shareTestPicture(w, h)
	d.Show(pic)
	d.Setenv(t)

	choices, err := app.ListShareChoices(false)
	if err != nil {
		t.Fatal(err)
	}
	if len(choices) != 1 || choices[0].Spec != "portal" {
		t.Fatalf("Wayland share choices %+v, want the portal's picker only", choices)
	}

	bin := buildHeadless(t, true)
	url, _ := startSignal(t)
	snap := filepath.Join(t.TempDir(), "received.png")
	res := runPair(t, url, [2]peerSpec{
		{bin, []string{"--video", "none", "--audio", "none", "--duration", "5s", "--share", "portal"}},
		{bin, []string{"--video", "none", "--audio", "none", "--duration", "5s", "--share-snapshot", snap}},
	}, 0, nil)
	for i, r := range res {
		if r.code != 0 {
			t.Fatalf("peer %d exit %d: %s\n%s", i, r.code, r.stderr, d.Logs())
		}
	}
	si := res[1].rep.ShareIn
	t.Logf("share through the portal as received: %+v", si)
	if si.Width != w || si.Height != h || si.FramesDecoded == 0 {
		t.Fatalf("share received %+v, want %dx%d frames", si, w, h)
	}
	psnr := grayPSNR(readGray(t, snap), pic)
	t.Logf("Y PSNR %.1f dB through portal, PipeWire, VP8 and back", psnr)
	if psnr < 35 {
		t.Errorf("received screen Y PSNR %.1f dB, want ≥ 35", psnr)
	}
	if started, closed := d.Casts(); started != 1 || closed != 1 {
		t.Errorf("portal casts started %d, closed %d: the share must end its cast", started, closed)
	}

	// The user closes the desktop's picker: nothing to share, and it
	// says so as a cancel, not as a failure.
	d.CancelPicker(true)
	if _, err := app.OpenShareSource("portal"); !errors.Is(err, app.ErrShareCanceled) {
		t.Errorf("canceled picker: %v", err)
	}
}

// TestShareChoicesWaylandWithoutPortal: a Wayland session without a
// screen-cast portal explains what to install.
func TestShareChoicesWaylandWithoutPortal(t *testing.T) {
	t.Setenv("WAYLAND_DISPLAY", "wayland-0")
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+filepath.Join(t.TempDir(), "no-bus"))
	_, err := app.ListShareChoices(false)
	if !errors.Is(err, app.ErrShareSource) || !strings.Contains(err.Error(), "xdg-desktop-portal") {
		t.Fatalf("Wayland without a portal: %v", err)
	}
	choices, err := app.ListShareChoices(true)
	if err != nil || len(choices) != 1 || choices[0].Spec != "synthetic" {
		t.Fatalf("with synthetic media: %+v, %v", choices, err)
	}
}
