package ui

import (
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"

	"github.com/peercall/peercall/app"
)

// gridShotEnv makes the test binary the real-window program of
// TestGridWindowXvfb instead of running tests: the GLFW driver needs the
// process's main thread, which only TestMain has.
const gridShotEnv = "PEERCALL_UI_GRIDSHOT_DIR"

// gridShotSurfacesEnv, set, gives the window's pictures surfaces of their
// own (X11 child windows) as the app does unless --toolkit-video.
const gridShotSurfacesEnv = "PEERCALL_UI_GRIDSHOT_SURFACES"

func TestMain(m *testing.M) {
	if dir := os.Getenv(gridShotEnv); dir != "" {
		os.Exit(gridShot(dir))
	}
	os.Exit(m.Run())
}

// gridShotPeers are the three people of the real-window run; hue is the
// colour their fake camera shows (checked in the screenshot).
var gridShotPeers = []struct {
	view app.PeerView
	hue  string
	cb   byte
	cr   byte
}{
	{app.PeerView{ID: "p-bob", Name: "Bob", Phase: app.PhaseConnected, CameraOn: true, MicOn: true, Speaking: true, Quality: 4}, "red", 90, 240},
	{app.PeerView{ID: "p-cleo", Name: "Cleo", Phase: app.PhaseConnected, CameraOn: true, MicOn: false, Quality: 3}, "green", 54, 34},
	{app.PeerView{ID: "p-dan", Name: "Dan", Phase: app.PhaseConnected, CameraOn: true, MicOn: true, Quality: 2}, "blue", 240, 110},
}

// gridShotResult is what the window program reports to the test.
type gridShotResult struct {
	Cells []image.Rectangle // in window pixels: tiles in order, then the self-view
	// ShareCells: with Cleo sharing, her share (large), then the strip:
	// the cameras in order and the self-view.
	ShareCells []image.Rectangle
	ShownFPS   float64 // remote frames shown per second, all tiles
	CPUPct     float64 // process CPU, % of one core, while frames flowed
	Seconds    float64
	ScreenXWD  string // the X server's picture, copied while the window was up
	// ShareXWD is the X server's picture of the share stage.
	ShareXWD string
	// OnSurfaces counts the views (cameras, self-view) whose pictures
	// were on surfaces of their own at the grid's screenshot, and
	// ShareOnSurfaces at the share stage's (the share too).
	OnSurfaces, ShareOnSurfaces int
}

