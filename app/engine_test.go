package app

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peercall/peercall/codec"
)

// TestEngineCallWithHeadlessPeer runs the real engine behind the controller:
// it hosts the signaling server on 127.0.0.1, a headless peer joins it,
// media flows both ways on loopback-only ICE, and the peer's hang-up ends
// the call.
func TestEngineCallWithHeadlessPeer(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end call")
	}
	c := NewController(ControllerOptions{
		Engine: NewEngine(EngineOptions{HostAddr: "127.0.0.1:0"}),
		Store:  memStore{},
		Media:  MediaOptions{Video: "synthetic", Audio: "synthetic", LoopbackOnly: true},
	})
	defer c.Close()
	s := c.Settings()
	s.Width, s.Height, s.FPS = 320, 240, 15
	if _, err := c.ApplySettings(s); err != nil {
		t.Fatal(err)
	}
	var remote, local atomic.Int64
	c.SetFrameSink(func(f VideoFrame) {
		if f.Image == nil {
			t.Error("frame without a picture")
		}
		if f.Local {
			local.Add(1)
		} else {
			remote.Add(1)
		}
	})
	r := newRecorder()
	c.Watch(r.watch)
	if err := c.StartCall(JoinParams{Room: "e2e", Name: "gui"}); err != nil {
		t.Fatal(err)
	}
	n := r.waitFor(t, "waiting", phaseIs(PhaseWaiting))
	if n.JoinString == "" || n.ServerURL == "" {
		t.Fatalf("no join string: %+v", n)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	type result struct {
		rep *Report
		err error
	}
	done := make(chan result, 1)
	go func() {
		rep, err := RunHeadless(ctx, HeadlessOptions{
			Server: n.ServerURL, Room: "e2e", Name: "peer", Duration: 4 * time.Second,
			Video: "synthetic", Audio: "synthetic", Width: 320, Height: 240, FPS: 15,
			ICEPolicy: "all", LoopbackOnly: true, OpusFEC: true,
		}, nil)
		done <- result{rep, err}
	}()

	n = waitLong(t, r, "connected with SAS and stats", func(n Notify) bool {
		return n.Phase == PhaseConnected && n.SASDigits != "" && n.Stats.Time.After(time.Time{}) && n.Quality > 0
	})
	if err := c.SendChat("hello"); err != nil {
		t.Errorf("chat: %v", err)
	}
	res := <-done
	if res.err != nil {
		t.Fatalf("headless peer: %v", res.err)
	}
	if res.rep.SAS != n.SASDigits {
		t.Errorf("SAS differs: gui %s, peer %s", n.SASDigits, res.rep.SAS)
	}
	if res.rep.VideoIn.FramesDecoded < 20 {
		t.Errorf("peer decoded %d frames from the GUI side", res.rep.VideoIn.FramesDecoded)
	}
	if m := res.rep.RemoteMedia; m == nil || !m.Audio || !m.Video {
		t.Errorf("peer's report of the GUI side's media: %+v", m)
	}
	if !n.RemoteCameraOn || !n.RemoteMicOn || n.RemoteName != "peer" {
		t.Errorf("GUI's view of the peer: camera %v mic %v name %q", n.RemoteCameraOn, n.RemoteMicOn, n.RemoteName)
	}
	end := waitLong(t, r, "ended", func(n Notify) bool { return n.Phase.Terminal() })
	if end.Phase != PhaseEnded {
		t.Errorf("call ended as %v: %q", end.Phase, end.Error)
	}
	if remote.Load() < 20 || local.Load() < 5 {
		t.Errorf("frames: remote %d, local %d", remote.Load(), local.Load())
	}
	if n.Stats.LocalCandidate != "host" || n.Stats.Relayed {
		t.Errorf("stats %+v", n.Stats.Stats)
	}
}

// waitLong is recorder.waitFor with room for ICE and a 4 s call under -race.
func waitLong(t *testing.T, r *recorder, what string, ok func(Notify) bool) Notify {
	t.Helper()
	return waitSince(t, r, 0, what, ok)
}

// mark is where the snapshots recorded so far end, for waitSince.
func (r *recorder) mark() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.all)
}

