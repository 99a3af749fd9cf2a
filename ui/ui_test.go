package ui

import (
	"context"
	"errors"
	"image"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
	"github.com/zalando/go-keyring"
	"go.uber.org/goleak"

	"github.com/peercall/peercall/app"
)

// fakeCall / fakeEngine stand in for the call pipeline.
type fakeCall struct {
	events chan app.CallEvent
	once   sync.Once
	mu     sync.Mutex
	muted  bool
	chat   []string
	devs   []app.Devices // SetDevices requests
	cur    app.Devices   // in use
	// Screen share (share_test.go): the sources started, how often it
	// stopped, and the error the next StartShare returns.
	shares   []app.ShareSource
	stops    int
	shareErr error
	// File transfer (files_test.go): the commands and policies it got.
	fileCmds []string
	policies []app.FilePolicy
}

func (f *fakeCall) SetDevices(d app.Devices) (app.Devices, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.devs = append(f.devs, d)
	if d.Camera == "synthetic" { // the test pattern stands in for a camera that fails
		d.Camera = f.cur.Camera
		f.cur = d
		return d, &app.UserError{Msg: "That camera could not be opened; still using the previous one.", Err: app.ErrUnsupportedMedia}
	}
	f.cur = d
	return d, nil
}

func (f *fakeCall) Events() <-chan app.CallEvent { return f.events }
func (f *fakeCall) Levels() (float64, float64)   { return 0, 0 } // constant meters keep goldens stable
func (f *fakeCall) SetMute(on bool)              { f.mu.Lock(); f.muted = on; f.mu.Unlock() }
func (f *fakeCall) SetCamera(bool) error         { return nil }
func (f *fakeCall) HangUp()                      { f.once.Do(func() { close(f.events) }) }
func (f *fakeCall) SendChat(s string) error {
	f.mu.Lock()
	f.chat = append(f.chat, s)
	f.mu.Unlock()
	return nil
}

type fakeEngine struct {
	calls  chan *fakeCall
	mu     sync.Mutex
	params []app.CallParams
}

func (e *fakeEngine) Host(context.Context) (app.HostedServer, error) {
	return app.HostedServer{URL: "ws://127.0.0.1:4000/ws", LANAddr: "192.0.2.10:4000", HTTPSAddr: "192.0.2.10:4443",
		Fingerprint: "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89", Stop: func() {}}, nil
}

func (e *fakeEngine) Dial(_ context.Context, p app.CallParams) (app.Call, error) {
	e.mu.Lock()
	e.params = append(e.params, p)
	e.mu.Unlock()
	c := &fakeCall{events: make(chan app.CallEvent, 16),
		cur: app.Devices{Camera: p.Settings.Camera, Microphone: p.Settings.Microphone, Speaker: p.Settings.Speaker}}
	e.calls <- c
	return c, nil
}

// fakePreviewer sends one grey frame and a level, then waits.
type fakePreviewer struct{}

func (fakePreviewer) Preview(ctx context.Context, _ app.Settings, _ app.MediaOptions, onFrame func(app.VideoFrame), level func(float64), _ func(error)) error {
	onFrame(app.VideoFrame{Local: true, Image: grey(120)})
	level(0.7)
	<-ctx.Done()
	return ctx.Err()
}

type fakeTester struct{}

func (fakeTester) Run(_ context.Context, cfg app.NetTestConfig, progress func(app.NetTestReport)) app.NetTestReport {
	r := app.NetTestReport{Policy: cfg.Policy, Done: true, Checks: []app.NetCheck{
		{Name: "Signaling server " + cfg.Server, Status: app.CheckPass, Detail: "joined a test room in 3 ms"},
		{Name: "STUN stun:127.0.0.1:3478", Status: app.CheckPass, Detail: "mapped address 127.0.0.1:5000 in 1 ms"},
		{Name: "TURN 127.0.0.1:3478 over TCP", Status: app.CheckFail, Reason: "no answer (blocked by a firewall, or the server is down)"},
	}, Exposes: app.PolicyExposure(cfg.Policy, true, false)}
	progress(r)
	return r
}

var fixedNow = time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)

type harness struct {
	t     *testing.T
	a     fyne.App
	w     fyne.Window
	u     *UI
	ctl   *app.Controller
	eng   *fakeEngine
	queue chan func()
}

