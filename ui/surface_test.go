package ui

import (
	"errors"
	"image"
	"image/color"
	"sync"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"

	"github.com/peercall/peercall/app"
)

// fakeSurface records what a view asks of its surface.
type fakeSurface struct {
	mu     sync.Mutex
	at     image.Rectangle
	holes  []image.Rectangle
	shown  bool
	draws  int
	last   []byte // the last picture drawn, B, G, R, A
	w, h   int
	closed bool
}

func (f *fakeSurface) Place(r image.Rectangle, holes []image.Rectangle) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.at, f.holes, f.shown = r, append([]image.Rectangle(nil), holes...), true
	return nil
}

func (f *fakeSurface) Hide() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.shown = false
	return nil
}

func (f *fakeSurface) Shown() (image.Rectangle, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.at, f.shown
}

func (f *fakeSurface) Draw(w, h, _, _ int, fill func([]byte, int) error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.last, f.w, f.h = make([]byte, 4*w*h), w, h
	if err := fill(f.last, 4*w); err != nil {
		return err
	}
	f.draws++
	return nil
}

func (f *fakeSurface) Picture() *image.RGBA {
	f.mu.Lock()
	defer f.mu.Unlock()
	img := image.NewRGBA(image.Rect(0, 0, f.w, f.h))
	for i := 0; i+3 < len(f.last); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = f.last[i+2], f.last[i+1], f.last[i], 0xff
	}
	return img
}

func (f *fakeSurface) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed, f.shown = true, false
	return nil
}

func (f *fakeSurface) state() (image.Rectangle, []image.Rectangle, bool, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.at, f.holes, f.shown, f.draws
}

// surfaceHarness is a harness whose pictures get fake surfaces (or, with
// openErr, none: the window system refuses).
func surfaceHarness(t *testing.T, openErr error) *harness {
	t.Helper()
	h := newHarnessMedia(t, nil, app.GUIOptions{}, app.MediaOptions{}, func(o *Options) {
		o.surfaces = func() (surfaceMaker, error) {
			if openErr != nil {
				return surfaceMaker{}, openErr
			}
			return surfaceMaker{New: func() (videoSurface, error) { return &fakeSurface{}, nil }}, nil
		}
	})
	t.Cleanup(func() { h.u.Stop() })
	return h
}

func surfaceOf(v *videoView) *fakeSurface {
	f, _ := v.surf.(*fakeSurface)
	return f
}

// picRect is where a picture of size pic shows in v's image, by the driver's
// own idea of where the image is.
func picRect(v *videoView, pic image.Point) image.Rectangle {
	pos := fyne.CurrentApp().Driver().AbsolutePositionForObject(v.img)
	return containedPixels(pos, v.img.Size(), pic, 1)
}

