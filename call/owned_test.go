package call

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/transport/v4/test"
	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"
)

// TestCloseWaitsForTrackHandlers: Close returns only after the OnTrack
// handlers it invoked have returned, even one still finishing up (a
// recorder flushing) after its track ended, and such a handler may call the
// session's methods without deadlocking Close. Afterwards no goroutine of
// the session or of pion is left.
func TestCloseWaitsForTrackHandlers(t *testing.T) {
	defer test.TimeOut(30 * time.Second).Stop()
	ignore := goleak.IgnoreCurrent()

	video := newVP8Track(t, "camera")
	var (
		packets  atomic.Int64
		ended    = make(chan struct{})
		release  = make(chan struct{})
		returned atomic.Bool
		endOnce  sync.Once
		lateErr  = make(chan error, 1)
		bob      atomic.Pointer[Session]
	)
	p := newPair(t, func(a, b *Config) {
		a.Tracks = []webrtc.TrackLocal{video}
		b.OnTrack = func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
			defer returned.Store(true)
			for {
				if _, _, err := tr.ReadRTP(); err != nil {
					break
				}
				packets.Add(1)
			}
			endOnce.Do(func() { close(ended) })
			// A handler may use the session while it winds down.
			select {
			case lateErr <- bob.Load().ReplaceTrack("none", nil):
			default:
			}
			<-release
		}
	})
	bob.Store(p.b)
	var releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(unblock) // a failing run must not leave the handler blocked
	p.start(t)
	stop := streamSamples(video)
	defer stop()
	p.waitConnected(t)
	deadline := time.Now().Add(10 * time.Second)
	for packets.Load() < 10 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := packets.Load(); n < 10 {
		t.Fatalf("bob received %d packets", n)
	}

	closed := make(chan struct{})
	go func() {
		defer close(closed)
		_ = p.b.Close()
	}()
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the track did not end when bob closed")
	}
	if err := <-lateErr; !errors.Is(err, ErrClosed) && !errors.Is(err, ErrUnknownTrack) {
		t.Fatalf("ReplaceTrack from a handler during Close: %v", err)
	}
	// Give a Close that does not wait time to return; one that waits cannot.
	select {
	case <-closed:
		t.Fatal("Close returned while an OnTrack handler was still running")
	case <-time.After(300 * time.Millisecond):
	}
	unblock()
	<-closed
	if !returned.Load() {
		t.Fatal("Close returned before the OnTrack handler")
	}
	stop()
	p.close()
	goleak.VerifyNone(t, ignore)
}

// TestMethodsAfterCloseBeforeStart: a session closed before it started has
// no owner goroutine, and methods that hand work to the owner fail at once
// instead of waiting for one.
func TestMethodsAfterCloseBeforeStart(t *testing.T) {
	defer test.TimeOut(10 * time.Second).Stop()
	sa, _ := NewPipeSignalers("a", "b")
	s, err := New(Config{LocalID: "a", RemoteID: "b", Signaler: sa})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.AddTrack(newVP8Track(t, "late")); !errors.Is(err, ErrClosed) {
		t.Fatalf("AddTrack: %v", err)
	}
	if err := s.RemoveTrack("late"); !errors.Is(err, ErrClosed) {
		t.Fatalf("RemoveTrack: %v", err)
	}
}