func newHarness(t *testing.T, secrets app.SecretStore, gui app.GUIOptions) *harness {
	t.Helper()
	return newHarnessMedia(t, secrets, gui, app.MediaOptions{})
}

// newHarnessMedia is newHarness with the controller's media options
// (synthetic video offers the test picture to share).
func newHarnessMedia(t *testing.T, secrets app.SecretStore, gui app.GUIOptions, media app.MediaOptions, more ...func(*Options)) *harness {
	t.Helper()
	h := &harness{t: t, eng: &fakeEngine{calls: make(chan *fakeCall, 4)}, queue: make(chan func(), 4096)}
	// Fresh settings' download folder, the same on every machine.
	t.Setenv("XDG_DOWNLOAD_DIR", "/home/ann/Downloads")
	h.a = test.NewTempApp(t)
	ignore := goleak.IgnoreCurrent() // after the test app's own goroutines
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	h.ctl = app.NewController(app.ControllerOptions{
		Engine: h.eng, NetTester: fakeTester{}, Previewer: fakePreviewer{}, Store: h.a.Preferences(), Secrets: secrets, Media: media,
		Now: func() time.Time { return fixedNow }, Tick: 20 * time.Millisecond,
	})
	t.Cleanup(func() {
		// Close waits for controller goroutines, which may wait for the
		// main-thread queue: keep pumping it meanwhile.
		done := make(chan struct{})
		go func() { h.ctl.Close(); close(done) }()
		for {
			select {
			case <-done:
				h.pump()
				return
			case f := <-h.queue:
				f()
			}
		}
	})
	h.w = test.NewTempWindow(t, nil)
	h.w.Resize(fyne.NewSize(900, 640))
	opts := Options{GUI: gui, Do: func(f func()) { h.queue <- f }, Devices: func() app.DeviceList {
		return app.DeviceList{
			Cameras:     []app.DeviceChoice{{ID: "video0;video0", Name: "USB Camera"}},
			Microphones: []app.DeviceChoice{{ID: "mic0", Name: "Built-in Mic"}},
			Speakers:    []app.DeviceChoice{{ID: "spk0", Name: "Speakers"}},
		}
	}}
	for _, m := range more {
		m(&opts)
	}
	h.u = New(h.ctl, h.w, opts)
	h.pump()
	return h
}

// pump runs queued main-thread work on the test goroutine.
func (h *harness) pump() {
	for {
		select {
		case f := <-h.queue:
			f()
		default:
			return
		}
	}
}

