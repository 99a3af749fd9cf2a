package app_test

import (
	"bufio"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/peercall/peercall/app"
	"github.com/peercall/peercall/capture"
	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// startXvfb runs a private X server (its own display number) until the
// test ends and returns its DISPLAY. -noreset: without it the server
// resets when its last client leaves, which clears the root's picture.
func startXvfb(t *testing.T, w, h int) string {
	t.Helper()
	if _, err := exec.LookPath("Xvfb"); err != nil {
		t.Fatalf("Xvfb is needed (apt-get install xvfb): %v", err)
	}
	r, wr, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("Xvfb", "-displayfd", "3", "-screen", "0", fmt.Sprintf("%dx%dx24", w, h), "-nolisten", "tcp", "-noreset")
	cmd.ExtraFiles = []*os.File{wr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	_ = wr.Close()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(r).ReadString('\n')
	_ = r.Close()
	if err != nil {
		t.Fatalf("Xvfb gave no display number: %v", err)
	}
	return ":" + strings.TrimSpace(line)
}

// shareTestPicture is what the shared screen shows: coloured panels and
// lines of small text (the bitmap font at 7x13, the hardest case for a
// video codec), so both PSNR and legibility can be judged.
func shareTestPicture(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.RGBA{245, 245, 240, 255}), image.Point{}, draw.Src)
	panels := []color.RGBA{{200, 40, 40, 255}, {40, 160, 60, 255}, {40, 70, 200, 255}, {230, 190, 40, 255}}
	for i, c := range panels {
		r := image.Rect(40+i*(w-80)/4, 40, 40+(i+1)*(w-80)/4-20, 200)
		draw.Draw(img, r, image.NewUniform(c), image.Point{}, draw.Src)
	}
	d := &font.Drawer{Dst: img, Src: image.NewUniform(color.RGBA{20, 20, 20, 255}), Face: basicfont.Face7x13}
	for line := 0; 240+line*18 < h-20; line++ {
		d.Dot = fixed.P(40, 240+line*18)
		d.DrawString(fmt.Sprintf("%03d  Peercall shares this screen: the quick brown fox jumps over the lazy dog 0123456789 (){}[]<>=+-*/ line %d of the test picture", line, line))
	}
	return img
}

// lumaBT601 is the studio-range luma libyuv computes from RGB.
func lumaBT601(c color.RGBA) uint8 {
	return uint8((66*int(c.R)+129*int(c.G)+25*int(c.B)+128)>>8 + 16)
}