// gridShot runs the desktop window with a three-person call of fake
// frames (a colour per person, a moving bar), saves the app's screenshot
// (grid.png) and the X server's screen (screen.xwd) in dir, then Cleo
// shares a yellow 1280x720 screen (share.png), then quits.
func gridShot(dir string) int {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	tuneSoftwareGL(os.LookupEnv, os.Setenv, runtime.NumCPU())
	a := fyneapp.NewWithID(AppID + ".gridshot")
	ctl := app.NewController(app.ControllerOptions{Store: a.Preferences(), Logger: log})
	defer ctl.Close()
	w := a.NewWindow("Peercall")
	colorOnlyFramebuffer()
	w.Resize(fyne.NewSize(app.DefaultWindowW, app.DefaultWindowH))
	opts := Options{}
	if os.Getenv(gridShotSurfacesEnv) != "" {
		opts.surfaces = func() (surfaceMaker, error) { return x11Surfaces(w, log) }
	}
	u := New(ctl, w, opts)

	n := app.Notify{Phase: app.PhaseConnected, Room: "grid", Name: "Ann", CameraOn: true, ConnectedAt: time.Now()}
	for i, p := range gridShotPeers {
		v := p.view
		v.SASDigits = fmt.Sprintf("%06d", 111111*(i+1))
		n.Peers = append(n.Peers, v)
	}
	var res gridShotResult
	stop := make(chan struct{})
	var wg sync.WaitGroup
	a.Lifecycle().SetOnStarted(func() {
		fyne.Do(func() {
			u.flushPending() // the idle controller's first snapshot
			u.render(n)
		})
		for _, p := range gridShotPeers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				fakeCamera(stop, p.cb, p.cr, func(img *image.YCbCr) { u.onFrame(app.VideoFrame{Peer: p.view.ID, Image: img}) })
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			fakeCamera(stop, 128, 128, func(img *image.YCbCr) { u.onFrame(app.VideoFrame{Local: true, Image: img}) })
		}()
		go func() {
			time.Sleep(time.Second) // the first frames are up
			t0, u0, s0, f0 := time.Now(), 0*time.Second, 0*time.Second, u.call.shown.Load()
			u0, s0 = cpuTimes()
			time.Sleep(3 * time.Second)
			u1, s1 := cpuTimes()
			res.Seconds = time.Since(t0).Seconds()
			res.ShownFPS = float64(u.call.shown.Load()-f0) / res.Seconds
			res.CPUPct = 100 * (u1 - u0 + s1 - s0).Seconds() / res.Seconds
			done := make(chan struct{})
			fyne.Do(func() {
				for _, o := range u.call.grid.Objects {
					res.Cells = append(res.Cells, windowRect(w, o))
				}
				res.OnSurfaces = onSurfaces(u.surfaces)
				u.surfaces.withPictures(func() { screenshot(w, filepath.Join(dir, "grid.png"), log) })
				close(done)
			})
			<-done
			// The X server's own picture shows what GL presented.
			time.Sleep(500 * time.Millisecond)
			if fb := os.Getenv("PEERCALL_UI_GRIDSHOT_FB"); fb != "" {
				res.ScreenXWD = filepath.Join(dir, "screen.xwd")
				if err := copyFile(fb, res.ScreenXWD); err != nil {
					log.Error("screen dump not copied", "err", err)
					res.ScreenXWD = ""
				}
			}

			// Cleo shares her screen: the stage.
			shareN := n
			shareN.Peers = append([]app.PeerView(nil), n.Peers...)
			shareN.Peers[1].Sharing = true
			fyne.Do(func() { u.render(shareN) })
			wg.Add(1)
			go func() {
				defer wg.Done()
				fakeFrames(stop, 1280, 720, 10, shareCb, shareCr, func(img *image.YCbCr) {
					u.onFrame(app.VideoFrame{Peer: shareN.Peers[1].ID, Share: true, Image: img})
				})
			}()
			time.Sleep(time.Second)
			done = make(chan struct{})
			fyne.Do(func() {
				objs := u.call.grid.Objects
				for _, o := range append([]fyne.CanvasObject{objs[0]}, objs[2:]...) {
					res.ShareCells = append(res.ShareCells, windowRect(w, o))
				}
				res.ShareOnSurfaces = onSurfaces(u.surfaces)
				u.surfaces.withPictures(func() { screenshot(w, filepath.Join(dir, "share.png"), log) })
				close(done)
			})
			<-done
			time.Sleep(500 * time.Millisecond)
			if fb := os.Getenv("PEERCALL_UI_GRIDSHOT_FB"); fb != "" {
				res.ShareXWD = filepath.Join(dir, "share-screen.xwd")
				if err := copyFile(fb, res.ShareXWD); err != nil {
					log.Error("screen dump not copied", "err", err)
					res.ShareXWD = ""
				}
			}
			fyne.Do(func() {
				u.Stop()
				a.Quit()
			})
		}()
	})
	w.ShowAndRun()
	close(stop)
	wg.Wait()
	b, _ := json.Marshal(res)
	if err := os.WriteFile(filepath.Join(dir, "result.json"), b, 0o644); err != nil {
		log.Error("result not written", "err", err)
		return 1
	}
	return 0
}

// shareCb, shareCr make the shared screen yellow.
const shareCb, shareCr = 40, 150

// windowRect is o's place in window pixels. Main thread.
func windowRect(w fyne.Window, o fyne.CanvasObject) image.Rectangle {
	sc := w.Canvas().Scale()
	p := fyne.CurrentApp().Driver().AbsolutePositionForObject(o)
	s := o.Size()
	return image.Rect(int(p.X*sc), int(p.Y*sc), int((p.X+s.Width)*sc), int((p.Y+s.Height)*sc))
}