// waitSince returns the first snapshot recorded after mark matching ok.
func waitSince(t *testing.T, r *recorder, mark int, what string, ok func(Notify) bool) Notify {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		for _, n := range r.all[mark:] {
			if ok(n) {
				r.mu.Unlock()
				return n
			}
		}
		r.mu.Unlock()
		select {
		case <-r.wake:
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatalf("timed out waiting for %s", what)
	return Notify{}
}

// liveOf returns the controller's running real call.
func liveOf(t *testing.T, c *Controller) *liveCall {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	lc, ok := c.call.(*liveCall)
	if !ok {
		t.Fatal("no live call")
	}
	return lc
}

// TestEngineCameraOffAndMute runs two real engines on loopback: Ann hosts,
// Bo joins. Ann's camera off stops her encoder (nothing is sent) and Bo's
// snapshot says so; on again starts with a keyframe and Bo's video
// resumes; Ann's mute reaches Bo as RemoteMicOn.
func TestEngineCameraOffAndMute(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end call")
	}
	newCtl := func() (*Controller, *recorder, *atomic.Int64) {
		c := NewController(ControllerOptions{
			Engine: NewEngine(EngineOptions{HostAddr: "127.0.0.1:0"}),
			Store:  memStore{},
			Media:  MediaOptions{Video: "synthetic", Audio: "synthetic", LoopbackOnly: true},
		})
		s := c.Settings()
		s.Width, s.Height, s.FPS = 160, 120, 15
		if _, err := c.ApplySettings(s); err != nil {
			t.Fatal(err)
		}
		var remote atomic.Int64
		c.SetFrameSink(func(f VideoFrame) {
			if !f.Local {
				remote.Add(1)
			}
		})
		r := newRecorder()
		c.Watch(r.watch)
		return c, r, &remote
	}
	ann, annRec, _ := newCtl()
	defer ann.Close()
	bo, boRec, boRemote := newCtl()
	defer bo.Close()

	if err := ann.StartCall(JoinParams{Room: "camoff", Name: "Ann"}); err != nil {
		t.Fatal(err)
	}
	n := annRec.waitFor(t, "waiting", phaseIs(PhaseWaiting))
	if err := bo.Join(JoinParams{Server: n.ServerURL, Room: "camoff", Name: "Bo"}); err != nil {
		t.Fatal(err)
	}
	waitLong(t, annRec, "ann connected", func(n Notify) bool { return n.Phase == PhaseConnected && n.RemoteName == "Bo" })
	waitLong(t, boRec, "bo connected", func(n Notify) bool { return n.Phase == PhaseConnected && n.RemoteName == "Ann" })
	waitFrames := func(what string, p *atomic.Int64, min int64) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for p.Load() < min {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d frames, want %d", what, p.Load(), min)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFrames("bo sees ann", boRemote, 5)
	annCall := liveOf(t, ann)

	m := boRec.mark()
	if err := ann.SetCamera(false); err != nil {
		t.Fatal(err)
	}
	waitSince(t, boRec, m, "bo learns ann's camera is off", func(n Notify) bool { return !n.RemoteCameraOn && n.RemoteMicOn })
	if annCall.cam.On() {
		t.Fatal("ann's camera source still on")
	}
	// A frame already read before the switch may still be encoded; after
	// that the encoder is idle and Bo gets no pictures.
	time.Sleep(100 * time.Millisecond)
	sent, shown := annCall.vs.frames.Load(), boRemote.Load()
	time.Sleep(400 * time.Millisecond) // six frame intervals at 15 fps
	if got := annCall.vs.frames.Load(); got != sent {
		t.Errorf("ann encoded %d frames with the camera off", got-sent)
	}
	if got := boRemote.Load(); got != shown {
		t.Errorf("bo was shown %d frames of ann's camera while off", got-shown)
	}

	m = boRec.mark()
	if err := ann.SetCamera(true); err != nil {
		t.Fatal(err)
	}
	waitSince(t, boRec, m, "bo learns ann's camera is on", func(n Notify) bool { return n.RemoteCameraOn })
	waitFrames("bo sees ann again", boRemote, shown+3)
	if k := annCall.vs.lastKey.Load(); k < sent+1 {
		t.Errorf("no keyframe since the camera came back (latest at frame %d, resumed after %d)", k, sent)
	} else if k != sent+1 {
		t.Logf("first frame after resuming: %d, latest keyframe %d", sent+1, k)
	}

	m = boRec.mark()
	ann.SetMute(true)
	waitSince(t, boRec, m, "bo learns ann muted", func(n Notify) bool { return !n.RemoteMicOn && n.RemoteCameraOn })
	m = boRec.mark()
	ann.SetMute(false)
	waitSince(t, boRec, m, "bo learns ann unmuted", func(n Notify) bool {
		return n.RemoteMicOn && n.RemoteCameraOn && n.Phase == PhaseConnected
	})
	// Devices: the speaker moves to the null sink and keeps playing Bo;
	// the camera is the --video synthetic pattern and cannot move.
	if err := ann.SwitchDevices(Devices{Camera: "synthetic", Speaker: codec.NullDeviceID}); err != nil {
		t.Fatalf("speaker switch: %v", err)
	}
	// The old player is closed and gated: from here only the new one meters.
	annCall.spkLevel.Store(0)
	m = annRec.mark()
	waitSince(t, annRec, m, "ann hears bo on the new speaker", func(n Notify) bool {
		return n.Devices.Speaker == codec.NullDeviceID && n.SpeakerLevel > 0
	})
	err := ann.SwitchDevices(Devices{Camera: "video9", Speaker: codec.NullDeviceID})
	if !errors.Is(err, ErrUnsupportedMedia) || ann.Snapshot().Devices.Camera != "synthetic" {
		t.Errorf("camera switch under --video synthetic: %v, devices %+v", err, ann.Snapshot().Devices)
	}
	if got := ann.Settings(); got.Speaker != codec.NullDeviceID || got.Camera != "" {
		t.Errorf("saved speaker %q camera %q", got.Speaker, got.Camera)
	}

	// Bo never changed anything: Ann sees him on.
	if n := ann.Snapshot(); !n.RemoteCameraOn || !n.RemoteMicOn {
		t.Errorf("ann sees bo camera %v mic %v", n.RemoteCameraOn, n.RemoteMicOn)
	}
	bo.HangUp()
	waitLong(t, annRec, "ann ended", func(n Notify) bool { return n.Phase.Terminal() })
}