// TestScreenShareOverXvfb: a headless peer shares the screen of a private
// Xvfb (1920x1080) showing a known picture with small text; the other peer
// writes the last share frame it decoded, whose luma must match the
// picture's: PSNR ≥ 35 dB on the Y plane. Then: a still screen sends
// next to nothing, a moving one keeps its frame rate, --video screen
// sends on the video track, and a 2560x1440 screen arrives at 1920x1080.
func TestScreenShareOverXvfb(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end call")
	}
	const w, h = 1920, 1080
	disp := startXvfb(t, w, h)
	dir := t.TempDir()
	pic := shareTestPicture(w, h)
	picPath := filepath.Join(dir, "picture.png")
	f, err := os.Create(picPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, pic); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	if _, err := exec.LookPath("display"); err != nil {
		t.Fatalf("ImageMagick's display is needed (apt-get install imagemagick): %v", err)
	}
	// The picture as the root window's background. display exits 1 after
	// setting it, as it does on a desktop; the PSNR below tells whether
	// the screen shows it.
	show := exec.Command("display", "-display", disp, "-window", "root", picPath)
	if out, err := show.CombinedOutput(); err != nil {
		t.Logf("display: %v %s", err, out)
	}

	bin := buildHeadless(t, true)
	url, _ := startSignal(t)
	snap := filepath.Join(dir, "received.png")
	res := runPair(t, url, [2]peerSpec{
		{bin, []string{"--video", "none", "--audio", "none", "--duration", "10s", "--share", "screen:" + disp}},
		{bin, []string{"--video", "none", "--audio", "none", "--duration", "10s", "--share-snapshot", snap}},
	}, 0, nil)
	for i, r := range res {
		if r.code != 0 {
			t.Fatalf("peer %d exit %d: %s", i, r.code, r.stderr)
		}
	}
	t.Logf("share as received: %+v", res[1].rep.ShareIn)
	if si := res[1].rep.ShareIn; si.Width != w || si.Height != h || si.FramesDecoded == 0 {
		t.Fatalf("share received %+v, want %dx%d frames", si, w, h)
	}
	psnr := grayPSNR(readGray(t, snap), pic)
	t.Logf("Y PSNR %.1f dB; received picture in %s", psnr, snap)
	if out := os.Getenv("PEERCALL_SHARE_SHOTS"); out != "" {
		_ = os.MkdirAll(out, 0o755)
		if b, err := os.ReadFile(snap); err == nil {
			_ = os.WriteFile(filepath.Join(out, "share-received.png"), b, 0o644)
		}
	}
	if psnr < 35 {
		t.Errorf("received screen Y PSNR %.1f dB, want ≥ 35", psnr)
	}
	// A still screen costs next to nothing: a keepalive frame a second,
	// and the sharing process (no camera, no microphone) idles. The
	// bitrate is judged on the sender's timeline (the share is all it
	// sends), second by second from stillSettle after the share's first
	// data: that first keyframe (hundreds of kbit of text) would dominate
	// an average over the call. A share sending at its target would be at
	// hundreds of kbit/s.
	a := res[0].rep
	t.Logf("still screen: %.2f share fps received, sender CPU %.1f %% of a core, share bitrate out %.0f kbit/s in the last second", res[1].rep.ShareIn.FPS, a.CPU.PercentOfCore, a.VideoOut.BitrateKbps)
	const stillSettle, stillKbps = 3000, 50.0 // ms; kbit/s
	var began int64
	var later []float64
	for _, p := range a.Timeline {
		switch {
		case began == 0 && p.SendKbps > 0:
			began = p.UnixMS
		case began != 0 && p.UnixMS > began+stillSettle:
			later = append(later, p.SendKbps)
		}
	}
	t.Logf("still screen: sender kbit/s each second from %d ms after the share began: %v", stillSettle, later)
	if len(later) < 2 {
		t.Errorf("the sender's timeline has %d points from %d ms after the share began, want ≥ 2: %+v", len(later), stillSettle, a.Timeline)
	}
	for i, kbps := range later {
		if kbps > stillKbps {
			t.Errorf("a still screen sent %.0f kbit/s in second %d from %d ms after the share began, want < %.0f", kbps, i+1, stillSettle, stillKbps)
		}
	}
	if fps := res[1].rep.ShareIn.FPS; fps > 2 {
		t.Errorf("a still screen arrived at %.1f fps, want about 1 (keepalives)", fps)
	}
	if a.CPU.PercentOfCore > 10 {
		t.Errorf("sharing a still screen cost %.1f %% of a core", a.CPU.PercentOfCore)
	}

	// A screen that changes all the time (xsetroot repaints the whole
	// root window about 30 times a second) keeps at least 10 fps.
	if _, err := exec.LookPath("xsetroot"); err != nil {
		t.Fatalf("xsetroot is needed (apt-get install x11-xserver-utils): %v", err)
	}
	stop := make(chan struct{})
	flipped := make(chan int)
	go func() {
		n := 0
		defer func() { flipped <- n }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			_ = exec.Command("xsetroot", "-display", disp, "-solid", fmt.Sprintf("#%02x%02x%02x", n*37%256, n*91%256, n*53%256)).Run()
			n++
		}
	}()
	res = runPair(t, url, [2]peerSpec{
		{bin, []string{"--video", "none", "--audio", "none", "--duration", "5s", "--share", "screen:" + disp}},
		{bin, []string{"--video", "none", "--audio", "none", "--duration", "5s"}},
	}, 0, nil)
	close(stop)
	flips := <-flipped
	t.Logf("moving screen (%d pictures shown): share %+v; sender CPU %.1f %% of a core (capture, encode, send; no camera or microphone), %.0f kbit/s",
		flips, res[1].rep.ShareIn, res[0].rep.CPU.PercentOfCore, res[0].rep.VideoOut.BitrateKbps)
	if fps := res[1].rep.ShareIn.FPS; fps < 10 {
		t.Errorf("a changing screen arrived at %.1f fps, want ≥ 10", fps)
	}

	// --video screen: the screen instead of a camera, on the video track.
	res = runPair(t, url, [2]peerSpec{
		{bin, []string{"--video", "screen:" + disp + ":640x360+0+0", "--audio", "none", "--duration", "3s", "--log-level", "info"}},
		{bin, []string{"--video", "none", "--audio", "none", "--duration", "3s", "--log-level", "info"}},
	}, 0, nil)
	for i, r := range res {
		if r.code != 0 {
			t.Fatalf("--video screen: peer %d exit %d: %s\nother: %s", i, r.code, r.stderr, res[1-i].stderr)
		}
	}
	if vi := res[1].rep.VideoIn; vi.Width != 640 || vi.Height != 360 || vi.FramesDecoded == 0 || res[1].rep.ShareIn.Shares != 0 {
		t.Errorf("--video screen arrived as %+v (share %+v), want 640x360 frames on the video track", vi, res[1].rep.ShareIn)
	}

	// A screen larger than 1080p is sent scaled down to fit in 1920x1080
	// (issue 15): a 2560x1440 monitor arrives at 1920x1080.
	big := startXvfb(t, 2560, 1440)
	res = runPair(t, url, [2]peerSpec{
		{bin, []string{"--video", "none", "--audio", "none", "--duration", "3s", "--share", "screen:" + big}},
		{bin, []string{"--video", "none", "--audio", "none", "--duration", "3s"}},
	}, 0, nil)
	for i, r := range res {
		if r.code != 0 {
			t.Fatalf("2560x1440 share: peer %d exit %d: %s", i, r.code, r.stderr)
		}
	}
	t.Logf("2560x1440 screen: share as received %+v", res[1].rep.ShareIn)
	if si := res[1].rep.ShareIn; si.Width != 1920 || si.Height != 1080 || si.FramesDecoded == 0 {
		t.Errorf("a 2560x1440 screen's share arrived as %+v, want 1920x1080 frames", si)
	}
}