// until pumps until ok holds on the rendered state.
func (h *harness) until(what string, ok func(app.Notify) bool) {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		h.pump()
		if ok(h.u.last) {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	h.t.Fatalf("timed out waiting for %s (last phase %v)", what, h.u.last.Phase)
}

// golden refreshes the window content, so that containers whose children
// changed size are laid out again as the real driver does before a paint,
// and compares it with testdata/name.
func (h *harness) golden(name string) {
	h.t.Helper()
	h.pump()
	h.w.Content().Refresh()
	test.AssertRendersToMarkup(h.t, name, h.w.Canvas())
}

func phase(p app.Phase) func(app.Notify) bool { return func(n app.Notify) bool { return n.Phase == p } }

func TestStartAndCallScreens(t *testing.T) {
	h := newHarness(t, nil, app.GUIOptions{})
	h.golden("start.xml")

	h.u.start.name.SetText("")
	test.Type(h.u.start.name, "Ann")
	test.Type(h.u.start.room, "kitchen")
	test.Tap(h.u.start.startBtn)
	fc := <-h.eng.calls
	h.until("waiting", phase(app.PhaseWaiting))
	if p := h.eng.params[0]; p.Room != "kitchen" || p.Name != "Ann" {
		t.Errorf("dialed %+v", p)
	}
	h.golden("call_waiting.xml")

	fc.events <- app.CallEvent{Phase: app.PhaseConnected}
	fc.events <- app.CallEvent{SAS: &app.SASCode{Digits: "803302", Words: []string{"amber", "butter", "cider", "banjo"}}}
	fc.events <- app.CallEvent{Stats: &app.CallStats{Stats: app.Stats{Time: fixedNow, RTT: 12 * time.Millisecond, LocalCandidate: "host", RemoteCandidate: "host",
		VideoIn: app.StreamStats{FPS: 30, FrameWidth: 640, FrameHeight: 480}}}}
	fc.events <- app.CallEvent{Chat: &app.ChatMessage{Text: "hello from the other side", Time: fixedNow}}
	h.until("connected with stats", func(n app.Notify) bool { return n.Quality == 4 && n.SASDigits != "" && len(n.Chat) == 1 })
	// A remote frame replaces the placeholder.
	// An engine that does not tag frames (nor fill Peers) reaches the 1:1 tile.
	h.u.onFrame(app.VideoFrame{Peer: "", Image: image.NewYCbCr(image.Rect(0, 0, 64, 48), image.YCbCrSubsampleRatio420)})
	h.pump()
	test.Tap(h.u.call.statsBtn)
	h.u.render(h.u.last)
	h.golden("call_connected.xml")

	// Signaling lost for good: the call goes on and the screen says so.
	fc.events <- app.CallEvent{Notice: app.SignalingLostNotice}
	h.until("signaling lost notice", func(n app.Notify) bool { return n.Notice == app.SignalingLostNotice })
	if !h.u.call.notice.Visible() || h.u.call.notice.Text != app.SignalingLostNotice || h.u.last.Phase != app.PhaseConnected {
		t.Errorf("notice shown %v %q in phase %v", h.u.call.notice.Visible(), h.u.call.notice.Text, h.u.last.Phase)
	}

	// Mute by button, camera and mute by keyboard.
	test.Tap(h.u.call.muteBtn)
	h.until("muted", func(n app.Notify) bool { return n.Muted })
	if h.u.call.muteBtn.Text != "Unmute" {
		t.Errorf("mute button says %q", h.u.call.muteBtn.Text)
	}
	h.w.Canvas().OnTypedKey()(&fyne.KeyEvent{Name: fyne.KeyM})
	h.until("unmuted by M", func(n app.Notify) bool { return !n.Muted })
	h.w.Canvas().OnTypedKey()(&fyne.KeyEvent{Name: fyne.KeyV})
	h.until("camera off by V", func(n app.Notify) bool { return !n.CameraOn })

	// Chat.
	test.Type(h.u.call.chatEntry, "hi there")
	h.u.call.chatEntry.OnSubmitted(h.u.call.chatEntry.Text)
	h.until("chat sent", func(n app.Notify) bool { return len(n.Chat) == 2 })
	if h.u.call.chatEntry.Text != "" {
		t.Error("chat entry not cleared")
	}

	test.Tap(h.u.call.hangBtn)
	h.until("ended", phase(app.PhaseEnded))
	h.golden("start_ended.xml")
}

func TestStartValidation(t *testing.T) {
	h := newHarness(t, nil, app.GUIOptions{})
	test.Tap(h.u.start.joinBtn)
	if !h.u.start.errLabel.Visible() || !strings.Contains(h.u.start.errLabel.Text, "server address") {
		t.Errorf("empty server: %q", h.u.start.errLabel.Text)
	}
	h.u.start.server.SetText("http://example")
	test.Tap(h.u.start.joinBtn)
	if !strings.Contains(h.u.start.errLabel.Text, "ws://") {
		t.Errorf("bad URL: %q", h.u.start.errLabel.Text)
	}
	h.u.start.server.SetText("ws://127.0.0.1:9/ws")
	test.Tap(h.u.start.startBtn) // no room
	h.golden("start_error.xml")
	if len(h.eng.params) != 0 {
		t.Error("invalid input started a call")
	}
}

// TestWaitingBrowserLink: hosting shows the browser link with its Copy
// button and the certificate's fingerprint prefix; joining a plain ws://
// server shows none, a wss:// one shows the link without a fingerprint.
func TestWaitingBrowserLink(t *testing.T) {
	tests := []struct {
		name     string
		gui      app.GUIOptions
		link     string
		certNote string
	}{
		{"hosting", app.GUIOptions{Room: "kitchen"}, "https://192.0.2.10:4443/r/kitchen",
			"The browser will warn about the certificate; its fingerprint starts with AB:CD:EF:01…"},
		{"joining ws", app.GUIOptions{Room: "den", Join: "ws://127.0.0.1:7/ws"}, "", ""},
		{"joining wss", app.GUIOptions{Room: "den", Join: "wss://calls.example.org/ws"}, "https://calls.example.org/r/den", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil, tt.gui)
			if tt.gui.Join == "" {
				test.Tap(h.u.start.startBtn)
			} else {
				test.Tap(h.u.start.joinBtn)
			}
			<-h.eng.calls
			h.until("waiting", phase(app.PhaseWaiting))
			h.pump()
			c := h.u.call
			if got := c.browserRow.Visible() && c.browserLabel.Visible(); got != (tt.link != "") {
				t.Errorf("browser row shown %v, want %v", got, tt.link != "")
			}
			if tt.link != "" && c.browserLink.Text != tt.link {
				t.Errorf("browser link %q, want %q", c.browserLink.Text, tt.link)
			}
			if c.certNote.Visible() != (tt.certNote != "") || (tt.certNote != "" && c.certNote.Text != tt.certNote) {
				t.Errorf("certificate note shown %v %q, want %q", c.certNote.Visible(), c.certNote.Text, tt.certNote)
			}
			if !c.joinRow.Visible() || !c.browserLink.Disabled() {
				t.Error("join row hidden or browser link editable")
			}
			if tt.link != "" {
				test.Tap(c.copyLinkBtn)
				if got := h.a.Clipboard().Content(); got != tt.link {
					t.Errorf("clipboard %q after Copy, want %q", got, tt.link)
				}
			}
			test.Tap(c.hangBtn)
			h.until("ended", phase(app.PhaseEnded))
		})
	}
}

