package ui

import (
	"log/slog"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/widget"

	"github.com/peercall/peercall/app"
	"github.com/peercall/peercall/assets"
)

// page is the screen shown outside a call.
type page int

const (
	pageStart page = iota
	pageSettings
	pageNetTest
)

// Options configures New.
type Options struct {
	GUI app.GUIOptions
	// Devices lists cameras, microphones and speakers (app.ListDevices;
	// tests pass a fixed list).
	Devices func() app.DeviceList
	// PlaySound plays one of the embedded sounds; nil is silent.
	PlaySound func(wav []byte)
	// Do runs f on the main thread (fyne.Do); tests queue it instead.
	Do func(f func())
	// Log takes what the UI reports (nil: nothing).
	Log *slog.Logger

	// surfaces opens windows of their own for the pictures once the
	// window is on screen (nil: Fyne paints all video).
	surfaces func() (surfaceMaker, error)
}

// UI is the window's content: a thin view over app.Controller. It renders
// Notify snapshots and turns taps into controller commands.
type UI struct {
	ctl   *app.Controller
	share shareCommands // ctl's share commands
	files fileCommands  // ctl's file commands
	// openURL opens a folder in the desktop's file manager
	// (fyne.App.OpenURL; tests record it).
	openURL func(*url.URL) error
	win     fyne.Window
	opts    Options
	log     *slog.Logger

	root     *fyne.Container
	start    *startScreen
	call     *callScreen
	settings *settingsScreen
	net      *netScreen

	page      page
	showing   fyne.CanvasObject
	last      app.Notify
	sw        *swapper
	surfaces  *surfaceSet
	pendingMu sync.Mutex
	pending   *app.Notify // latest snapshot not rendered yet
	// localTarget is where self-view frames go: the call's inset or the
	// Settings preview. Set on the main thread, read by the producer.
	localTarget atomic.Pointer[videoView]
	// stopped is set on the main thread before the app quits: from then
	// on, main-thread work still arriving from the controller's goroutines
	// is dropped (see do).
	stopped atomic.Bool
}

// iconResource is the app icon for windows and the start screen.
var iconResource = fyne.NewStaticResource("peercall.png", assets.Icon)

// New builds the UI in win and starts watching ctl. Snapshots arrive on the
// controller's goroutines and are rendered through fyne.Do.
func New(ctl *app.Controller, win fyne.Window, o Options) *UI {
	if o.Devices == nil {
		o.Devices = func() app.DeviceList { return app.DeviceList{} }
	}
	if o.Do == nil {
		o.Do = fyne.Do
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	u := &UI{ctl: ctl, share: ctl, files: ctl, win: win, opts: o, log: o.Log,
		openURL: func(l *url.URL) error { return fyne.CurrentApp().OpenURL(l) }}
	u.sw = newSwapper(u.do)
	u.surfaces = &surfaceSet{u: u, open: o.surfaces}
	u.surfaces.start()
	if o.GUI.MaxDisplayFPS > 0 {
		u.sw.minGap = time.Second / time.Duration(o.GUI.MaxDisplayFPS)
	}
	u.start = newStartScreen(u)
	u.call = newCallScreen(u)
	u.settings = newSettingsScreen(u)
	u.net = newNetScreen(u)
	u.root = container.NewStack(u.start.content)
	u.showing = u.start.content
	win.SetContent(u.root)
	win.SetIcon(iconResource)
	// Files dropped on the window go to everyone in the call.
	win.SetOnDropped(u.call.dropped)
	u.shortcuts()
	ctl.SetFrameSink(u.onFrame)
	first := ctl.Snapshot()
	u.render(first)
	// Snapshots (5 per second in a call: timer, meters) are rendered with
	// the next video repaint instead of causing repaints of their own;
	// the latest one wins.
	u.sw.extra = u.flushPending
	u.sw.after = u.surfaces.place
	ctl.Watch(func(n app.Notify) {
		u.pendingMu.Lock()
		u.pending = &n
		u.pendingMu.Unlock()
		u.sw.request(true)
	})
	return u
}

// do runs f on the main thread unless the UI has stopped. Once Fyne's loop
// has ended, fyne.Do runs its function on the caller's goroutine, so video
// frames and snapshots still arriving while the app quits would touch
// widgets off the main thread.
func (u *UI) do(f func()) {
	u.opts.Do(func() {
		if !u.stopped.Load() {
			f()
		}
	})
}

// Stop ends the UI's updates ahead of the app's quit. Main thread.
func (u *UI) Stop() {
	u.stopped.Store(true)
	u.surfaces.close()
}

// onFrame sends a frame to the self-view, its sender's tile, or (a screen
// share) its sender's share view. It runs on the producers' goroutines.
func (u *UI) onFrame(f app.VideoFrame) {
	v := u.localTarget.Load()
	switch {
	case f.Local:
	case f.Share:
		v = u.call.shareViewFor(f.Peer)
	default:
		v = u.call.viewFor(f.Peer)
	}
	if v != nil {
		v.Push(f.Image)
	}
}

// shortcuts: M mute, V camera (when no entry has focus), Ctrl+W hang up.
func (u *UI) shortcuts() {
	c := u.win.Canvas()
	c.SetOnTypedKey(func(ev *fyne.KeyEvent) {
		if !u.last.Phase.InCall() {
			return
		}
		switch ev.Name {
		case fyne.KeyM:
			u.toggleMute()
		case fyne.KeyV:
			u.toggleCamera()
		}
	})
	c.AddShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyW, Modifier: fyne.KeyModifierShortcutDefault}, u.hangUpShortcut)
}

