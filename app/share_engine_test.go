package app

import (
	"context"
	"fmt"
	"strings"
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
	shareStart := time.Now()
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
	time.Sleep(4 * time.Second)
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
	// The GUI's share starts at the call's estimate, which a 320x240
	// camera holds near 300 kbit/s (in the call's start the bound grows
	// to at most 1.15× what the link delivered; on loopback the start
	// never ends), and climbs from there in steps of 15 %: for
	// its first seconds libvpx's screen rate control drops many frames
	// of the moving 1280x720 picture (27-33 of the 40 in 4 s arrive,
	// 22-28 under -race; 3-34 in 3 s). On a loaded machine under -race
	// (CI; two busy loops beside the test do it too) the camera's frames
	// can also come 200-300 ms apart: there only a stopped camera (a gap
	// of LongFreeze or more) fails.
	minFrames, minFPS, minShown := 10, 3.0, int64(10)
	if raceEnabled {
		minFrames, minFPS, minShown = 3, 1, 3
	}
	if share.Load() < minShown {
		t.Errorf("GUI showed %d frames of the peer's share, want ≥ %d", share.Load(), minShown)
	}
	if rep.ShareIn.Shares != 1 || rep.ShareIn.FramesDecoded < minFrames || rep.ShareIn.FPS < minFPS || rep.ShareIn.Width != 1280 {
		t.Errorf("peer's view of the GUI's share: %+v, want one share of ≥ %d frames at ≥ %.0f fps", rep.ShareIn, minFrames, minFPS)
	}
	var at []string
	for _, f := range rep.VideoIn.FreezeSpans {
		at = append(at, fmt.Sprintf("%.0f ms at %+d ms", f.MS, f.StartUnixMS-shareStart.UnixMilli()))
	}
	t.Logf("camera freezes from the share's start: %s", strings.Join(at, ", "))
	if rep.VideoIn.FPS < 12 || len(rep.VideoIn.LongFreezes) > 0 || (!raceEnabled && rep.VideoIn.Freezes > 0) {
		t.Errorf("peer's view of the GUI's camera: %.1f fps, %d freezes (%s from the share's start), %d of %v or more",
			rep.VideoIn.FPS, rep.VideoIn.Freezes, strings.Join(at, ", "), len(rep.VideoIn.LongFreezes), LongFreeze)
	}
	waitLong(t, r, "ended", func(n Notify) bool { return n.Phase.Terminal() && !n.Sharing })
}