func TestFingerprintPrefix(t *testing.T) {
	tests := []struct{ in, want string }{
		{"AB:CD:EF:01:23:45", "AB:CD:EF:01…"},
		{"AB:CD:EF:01:23", "AB:CD:EF:01…"},
		{"AB:CD:EF:01", "AB:CD:EF:01"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := fingerprintPrefix(tt.in); got != tt.want {
			t.Errorf("fingerprintPrefix(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestJoinPrefilledFromFlags(t *testing.T) {
	h := newHarness(t, nil, app.GUIOptions{Room: "smoke", Name: "gui", Join: "ws://127.0.0.1:7/ws"})
	test.Tap(h.u.start.joinBtn)
	<-h.eng.calls
	h.until("waiting", phase(app.PhaseWaiting))
	p := h.eng.params[0]
	if p.Server != "ws://127.0.0.1:7/ws" || p.Room != "smoke" || p.Name != "gui" {
		t.Errorf("dialed %+v", p)
	}
	// Ctrl+W hangs up.
	h.u.hangUpShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyW, Modifier: fyne.KeyModifierShortcutDefault})
	h.until("ended", phase(app.PhaseEnded))
	if got := h.ctl.Settings().RecentServers; len(got) != 1 || got[0] != "ws://127.0.0.1:7/ws" {
		t.Errorf("recent servers %v", got)
	}
	if got := h.u.start.recent; len(got) != 1 {
		t.Errorf("server choices %v", got)
	}
}

func TestSettingsRoundTrip(t *testing.T) {
	keyring.MockInit()
	h := newHarness(t, app.KeyringSecrets{}, app.GUIOptions{})
	h.u.goTo(pageSettings)
	s := h.u.settings
	s.name.SetText("Zoe")
	s.fps.SetSelected("15")
	s.camera.SetSelected("USB Camera")
	s.policy.SetSelected("relay")
	// Invalid server entry: inline error, nothing added.
	test.Type(s.iceURL, "http://nope")
	test.Tap(findButton(t, s.content, "Add"))
	if !s.iceErr.Visible() {
		t.Fatal("invalid STUN/TURN URL accepted")
	}
	// relay without TURN: Save refuses, with the error next to the policy.
	test.Tap(findButton(t, s.content, "Save"))
	if !s.errs["ice_policy"].Visible() {
		t.Fatal("relay policy without TURN saved")
	}
	if h.a.Preferences().String("settings.v1") != "" {
		t.Fatal("invalid settings reached the preferences")
	}
	h.golden("settings_invalid.xml")

	s.iceURL.SetText("turn:127.0.0.1:3478?transport=tcp")
	s.iceUser.SetText("zoe")
	s.icePass.SetText("pw")
	test.Tap(findButton(t, s.content, "Add"))
	if s.iceErr.Visible() || len(s.cur.ICEServers) != 1 {
		t.Fatalf("valid TURN entry refused: %q", s.iceErr.Text)
	}
	test.Tap(findButton(t, s.content, "Save"))
	if !s.saved.Visible() || s.errs["ice_policy"].Visible() {
		t.Fatalf("save failed: %q", s.saved.Text)
	}
	// The controller saves in the background.
	deadline := time.Now().Add(5 * time.Second)
	raw := ""
	for !strings.Contains(raw, `"Zoe"`) && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
		raw = h.a.Preferences().String("settings.v1")
	}
	if strings.Contains(raw, `"pw"`) || !strings.Contains(raw, `"Zoe"`) {
		t.Errorf("preferences: %s", raw)
	}
	// Reload through a fresh controller on the same preferences.
	c2 := app.NewController(app.ControllerOptions{Store: h.a.Preferences(), Secrets: app.KeyringSecrets{}})
	defer c2.Close()
	got := c2.Settings()
	if got.DisplayName != "Zoe" || got.FPS != 15 || got.ICEPolicy != "relay" || got.Camera != "video0;video0" ||
		len(got.ICEServers) != 1 || got.ICEServers[0].Password != "pw" {
		t.Errorf("round trip gave %+v", got)
	}
	// Invalid bitrate: inline error, stored settings untouched.
	s.bitrate.SetText("lots")
	test.Tap(findButton(t, s.content, "Save"))
	if !s.errs["max_bitrate_kbps"].Visible() || h.a.Preferences().String("settings.v1") != raw {
		t.Error("invalid bitrate not refused")
	}
}

func TestSettingsPreview(t *testing.T) {
	h := newHarness(t, nil, app.GUIOptions{})
	h.u.goTo(pageSettings)
	s := h.u.settings
	test.Tap(s.previewBtn)
	h.until("previewing", func(n app.Notify) bool { return n.Previewing && n.MicLevel == 0.7 })
	h.until("frame shown", func(app.Notify) bool { return s.preview.img.Image != nil })
	if s.previewBtn.Text != "Stop test" || s.previewMeter.Value != 0.7 {
		t.Errorf("button %q meter %v", s.previewBtn.Text, s.previewMeter.Value)
	}
	h.golden("settings_preview.xml")
	test.Tap(findButton(t, s.content, "Back"))
	h.until("preview stopped", func(n app.Notify) bool { return !n.Previewing })
	if s.preview.img.Image != nil {
		t.Error("preview picture kept after stop")
	}
}

func TestSettingsKeyringFallback(t *testing.T) {
	keyring.MockInitWithError(errors.New("no secret service"))
	h := newHarness(t, app.KeyringSecrets{}, app.GUIOptions{})
	h.u.goTo(pageSettings)
	s := h.u.settings
	s.iceURL.SetText("turn:127.0.0.1:3478")
	s.iceUser.SetText("u")
	s.icePass.SetText("p")
	test.Tap(findButton(t, s.content, "Add"))
	test.Tap(findButton(t, s.content, "Save"))
	h.until("plain passwords notice", func(n app.Notify) bool { return n.PlainPasswords && n.Notice == app.PlainPasswordsNotice })
	if !s.keyringNote.Visible() || s.saved.Text != "Saved (passwords in the settings file: no keyring)." {
		t.Errorf("keyring fallback notice hidden: %q", s.saved.Text)
	}
	h.golden("settings_keyring_fallback.xml")
}

func TestNetTestScreen(t *testing.T) {
	h := newHarness(t, nil, app.GUIOptions{})
	h.u.goTo(pageNetTest)
	h.u.net.server.SetText("http://bad")
	test.Tap(h.u.net.run)
	if !h.u.net.errL.Visible() {
		t.Error("bad server URL accepted")
	}
	h.u.net.server.SetText("ws://127.0.0.1:4000/ws")
	test.Tap(h.u.net.run)
	h.until("test done", func(n app.Notify) bool { return n.NetTest != nil && n.NetTest.Done && !n.NetTestRunning })
	h.golden("nettest.xml")
}

func findButton(t *testing.T, root fyne.CanvasObject, text string) *widget.Button {
	t.Helper()
	var found *widget.Button
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		if found != nil {
			return
		}
		switch v := o.(type) {
		case *widget.Button:
			if v.Text == text {
				found = v
			}
		case *fyne.Container:
			for _, c := range v.Objects {
				walk(c)
			}
		case fyne.Widget:
			r := test.WidgetRenderer(v)
			for _, c := range r.Objects() {
				walk(c)
			}
		}
	}
	walk(root)
	if found == nil {
		t.Fatalf("no %q button", text)
	}
	return found
}

