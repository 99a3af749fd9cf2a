package app

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// TestEngineScreenShare: the desktop app and a headless peer share screens
// both ways through the controller and the real engine: the GUI's share
// reaches the peer as a second track, the peer's share reaches the GUI as
// frames marked Share with the person marked Sharing, and stopping clears
// it; the cameras keep running.
func TestEngineScreenShare(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end call")
	}
	c := newSyntheticController(t)
	var camera, share atomic.Int64
	c.SetFrameSink(func(f VideoFrame) {
		switch {
		case f.Local:
		case f.Share:
			if b := f.Image.Bounds(); b.Dx() == 1280 && b.Dy() == 720 {
				share.Add(1)
			}
		default:
			camera.Add(1)
		}
	})
	r := newRecorder()
	c.Watch(r.watch)
	if err := c.StopShare(); err == nil {
		t.Error("StopShare outside a call succeeded")
	}
	if err := c.StartCall(JoinParams{Room: "share", Name: "gui"}); err != nil {
		t.Fatal(err)
	}
	n := r.waitFor(t, "waiting", phaseIs(PhaseWaiting))
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	done := make(chan *Report, 1)
	go func() {
		rep, err := RunHeadless(ctx, HeadlessOptions{
			Server: n.ServerURL, Room: "share", Name: "peer", Duration: 8 * time.Second,
			Video: "synthetic", Audio: "synthetic", Width: 320, Height: 240, FPS: 15,
			ICEPolicy: "all", LoopbackOnly: true, OpusFEC: true, Share: "synthetic",
		}, nil)
		if err != nil {
			t.Errorf("headless peer: %v", err)
		}
		done <- rep
	}()
	waitLong(t, r, "connected", func(n Notify) bool { return n.Phase == PhaseConnected })
	waitLong(t, r, "the peer shown sharing", func(n Notify) bool { return len(n.Peers) == 1 && n.Peers[0].Sharing })
	if err := c.StartShare("synthetic", "Test picture"); err != nil {
		t.Fatal(err)
	}
	if n := c.Snapshot(); !n.Sharing || n.ShareLabel != "Test picture" {
		t.Errorf("after StartShare: sharing %v %q", n.Sharing, n.ShareLabel)
	}
	if err := c.StartShare("synthetic", ""); err == nil {
		t.Error("a second share started")
	}
	if err := c.StartShare("screen::987654", ""); err == nil {
		t.Error("sharing a display that does not exist succeeded")
	}
	time.Sleep(3 * time.Second)
	if err := c.StopShare(); err != nil {
		t.Fatal(err)
	}
	before := camera.Load()
	time.Sleep(time.Second)
	if camera.Load() <= before {
		t.Error("the peer's camera stopped after the share ended")
	}
	rep := <-done
	if rep == nil {
		t.Fatal("no report")
	}
	t.Logf("GUI got %d share frames and %d camera frames; peer got share %+v, camera %.1f fps", share.Load(), camera.Load(), rep.ShareIn, rep.VideoIn.FPS)
	if share.Load() < 10 {
		t.Errorf("GUI showed %d frames of the peer's share", share.Load())
	}
	// The GUI's 1280x720 test picture renders in Go in this process: under
	// -race it manages about 2 frames a second (10 without).
	minFrames, minFPS := 20, 8.0
	if raceEnabled {
		minFrames, minFPS = 3, 1
	}
	if rep.ShareIn.Shares != 1 || rep.ShareIn.FramesDecoded < minFrames || rep.ShareIn.FPS < minFPS || rep.ShareIn.Width != 1280 {
		t.Errorf("peer's view of the GUI's share: %+v, want one share of ≥ %d frames at ≥ %.0f fps", rep.ShareIn, minFrames, minFPS)
	}
	if rep.VideoIn.FPS < 12 || rep.VideoIn.Freezes > 0 {
		t.Errorf("peer's view of the GUI's camera: %.1f fps, %d freezes", rep.VideoIn.FPS, rep.VideoIn.Freezes)
	}
	waitLong(t, r, "ended", func(n Notify) bool { return n.Phase.Terminal() && !n.Sharing })
}
