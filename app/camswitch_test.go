package app

import (
	"errors"
	"image"
	"io"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// fakeDevice counts opens and releases; its Next blocks until the test
// hands it a frame (or PCM chunk) or the device is released (like a real
// camera or microphone, which returns io.EOF after Close).
type fakeDevice[T any] struct {
	mu       sync.Mutex
	opens    int
	releases int
	openErr  error
	frames   chan T
	released chan struct{} // of the open device; nil while closed
}

type (
	fakeCamera = fakeDevice[*image.YCbCr]
	fakeMic    = fakeDevice[[]int16]
)

func newFakeCamera() *fakeCamera { return &fakeCamera{frames: make(chan *image.YCbCr)} }
func newFakeMic() *fakeMic       { return &fakeMic{frames: make(chan []int16)} }

func (f *fakeDevice[T]) open() (func() (T, error), func() error, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.openErr != nil {
		return nil, nil, f.openErr
	}
	f.opens++
	released := make(chan struct{})
	f.released = released
	next := func() (T, error) {
		select {
		case v := <-f.frames:
			return v, nil
		case <-released:
			var zero T
			return zero, io.EOF
		}
	}
	release := func() error {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.releases++
		close(released)
		f.released = nil
		return nil
	}
	return next, release, nil
}

func (f *fakeDevice[T]) counts() (opens, releases int, open bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.opens, f.releases, f.released != nil
}

type nextResult struct {
	img *image.YCbCr
	err error
}

func readAsync(s *switchedVideo) <-chan nextResult {
	ch := make(chan nextResult, 1)
	go func() {
		img, err := s.Next()
		ch <- nextResult{img, err}
	}()
	return ch
}

func TestSwitchedVideo(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	cam := newFakeCamera()
	s, err := newSwitchedVideo(cam.open)
	if err != nil {
		t.Fatal(err)
	}
	frame := image.NewYCbCr(image.Rect(0, 0, 16, 16), image.YCbCrSubsampleRatio420)

	// On: frames pass.
	res := readAsync(s)
	cam.frames <- frame
	if r := <-res; r.err != nil || r.img != frame {
		t.Fatalf("Next = %v, %v", r.img, r.err)
	}

	// Off while the sender waits inside the device: the device is
	// released, the EOF it causes is not an error, and Next keeps waiting.
	res = readAsync(s)
	time.Sleep(20 * time.Millisecond) // let the reader enter the device (not required for correctness)
	if err := s.SetOn(false); err != nil {
		t.Fatal(err)
	}
	if opens, releases, open := cam.counts(); opens != 1 || releases != 1 || open {
		t.Fatalf("after off: opens %d releases %d open %v", opens, releases, open)
	}
	select {
	case r := <-res:
		t.Fatalf("Next returned while off: %v, %v", r.img, r.err)
	case <-time.After(50 * time.Millisecond):
	}
	if err := s.SetOn(false); err != nil { // twice: no second release
		t.Fatal(err)
	}

	// A camera that cannot be opened again: the switch stays off.
	cam.mu.Lock()
	cam.openErr = errors.New("busy")
	cam.mu.Unlock()
	if err := s.SetOn(true); err == nil || s.On() {
		t.Fatalf("SetOn(true) with a busy camera: %v, on=%v", err, s.On())
	}
	cam.mu.Lock()
	cam.openErr = nil
	cam.mu.Unlock()

	// On again: reopened, the waiting Next gets the next frame.
	if err := s.SetOn(true); err != nil {
		t.Fatal(err)
	}
	if opens, releases, open := cam.counts(); opens != 2 || releases != 1 || !open {
		t.Fatalf("after on: opens %d releases %d open %v", opens, releases, open)
	}
	cam.frames <- frame
	if r := <-res; r.err != nil || r.img != frame {
		t.Fatalf("Next after on = %v, %v", r.img, r.err)
	}

	// Off, then Close: the waiting Next ends, the device stays released.
	if err := s.SetOn(false); err != nil {
		t.Fatal(err)
	}
	res = readAsync(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if r := <-res; !errors.Is(r.err, ErrNotInCall) {
		t.Fatalf("Next after Close: %v", r.err)
	}
	if err := s.SetOn(true); err == nil {
		t.Fatal("SetOn after Close accepted")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if opens, releases, open := cam.counts(); opens != 2 || releases != 2 || open {
		t.Fatalf("after close: opens %d releases %d open %v", opens, releases, open)
	}
}

func TestSwitchedVideoCloseWhileOn(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	cam := newFakeCamera()
	s, err := newSwitchedVideo(cam.open)
	if err != nil {
		t.Fatal(err)
	}
	res := readAsync(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if r := <-res; !errors.Is(r.err, ErrNotInCall) {
		t.Fatalf("Next after Close: %v", r.err)
	}
	if _, releases, open := cam.counts(); releases != 1 || open {
		t.Fatalf("releases %d open %v", releases, open)
	}

	cam.openErr = errors.New("no camera")
	if _, err := newSwitchedVideo(cam.open); err == nil {
		t.Fatal("a camera that does not open gave a source")
	}
}

// The waiting-room self-view shows camera frames, and stopping it hands the
// camera over to the next reader at once, even while the camera is off.
func TestPreviewWhileWaiting(t *testing.T) {
	defer goleak.VerifyNone(t)
	cam := newFakeCamera()
	sv, err := newSwitchedVideo(cam.open)
	if err != nil {
		t.Fatal(err)
	}
	defer sv.Close()
	shown := make(chan *image.YCbCr, 4)
	lc := &liveCall{cam: sv, p: CallParams{OnFrame: func(f VideoFrame) {
		if f.Local {
			shown <- f.Image
		}
	}}}
	stop := lc.previewWhileWaiting()
	for i := range 2 {
		img := image.NewYCbCr(image.Rect(0, 0, 2+2*i, 2), image.YCbCrSubsampleRatio420)
		cam.frames <- img
		select {
		case got := <-shown:
			if got != img {
				t.Fatalf("frame %d: shown %v, want the camera's", i, got.Rect)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("frame %d not shown", i)
		}
	}
	if err := sv.SetOn(false); err != nil {
		t.Fatal(err)
	}
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("stopping the preview hangs while the camera is off")
	}
	// The next reader (the video sender) now has the camera to itself.
	if err := sv.SetOn(true); err != nil {
		t.Fatal(err)
	}
	res := readAsync(sv)
	want := image.NewYCbCr(image.Rect(0, 0, 8, 8), image.YCbCrSubsampleRatio420)
	cam.frames <- want
	if r := <-res; r.err != nil || r.img != want {
		t.Errorf("after the preview: %v, %v", r.img, r.err)
	}
	select {
	case img := <-shown:
		t.Errorf("preview still showing frames after stop: %v", img.Rect)
	default:
	}

	// Without a self-view callback there is nothing to preview.
	(&liveCall{cam: sv}).previewWhileWaiting()()
}