func TestVideoViewLatestFrameWins(t *testing.T) {
	test.NewTempApp(t)
	var queued []func()
	sw := newSwapper(func(f func()) { queued = append(queued, f) })
	v := sw.newView(false, 0)
	self := sw.newView(true, 8)
	for i := 0; i < 5; i++ {
		v.Push(grey(byte(16 + i*40)))
	}
	self.Push(grey(200)) // rides along with the remote repaint
	if len(queued) != 1 {
		t.Fatalf("%d fyne.Do calls pending, want 1", len(queued))
	}
	if v.dropped.Load() != 4 {
		t.Errorf("dropped %d, want 4", v.dropped.Load())
	}
	queued[0]()
	got := v.img.Image.(*image.RGBA)
	if got.Pix[0] < 150 { // the last frame is the brightest
		t.Errorf("showing an old frame (R=%d)", got.Pix[0])
	}
	if si, ok := self.img.Image.(*image.RGBA); !ok || si.Rect.Dx() != 8 || si.Rect.Dy() != 4 {
		t.Errorf("self-view not shrunk and shown with the remote frame: %v", self.img.Image)
	}
	// The next push must not write into the buffer on screen.
	v.Push(grey(16))
	if v.img.Image.(*image.RGBA) != got || got.Pix[0] < 150 {
		t.Error("the shown buffer was overwritten before the swap")
	}
	if len(queued) != 2 {
		t.Errorf("second frame scheduled %d times in total, want 2", len(queued))
	}
	v.Clear()
	if v.img.Image != nil {
		t.Error("Clear kept the picture")
	}
}

