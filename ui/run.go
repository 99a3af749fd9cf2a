package ui

import (
	"fmt"
	"image/png"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"syscall"
	"time"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/driver/software"

	"github.com/peercall/peercall/app"
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
			return app.ExitBadFlags
		}
		_ = pprof.StartCPUProfile(f)
		defer func() { pprof.StopCPUProfile(); _ = f.Close() }()
	}
	a := fyneapp.NewWithID(AppID)
	a.SetIcon(iconResource)
	hostAddr := ""
	if o.Media.LoopbackOnly {
		hostAddr = "127.0.0.1:0"
	}
	ctl := app.NewController(app.ControllerOptions{
		Engine:    app.NewEngine(app.EngineOptions{HostAddr: hostAddr, Logger: log}),
		NetTester: app.NewNetTester(),
		Store:     a.Preferences(),
		Secrets:   app.KeyringSecrets{},
		Media:     o.Media,
		Logger:    log,
	})
	w := a.NewWindow("Peercall")
	w.Resize(fyne.NewSize(960, 640))
	speaker := ctl.Settings().Speaker
	New(ctl, w, Options{GUI: o, Devices: app.ListDevices, PlaySound: func(wav []byte) {
		if _, err := app.PlaySound(wav, speaker); err != nil {
			log.Debug("sound not played", "err", err)
		}
	}})
	w.SetOnClosed(ctl.Close)

	start := time.Now()
	var u0, s0 time.Duration
	a.Lifecycle().SetOnStarted(func() {
		u0, s0 = cpuTimes()
		if o.AutoJoin {
			go autoJoin(ctl, o, log)
		}
		if o.Screenshot != "" {
			time.AfterFunc(o.ScreenshotAfter, func() {
				fyne.Do(func() { screenshot(w, o.Screenshot, log) })
			})
		}
		if o.QuitAfter > 0 {
			time.AfterFunc(o.QuitAfter, func() { fyne.Do(a.Quit) })
		}
	})
	w.ShowAndRun()
	ctl.Close()
	if o.CPUReport {
		u1, s1 := cpuTimes()
		wall := time.Since(start).Seconds()
		busy := (u1 - u0 + s1 - s0).Seconds()
		fmt.Printf("cpu: user %.2fs sys %.2fs wall %.1fs = %.1f%% of one core\n",
			(u1 - u0).Seconds(), (s1 - s0).Seconds(), wall, 100*busy/wall)
	}
	return app.ExitOK
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
