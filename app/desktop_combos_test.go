package app_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peercall/peercall/app"
)

// TestDesktopWithoutCameraOrMic: the desktop app (controller and engine, as
// the window drives them) in calls where one side or both have no camera
// or no microphone. Each call connects, stays up, carries exactly what each
// side sends, negotiates a bounded number of times, and mute and camera
// toggles keep working (a camera that does not exist is refused in words).
func TestDesktopWithoutCameraOrMic(t *testing.T) {
	tests := []struct {
		name               string
		deskVideo, deskMic string // MediaOptions
		peerVideo, peerMic string // headless --video, --audio
	}{
		{"audio-only both", "none", "synthetic", "none", "synthetic"},
		{"desk has no camera", "none", "synthetic", "synthetic", "synthetic"},
		{"peer has no camera", "synthetic", "synthetic", "none", "synthetic"},
		{"desk has no mic", "synthetic", "none", "synthetic", "synthetic"},
		{"peer has no mic", "synthetic", "synthetic", "synthetic", "none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url, srv := startMetricsSignal(t)
			c := app.NewController(app.ControllerOptions{
				Engine: app.NewEngine(app.EngineOptions{HostAddr: "127.0.0.1:0"}),
				Store:  mapStore{},
				Media:  app.MediaOptions{Video: tt.deskVideo, Audio: tt.deskMic, LoopbackOnly: true},
			})
			defer c.Close()
			s := c.Settings()
			s.Width, s.Height, s.FPS = 320, 240, 15
			if err := c.ApplySettings(s); err != nil {
				t.Fatal(err)
			}
			var remoteFrames atomic.Int64
			c.SetFrameSink(func(f app.VideoFrame) {
				if !f.Local {
					remoteFrames.Add(1)
				}
			})
			if err := c.Join(app.JoinParams{Server: url, Room: "combo", Name: "Desk"}); err != nil {
				t.Fatal(err)
			}
			waitSnapshot(t, c, "waiting", 10*time.Second, func(n app.Notify) bool { return n.Phase == app.PhaseWaiting })

			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			type result struct {
				rep *app.Report
				err error
			}
			done := make(chan result, 1)
			go func() {
				rep, err := app.RunHeadless(ctx, app.HeadlessOptions{
					Server: url, Room: "combo", Name: "peer", Duration: 7 * time.Second,
					Video: tt.peerVideo, Audio: tt.peerMic, Width: 320, Height: 240, FPS: 15,
					ICEPolicy: "all", LoopbackOnly: true, OpusFEC: true,
				}, nil)
				done <- result{rep, err}
			}()
			waitSnapshot(t, c, "connected", 30*time.Second, func(n app.Notify) bool { return n.Phase == app.PhaseConnected })

			// Toggles as a user would press them.
			deskCam, deskMic := tt.deskVideo != "none", tt.deskMic != "none"
			if err := c.SetCamera(true); (err != nil) == deskCam {
				t.Errorf("camera on with a camera %v: %v", deskCam, err)
			}
			c.SetMute(true)
			time.Sleep(time.Second)
			c.SetMute(false)
			if deskCam {
				if err := c.SetCamera(false); err != nil {
					t.Errorf("camera off: %v", err)
				}
				time.Sleep(time.Second)
				if err := c.SetCamera(true); err != nil {
					t.Errorf("camera on again: %v", err)
				}
			}
			n := waitSnapshot(t, c, "peer's media state", 10*time.Second, func(n app.Notify) bool {
				return n.RemoteCameraOn == (tt.peerVideo != "none") && n.RemoteMicOn == (tt.peerMic != "none")
			})
			if n.AudioOnly == deskCam {
				t.Errorf("AudioOnly %v with a camera %v", n.AudioOnly, deskCam)
			}

			res := <-done
			if res.err != nil {
				t.Fatalf("headless peer: %v", res.err)
			}
			rep := res.rep
			if !rep.OK {
				t.Errorf("peer's report not ok: %s", rep.Error)
			}
			if got := rep.AudioIn.PacketsReceived; (got > 0) != deskMic || (deskMic && got < 150) {
				t.Errorf("peer received %d audio packets; the desk has a mic: %v", got, deskMic)
			}
			if got := rep.VideoIn.FramesDecoded; (got > 0) != deskCam || (deskCam && got < 30) {
				t.Errorf("peer decoded %d frames; the desk has a camera: %v", got, deskCam)
			}
			if m := rep.RemoteMedia; m == nil || m.Audio != deskMic || m.Video != deskCam {
				t.Errorf("peer's view of the desk's media %+v, want audio %v video %v", m, deskMic, deskCam)
			}
			if got := remoteFrames.Load(); (got > 0) != (tt.peerVideo != "none") {
				t.Errorf("desk showed %d remote frames; the peer sends video: %v", got, tt.peerVideo != "none")
			}
			end := waitSnapshot(t, c, "ended", 10*time.Second, func(n app.Notify) bool { return n.Phase.Terminal() })
			if end.Phase != app.PhaseEnded {
				t.Errorf("desk's call ended as %v: %q", end.Phase, end.Error)
			}
			offers, answers := checkNegotiations(t, srv)
			t.Logf("peer: %d audio packets, %d frames; desk: %d remote frames; %v offers, %v answers",
				rep.AudioIn.PacketsReceived, rep.VideoIn.FramesDecoded, remoteFrames.Load(), offers, answers)
		})
	}
}