// TestStopDropsLateWork: once the UI has stopped for the app's quit, frames
// and work still queued for the main thread change nothing (after Fyne's
// loop ends it runs them on the producer's goroutine).
func TestStopDropsLateWork(t *testing.T) {
	h := newHarness(t, nil, app.GUIOptions{})
	v := h.u.sw.newView(false, 0)
	v.Push(grey(200))
	h.pump()
	shown, ok := v.img.Image.(*image.RGBA)
	if !ok || shown.Pix[0] < 150 {
		t.Fatalf("frame before the stop not shown: %v", v.img.Image)
	}
	v.Push(grey(16))
	flashed := false
	h.u.do(func() { flashed = true })
	h.u.Stop()
	h.pump()
	if v.img.Image != shown || v.frames.Load() != 1 {
		t.Errorf("a frame was shown after the stop (%d shown)", v.frames.Load())
	}
	if flashed {
		t.Error("main-thread work ran after the stop")
	}
}

func TestShrink(t *testing.T) {
	src := image.NewYCbCr(image.Rect(0, 0, 640, 480), image.YCbCrSubsampleRatio420)
	for i := range src.Y {
		src.Y[i] = byte(i % 640 / 3)
	}
	d := shrink(nil, src, 2)
	if d.Rect.Dx() != 320 || d.Rect.Dy() != 240 || d.Y[10] != src.Y[20] {
		t.Errorf("shrink: %v Y[10]=%d want %d", d.Rect, d.Y[10], src.Y[20])
	}
	if d2 := shrink(d, src, 2); d2 != d {
		t.Error("shrink did not reuse its buffer")
	}
}

// grey is a 16x8 frame of luma y with neutral chroma.
func grey(y byte) *image.YCbCr {
	img := image.NewYCbCr(image.Rect(0, 0, 16, 8), image.YCbCrSubsampleRatio420)
	for i := range img.Y {
		img.Y[i] = y
	}
	for i := range img.Cb {
		img.Cb[i], img.Cr[i] = 128, 128
	}
	return img
}

func BenchmarkVideoViewPush(b *testing.B) {
	test.NewTempApp(b)
	v := newSwapper(func(f func()) { f() }).newView(false, 0)
	img := image.NewYCbCr(image.Rect(0, 0, 640, 480), image.YCbCrSubsampleRatio420)
	b.ReportAllocs()
	for b.Loop() {
		v.Push(img)
	}
}