// grayPSNR scores a received luma picture against the RGB picture shown
// (its studio-range luma), in dB.
func grayPSNR(got *image.Gray, pic *image.RGBA) float64 {
	b := pic.Bounds()
	var se float64
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			d := float64(got.GrayAt(x, y).Y) - float64(lumaBT601(pic.RGBAAt(x, y)))
			se += d * d
		}
	}
	return 10 * math.Log10(255*255/math.Max(se/float64(b.Dx()*b.Dy()), 1e-9))
}

func readGray(t *testing.T, path string) *image.Gray {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	g, ok := img.(*image.Gray)
	if !ok {
		t.Fatalf("%s is %T, want gray", path, img)
	}
	return g
}

// TestShareChoicesOnXvfb: the picker lists the display's screen with a
// thumbnail of what it shows, and the choice's spec shares it.
func TestShareChoicesOnXvfb(t *testing.T) {
	disp := startXvfb(t, 1280, 720)
	t.Setenv("DISPLAY", disp)
	red := image.NewRGBA(image.Rect(0, 0, 1280, 720))
	draw.Draw(red, red.Bounds(), image.NewUniform(color.RGBA{200, 50, 50, 255}), image.Point{}, draw.Src)
	redPath := filepath.Join(t.TempDir(), "red.png")
	f, err := os.Create(redPath)
	if err != nil {
		t.Fatal(err)
	}
	_ = png.Encode(f, red)
	_ = f.Close()
	// display exits 1 after painting the root (see TestScreenShareOverXvfb).
	_ = exec.Command("display", "-display", disp, "-window", "root", redPath).Run()
	choices, err := app.ListShareChoices(true)
	if err != nil {
		t.Fatal(err)
	}
	var screens int
	for _, c := range choices {
		t.Logf("%q → %s (thumb %v)", c.Label, c.Spec, c.Thumb != nil)
		if !strings.HasPrefix(c.Label, "Screen ") {
			continue
		}
		screens++
		if c.Thumb == nil {
			t.Errorf("%s: no thumbnail", c.Label)
			continue
		}
		b := c.Thumb.Bounds()
		r, g, bl, _ := c.Thumb.At(b.Dx()/2, b.Dy()/2).RGBA()
		if b.Dx() > 192 || b.Dy() > 108 || r>>8 < 150 || g>>8 > 90 || bl>>8 > 90 {
			t.Errorf("%s: thumbnail %v with centre %d,%d,%d, want ≤ 192x108 and the red root", c.Label, b, r>>8, g>>8, bl>>8)
		}
		src, err := app.OpenShareSource(c.Spec)
		if err != nil {
			t.Fatalf("%s: %v", c.Spec, err)
		}
		if src.Width != 1280 || src.Height != 720 {
			t.Errorf("%s opens %dx%d", c.Spec, src.Width, src.Height)
		}
		_ = src.Close()
	}
	if screens != 1 || choices[0].Spec != "synthetic" {
		t.Errorf("choices %+v: want the test picture first and one screen", choices)
	}
}

