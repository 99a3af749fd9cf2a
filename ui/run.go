package ui

import (
	"fmt"
	"image/png"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync"
	"syscall"
	"time"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/driver"
	"fyne.io/fyne/v2/driver/software"
	"github.com/go-gl/glfw/v3.4/glfw"

	"github.com/peercall/peercall/app"
	"github.com/peercall/peercall/app/cli"
	"github.com/peercall/peercall/ui/xvideo"
)

// AppID names the preferences file and the keyring entries.
const AppID = "io.peercall.app"

// Run starts the desktop app and returns the process exit code.
func Run(o app.GUIOptions) int {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if o.CPUProfile != "" {
		f, err := os.Create(o.CPUProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "peercall:", err)
			return cli.ExitBadFlags
		}
		_ = pprof.StartCPUProfile(f)
		defer func() { pprof.StopCPUProfile(); _ = f.Close() }()
	}
	tuneSoftwareGL(os.LookupEnv, os.Setenv, runtime.NumCPU())
	a := fyneapp.NewWithID(AppID)
	a.SetIcon(iconResource)
	hostAddr := ""
	if o.Media.LoopbackOnly {
		hostAddr = "127.0.0.1:0"
	}
	ctl := app.NewController(app.ControllerOptions{
		Engine:    app.NewEngine(app.EngineOptions{HostAddr: hostAddr, Logger: log}),
		NetTester: app.NewNetTester(),
		Previewer: app.NewPreviewer(),
		Store:     a.Preferences(),
		Secrets:   app.KeyringSecrets{},
		Media:     o.Media,
		Logger:    log,
	})
	w := a.NewWindow("Peercall")
	colorOnlyFramebuffer()
	if o.WindowW == 0 || o.WindowH == 0 {
		o.WindowW, o.WindowH = app.DefaultWindowW, app.DefaultWindowH
	}
	w.Resize(fyne.NewSize(float32(o.WindowW), float32(o.WindowH)))
	speaker := ctl.Settings().Speaker
	opts := Options{GUI: o, Devices: app.ListDevices, Log: log, PlaySound: func(wav []byte) {
		if _, err := app.PlaySound(wav, speaker); err != nil {
			log.Debug("sound not played", "err", err)
		}
	}}
	if !o.ToolkitVideo {
		opts.surfaces = func() (surfaceMaker, error) { return x11Surfaces(w, log) }
	}
	u := New(ctl, w, opts)
	// Fyne 2.8.1 can hang in Run after its main loop stopped: the loop
	// queues the app's stop hook, then drains and closes its function queue,
	// and a hook that reaches the queue between the two is never run nor
	// released. The window is gone and the call hung up by then, so once a
	// quit is under way, a Run that has not returned in runExitGrace ends
	// the process the normal way (finish below) instead of leaving it behind.
	runReturned := make(chan struct{})
	var finishOnce sync.Once
	var code int
	var finish func() int
	watchQuit := sync.OnceFunc(func() {
		go func() {
			select {
			case <-runReturned:
			case <-time.After(runExitGrace):
				log.Warn("window system did not return after quit; exiting")
				os.Exit(finish())
			}
		}()
	})
	w.SetOnClosed(func() {
		u.Stop()
		ctl.Close()
		watchQuit()
	})

	// The CPU report covers the connected call only: from the first
	// connected snapshot (and after the screenshot, whose software paint
	// and PNG encoding are not rendering costs) to exit.
	shotDone := make(chan struct{})
	if o.Screenshot == "" {
		close(shotDone)
	}
	var mu sync.Mutex
	var start time.Time
	var u0, s0 time.Duration
	var f0, l0 int64
	stopWatch := make(chan struct{})
	go func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stopWatch:
				return
			case <-t.C:
				if ctl.Snapshot().Phase == app.PhaseConnected && closed(shotDone) {
					mu.Lock()
					start = time.Now()
					u0, s0 = cpuTimes()
					f0, l0 = u.call.shown.Load(), u.call.local.frames.Load()
					mu.Unlock()
					return
				}
			}
		}
	}()
	var u1, s1 time.Duration
	var end time.Time
	var f1, l1 int64
	// stopClock ends the measured span: at the quit, not when Run returns.
	stopClock := sync.OnceFunc(func() {
		mu.Lock()
		defer mu.Unlock()
		u1, s1 = cpuTimes()
		end = time.Now()
		f1, l1 = u.call.shown.Load(), u.call.local.frames.Load()
	})
	a.Lifecycle().SetOnStarted(func() {
		if o.AutoJoin {
			go autoJoin(ctl, o, log)
		}
		if o.Screenshot != "" {
			time.AfterFunc(o.ScreenshotAfter, func() {
				fyne.Do(func() {
					u.surfaces.withPictures(func() { screenshot(w, o.Screenshot, log) })
					close(shotDone)
				})
			})
		}
		if o.QuitAfter > 0 {
			time.AfterFunc(o.QuitAfter, func() {
				stopClock()
				watchQuit()
				fyne.Do(func() {
					u.Stop()
					a.Quit()
				})
			})
		}
	})
	// report ends the run: the CPU line, and the controller closed.
	report := func() int {
		stopClock()
		close(stopWatch)
		ctl.Close()
		mu.Lock()
		defer mu.Unlock()
		if o.CPUReport && !start.IsZero() {
			wall := end.Sub(start).Seconds()
			busy := (u1 - u0 + s1 - s0).Seconds()
			fmt.Printf("cpu: connected %.1fs: user %.2fs sys %.2fs = %.1f%% of one core; shown %.1f remote fps, %.1f self-view fps\n",
				wall, (u1 - u0).Seconds(), (s1 - s0).Seconds(), 100*busy/wall, float64(f1-f0)/wall, float64(l1-l0)/wall)
		} else if o.CPUReport {
			fmt.Println("cpu: the call never connected")
		}
		return cli.ExitOK
	}
	finish = func() int {
		finishOnce.Do(func() { code = report() })
		return code
	}
	w.ShowAndRun()
	close(runReturned)
	return finish()
}