func (u *UI) hangUpShortcut(fyne.Shortcut) {
	if u.last.Phase.InCall() {
		u.ctl.HangUp()
	}
}

func (u *UI) toggleMute() { u.ctl.SetMute(!u.last.Muted) }

// toggleCamera returns at once: the controller opens the device on its
// own goroutine and a failure comes back as a Notice.
func (u *UI) toggleCamera() {
	if err := u.ctl.SetCamera(!u.last.CameraOn); err != nil {
		u.call.flash(app.UserMessage(err))
	}
}

func (u *UI) flushPending() {
	u.pendingMu.Lock()
	n := u.pending
	u.pending = nil
	u.pendingMu.Unlock()
	if n != nil {
		u.render(*n)
	}
}

// render shows snapshot n. Main thread only.
func (u *UI) render(n app.Notify) {
	prev := u.last
	u.last = n
	u.sounds(prev, n)
	if n.Phase.InCall() {
		u.localTarget.Store(u.call.local)
		u.call.render(n)
		u.show(u.call.content)
	} else {
		if prev.Phase.InCall() {
			u.call.reset()
			u.page = pageStart
		}
		u.localTarget.Store(u.settings.preview)
		u.start.render(n)
		u.net.render(n)
		u.settings.render(n)
		switch u.page {
		case pageSettings:
			u.show(u.settings.content)
		case pageNetTest:
			u.show(u.net.content)
		default:
			u.show(u.start.content)
		}
	}
}

func (u *UI) show(o fyne.CanvasObject) {
	if u.showing == o {
		return
	}
	u.showing = o
	u.root.Objects = []fyne.CanvasObject{o}
	u.root.Refresh()
}

func (u *UI) goTo(p page) {
	if u.page == pageSettings && p != pageSettings {
		u.ctl.StopPreview()
	}
	u.page = p
	if p == pageSettings {
		u.settings.load(u.ctl.Settings())
	}
	u.render(u.last)
}

func (u *UI) sounds(prev, n app.Notify) {
	if u.opts.PlaySound == nil || prev.Phase == n.Phase {
		return
	}
	switch n.Phase {
	case app.PhaseWaiting:
		u.opts.PlaySound(assets.Ringing)
	case app.PhaseConnected:
		if prev.Phase != app.PhaseReconnecting {
			u.opts.PlaySound(assets.Joined)
		}
	case app.PhaseEnded, app.PhaseFailed:
		// Only a call that reached the room ends with a sound; a server
		// that cannot be reached is an error message, not a goodbye.
		if prev.Phase.InCall() && prev.Phase != app.PhaseConnectingServer {
			u.opts.PlaySound(assets.Left)
		}
	}
}

// setText avoids a refresh (and a repaint) when nothing changed.
func setText(l *widget.Label, s string) {
	if l.Text != s {
		l.SetText(s)
	}
}

func showIf(o fyne.CanvasObject, on bool) {
	if on && !o.Visible() {
		o.Show()
	} else if !on && o.Visible() {
		o.Hide()
	}
}
