package app

import (
	"context"
	"errors"
	"image"
	"io"
	"log/slog"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"

	"github.com/peercall/peercall/codec"
)

// waitCount polls an encoder counter (no timing is asserted, only that it
// gets there).
func waitCount(t *testing.T, what string, get func() int64, want int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for get() < want {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d, want %d", what, get(), want)
		}
		time.Sleep(time.Millisecond)
	}
}

// stopped waits for a sender's end, failing (not hanging) when a device
// was never released under it.
func stopped(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, ErrNotInCall) {
			t.Errorf("sender: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("the sender does not stop: it waits in a device that was never released")
	}
}

func testLiveCall() *liveCall {
	return &liveCall{p: CallParams{Settings: DefaultSettings()}, log: slog.New(slog.DiscardHandler)}
}

// TestEngineSwitchCamera runs the real VP8 sender on a fake camera and
// moves it to another one: the sender keeps running, the first frame of
// the new camera is a keyframe, the old camera is released, and a camera
// that does not open leaves the current one in use.
func TestEngineSwitchCamera(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	cams := map[string]*fakeCamera{"a": newFakeCamera(), "b": newFakeCamera(), "broken": newFakeCamera()}
	cams["broken"].openErr = errors.New("device busy")
	lc := testLiveCall()
	lc.openCamera = func(id string) videoOpener {
		if c, ok := cams[id]; ok {
			return c.open
		}
		return func() (func() (*image.YCbCr, error), func() error, error) {
			return nil, nil, errors.New("no such camera")
		}
	}
	lc.devs = Devices{Camera: "a", Microphone: "m", Speaker: "s"}
	cam, err := newSwitchedVideo(lc.cameraOpener("a"))
	if err != nil {
		t.Fatal(err)
	}
	lc.cam = cam
	defer cam.Close()
	track, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", "test")
	if err != nil {
		t.Fatal(err)
	}
	lc.vs, err = newVideoSender(track, cam.Next, codec.VP8Config{Width: 64, Height: 48, FPS: 15, BitRate: 200_000})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- lc.vs.run(ctx) }()
	defer func() {
		cancel()
		_ = cam.Close() // ends the sender's wait for a frame
		stopped(t, done)
	}()
	frame := func() *image.YCbCr { return image.NewYCbCr(image.Rect(0, 0, 64, 48), image.YCbCrSubsampleRatio420) }
	send := func(c *fakeCamera, want int64) {
		t.Helper()
		select {
		case c.frames <- frame():
		case <-time.After(10 * time.Second):
			t.Fatalf("frame %d not read", want)
		}
		waitCount(t, "frames encoded", lc.vs.frames.Load, want)
	}
	send(cams["a"], 1)
	send(cams["a"], 2)
	if k := lc.vs.lastKey.Load(); k != 1 {
		t.Fatalf("latest keyframe %d, want 1 (only the first)", k)
	}

	got, err := lc.SetDevices(Devices{Camera: "b", Microphone: "m", Speaker: "s"})
	if err != nil || got.Camera != "b" {
		t.Fatalf("switch to b: %+v, %v", got, err)
	}
	if opens, releases, open := cams["a"].counts(); opens != 1 || releases != 1 || open {
		t.Errorf("camera a after the switch: opens %d releases %d open %v", opens, releases, open)
	}
	send(cams["b"], 3)
	if k := lc.vs.lastKey.Load(); k != 3 {
		t.Errorf("first frame of the new camera is not a keyframe (latest keyframe %d)", k)
	}
	send(cams["b"], 4)

	for _, id := range []string{"broken", "missing"} {
		got, err = lc.SetDevices(Devices{Camera: id, Microphone: "m", Speaker: "s"})
		var ue *UserError
		if !errors.As(err, &ue) || !errors.Is(err, ErrUnsupportedMedia) || got.Camera != "b" {
			t.Errorf("switch to %s: %+v, %v", id, got, err)
		}
	}
	if _, releases, open := cams["b"].counts(); releases != 0 || !open {
		t.Errorf("camera b after failed switches: releases %d open %v", releases, open)
	}
	send(cams["b"], 5)

	// Camera off: choosing another camera does not open it; turning the
	// camera on does.
	if err := lc.SetCamera(false); err != nil {
		t.Fatal(err)
	}
	if got, err = lc.SetDevices(Devices{Camera: "a", Microphone: "m", Speaker: "s"}); err != nil || got.Camera != "a" {
		t.Fatalf("switch while off: %+v, %v", got, err)
	}
	if opens, _, open := cams["a"].counts(); opens != 1 || open {
		t.Errorf("camera a opened while the camera is off (opens %d)", opens)
	}
	if err := lc.SetCamera(true); err != nil {
		t.Fatal(err)
	}
	if opens, _, open := cams["a"].counts(); opens != 2 || !open {
		t.Errorf("camera a not opened by camera on (opens %d open %v)", opens, open)
	}
	if _, releases, open := cams["b"].counts(); releases != 1 || open {
		t.Errorf("camera b: releases %d open %v", releases, open)
	}
	send(cams["a"], 6)
}