// fakeCamera sends 640x480 frames at 30 fps until stop: a luma gradient
// (thousands of colours once shown) in the chroma cb, cr, with a light
// bar moving across.
func fakeCamera(stop <-chan struct{}, cb, cr byte, push func(*image.YCbCr)) {
	fakeFrames(stop, 640, 480, 30, cb, cr, push)
}

// fakeFrames is fakeCamera at any size and rate.
func fakeFrames(stop <-chan struct{}, w, h, fps int, cb, cr byte, push func(*image.YCbCr)) {
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	for i := range img.Cb {
		img.Cb[i], img.Cr[i] = cb, cr
	}
	t := time.NewTicker(time.Second / time.Duration(fps))
	defer t.Stop()
	for frame := 0; ; frame++ {
		bar := frame * 8 % w
		for y := 0; y < h; y++ {
			row := img.Y[y*img.YStride : y*img.YStride+w]
			for x := range row {
				row[x] = byte(60 + (x+y)*100/(w+h))
				if x >= bar && x < bar+16 {
					row[x] = 235
				}
			}
		}
		push(img)
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}

// TestGridWindowXvfb runs the real window (GLFW, software GL) under Xvfb
// with a three-person call of fake frames and checks both the app's
// screenshot and the X server's picture: four cells, each person's colour
// in their cell, the grey self-view in the fourth. Then Cleo shares: her
// yellow screen large, the cameras and the self-view in the strip (the
// app's screenshot). It runs with the pictures painted by Fyne
// (--toolkit-video) and on surfaces of their own (the default), where all
// four views must be on surfaces. PEERCALL_UI_SHOTS=DIR keeps the pictures
// in DIR/toolkit and DIR/surfaces to look at.
func TestGridWindowXvfb(t *testing.T) {
	for _, tt := range []struct {
		name     string
		surfaces bool
	}{{"toolkit", false}, {"surfaces", true}} {
		t.Run(tt.name, func(t *testing.T) { gridWindowXvfb(t, tt.name, tt.surfaces) })
	}
}

func gridWindowXvfb(t *testing.T, name string, surfaces bool) {
	xvfb, err := exec.LookPath("xvfb-run")
	if err != nil {
		t.Fatal("xvfb-run not found: apt-get install xvfb xauth (make deps)")
	}
	dir := os.Getenv("PEERCALL_UI_SHOTS")
	if dir == "" {
		dir = t.TempDir()
	} else if dir = filepath.Join(dir, name); os.MkdirAll(dir, 0o755) != nil {
		t.Fatalf("cannot create %s", dir)
	}
	fbdir := t.TempDir()
	home := t.TempDir() // fresh preferences
	cmd := exec.Command(xvfb, "-a", "-s", "-screen 0 1280x800x24 -fbdir "+fbdir, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), gridShotEnv+"="+dir, "PEERCALL_UI_GRIDSHOT_FB="+filepath.Join(fbdir, "Xvfb_screen0"),
		"HOME="+home, "XDG_CONFIG_HOME="+home+"/.config", "XDG_CACHE_HOME="+home+"/.cache")
	if surfaces {
		cmd.Env = append(cmd.Env, gridShotSurfacesEnv+"=1")
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("window run: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "result.json"))
	if err != nil {
		t.Fatalf("no result: %v\n%s", err, out)
	}
	var res gridShotResult
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	t.Logf("3 people at 640x480/30 fps: %.1f remote frames shown per second (all tiles), process CPU %.0f%% of one core over %.1fs",
		res.ShownFPS, res.CPUPct, res.Seconds)
	if len(res.Cells) != 4 {
		t.Fatalf("%d cells in the window, want 4", len(res.Cells))
	}
	if want := map[bool]int{true: 4}[surfaces]; res.OnSurfaces != want {
		t.Errorf("%d views on surfaces of their own, want %d", res.OnSurfaces, want)
	}
	if want := map[bool]int{true: 5}[surfaces]; res.ShareOnSurfaces != want {
		t.Errorf("on the share stage, %d views on surfaces of their own, want %d", res.ShareOnSurfaces, want)
	}

	shots := map[string]string{"app screenshot": filepath.Join(dir, "grid.png")}
	if res.ScreenXWD == "" {
		t.Error("no X server screen dump")
	} else {
		shots["X server screen"] = filepath.Join(dir, "screen.png")
		conv := exec.Command("go", "run", "../scripts/xwd2png", "-crop", fmt.Sprintf("%dx%d", app.DefaultWindowW, app.DefaultWindowH),
			"-min-colours", "1000", res.ScreenXWD, shots["X server screen"])
		if o, err := conv.CombinedOutput(); err != nil {
			t.Errorf("X server picture: %v\n%s", err, o)
		}
	}
	for what, path := range shots {
		img := readPNG(t, path)
		t.Logf("%s: %s", what, path)
		for i, p := range gridShotPeers {
			if got := hueAt(img, res.Cells[i]); got != p.hue {
				t.Errorf("%s: %s's cell %v is %s, want %s", what, p.view.Name, res.Cells[i], got, p.hue)
			}
		}
		if got := hueAt(img, res.Cells[3]); got != "grey" {
			t.Errorf("%s: self-view cell %v is %s, want grey", what, res.Cells[3], got)
		}
	}

	// The share stage: Cleo's screen large, everyone's camera small, in
	// the app's screenshot and on the X server.
	shots = map[string]string{"share stage, app screenshot": filepath.Join(dir, "share.png")}
	if res.ShareXWD == "" {
		t.Error("no X server screen dump of the share stage")
	} else {
		shots["share stage, X server screen"] = filepath.Join(dir, "share-screen.png")
		conv := exec.Command("go", "run", "../scripts/xwd2png", "-crop", fmt.Sprintf("%dx%d", app.DefaultWindowW, app.DefaultWindowH),
			"-min-colours", "1000", res.ShareXWD, shots["share stage, X server screen"])
		if o, err := conv.CombinedOutput(); err != nil {
			t.Errorf("X server picture of the share stage: %v\n%s", err, o)
		}
	}
	want := []string{"yellow"}
	for _, p := range gridShotPeers {
		want = append(want, p.hue)
	}
	want = append(want, "grey")
	if len(res.ShareCells) != len(want) {
		t.Fatalf("%d cells on the share stage, want %d", len(res.ShareCells), len(want))
	}
	for what, path := range shots {
		img := readPNG(t, path)
		t.Logf("%s: %s", what, path)
		for i, r := range res.ShareCells {
			if got := hueAt(img, r); got != want[i] {
				t.Errorf("%s: cell %d %v is %s, want %s", what, i, r, got, want[i])
			}
		}
	}
	if main, cell := res.ShareCells[0], res.ShareCells[1]; main.Dx()*main.Dy() < 8*cell.Dx()*cell.Dy() {
		t.Errorf("the share (%v) is not large beside a camera (%v)", main, cell)
	}
}

func readPNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

// hueAt names the dominant colour of a patch at r's centre (below the
// moving bar's reach is not needed: the bar is one sixtieth of the
// picture, the patch is averaged).
func hueAt(img image.Image, r image.Rectangle) string {
	c := image.Pt((r.Min.X+r.Max.X)/2, (r.Min.Y+r.Max.Y)/2)
	var sr, sg, sb, n int
	for y := c.Y - 10; y < c.Y+10; y++ {
		for x := c.X - 10; x < c.X+10; x++ {
			p := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
			sr, sg, sb, n = sr+int(p.R), sg+int(p.G), sb+int(p.B), n+1
		}
	}
	sr, sg, sb = sr/n, sg/n, sb/n
	switch {
	case sr > sg+40 && sr > sb+40:
		return "red"
	case sg > sr+40 && sg > sb+40:
		return "green"
	case sb > sr+40 && sb > sg+40:
		return "blue"
	case sr > sb+40 && sg > sb+40 && max(sr-sg, sg-sr) < 40:
		return "yellow"
	case max(sr, sg, sb)-min(sr, sg, sb) < 24 && sr > 40:
		return "grey"
	}
	return fmt.Sprintf("rgb(%d,%d,%d)", sr, sg, sb)
}

// onSurfaces counts the views whose pictures are on surfaces of their
// own. Main thread.
func onSurfaces(s *surfaceSet) int {
	n := 0
	for _, v := range s.views {
		if v.onSurf.Load() {
			n++
		}
	}
	return n
}