// TestSurfacesFollowTheWindow: a remote picture and the self-view go to
// surfaces of their own once they have a picture, placed where Fyne would
// have shown them, with the self-view inset and a muted badge cut out of
// the remote one; frames then go to the surface and Fyne paints nothing. A
// popup, the camera going off, or the call ending give the pictures back to
// Fyne.
func TestSurfacesFollowTheWindow(t *testing.T) {
	h := surfaceHarness(t, nil)
	c := h.u.call
	h.u.render(groupNotify(bob))
	h.u.surfaces.place()
	bv := c.tiles[bob.ID].view
	if bv.surf != nil || bv.onSurf.Load() {
		t.Fatal("a view without a picture got a surface")
	}

	// First frames: painted by Fyne, then the views move to surfaces.
	h.u.onFrame(app.VideoFrame{Peer: bob.ID, Image: grey(100)})
	h.u.onFrame(app.VideoFrame{Local: true, Image: grey(30)})
	h.pump()
	h.u.surfaces.place()
	bs, ls := surfaceOf(bv), surfaceOf(c.local)
	if bs == nil || ls == nil || !bv.onSurf.Load() || !c.local.onSurf.Load() {
		t.Fatalf("after the first frames: remote on surface %v, self-view %v", bv.onSurf.Load(), c.local.onSurf.Load())
	}
	if bv.img.Image != nil {
		t.Error("Fyne still holds the remote picture it no longer shows")
	}
	at, holes, shown, _ := bs.state()
	want := picRect(bv, image.Pt(16, 8))
	if !shown || at != want {
		t.Errorf("remote surface at %v shown %v, want %v (Fyne's place for the picture)", at, shown, want)
	}
	selfAt, _, _, _ := ls.state()
	if !overlapsAny(selfAt, holes) {
		t.Errorf("the self-view %v is not cut out of the remote picture (holes %v)", selfAt, holes)
	}

	// Until the next frame the surfaces show Fyne's last pictures (a
	// still screen sends one rarely; a screenshot takes the surface's).
	for _, v := range []struct {
		name string
		f    *fakeSurface
		y    byte
	}{{"remote", bs, 100}, {"self-view", ls, 30}} {
		at, _, _, draws := v.f.state()
		w, h, _, _ := fitSurface(at, image.Pt(16, 8))
		pic := v.f.Picture()
		if len(pic.Pix) == 0 {
			t.Fatalf("%s: before its first frame there, the surface shows nothing (%d draws)", v.name, draws)
		}
		if draws != 1 || pic.Rect.Size() != image.Pt(w, h) || pic.Pix[0] != app.ToRGBA(nil, grey(v.y)).Pix[0] || pic.Pix[len(pic.Pix)-4] != pic.Pix[0] {
			t.Errorf("%s: before its first frame there, the surface had %d draws and shows %v of red %d, want 1, %dx%d of grey(%d)", v.name, draws, pic.Rect, pic.Pix[0], w, h, v.y)
		}
	}

	// Frames now go to the surfaces.
	shown0 := c.shown.Load()
	h.u.onFrame(app.VideoFrame{Peer: bob.ID, Image: grey(150)})
	h.pump()
	if _, _, _, draws := bs.state(); draws != 2 || bv.img.Image != nil {
		t.Errorf("a frame on the surface: %d draws, want 2 with Fyne's last picture; Fyne's image %v", draws, bv.img.Image != nil)
	}
	if got := c.shown.Load() - shown0; got != 1 {
		t.Errorf("%d frames counted as shown, want 1", got)
	}
	if pic := bs.Picture(); pic.Rect.Size() != at.Size() || pic.Pix[0] != app.ToRGBA(nil, grey(150)).Pix[0] {
		t.Errorf("the surface shows %v of red %d, want %v of grey(150)", pic.Rect, pic.Pix[0], at.Size())
	}

	// Muted: the badge shows through.
	muted := bob
	muted.MicOn = false
	h.u.render(groupNotify(muted))
	h.u.surfaces.place()
	badge := fyneRect(c.tiles[bob.ID].muted)
	if _, holes, _, _ := bs.state(); !overlapsAny(badge, holes) {
		t.Errorf("the muted badge %v is not cut out of %v (holes %v)", badge, at, holes)
	}

	// A popup over the window: everything back to Fyne.
	pop := widget.NewPopUp(widget.NewLabel("menu"), h.w.Canvas())
	pop.Show()
	h.u.surfaces.place()
	if _, _, shown, _ := bs.state(); shown || bv.onSurf.Load() || c.local.onSurf.Load() {
		t.Error("pictures stayed on their surfaces under a popup")
	}
	if !shows(bv, 150) {
		t.Errorf("under a popup, before the next frame, Fyne shows luma %d, want the surface's last picture (150)", lum(bv))
	}
	h.u.onFrame(app.VideoFrame{Peer: bob.ID, Image: grey(200)})
	h.pump()
	if !shows(bv, 200) {
		t.Error("with a popup open, Fyne does not show the remote frame")
	}
	pop.Hide()
	h.u.surfaces.place()
	if !bv.onSurf.Load() {
		t.Error("the picture did not go back to its surface after the popup")
	}

	// A resized window: the picture moves with its layout, before any
	// check or frame.
	h.w.Resize(fyne.NewSize(1100, 760))
	if at, _, _, _ := bs.state(); at != picRect(bv, image.Pt(16, 8)) || at == want {
		t.Errorf("after a resize the surface is at %v, want %v (it was at %v)", at, picRect(bv, image.Pt(16, 8)), want)
	}

	// Camera off: no picture, no surface.
	off := muted
	off.CameraOn = false
	h.u.render(groupNotify(off))
	h.u.surfaces.place()
	if _, _, shown, _ := bs.state(); shown || bv.onSurf.Load() {
		t.Error("a camera that went off left its last picture on screen")
	}

	// The call ends: the tile's surface is closed.
	h.u.render(app.Notify{Phase: app.PhaseIdle})
	h.pump()
	h.u.surfaces.place()
	if !bs.closed {
		t.Error("the tile's surface outlived the call")
	}
}