// TestEngineSwitchMicrophone runs the real Opus sender on a fake
// microphone and moves it to another: the same encoder goes on with the
// new microphone's PCM (its level shows), the old one is released, and a
// microphone that does not open keeps the current one.
func TestEngineSwitchMicrophone(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	mics := map[string]*fakeMic{"": newFakeMic(), "usb": newFakeMic(), "broken": newFakeMic()}
	mics["broken"].openErr = errors.New("device busy")
	lc := testLiveCall()
	lc.openMic = func(id string) audioOpener { return mics[id].open }
	mic, err := newSwitchedAudio(lc.micOpener(""))
	if err != nil {
		t.Fatal(err)
	}
	lc.mic = mic
	defer mic.Close()
	track, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "test")
	if err != nil {
		t.Fatal(err)
	}
	lc.as, err = newAudioSender(track, lc.wrapAudio(mic.Next), codec.DefaultOpusConfig())
	if err != nil {
		t.Fatal(err)
	}
	enc := lc.as.enc
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- lc.as.run(ctx) }()
	defer func() {
		cancel()
		_ = mic.Close()
		stopped(t, done)
	}()
	silence := make([]int16, 960)
	tone := make([]int16, 960)
	for i := range tone {
		tone[i] = int16(10000 * math.Sin(float64(i)*2*math.Pi*440/48000))
	}
	send := func(m *fakeMic, pcm []int16, want int64) {
		t.Helper()
		select {
		case m.frames <- pcm:
		case <-time.After(10 * time.Second):
			t.Fatalf("chunk %d not read", want)
		}
		waitCount(t, "audio frames encoded", lc.as.frames.Load, want)
	}
	level := func() float64 { return math.Float64frombits(lc.micLevel.Load()) }
	send(mics[""], silence, 1)
	send(mics[""], silence, 2)
	if level() != 0 {
		t.Fatalf("level %v of silence", level())
	}

	got, err := lc.SetDevices(Devices{Microphone: "usb"})
	if err != nil || got.Microphone != "usb" {
		t.Fatalf("switch: %+v, %v", got, err)
	}
	if opens, releases, open := mics[""].counts(); opens != 1 || releases != 1 || open {
		t.Errorf("old microphone: opens %d releases %d open %v", opens, releases, open)
	}
	send(mics["usb"], tone, 3)
	if l := level(); l < 0.5 {
		t.Errorf("level %v after switching to the microphone with sound", l)
	}
	lc.as.mu.Lock()
	same := lc.as.enc == enc
	lc.as.mu.Unlock()
	if !same {
		t.Error("the Opus encoder was replaced")
	}

	got, err = lc.SetDevices(Devices{Microphone: "broken"})
	if !errors.Is(err, ErrUnsupportedMedia) || UserMessage(err) == "" || got.Microphone != "usb" {
		t.Errorf("switch to a broken microphone: %+v, %v", got, err)
	}
	if _, releases, open := mics["usb"].counts(); releases != 0 || !open {
		t.Errorf("microphone released by a failed switch: releases %d open %v", releases, open)
	}
	send(mics["usb"], tone, 4)
}

// TestEngineSwitchRefused: sources chosen on the command line and devices
// missing since the start of the call cannot be switched; the error says
// why and the speaker (always switchable) still switches in the same call.
func TestEngineSwitchRefused(t *testing.T) {
	tests := []struct {
		name  string
		media MediaOptions
		cam   bool // a camera source exists
		mic   bool
		req   Devices
		want  string
	}{
		{"video synthetic", MediaOptions{Video: "synthetic"}, true, true, Devices{Camera: "cam1", Speaker: "spk1"},
			"This call sends the test pattern (--video synthetic): the camera cannot be changed."},
		{"video none", MediaOptions{Video: "none"}, false, true, Devices{Camera: "cam1", Speaker: "spk1"}, "This call sends no video (--video none)."},
		{"audio-only", MediaOptions{}, false, true, Devices{Camera: "cam1", Speaker: "spk1"}, "No camera found: this is an audio-only call."},
		{"audio tone", MediaOptions{Audio: "tone"}, true, false, Devices{Microphone: "mic1", Speaker: "spk1"},
			"This call sends a test sound (--audio tone): the microphone cannot be changed."},
		{"audio none", MediaOptions{Audio: "none"}, true, false, Devices{Microphone: "mic1", Speaker: "spk1"}, "This call sends no sound (--audio none)."},
		{"no microphone", MediaOptions{}, true, false, Devices{Microphone: "mic1", Speaker: "spk1"},
			"No microphone was found when the call started; it cannot be added during the call."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lc := testLiveCall()
			lc.p.Media = tt.media
			if tt.cam {
				cam, err := newSwitchedVideo(newFakeCamera().open)
				if err != nil {
					t.Fatal(err)
				}
				defer cam.Close()
				lc.cam = cam
				track, _ := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", "test")
				if lc.vs, err = newVideoSender(track, cam.Next, codec.VP8Config{Width: 64, Height: 48, FPS: 15}); err != nil {
					t.Fatal(err)
				}
				defer lc.vs.enc.Close()
			}
			if tt.mic {
				mic, err := newSwitchedAudio(newFakeMic().open)
				if err != nil {
					t.Fatal(err)
				}
				defer mic.Close()
				lc.mic = mic
			}
			lc.spk = newSpeakerOut("", nil, lc.log)
			got, err := lc.SetDevices(tt.req)
			if !errors.Is(err, ErrUnsupportedMedia) || UserMessage(err) != tt.want {
				t.Errorf("error %q (%v), want %q", UserMessage(err), err, tt.want)
			}
			if got != (Devices{Speaker: "spk1"}) {
				t.Errorf("devices %+v, want only the speaker switched", got)
			}
		})
	}
}

