package xvideo

import (
	"bufio"
	"errors"
	"fmt"
	"image"
	"image/color"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// xvfb runs a private X server until the test ends and returns its DISPLAY.
func xvfb(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("Xvfb"); err != nil {
		t.Fatalf("Xvfb is needed (apt-get install xvfb): %v", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("Xvfb", "-displayfd", "3", "-screen", "0", "320x240x24", "-nolisten", "tcp", "-noreset")
	cmd.ExtraFiles = []*os.File{w}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(r).ReadString('\n')
	_ = r.Close()
	if err != nil {
		t.Fatalf("Xvfb gave no display number: %v", err)
	}
	return ":" + strings.TrimSpace(line)
}

// parentWindow maps a 200x150 top-level window of a solid colour (what the
// toolkit painted) on its own connection, as the app's window is.
func parentWindow(t *testing.T, display string, bg uint32) (*xgb.Conn, xproto.Window) {
	t.Helper()
	x, err := xgb.NewConnDisplay(display)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(x.Close)
	screen := xproto.Setup(x).DefaultScreen(x)
	win, err := xproto.NewWindowId(x)
	if err != nil {
		t.Fatal(err)
	}
	err = xproto.CreateWindowChecked(x, screen.RootDepth, win, screen.Root, 0, 0, 200, 150, 0,
		xproto.WindowClassInputOutput, screen.RootVisual, xproto.CwBackPixel, []uint32{bg}).Check()
	if err != nil {
		t.Fatal(err)
	}
	if err := xproto.MapWindowChecked(x, win).Check(); err != nil {
		t.Fatal(err)
	}
	return x, win
}

// pixel reads what the X server shows at (px, py) of win.
func pixel(t *testing.T, x *xgb.Conn, win xproto.Window, px, py int) color.RGBA {
	t.Helper()
	img, err := xproto.GetImage(x, xproto.ImageFormatZPixmap, xproto.Drawable(win), int16(px), int16(py), 1, 1, 0xffffffff).Reply()
	if err != nil {
		t.Fatal(err)
	}
	d := img.Data
	return color.RGBA{d[2], d[1], d[0], 0xff}
}

func fillColor(c color.RGBA) func([]byte, int) error {
	return func(pix []byte, _ int) error {
		for i := 0; i+3 < len(pix); i += 4 {
			pix[i], pix[i+1], pix[i+2], pix[i+3] = c.B, c.G, c.R, 0xff
		}
		return nil
	}
}

var blue, red = color.RGBA{0, 0, 0xff, 0xff}, color.RGBA{0xff, 0, 0, 0xff}

// surfaceRig is a surface over a blue parent window on a private Xvfb,
// with the test's own connection to read the parent's pixels; all closed
// with the test.
func surfaceRig(t *testing.T) (*xgb.Conn, xproto.Window, *Surface) {
	t.Helper()
	display := xvfb(t)
	px, parent := parentWindow(t, display, 0x0000ff)
	c, err := Open(display, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	s, err := c.NewSurface(uint32(parent))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return px, parent, s
}

// TestSurfaceOverParent: a picture drawn in a surface shows at its place in
// the parent, the holes and everything outside show the parent, and a
// hidden surface shows nothing.
func TestSurfaceOverParent(t *testing.T) {
	px, parent, s := surfaceRig(t)

	place := image.Rect(20, 20, 120, 100)
	hole := image.Rect(60, 40, 80, 60)
	if err := s.Place(place, []image.Rectangle{hole}); err != nil {
		t.Fatal(err)
	}
	// A picture larger than the place, shifted: cropped to the window.
	if err := s.Draw(120, 100, -10, -10, fillColor(red)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		x, y int
		want color.RGBA
	}{
		{"picture", 30, 30, red},
		{"picture's far corner", 119, 99, red},
		{"hole", 70, 50, blue},
		{"beside", 10, 10, blue},
		{"below", 150, 120, blue},
	}
	for _, tt := range tests {
		if got := pixel(t, px, parent, tt.x, tt.y); got != tt.want {
			t.Errorf("%s (%d,%d): %v, want %v", tt.name, tt.x, tt.y, got, tt.want)
		}
	}
	if at, shown := s.Shown(); !shown || at != place {
		t.Errorf("Shown() = %v %v, want %v true", at, shown, place)
	}

	// Moved and without the hole.
	if err := s.Place(image.Rect(0, 0, 50, 50), nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Draw(50, 50, 0, 0, fillColor(red)); err != nil {
		t.Fatal(err)
	}
	if got := pixel(t, px, parent, 70, 50); got != blue {
		t.Errorf("old place after the move: %v, want the parent's %v", got, blue)
	}
	if got := pixel(t, px, parent, 25, 25); got != red {
		t.Errorf("new place: %v, want %v", got, red)
	}

	if err := s.Hide(); err != nil {
		t.Fatal(err)
	}
	if err := s.Draw(50, 50, 0, 0, fillColor(red)); err != nil {
		t.Fatal(err)
	}
	if got := pixel(t, px, parent, 25, 25); got != blue {
		t.Errorf("hidden: %v, want the parent's %v", got, blue)
	}
}

// TestSurfaceBadInput: a place outside X's 16-bit coordinates, a picture
// size X cannot carry and a failing fill are errors naming the package,
// and the surface shows pictures as before after them.
func TestSurfaceBadInput(t *testing.T) {
	px, parent, s := surfaceRig(t)
	places := []image.Rectangle{
		image.Rect(0, 0, 1<<15, 10),
		image.Rect(-1<<15-1, 0, 10, 10),
		image.Rect(0, 0, 10, 1<<16),
	}
	for _, r := range places {
		if err := s.Place(r, nil); err == nil || !strings.Contains(err.Error(), "xvideo") {
			t.Errorf("Place(%v) = %v, want an xvideo error", r, err)
		}
	}
	if err := s.Place(image.Rect(10, 10, 60, 60), nil); err != nil {
		t.Fatal(err)
	}
	fillErr := errors.New("fill failed")
	draws := []struct {
		name string
		w, h int
		fill func([]byte, int) error
		want error // nil: any xvideo error
	}{
		{"no width", 0, 50, fillColor(red), nil},
		{"negative height", 50, -2, fillColor(red), nil},
		{"wider than X carries", 1<<15 + 2, 50, fillColor(red), nil},
		{"a failing fill", 50, 50, func([]byte, int) error { return fillErr }, fillErr},
	}
	for _, d := range draws {
		err := s.Draw(d.w, d.h, 0, 0, d.fill)
		switch {
		case d.want != nil && !errors.Is(err, d.want):
			t.Errorf("%s: Draw = %v, want %v", d.name, err, d.want)
		case d.want == nil && (err == nil || !strings.Contains(err.Error(), "xvideo")):
			t.Errorf("%s: Draw = %v, want an xvideo error", d.name, err)
		}
	}
	if got := pixel(t, px, parent, 30, 30); got == red {
		t.Errorf("a refused picture shows: %v", got)
	}
	if err := s.Draw(50, 50, 0, 0, fillColor(red)); err != nil {
		t.Fatal(err)
	}
	if got := pixel(t, px, parent, 30, 30); got != red {
		t.Errorf("after the refusals: %v, want %v", got, red)
	}
	if got := pixel(t, px, parent, 5, 5); got != blue {
		t.Errorf("beside: %v, want the parent's %v", got, blue)
	}
}

// TestOpenWithoutDisplay: no X server is ErrUnavailable, not a hang.
func TestOpenWithoutDisplay(t *testing.T) {
	_, err := Open(":4095", nil)
	if err == nil {
		t.Fatal("Open of a display nobody serves succeeded")
	}
	if !strings.Contains(fmt.Sprint(err), "xvideo") {
		t.Errorf("error %q does not name the package", err)
	}
}

func TestSubtract(t *testing.T) {
	r := image.Rect(0, 0, 100, 80)
	tests := []struct {
		name  string
		holes []image.Rectangle
	}{
		{"none", nil},
		{"inside", []image.Rectangle{image.Rect(10, 10, 30, 20)}},
		{"corner", []image.Rectangle{image.Rect(80, 60, 120, 100)}},
		{"outside", []image.Rectangle{image.Rect(200, 200, 210, 210)}},
		{"two overlapping", []image.Rectangle{image.Rect(10, 10, 50, 50), image.Rect(40, 40, 90, 70)}},
		{"all", []image.Rectangle{image.Rect(-5, -5, 105, 85)}},
		{"border strips", []image.Rectangle{image.Rect(0, 0, 100, 4), image.Rect(0, 76, 100, 80), image.Rect(0, 0, 4, 80), image.Rect(96, 0, 100, 80)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := subtract(r, tt.holes)
			// Every pixel of r is covered exactly once, unless in a hole.
			for y := r.Min.Y; y < r.Max.Y; y++ {
				for x := r.Min.X; x < r.Max.X; x++ {
					p := image.Pt(x, y)
					inHole := false
					for _, h := range tt.holes {
						inHole = inHole || p.In(h)
					}
					n := 0
					for _, q := range got {
						if p.In(q) {
							n++
						}
					}
					if want := map[bool]int{true: 0, false: 1}[inHole]; n != want {
						t.Fatalf("pixel %v covered %d times, want %d (rects %v)", p, n, want, got)
					}
				}
			}
		})
	}
}