// runExitGrace is how long Run may take to return once the window closed.
const runExitGrace = 5 * time.Second

// tuneSoftwareGL keeps Mesa's software rasterizer (llvmpipe, what machines
// without a GPU driver and Xvfb use) on the painting thread on small
// machines. Its worker threads hand every frame back and forth with the
// main thread, and with video repainting the window 30 times a second that
// hand-off costs more than it saves: on 2 cores the app used 44-47 % of a
// core with the default threads and 38-41 % without, and still painted
// 29-30 fps at 1900x1000. GPU drivers ignore the variable, and a value the
// user set is kept.
func tuneSoftwareGL(lookup func(string) (string, bool), set func(string, string) error, cpus int) {
	if _, ok := lookup("LP_NUM_THREADS"); ok || cpus > 4 {
		return
	}
	_ = set("LP_NUM_THREADS", "0")
}

// colorOnlyFramebuffer asks for a window without depth and stencil
// buffers; Fyne paints with neither (it clips with scissors). Its painter
// clears the depth buffer before every frame all the same, and with the
// default 24-bit depth + 8-bit stencil buffer a depth-only clear is a
// masked read-modify-write of every pixel: in software GL that was a third
// of the cost of an empty window repaint, about 1.5 % of a core at 30 fps
// in a 900x580 window. Fyne initialises GLFW in NewWindow and creates the
// GLFW window when it is first shown, so hints set in between apply (and
// they are the only hints Fyne does not set itself).
func colorOnlyFramebuffer() {
	glfw.WindowHint(glfw.DepthBits, 0)
	glfw.WindowHint(glfw.StencilBits, 0)
}

func closed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func autoJoin(ctl *app.Controller, o app.GUIOptions, log *slog.Logger) {
	p := app.JoinParams{Server: o.Join, Room: o.Room, Name: o.Name, Password: o.Password}
	var err error
	if o.Host {
		err = ctl.StartCall(p)
	} else {
		err = ctl.Join(p)
	}
	if err != nil {
		log.Error("auto-join failed", "err", err)
	}
}

// screenshot saves the window's content as PNG (no extra tools needed). The
// GL canvas' own Capture reads the front buffer, which is black under Xvfb's
// software GL, so the content is painted once by Fyne's software painter
// and handed back to the window.
func screenshot(w fyne.Window, path string, log *slog.Logger) {
	content := w.Content()
	size := content.Size()
	sc := software.NewCanvas()
	sc.SetPadded(false)
	sc.SetContent(content)
	sc.Resize(size)
	img := sc.Capture()
	w.SetContent(content)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		log.Error("screenshot", "err", err)
		return
	}
	f, err := os.Create(path)
	if err != nil {
		log.Error("screenshot", "err", err)
		return
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		log.Error("screenshot", "err", err)
		return
	}
	fmt.Fprintln(os.Stderr, "peercall: screenshot saved to", path)
}

func cpuTimes() (user, sys time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}

// x11Surfaces opens X11 windows of their own for the pictures, children of
// w's (xvideo). Main thread, with w on screen.
func x11Surfaces(w fyne.Window, log *slog.Logger) (surfaceMaker, error) {
	nw, ok := w.(driver.NativeWindow)
	if !ok {
		return surfaceMaker{}, xvideo.ErrUnavailable
	}
	var xid uintptr
	nw.RunNative(func(ctx any) {
		if x, ok := ctx.(driver.X11WindowContext); ok {
			xid = x.WindowHandle
		}
	})
	if xid == 0 || xid > math.MaxUint32 {
		return surfaceMaker{}, fmt.Errorf("%w: the window is not an X11 window", xvideo.ErrUnavailable)
	}
	conn, err := xvideo.Open("", log)
	if err != nil {
		return surfaceMaker{}, err
	}
	return surfaceMaker{
		New:   func() (videoSurface, error) { return conn.NewSurface(uint32(xid)) },
		Close: conn.Close,
	}, nil
}
