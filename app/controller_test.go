package app

import (
	"context"
	"errors"
	"fmt"
	"image"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/peercall/peercall/call"
	"github.com/peercall/peercall/signalserver"
)

// fakeCall is a Call driven by the test.
type fakeCall struct {
	events  chan CallEvent
	mu      sync.Mutex
	muted   bool
	camera  bool
	chat    []string
	chatErr error
	hung    bool
	once    sync.Once
	// SetDevices: every request, the devices in use, and an error for
	// requests naming failDev (that one is not switched).
	devReqs []Devices
	devs    Devices
	failDev string
}

func (f *fakeCall) SetDevices(d Devices) (Devices, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.devReqs = append(f.devReqs, d)
	var err error
	for _, p := range []struct{ want, cur *string }{{&d.Camera, &f.devs.Camera}, {&d.Microphone, &f.devs.Microphone}, {&d.Speaker, &f.devs.Speaker}} {
		if *p.want == *p.cur {
			continue
		}
		if f.failDev != "" && *p.want == f.failDev {
			err = &UserError{Msg: "That device could not be opened.", Err: ErrUnsupportedMedia}
			continue
		}
		*p.cur = *p.want
	}
	return f.devs, err
}

func newFakeCall() *fakeCall { return &fakeCall{events: make(chan CallEvent, 16), camera: true} }

func (f *fakeCall) Events() <-chan CallEvent   { return f.events }
func (f *fakeCall) Levels() (float64, float64) { return 0.5, 0.25 }
func (f *fakeCall) SetMute(on bool)            { f.mu.Lock(); f.muted = on; f.mu.Unlock() }
func (f *fakeCall) SetCamera(on bool) error    { f.mu.Lock(); f.camera = on; f.mu.Unlock(); return nil }
func (f *fakeCall) HangUp()                    { f.mu.Lock(); f.hung = true; f.mu.Unlock(); f.end() }
func (f *fakeCall) end()                       { f.once.Do(func() { close(f.events) }) }
func (f *fakeCall) SendChat(text string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.chatErr != nil {
		return f.chatErr
	}
	f.chat = append(f.chat, text)
	return nil
}

const testFingerprint = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89"

// fakeEngine hands out fakeCalls and records what it was asked.
type fakeEngine struct {
	mu       sync.Mutex
	hostErr  error
	dialErr  error
	dialed   []CallParams
	calls    chan *fakeCall
	hostStop int
	block    chan struct{} // if set, Dial waits for it (or ctx)
}

func newFakeEngine() *fakeEngine { return &fakeEngine{calls: make(chan *fakeCall, 4)} }

func (e *fakeEngine) Host(ctx context.Context) (HostedServer, error) {
	if e.hostErr != nil {
		return HostedServer{}, e.hostErr
	}
	return HostedServer{URL: "ws://127.0.0.1:4000/ws", LANAddr: "192.0.2.10:4000",
		HTTPSAddr: "192.0.2.10:4443", Fingerprint: testFingerprint, Stop: func() {
			e.mu.Lock()
			e.hostStop++
			e.mu.Unlock()
		}}, nil
}