// fakePlayers records the players a speakerOut opens.
type fakePlayers struct {
	mu     sync.Mutex
	opened []string
	open   map[string]codec.AudioSource // by device, while open
	fail   map[string]bool
}

func (f *fakePlayers) player(id string, src codec.AudioSource) (io.Closer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail[id] {
		return nil, errors.New("no such device")
	}
	f.opened = append(f.opened, id)
	f.open[id] = src
	return closerFunc(func() error {
		f.mu.Lock()
		defer f.mu.Unlock()
		delete(f.open, id)
		return nil
	}), nil
}

// pull plays one buffer on device id as its audio thread would.
func (f *fakePlayers) pull(id string) []int16 {
	f.mu.Lock()
	src := f.open[id]
	f.mu.Unlock()
	pcm := []int16{9, 9, 9}
	if src != nil {
		src(pcm)
	}
	return pcm
}

func (f *fakePlayers) isOpen(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.open[id]
	return ok
}

type closerFunc func() error

func (c closerFunc) Close() error { return c() }

// TestSpeakerSwitch: the received audio moves to the new device; the old
// device is closed and, while it closes, plays silence instead of taking
// frames from the jitter buffer; a device that does not open keeps the
// sound where it is; a choice made before audio arrives is where it starts.
func TestSpeakerSwitch(t *testing.T) {
	f := &fakePlayers{open: map[string]codec.AudioSource{}, fail: map[string]bool{"gone": true, "broken": true}}
	o := newSpeakerOut("gone", f.player, slog.New(slog.DiscardHandler))
	if err := o.switchTo("spk1"); err != nil { // before audio: only remembered
		t.Fatal(err)
	}
	if len(f.opened) != 0 {
		t.Fatalf("opened %v before any audio", f.opened)
	}
	var pulled int
	src := func(pcm []int16) {
		pulled++
		for i := range pcm {
			pcm[i] = int16(pulled)
		}
	}
	stop := o.start(src)
	if got := f.pull("spk1"); got[0] != 1 || pulled != 1 {
		t.Fatalf("spk1 played %v", got)
	}
	oldFeed := f.open["spk1"]

	if err := o.switchTo("spk2"); err != nil {
		t.Fatal(err)
	}
	if f.isOpen("spk1") || !f.isOpen("spk2") {
		t.Errorf("after the switch: spk1 open %v, spk2 open %v", f.isOpen("spk1"), f.isOpen("spk2"))
	}
	if got := f.pull("spk2"); got[0] != 2 {
		t.Errorf("spk2 played %v", got)
	}
	// A callback of the old device still running: silence, no frame taken.
	late := []int16{5, 5}
	oldFeed(late)
	if late[0] != 0 || late[1] != 0 || pulled != 2 {
		t.Errorf("old device got %v (frames pulled %d)", late, pulled)
	}

	if err := o.switchTo("broken"); err == nil {
		t.Error("switch to a broken speaker accepted")
	}
	if !f.isOpen("spk2") {
		t.Error("a failed switch closed the speaker in use")
	}
	if got := f.pull("spk2"); got[0] != 3 {
		t.Errorf("spk2 after the failed switch played %v", got)
	}
	stop()
	if f.isOpen("spk2") {
		t.Error("stop left the speaker open")
	}

	// A speaker missing at the start: the null sink drains the buffer.
	o = newSpeakerOut("gone", f.player, slog.New(slog.DiscardHandler))
	stop = o.start(src)
	if !f.isOpen(codec.NullDeviceID) {
		t.Errorf("no null sink for a missing speaker (opened %v)", f.opened)
	}
	stop()
}