// TestShareHidesOwnWindow: the call window the GUI reports
// (Controller.SetOwnWindows) is left out of the Share picker and painted
// over in a shared screen, so the people watching see no hall of mirrors.
func TestShareHidesOwnWindow(t *testing.T) {
	const w, h = 800, 600
	disp := startXvfb(t, w, h)
	t.Setenv("DISPLAY", disp)
	t.Setenv("WAYLAND_DISPLAY", "")
	t.Setenv("XDG_SESSION_TYPE", "x11")
	dir := t.TempDir()
	bright := image.NewRGBA(image.Rect(0, 0, 300, 200))
	draw.Draw(bright, bright.Bounds(), image.NewUniform(color.RGBA{250, 250, 250, 255}), image.Point{}, draw.Src)
	pic := filepath.Join(dir, "call-window.png")
	f, err := os.Create(pic)
	if err != nil {
		t.Fatal(err)
	}
	_ = png.Encode(f, bright)
	_ = f.Close()
	// A white window titled like the call window stands in for it.
	win := exec.Command("display", "-display", disp, "-title", "Peercall call", "-geometry", "+100+100", pic)
	if err := win.Start(); err != nil {
		t.Fatalf("ImageMagick's display: %v", err)
	}
	t.Cleanup(func() { _ = win.Process.Kill(); _ = win.Wait() })
	var id uint32
	for deadline := time.Now().Add(10 * time.Second); id == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the window never appeared")
		}
		list, _ := capture.ListScreens(disp)
		for _, s := range list {
			if s.Name == "Peercall call" {
				id = s.Window
			}
		}
	}

	c := app.NewController(app.ControllerOptions{Store: mapStore{}})
	defer c.Close()
	listed := func() bool {
		choices, err := c.ShareChoices()
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range choices {
			if ch.Label == "Window: Peercall call" {
				return true
			}
		}
		return false
	}
	if !listed() {
		t.Fatal("before SetOwnWindows the window should be offered like any other")
	}
	c.SetOwnWindows(id)
	if listed() {
		t.Error("the call window is offered for sharing")
	}

	// The screen as shared: the window's area is flat dark gray, the
	// root around it black as Xvfb draws it.
	for _, hide := range [][]uint32{nil, {id}} {
		src, err := app.OpenShareSource("screen:"+disp, hide...)
		if err != nil {
			t.Fatal(err)
		}
		img, err := src.Next()
		if err != nil {
			t.Fatal(err)
		}
		inside := img.Y[200*img.YStride+250]
		_ = src.Close()
		switch {
		case hide == nil && inside < 200:
			t.Errorf("without hiding, the window shows luma %d, want white", inside)
		case hide != nil && (inside < 30 || inside > 70):
			t.Errorf("hidden window shows luma %d, want the flat dark gray", inside)
		}
	}
}
