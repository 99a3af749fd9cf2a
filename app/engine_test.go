package app

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
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
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
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
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatalf("timed out waiting for %s", what)
	return Notify{}
}