func TestSwapperDisplayCap(t *testing.T) {
	test.NewTempApp(t)
	queued := make(chan func(), 8)
	sw := newSwapper(func(f func()) { queued <- f })
	sw.minGap = 40 * time.Millisecond
	v := sw.newView(false, 0)
	v.Push(grey(50))
	(<-queued)() // first frame: at once
	t0 := time.Now()
	v.Push(grey(100))
	select {
	case <-queued:
		t.Fatal("second repaint scheduled inside the cap")
	default:
	}
	f := <-queued // the cap timer schedules it
	if time.Since(t0) < 30*time.Millisecond {
		t.Errorf("capped repaint came after %v", time.Since(t0))
	}
	f()
	if v.img.Image.(*image.RGBA).Pix[0] < 80 {
		t.Error("the held-back frame was not shown")
	}
}

// TestRemoteCameraOffAndMuted: the other person's camera off clears the
// picture and shows the placeholder with their name, their mute shows a
// badge, and our own camera off shows "Camera off" in the inset. The
// camera coming back lifts the placeholder with its first frame.
func TestRemoteCameraOffAndMuted(t *testing.T) {
	h := newHarness(t, nil, app.GUIOptions{})
	h.u.start.name.SetText("Ann")
	test.Type(h.u.start.room, "kitchen")
	test.Tap(h.u.start.startBtn)
	fc := <-h.eng.calls
	fc.events <- app.CallEvent{Phase: app.PhaseConnecting, PeerName: "Bob"}
	fc.events <- app.CallEvent{Phase: app.PhaseConnected}
	h.until("connected", func(n app.Notify) bool { return n.Phase == app.PhaseConnected && n.RemoteName == "Bob" })
	c := h.u.call
	r := c.tiles[""] // the 1:1 tile of an engine that does not fill Peers
	h.u.onFrame(app.VideoFrame{Peer: "p1", Image: grey(200)})
	h.pump()
	if r.place.Visible() || r.view.img.Image == nil || r.muted.Visible() || c.selfOff.Visible() {
		t.Fatal("connected with video: placeholder, badge or self placeholder shown")
	}

	fc.events <- app.CallEvent{RemoteMedia: &app.MediaState{Audio: false, Video: false}}
	h.until("remote camera and mic off", func(n app.Notify) bool { return !n.RemoteCameraOn && !n.RemoteMicOn })
	// A frame still in flight must not cover the placeholder.
	r.view.Push(grey(90))
	h.pump()
	if r.view.img.Image != nil {
		t.Error("a late frame is shown while the camera is off")
	}
	h.w.Canvas().OnTypedKey()(&fyne.KeyEvent{Name: fyne.KeyV})
	h.until("own camera off", func(n app.Notify) bool { return !n.CameraOn })
	if !r.place.Visible() || r.placeText.Text != "Bob's camera is off" {
		t.Errorf("placeholder visible %v text %q", r.place.Visible(), r.placeText.Text)
	}
	if !r.muted.Visible() || r.mutedText.Text != "Bob is muted" {
		t.Errorf("muted badge visible %v text %q", r.muted.Visible(), r.mutedText.Text)
	}
	if !c.selfBox.Visible() || !c.selfOff.Visible() || c.local.img.Visible() {
		t.Error("own camera off: the inset does not say so")
	}
	h.golden("call_remote_camera_off.xml")

	fc.events <- app.CallEvent{RemoteMedia: &app.MediaState{Audio: true, Video: true}}
	h.until("remote back", func(n app.Notify) bool { return n.RemoteCameraOn && n.RemoteMicOn })
	if r.muted.Visible() {
		t.Error("muted badge kept after unmute")
	}
	if !r.place.Visible() {
		t.Error("placeholder lifted before the first new frame")
	}
	r.view.Push(grey(120))
	h.pump()
	if r.place.Visible() || r.view.img.Image == nil {
		t.Error("first frame after the camera came back not shown")
	}
	h.w.Canvas().OnTypedKey()(&fyne.KeyEvent{Name: fyne.KeyV})
	h.until("own camera on", func(n app.Notify) bool { return n.CameraOn })
	if c.selfOff.Visible() || !c.local.img.Visible() {
		t.Error("own camera on: inset still says off")
	}
	test.Tap(c.hangBtn)
	h.until("ended", phase(app.PhaseEnded))
}