// TestSurfacesStillShare: a still screen sends a frame rarely. Its one
// frame goes to the surface with the share, the "waiting" placeholder
// stays hidden through later renders, and a screenshot shows the picture.
func TestSurfacesStillShare(t *testing.T) {
	h := surfaceHarness(t, nil)
	c := h.u.call
	sharing := bob
	sharing.Sharing = true
	h.u.render(groupNotify(sharing, cleo))
	h.u.onFrame(app.VideoFrame{Peer: bob.ID, Share: true, Image: grey(90)})
	h.pump()
	h.u.surfaces.place()
	tl := c.tiles[bob.ID]
	ss := surfaceOf(tl.share)
	if ss == nil || !tl.share.onSurf.Load() {
		t.Fatal("the share did not go to a surface of its own")
	}
	h.u.render(groupNotify(sharing, cleo))
	h.pump()
	if tl.sharePlace.Visible() {
		t.Error("the share's placeholder shows over its picture")
	}
	if pic := ss.Picture(); len(pic.Pix) == 0 || pic.Pix[0] != app.ToRGBA(nil, grey(90)).Pix[0] {
		t.Errorf("the share's surface shows %v, want its only frame", pic.Rect)
	}
	var seen int
	h.u.surfaces.withPictures(func() { seen = lum(tl.share) })
	if want := int(app.ToRGBA(nil, grey(90)).Pix[0]); seen != want {
		t.Errorf("a screenshot sees the share as red %d, want %d", seen, want)
	}
	if tl.share.img.Image != nil {
		t.Error("Fyne kept the share's picture after the screenshot")
	}
}

// TestSurfacesUnavailable: no window system for surfaces (no X11, a
// remote display): Fyne paints every picture, as before.
func TestSurfacesUnavailable(t *testing.T) {
	h := surfaceHarness(t, errors.New("no display"))
	c := h.u.call
	h.u.render(groupNotify(bob))
	h.u.onFrame(app.VideoFrame{Peer: bob.ID, Image: grey(100)})
	h.pump()
	h.u.surfaces.place()
	h.u.onFrame(app.VideoFrame{Peer: bob.ID, Image: grey(120)})
	h.pump()
	bv := c.tiles[bob.ID].view
	if bv.onSurf.Load() || bv.surf != nil || !shows(bv, 120) {
		t.Errorf("without surfaces: on a surface %v, Fyne shows %d", bv.onSurf.Load(), lum(bv))
	}
}

func overlapsAny(r image.Rectangle, rs []image.Rectangle) bool {
	for _, q := range rs {
		if q.Overlaps(r) {
			return true
		}
	}
	return false
}

// fyneRect is o's place in the window in pixels (scale 1).
func fyneRect(o fyne.CanvasObject) image.Rectangle {
	pos := fyne.CurrentApp().Driver().AbsolutePositionForObject(o)
	return outward(pos, o.Size(), 1)
}

// TestNearestBGRA: scaled up and down, each pixel comes from its
// nearest source pixel, in B, G, R, A order.
func TestNearestBGRA(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, 4, 2))
	for y := range 2 {
		for x := range 4 {
			src.SetRGBA(x, y, color.RGBA{R: byte(10*x + 100*y), G: 7, B: 9, A: 0xff})
		}
	}
	tests := []struct {
		w, h   int
		x, y   int // a destination pixel
		sx, sy int // its source
	}{
		{4, 2, 3, 1, 3, 1},
		{8, 4, 7, 3, 3, 1},
		{8, 4, 2, 1, 1, 0},
		{2, 1, 1, 0, 2, 0},
		{3, 3, 2, 2, 2, 1},
	}
	for _, tt := range tests {
		stride := 4*tt.w + 8 // rows may be padded
		pix := make([]byte, stride*tt.h)
		nearestBGRA(pix, stride, tt.w, tt.h, src)
		o := tt.y*stride + 4*tt.x
		want := src.RGBAAt(tt.sx, tt.sy)
		if got := pix[o : o+4]; got[0] != want.B || got[1] != want.G || got[2] != want.R || got[3] != 0xff {
			t.Errorf("%dx%d: pixel (%d, %d) = %v, want B, G, R, A of (%d, %d) %v", tt.w, tt.h, tt.x, tt.y, got, tt.sx, tt.sy, want)
		}
		if pix[stride-1] != 0 {
			t.Errorf("%dx%d: the row's padding was written", tt.w, tt.h)
		}
	}
}

func TestCrops(t *testing.T) {
	tests := []struct {
		pic, place int
		want       bool
	}{
		{640, 640, true},
		{640, 636, true}, // the default window's place for a 640x480 camera
		{640, 628, true},
		{640, 626, false}, // over 1 % a side: scaled
		{636, 640, false}, // smaller than its place: scaled up, no bars
		{2, 2, true},
	}
	for _, tt := range tests {
		if got := crops(tt.pic, tt.place); got != tt.want {
			t.Errorf("crops(%d, %d) = %v, want %v", tt.pic, tt.place, got, tt.want)
		}
	}
}