func (e *fakeEngine) Dial(ctx context.Context, p CallParams) (Call, error) {
	e.mu.Lock()
	e.dialed = append(e.dialed, p)
	e.mu.Unlock()
	if e.block != nil {
		select {
		case <-e.block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if e.dialErr != nil {
		return nil, e.dialErr
	}
	c := newFakeCall()
	c.devs = callDevices(p.Settings, p.Media)
	e.calls <- c
	return c, nil
}

// recorder collects snapshots.
type recorder struct {
	mu   sync.Mutex
	all  []Notify
	wake chan struct{}
}

func newRecorder() *recorder { return &recorder{wake: make(chan struct{}, 1)} }

func (r *recorder) watch(n Notify) {
	r.mu.Lock()
	r.all = append(r.all, n)
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// waitFor returns the first snapshot (from now on, or already seen) matching ok.
func (r *recorder) waitFor(t *testing.T, what string, ok func(Notify) bool) Notify {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		r.mu.Lock()
		for _, n := range r.all {
			if ok(n) {
				r.mu.Unlock()
				return n
			}
		}
		r.mu.Unlock()
		select {
		case <-r.wake:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func (r *recorder) phases() []Phase {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Phase
	for _, n := range r.all {
		if len(out) == 0 || out[len(out)-1] != n.Phase {
			out = append(out, n.Phase)
		}
	}
	return out
}

// settle waits until the commands queued so far have run.
func settle(t *testing.T, c *Controller) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.mu.Lock()
		busy := c.jobBusy
		c.mu.Unlock()
		if !busy {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("queued commands still running")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func phaseIs(p Phase) func(Notify) bool { return func(n Notify) bool { return n.Phase == p } }

type memStore map[string]string

func (m memStore) String(k string) string { return m[k] }
func (m memStore) SetString(k, v string)  { m[k] = v }

func newTestController(t *testing.T, eng Engine) (*Controller, *recorder) {
	t.Helper()
	// Registered first, so it runs after c.Close: nothing may outlive it.
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	c := NewController(ControllerOptions{Engine: eng, Store: memStore{}, Tick: 10 * time.Millisecond})
	r := newRecorder()
	c.Watch(r.watch)
	t.Cleanup(c.Close)
	return c, r
}

// hostKitchen starts a hosted call as Ann in room kitchen on a fake engine
// and returns once it waits for the other person.
func hostKitchen(t *testing.T) (*Controller, *recorder, *fakeEngine, *fakeCall, Notify) {
	t.Helper()
	eng := newFakeEngine()
	c, r := newTestController(t, eng)
	if err := c.StartCall(JoinParams{Room: "kitchen", Name: "Ann"}); err != nil {
		t.Fatal(err)
	}
	fc := <-eng.calls
	return c, r, eng, fc, r.waitFor(t, "waiting", phaseIs(PhaseWaiting))
}

func TestControllerHostedCallWalksEveryPhase(t *testing.T) {
	c, r, eng, fc, n := hostKitchen(t)
	if n.JoinString != "ws://192.0.2.10:4000/ws?room=kitchen" || !n.Hosting || n.ServerURL != "ws://127.0.0.1:4000/ws" {
		t.Errorf("hosting snapshot = %+v", n)
	}
	if n.BrowserLink != "https://192.0.2.10:4443/r/kitchen" || n.BrowserFingerprint != testFingerprint {
		t.Errorf("browser link %q, fingerprint %q", n.BrowserLink, n.BrowserFingerprint)
	}
	if eng.dialed[0].Server != "ws://127.0.0.1:4000/ws" || eng.dialed[0].Room != "kitchen" || eng.dialed[0].Name != "Ann" {
		t.Errorf("dialed %+v", eng.dialed[0])
	}
	fc.events <- CallEvent{Phase: PhaseConnecting}
	r.waitFor(t, "connecting", phaseIs(PhaseConnecting))
	fc.events <- CallEvent{Phase: PhaseConnected}
	fc.events <- CallEvent{SAS: &call.SASCode{Digits: "123456", Words: []string{"a", "b", "c", "d"}}}
	fc.events <- CallEvent{Stats: &CallStats{Stats: call.Stats{Time: time.Now(), RTT: 20 * time.Millisecond, VideoIn: call.StreamStats{FPS: 30}}}}
	n = r.waitFor(t, "stats", func(n Notify) bool { return n.Quality == 4 && n.SASDigits == "123456" && n.Stats.VideoIn.FPS == 30 })
	if n.ConnectedAt.IsZero() || !slices.Equal(n.SASWords, []string{"a", "b", "c", "d"}) {
		t.Errorf("connected snapshot = %+v", n)
	}
	r.waitFor(t, "levels", func(n Notify) bool { return n.MicLevel == 0.5 && n.SpeakerLevel == 0.25 })
	fc.events <- CallEvent{Phase: PhaseReconnecting}
	r.waitFor(t, "reconnecting", phaseIs(PhaseReconnecting))
	fc.events <- CallEvent{Phase: PhaseConnected}
	fc.events <- CallEvent{Phase: PhaseEnded, Reason: "The other person hung up"}
	n = r.waitFor(t, "ended", phaseIs(PhaseEnded))
	if n.Reason != "The other person hung up" {
		t.Errorf("reason %q", n.Reason)
	}
	want := []Phase{PhaseIdle, PhaseConnectingServer, PhaseWaiting, PhaseConnecting, PhaseConnected, PhaseReconnecting, PhaseConnected, PhaseEnded}
	if got := r.phases(); !slices.Equal(got, want) {
		t.Errorf("phases = %v, want %v", got, want)
	}
	c.Dismiss()
	r.waitFor(t, "idle again", func(n Notify) bool { return n.Phase == PhaseIdle && n.Reason == "" })
	c.Close()
	if eng.hostStop != 1 {
		t.Errorf("hosted server stopped %d times", eng.hostStop)
	}
}

func TestControllerFailures(t *testing.T) {
	tests := []struct {
		name    string
		host    bool
		hostErr error
		dialErr error
		event   *CallEvent
		want    string
	}{
		{"host fails", true, &UserError{Msg: "Could not start the call server: port busy"}, nil, nil, "Could not start the call server: port busy"},
		{"wrong password", false, nil, &signalserver.ProtocolError{Code: signalserver.CodeWrongPassword, Text: "Wrong room password.", Err: signalserver.ErrRejected}, nil, "Wrong room password."},
		{"refused", false, nil, errors.New("dial: connect: connection refused"), nil, "Something went wrong: dial: connect: connection refused"},
		{"timeout", false, nil, nil, &CallEvent{Phase: PhaseFailed, Err: call.ErrTimeout}, "Timed out. The other person may be behind a firewall that blocks calls; try a TURN server in Settings."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eng := newFakeEngine()
			eng.hostErr, eng.dialErr = tt.hostErr, tt.dialErr
			c, r := newTestController(t, eng)
			var err error
			if tt.host {
				err = c.StartCall(JoinParams{Room: "r"})
			} else {
				err = c.Join(JoinParams{Server: "ws://127.0.0.1:1/ws", Room: "r"})
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.event != nil {
				fc := <-eng.calls
				fc.events <- *tt.event
			}
			n := r.waitFor(t, "failed", phaseIs(PhaseFailed))
			if n.Error != tt.want {
				t.Errorf("error %q, want %q", n.Error, tt.want)
			}
			if n.Phase.InCall() {
				t.Error("failed phase counts as in call")
			}
		})
	}
}

func TestControllerCommands(t *testing.T) {
	eng := newFakeEngine()
	c, r := newTestController(t, eng)
	if err := c.SendChat("hi"); !errors.Is(err, ErrNotInCall) {
		t.Errorf("chat outside a call: %v", err)
	}
	if err := c.Join(JoinParams{Server: "http://x", Room: "r"}); !errors.Is(err, ErrInvalidSettings) {
		t.Errorf("bad URL: %v", err)
	}
	if err := c.Join(JoinParams{Server: "ws://127.0.0.1:9/ws"}); err == nil {
		t.Error("join without a room accepted")
	}
	if err := c.Join(JoinParams{Server: "ws://127.0.0.1:9/ws?room=fromlink", Name: "Bo"}); err != nil {
		t.Fatal(err)
	}
	fc := <-eng.calls
	if err := c.StartCall(JoinParams{Room: "x"}); !errors.Is(err, ErrBusy) {
		t.Errorf("second call: %v", err)
	}
	if p := eng.dialed[0]; p.Room != "fromlink" || p.Server != "ws://127.0.0.1:9/ws" {
		t.Errorf("dialed %+v", p)
	}
	r.waitFor(t, "waiting", phaseIs(PhaseWaiting))
	if got := c.Settings().RecentServers; !slices.Equal(got, []string{"ws://127.0.0.1:9/ws"}) {
		t.Errorf("recent servers %v", got)
	}

	c.SetMute(true)
	if n := c.Snapshot(); !n.Muted || n.MicLevel != 0 {
		t.Errorf("muted snapshot %+v", n)
	}
	if err := c.SetCamera(false); err != nil {
		t.Fatal(err)
	}
	if err := c.SendChat("  hello  "); err != nil {
		t.Fatal(err)
	}
	fc.events <- CallEvent{Chat: &call.ChatMessage{Text: "hey", Time: time.Now()}}
	n := r.waitFor(t, "chat", func(n Notify) bool { return len(n.Chat) == 2 })
	if !n.Chat[0].Local || n.Chat[0].Text != "hello" || n.Chat[1].Local || n.Chat[1].Text != "hey" {
		t.Errorf("chat %+v", n.Chat)
	}
	settle(t, c)
	fc.mu.Lock()
	if !fc.muted || fc.camera || !slices.Equal(fc.chat, []string{"hello"}) {
		t.Errorf("call got muted=%v camera=%v chat=%v", fc.muted, fc.camera, fc.chat)
	}
	fc.chatErr = call.ErrChatTooLong
	fc.mu.Unlock()
	if err := c.SendChat("long"); UserMessage(err) != "That message is too long." {
		t.Errorf("too long: %v", err)
	}

	c.HangUp()
	n = r.waitFor(t, "ended", phaseIs(PhaseEnded))
	if n.Reason != "You hung up" {
		t.Errorf("reason %q", n.Reason)
	}
	fc.mu.Lock()
	hung := fc.hung
	fc.mu.Unlock()
	if !hung {
		t.Error("HangUp did not reach the call")
	}
	// A new call is possible after the end.
	if err := c.Join(JoinParams{Server: "ws://127.0.0.1:9/ws", Room: "again"}); err != nil {
		t.Fatal(err)
	}
	<-eng.calls
	r.waitFor(t, "second call", func(n Notify) bool { return n.Phase == PhaseWaiting && n.Room == "again" && len(n.Chat) == 0 })
}

func TestControllerHangUpWhileConnectingServer(t *testing.T) {
	eng := newFakeEngine()
	eng.block = make(chan struct{})
	c, r := newTestController(t, eng)
	if err := c.Join(JoinParams{Server: "ws://127.0.0.1:9/ws", Room: "r"}); err != nil {
		t.Fatal(err)
	}
	r.waitFor(t, "connecting to server", func(n Notify) bool {
		return n.Phase == PhaseConnectingServer && n.Progress == "Connecting to the server…"
	})
	c.HangUp()
	n := r.waitFor(t, "ended", phaseIs(PhaseEnded))
	if n.Reason != "You hung up" {
		t.Errorf("reason %q", n.Reason)
	}
}

func TestControllerAudioOnlyAndFrames(t *testing.T) {
	eng := newFakeEngine()
	c, r := newTestController(t, eng)
	var mu sync.Mutex
	var got []bool
	c.SetFrameSink(func(f VideoFrame) { mu.Lock(); got = append(got, f.Local); mu.Unlock() })
	if err := c.StartCall(JoinParams{Room: "r"}); err != nil {
		t.Fatal(err)
	}
	fc := <-eng.calls
	eng.mu.Lock()
	onFrame := eng.dialed[0].OnFrame
	eng.mu.Unlock()
	onFrame(VideoFrame{Local: true, Image: image.NewYCbCr(image.Rect(0, 0, 2, 2), image.YCbCrSubsampleRatio420)})
	onFrame(VideoFrame{Image: image.NewYCbCr(image.Rect(0, 0, 2, 2), image.YCbCrSubsampleRatio420)})
	mu.Lock()
	if !slices.Equal(got, []bool{true, false}) {
		t.Errorf("frames %v", got)
	}
	mu.Unlock()
	fc.events <- CallEvent{Phase: PhaseWaiting, AudioOnly: true}
	r.waitFor(t, "audio only", func(n Notify) bool { return n.AudioOnly && !n.CameraOn })
	if err := c.SetCamera(true); err == nil {
		t.Error("camera on in an audio-only call")
	}
}

func TestControllerApplySettings(t *testing.T) {
	store := memStore{}
	c := NewController(ControllerOptions{Store: store})
	defer c.Close()
	s := c.Settings()
	s.DisplayName = "Zoe"
	s.FPS = 0
	if err := c.ApplySettings(s); !errors.Is(err, ErrInvalidSettings) {
		t.Fatalf("invalid settings: %v", err)
	}
	if len(store) != 0 {
		t.Error("invalid settings were saved")
	}
	s.FPS = 15
	if err := c.ApplySettings(s); err != nil {
		t.Fatal(err)
	}
	if c.Snapshot().Name != "Zoe" {
		t.Error("name not applied")
	}
	settle(t, c)
	c2 := NewController(ControllerOptions{Store: store})
	defer c2.Close()
	if got := c2.Settings(); got.FPS != 15 || got.DisplayName != "Zoe" {
		t.Errorf("reloaded %+v", got)
	}
}

func TestQualityBars(t *testing.T) {
	now := time.Now()
	tests := []struct {
		loss float64
		rtt  time.Duration
		want int
	}{
		{0, 20 * time.Millisecond, 4},
		{2, 20 * time.Millisecond, 3},
		{0, 200 * time.Millisecond, 3},
		{5, 400 * time.Millisecond, 2},
		{20, 50 * time.Millisecond, 1},
		{0, time.Second, 1},
	}
	for _, tt := range tests {
		s := call.Stats{Time: now, RTT: tt.rtt}
		s.VideoIn.LossPct = tt.loss
		if got := QualityBars(s); got != tt.want {
			t.Errorf("loss %.0f rtt %v: %d bars, want %d", tt.loss, tt.rtt, got, tt.want)
		}
	}
	if QualityBars(call.Stats{}) != 0 {
		t.Error("no stats should be 0 bars")
	}
}

func TestJoinString(t *testing.T) {
	js := JoinString("192.168.1.5:4000", "my room")
	server, room, err := ParseJoinString(js)
	if err != nil || server != "ws://192.168.1.5:4000/ws" || room != "my room" {
		t.Errorf("round trip %q -> %q %q %v", js, server, room, err)
	}
	for _, bad := range []string{"", "http://x/ws", "ws://", "192.168.1.5:4000"} {
		if _, _, err := ParseJoinString(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestBrowserLink(t *testing.T) {
	tests := []struct{ host, room, want string }{
		{"192.168.1.5:4443", "kitchen", "https://192.168.1.5:4443/r/kitchen"},
		{"[fd00::5]:4443", "a.b_c-1", "https://[fd00::5]:4443/r/a.b_c-1"},
		{"192.168.1.5:4443", "my room/..", "https://192.168.1.5:4443/r/my%20room%2F.."},
		{"", "kitchen", ""},
		{"192.168.1.5:4443", "", ""},
	}
	for _, tt := range tests {
		if got := BrowserLink(tt.host, tt.room); got != tt.want {
			t.Errorf("BrowserLink(%q, %q) = %q, want %q", tt.host, tt.room, got, tt.want)
		}
	}
}

// TestControllerBrowserLinkWhenJoining: a joined server has a browser link
// only when it speaks wss (its page is then https on the same address),
// and never a fingerprint (the app did not make its certificate).
func TestControllerBrowserLinkWhenJoining(t *testing.T) {
	tests := []struct{ server, want string }{
		{"wss://calls.example.org/ws", "https://calls.example.org/r/den"},
		{"wss://192.0.2.7:8443/ws?room=den", "https://192.0.2.7:8443/r/den"},
		{"ws://192.0.2.7:8080/ws", ""},
	}
	for _, tt := range tests {
		t.Run(tt.server, func(t *testing.T) {
			eng := newFakeEngine()
			c, r := newTestController(t, eng)
			if err := c.Join(JoinParams{Server: tt.server, Room: "den"}); err != nil {
				t.Fatal(err)
			}
			<-eng.calls
			n := r.waitFor(t, "waiting", phaseIs(PhaseWaiting))
			if n.BrowserLink != tt.want || n.BrowserFingerprint != "" || n.Hosting {
				t.Errorf("browser link %q fingerprint %q hosting %v, want link %q", n.BrowserLink, n.BrowserFingerprint, n.Hosting, tt.want)
			}
		})
	}
}

func TestPhaseStrings(t *testing.T) {
	for p := PhaseIdle; p <= PhaseFailed; p++ {
		if s := p.String(); s == "" || s[0] == 'P' {
			t.Errorf("phase %d: %q", p, s)
		}
	}
}

func TestLevel(t *testing.T) {
	if Level(nil) != 0 || Level(make([]int16, 960)) != 0 {
		t.Error("silence not 0")
	}
	loud := make([]int16, 960)
	for i := range loud {
		loud[i] = 32767 * int16(1-2*(i%2))
	}
	if l := Level(loud); l < 0.99 {
		t.Errorf("full scale level %f", l)
	}
}

type fakePreviewer struct{ started, stopped chan struct{} }

func (p fakePreviewer) Preview(ctx context.Context, _ Settings, _ MediaOptions, onFrame func(VideoFrame), level func(float64), warn func(error)) error {
	p.started <- struct{}{}
	onFrame(VideoFrame{Local: true})
	level(0.4)
	warn(&UserError{Msg: "No camera found."})
	<-ctx.Done()
	p.stopped <- struct{}{}
	return ctx.Err()
}

func TestControllerPreview(t *testing.T) {
	p := fakePreviewer{started: make(chan struct{}, 2), stopped: make(chan struct{}, 2)}
	eng := newFakeEngine()
	c := NewController(ControllerOptions{Engine: eng, Previewer: p, Store: memStore{}, Tick: 10 * time.Millisecond})
	defer c.Close()
	r := newRecorder()
	c.Watch(r.watch)
	var frames int
	var mu sync.Mutex
	c.SetFrameSink(func(VideoFrame) { mu.Lock(); frames++; mu.Unlock() })
	if err := c.StartPreview(c.Settings()); err != nil {
		t.Fatal(err)
	}
	<-p.started
	r.waitFor(t, "preview level", func(n Notify) bool {
		return n.Previewing && n.MicLevel == 0.4 && n.PreviewError == "No camera found."
	})
	// A call takes the devices: the preview stops first.
	if err := c.StartCall(JoinParams{Room: "r"}); err != nil {
		t.Fatal(err)
	}
	<-p.stopped
	<-eng.calls
	r.waitFor(t, "waiting", phaseIs(PhaseWaiting))
	if c.Snapshot().Previewing {
		t.Error("preview still on during the call")
	}
	if err := c.StartPreview(c.Settings()); !errors.Is(err, ErrBusy) {
		t.Errorf("preview during a call: %v", err)
	}
	mu.Lock()
	if frames != 1 {
		t.Errorf("%d preview frames reached the sink", frames)
	}
	mu.Unlock()
}

func TestControllerRemoteMedia(t *testing.T) {
	c, r, eng, fc, n := hostKitchen(t)
	if !n.RemoteCameraOn || !n.RemoteMicOn || n.RemoteName != "" {
		t.Fatalf("before the peer says anything: %+v", n)
	}
	fc.events <- CallEvent{Phase: PhaseConnecting, PeerName: "Bob"}
	fc.events <- CallEvent{Phase: PhaseConnected}
	r.waitFor(t, "connected with Bob", func(n Notify) bool { return n.Phase == PhaseConnected && n.RemoteName == "Bob" })
	steps := []struct {
		m           call.MediaState
		camera, mic bool
	}{
		{call.MediaState{Audio: true, Video: false}, false, true},
		{call.MediaState{Audio: false, Video: false}, false, false},
		{call.MediaState{Audio: false, Video: true}, true, false},
		{call.MediaState{Audio: true, Video: true}, true, true},
	}
	for i, st := range steps {
		m := st.m
		fc.events <- CallEvent{RemoteMedia: &m}
		fc.events <- CallEvent{Chat: &call.ChatMessage{Text: "marker", Time: time.Now()}}
		n := r.waitFor(t, "step", func(n Notify) bool { return len(n.Chat) == i+1 })
		if n.RemoteCameraOn != st.camera || n.RemoteMicOn != st.mic || n.RemoteName != "Bob" {
			t.Errorf("step %d (%+v): camera %v mic %v name %q", i, st.m, n.RemoteCameraOn, n.RemoteMicOn, n.RemoteName)
		}
		if l := n.Chat[i]; l.Local || l.From != "Bob" {
			t.Errorf("step %d: chat line %+v, want one from Bob", i, l)
		}
	}
	// The next call starts from "on" again.
	fc.events <- CallEvent{RemoteMedia: &call.MediaState{}}
	r.waitFor(t, "all off", func(n Notify) bool { return !n.RemoteCameraOn && !n.RemoteMicOn })
	c.HangUp()
	r.waitFor(t, "ended", phaseIs(PhaseEnded))
	if err := c.StartCall(JoinParams{Room: "again"}); err != nil {
		t.Fatal(err)
	}
	<-eng.calls
	n = r.waitFor(t, "second call", func(n Notify) bool { return n.Phase == PhaseWaiting && n.Room == "again" })
	if !n.RemoteCameraOn || !n.RemoteMicOn || n.RemoteName != "" {
		t.Errorf("second call inherits the first peer's state: %+v", n)
	}
}

// TestControllerSwitchDevices: a switch during the call reaches the call,
// shows in the snapshot and is saved for the next call; a device that
// fails keeps the old one and saves nothing for it.
func TestControllerSwitchDevices(t *testing.T) {
	eng := newFakeEngine()
	store := memStore{}
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	c := NewController(ControllerOptions{Engine: eng, Store: store, Tick: 10 * time.Millisecond})
	t.Cleanup(c.Close)
	r := newRecorder()
	c.Watch(r.watch)
	s := c.Settings()
	s.Camera, s.Microphone, s.Speaker = "cam0", "mic0", ""
	if err := c.ApplySettings(s); err != nil {
		t.Fatal(err)
	}
	if got := c.Snapshot().Devices; got != (Devices{Camera: "cam0", Microphone: "mic0"}) {
		t.Errorf("devices before the call %+v", got)
	}
	if err := c.SwitchDevices(Devices{Camera: "cam1"}); !errors.Is(err, ErrNotInCall) {
		t.Errorf("switch outside a call: %v", err)
	}
	if err := c.StartCall(JoinParams{Room: "r"}); err != nil {
		t.Fatal(err)
	}
	fc := <-eng.calls
	r.waitFor(t, "waiting", phaseIs(PhaseWaiting))

	steps := []struct {
		name    string
		req     Devices
		failDev string
		wantErr bool
		want    Devices // in use and saved afterwards
	}{
		{"camera", Devices{Camera: "cam1", Microphone: "mic0"}, "", false, Devices{Camera: "cam1", Microphone: "mic0"}},
		{"speaker to a device", Devices{Camera: "cam1", Microphone: "mic0", Speaker: "spk1"}, "", false, Devices{Camera: "cam1", Microphone: "mic0", Speaker: "spk1"}},
		{"microphone to the default", Devices{Camera: "cam1", Microphone: "", Speaker: "spk1"}, "", false, Devices{Camera: "cam1", Speaker: "spk1"}},
		{"broken camera, good speaker", Devices{Camera: "broken", Speaker: "spk2"}, "broken", true, Devices{Camera: "cam1", Speaker: "spk2"}},
		{"nothing changes", Devices{Camera: "cam1", Speaker: "spk2"}, "", false, Devices{Camera: "cam1", Speaker: "spk2"}},
	}
	for _, st := range steps {
		fc.mu.Lock()
		fc.failDev = st.failDev
		fc.mu.Unlock()
		seq := c.Snapshot().NoticeSeq
		if err := c.SwitchDevices(st.req); err != nil {
			t.Fatalf("%s: err %v", st.name, err)
		}
		settle(t, c)
		n := c.Snapshot()
		if (n.NoticeSeq != seq) != st.wantErr || n.SwitchingDevices {
			t.Fatalf("%s: notice #%d %q (before #%d), switching %v", st.name, n.NoticeSeq, n.Notice, seq, n.SwitchingDevices)
		}
		if st.wantErr && n.Notice != "That device could not be opened." {
			t.Errorf("%s: notice %q", st.name, n.Notice)
		}
		fc.mu.Lock()
		last := fc.devReqs[len(fc.devReqs)-1]
		fc.mu.Unlock()
		if last != st.req {
			t.Errorf("%s: call asked for %+v, want %+v", st.name, last, st.req)
		}
		if got := c.Snapshot().Devices; got != st.want {
			t.Errorf("%s: snapshot devices %+v, want %+v", st.name, got, st.want)
		}
		set := c.Settings()
		if got := (Devices{set.Camera, set.Microphone, set.Speaker}); got != st.want {
			t.Errorf("%s: settings devices %+v, want %+v", st.name, got, st.want)
		}
	}
	// Saved: a new controller on the same store starts on them.
	c2 := NewController(ControllerOptions{Store: store})
	defer c2.Close()
	if got := c2.Snapshot().Devices; got != (Devices{Camera: "cam1", Speaker: "spk2"}) {
		t.Errorf("reloaded devices %+v", got)
	}
	// The next call is dialed with them.
	c.HangUp()
	r.waitFor(t, "ended", phaseIs(PhaseEnded))
	if err := c.StartCall(JoinParams{Room: "again"}); err != nil {
		t.Fatal(err)
	}
	<-eng.calls
	r.waitFor(t, "second call", func(n Notify) bool { return n.Phase == PhaseWaiting && n.Room == "again" })
	eng.mu.Lock()
	p := eng.dialed[len(eng.dialed)-1]
	eng.mu.Unlock()
	if p.Settings.Camera != "cam1" || p.Settings.Microphone != "" || p.Settings.Speaker != "spk2" {
		t.Errorf("next call dialed with camera %q mic %q speaker %q", p.Settings.Camera, p.Settings.Microphone, p.Settings.Speaker)
	}
}

// TestControllerDevicesForcedPattern: with --video synthetic the call's
// camera shows as the test pattern, and a microphone switch does not save
// the pattern as the camera.
func TestControllerDevicesForcedPattern(t *testing.T) {
	eng := newFakeEngine()
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	c := NewController(ControllerOptions{Engine: eng, Store: memStore{}, Media: MediaOptions{Video: "synthetic"}})
	t.Cleanup(c.Close)
	s := c.Settings()
	s.Camera = "cam0"
	if err := c.ApplySettings(s); err != nil {
		t.Fatal(err)
	}
	if err := c.StartCall(JoinParams{Room: "r"}); err != nil {
		t.Fatal(err)
	}
	<-eng.calls
	deadline := time.Now().Add(5 * time.Second)
	for c.SwitchDevices(Devices{Camera: "synthetic", Microphone: "mic1"}) != nil {
		if time.Now().After(deadline) {
			t.Fatal("call never ready for a switch")
		}
		time.Sleep(5 * time.Millisecond)
	}
	settle(t, c)
	if got := c.Snapshot().Devices; got != (Devices{Camera: "synthetic", Microphone: "mic1"}) {
		t.Errorf("devices %+v", got)
	}
	if set := c.Settings(); set.Camera != "cam0" || set.Microphone != "mic1" {
		t.Errorf("saved camera %q microphone %q", set.Camera, set.Microphone)
	}
}

// blockingCall is a fakeCall whose device commands wait for release, like
// a camera that takes its time to open.
type blockingCall struct {
	*fakeCall
	release chan struct{}
	entered chan string
}

func (b *blockingCall) wait(what string) {
	b.entered <- what
	<-b.release
}

func (b *blockingCall) SetMute(on bool) { b.wait("mute"); b.fakeCall.SetMute(on) }
func (b *blockingCall) SetCamera(on bool) error {
	b.wait("camera")
	return b.fakeCall.SetCamera(on)
}

func (b *blockingCall) SetDevices(d Devices) (Devices, error) {
	b.wait("devices")
	return b.fakeCall.SetDevices(d)
}

// blockingEngine dials blockingCalls.
type blockingEngine struct {
	*fakeEngine
	calls chan *blockingCall
}

func (e *blockingEngine) Dial(ctx context.Context, p CallParams) (Call, error) {
	c, err := e.fakeEngine.Dial(ctx, p)
	if err != nil {
		return nil, err
	}
	fc := <-e.fakeEngine.calls
	b := &blockingCall{fakeCall: fc, release: make(chan struct{}), entered: make(chan string, 8)}
	_ = c
	e.calls <- b
	return b, nil
}

// secretStore is a fake keyring: Set fails while failing is set, and
// waits for release when one is given.
type secretStore struct {
	mu      sync.Mutex
	m       map[string]string
	failing bool
	sets    int
	release chan struct{}
	entered chan struct{}
}

func (s *secretStore) Get(service, user string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.m[service+"/"+user]; ok {
		return v, nil
	}
	return "", errors.New("not found")
}

func (s *secretStore) Set(service, user, password string) error {
	s.mu.Lock()
	s.sets++
	release, entered := s.release, s.entered
	s.mu.Unlock()
	if release != nil {
		entered <- struct{}{}
		<-release
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failing {
		return errors.New("no secret service")
	}
	if s.m == nil {
		s.m = map[string]string{}
	}
	s.m[service+"/"+user] = password
	return nil
}

func (s *secretStore) Delete(service, user string) error { return nil }

// TestControllerCommandsDoNotWait: mute, camera, device switch and save
// return while the device or the keyring behind them is still busy (the
// GUI calls them on its main thread); the results arrive in the snapshot.
func TestControllerCommandsDoNotWait(t *testing.T) {
	eng := &blockingEngine{fakeEngine: newFakeEngine(), calls: make(chan *blockingCall, 1)}
	secrets := &secretStore{release: make(chan struct{}), entered: make(chan struct{}, 1)}
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	c := NewController(ControllerOptions{Engine: eng, Store: memStore{}, Secrets: secrets})
	t.Cleanup(c.Close)
	r := newRecorder()
	c.Watch(r.watch)
	if err := c.StartCall(JoinParams{Room: "r"}); err != nil {
		t.Fatal(err)
	}
	bc := <-eng.calls
	r.waitFor(t, "waiting", phaseIs(PhaseWaiting))

	// Each command returns although the call is stuck in the first one.
	returned := make(chan struct{})
	go func() {
		defer close(returned)
		if err := c.SetCamera(false); err != nil {
			t.Error(err)
		}
		c.SetMute(true)
		if err := c.SwitchDevices(Devices{Camera: "cam9"}); err != nil {
			t.Error(err)
		}
		s := turnSettings()
		if err := c.ApplySettings(s); err != nil {
			t.Error(err)
		}
	}()
	if got := <-bc.entered; got != "camera" {
		t.Fatalf("first call command %q", got)
	}
	select {
	case <-returned:
	case <-time.After(5 * time.Second):
		t.Fatal("a command waited for the blocked camera")
	}
	n := c.Snapshot()
	if n.CameraOn || !n.Muted || !n.SwitchingDevices || c.Settings().DisplayName != "Ann" {
		t.Errorf("while blocked: camera %v muted %v switching %v name %q", n.CameraOn, n.Muted, n.SwitchingDevices, c.Settings().DisplayName)
	}
	// The call gets them in order; the save then waits in the keyring.
	for _, want := range []string{"mute", "devices"} {
		bc.release <- struct{}{}
		if got := <-bc.entered; got != want {
			t.Fatalf("call command %q, want %q", got, want)
		}
	}
	bc.release <- struct{}{}
	<-secrets.entered // saving the new camera for the next call
	if n := c.Snapshot(); n.Devices.Camera != "cam9" {
		t.Errorf("after the switch: %+v", n.Devices)
	}
	close(secrets.release)
	settle(t, c)
	if n := c.Snapshot(); n.SwitchingDevices || n.Notice != "" {
		t.Errorf("after the save: switching %v notice %q", n.SwitchingDevices, n.Notice)
	}
	bc.fakeCall.mu.Lock()
	defer bc.fakeCall.mu.Unlock()
	if bc.fakeCall.camera || !bc.fakeCall.muted || bc.fakeCall.devs.Camera != "cam9" {
		t.Errorf("call state camera %v muted %v devices %+v", bc.fakeCall.camera, bc.fakeCall.muted, bc.fakeCall.devs)
	}
}

// TestControllerPlainPasswordNotices: every save whose passwords fall back
// to plain text says so (not only the state found at start), and joining
// a server remembers it without writing the settings (and the passwords)
// again.
func TestControllerPlainPasswordNotices(t *testing.T) {
	eng := newFakeEngine()
	store := memStore{}
	secrets := &secretStore{}
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	c := NewController(ControllerOptions{Engine: eng, Store: store, Secrets: secrets})
	t.Cleanup(c.Close)

	s := turnSettings()
	if err := c.ApplySettings(s); err != nil {
		t.Fatal(err)
	}
	settle(t, c)
	if n := c.Snapshot(); n.PlainPasswords || n.Notice != "" || strings.Contains(store[settingsKey], "s3cret") {
		t.Fatalf("keyring working: plain %v notice %q", n.PlainPasswords, n.Notice)
	}
	saved := store[settingsKey]

	// The keyring goes away: joining must not rewrite the passwords.
	secrets.mu.Lock()
	secrets.failing = true
	secrets.mu.Unlock()
	if err := c.Join(JoinParams{Server: "ws://127.0.0.1:9/ws", Room: "r"}); err != nil {
		t.Fatal(err)
	}
	<-eng.calls
	settle(t, c)
	c.HangUp()
	if store[settingsKey] != saved {
		t.Errorf("joining rewrote the settings:\n%s\nwas\n%s", store[settingsKey], saved)
	}
	if got := store[recentKey]; got != `["ws://127.0.0.1:9/ws"]` {
		t.Errorf("recent servers saved as %q", got)
	}
	c2 := NewController(ControllerOptions{Store: store, Secrets: secrets})
	defer c2.Close()
	if !slices.Equal(c2.Settings().RecentServers, []string{"ws://127.0.0.1:9/ws"}) {
		t.Errorf("reloaded recent servers %v", c2.Settings().RecentServers)
	}

	// Each save that falls back is a new notice.
	for i := 1; i <= 2; i++ {
		seq := c.Snapshot().NoticeSeq
		s.DisplayName = fmt.Sprintf("Ann %d", i)
		if err := c.ApplySettings(s); err != nil {
			t.Fatal(err)
		}
		settle(t, c)
		n := c.Snapshot()
		if n.Notice != PlainPasswordsNotice || n.NoticeSeq != seq+1 || !n.PlainPasswords {
			t.Errorf("save %d: notice #%d %q plain %v", i, n.NoticeSeq, n.Notice, n.PlainPasswords)
		}
		if !strings.Contains(store[settingsKey], "s3cret") {
			t.Errorf("save %d: passwords neither in the keyring nor in the file", i)
		}
	}
}