// TestCallDevicesPopup: the bottom bar's devices button (with its hover
// hint) opens the pickers preselected with the devices in use; picking a
// camera or speaker switches the call at once and becomes the choice for
// the next call; a camera that fails shows the error inline and the picker
// returns to the camera in use; the popup closes with Close and when the
// call ends.
func TestCallDevicesPopup(t *testing.T) {
	h := newHarness(t, nil, app.GUIOptions{})
	s := h.ctl.Settings()
	s.Microphone = "mic0"
	s.Speaker = "usb-headset" // saved, but not plugged in now
	if err := h.ctl.ApplySettings(s); err != nil {
		t.Fatal(err)
	}
	test.Type(h.u.start.room, "kitchen")
	test.Tap(h.u.start.startBtn)
	fc := <-h.eng.calls
	fc.events <- app.CallEvent{Phase: app.PhaseConnected}
	h.until("connected", phase(app.PhaseConnected))
	c := h.u.call
	p := c.devices

	c.devBtn.MouseIn(&desktop.MouseEvent{})
	if !c.flashLabel.Visible() || c.flashLabel.Text != "Devices" {
		t.Errorf("hover hint visible %v %q", c.flashLabel.Visible(), c.flashLabel.Text)
	}
	c.devBtn.MouseOut()
	if c.flashLabel.Visible() {
		t.Error("hover hint kept after the mouse left")
	}

	test.Tap(c.devBtn)
	if !p.pop.Visible() {
		t.Fatal("devices popup not shown")
	}
	if p.camera.Selected != "System default" || p.mic.Selected != "Built-in Mic" || p.speaker.Selected != "System default" {
		t.Errorf("preselected %q / %q / %q", p.camera.Selected, p.mic.Selected, p.speaker.Selected)
	}
	h.golden("call_devices.xml")

	// settle pumps until the switch running in the background is shown.
	settle := func(what string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for h.pump(); p.busy; h.pump() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: switch never finished", what)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	lastReq := func() app.Devices {
		fc.mu.Lock()
		defer fc.mu.Unlock()
		if len(fc.devs) == 0 {
			return app.Devices{Camera: "none asked"}
		}
		return fc.devs[len(fc.devs)-1]
	}

	p.camera.SetSelected("USB Camera")
	if !p.busy || !p.camera.Disabled() || !p.status.Visible() {
		t.Error("pickers not disabled while the camera switches")
	}
	settle("camera")
	// The speaker picker shows "System default" for the missing headset,
	// but only the camera was chosen: the speaker is not touched.
	if got, want := lastReq(), (app.Devices{Camera: "video0;video0", Microphone: "mic0", Speaker: "usb-headset"}); got != want {
		t.Errorf("call asked for %+v, want %+v", got, want)
	}
	h.until("camera in the snapshot", func(n app.Notify) bool { return n.Devices.Camera == "video0;video0" })
	if p.camera.Disabled() || p.status.Visible() || p.errL.Visible() || p.camera.Selected != "USB Camera" {
		t.Errorf("after the switch: disabled %v status %v error %q selected %q", p.camera.Disabled(), p.status.Visible(), p.errL.Text, p.camera.Selected)
	}
	if got := h.ctl.Settings().Camera; got != "video0;video0" {
		t.Errorf("camera saved as %q", got)
	}

	p.speaker.SetSelected("Speakers")
	settle("speaker")
	if got, want := lastReq(), (app.Devices{Camera: "video0;video0", Microphone: "mic0", Speaker: "spk0"}); got != want {
		t.Errorf("call asked for %+v, want %+v", got, want)
	}

	p.camera.SetSelected("Test pattern") // the fake call fails it
	settle("failing camera")
	if !p.errL.Visible() || p.errL.Text != "That camera could not be opened; still using the previous one." {
		t.Errorf("error shown %v %q", p.errL.Visible(), p.errL.Text)
	}
	if p.camera.Selected != "USB Camera" {
		t.Errorf("camera picker shows %q after the failure, want the camera in use", p.camera.Selected)
	}
	if got := h.ctl.Settings().Camera; got != "video0;video0" {
		t.Errorf("failed camera saved: %q", got)
	}

	test.Tap(findButton(t, p.pop.Content, "Close"))
	if p.pop.Visible() {
		t.Error("Close did not close the popup")
	}
	test.Tap(c.devBtn)
	if p.errL.Visible() {
		t.Error("old error shown on reopening")
	}
	test.Tap(c.hangBtn)
	h.until("ended", phase(app.PhaseEnded))
	if p.pop.Visible() {
		t.Error("popup still open after the call ended")
	}
}
