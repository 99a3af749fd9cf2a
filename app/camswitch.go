package app

import (
	"image"
	"sync"
)

// opener opens a capture device: the reader and how to release the device
// (nil when there is nothing to release, e.g. the test pattern).
type opener[T any] func() (next func() (T, error), release func() error, err error)

// videoOpener opens a camera (or the test pattern).
type videoOpener = opener[*image.YCbCr]

// audioOpener opens a microphone.
type audioOpener = opener[[]int16]

// switchedSource is a call's capture source that can be switched off and
// moved to another device while its only reader (the sender) keeps
// reading. Off releases the device (the camera light goes out) and Next
// blocks, so the sender encodes and sends nothing; on opens the device
// again. Switch moves it to another device: the new one is opened before
// the old one is released, so a device that fails to open changes nothing.
type switchedSource[T any] struct {
	open opener[T]

	mu      sync.Mutex
	on      bool
	closed  bool
	next    func() (T, error)
	release func() error
	gen     uint64        // bumped on every switch: a read across one is dropped
	wake    chan struct{} // closed (and replaced) on every switch and on Close
}

// switchedVideo is the camera (or test pattern) behind the video sender.
type switchedVideo = switchedSource[*image.YCbCr]

// switchedAudio is the microphone behind the audio sender; it is never
// switched off (mute sends silence instead), only moved to another device.
type switchedAudio = switchedSource[[]int16]

// newSwitchedVideo opens the device and returns the source switched on.
func newSwitchedVideo(open videoOpener) (*switchedVideo, error) { return newSwitched(open) }

// newSwitchedAudio opens the microphone and returns the source switched on.
func newSwitchedAudio(open audioOpener) (*switchedAudio, error) { return newSwitched(open) }

func newSwitched[T any](open opener[T]) (*switchedSource[T], error) {
	s := &switchedSource[T]{open: open, wake: make(chan struct{})}
	if err := s.SetOn(true); err != nil {
		return nil, err
	}
	return s, nil
}

// SetOn switches the source. Switching on opens the device here, so the
// caller learns at once when the camera cannot be used any more.
func (s *switchedSource[T]) SetOn(on bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrNotInCall
	}
	if on == s.on {
		return nil
	}
	var err error
	if on {
		var next func() (T, error)
		var release func() error
		if next, release, err = s.open(); err != nil {
			return err
		}
		s.next, s.release = next, release
	} else {
		// Releasing the camera also unblocks a Next waiting in it.
		err = s.releaseLocked()
	}
	s.on = on
	s.wakeLocked()
	return err
}

// Switch moves the source to the device open opens. While on, the new
// device is opened first: if that fails the old one stays in use and the
// error is returned; otherwise the old one is released (which ends a read
// waiting in it; the reader goes on with the new device). While off, open
// is only remembered for the next SetOn(true): choosing a device does not
// turn the camera on.
func (s *switchedSource[T]) Switch(open opener[T]) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrNotInCall
	}
	if !s.on {
		s.open = open
		return nil
	}
	next, release, err := open()
	if err != nil {
		return err
	}
	// The old device's release error is not the new device's problem: the
	// switch happened.
	_ = s.releaseLocked()
	s.open, s.next, s.release = open, next, release
	s.wakeLocked()
	return nil
}

// On reports whether the source is switched on.
func (s *switchedSource[T]) On() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.on
}

func (s *switchedSource[T]) wakeLocked() {
	s.gen++
	close(s.wake)
	s.wake = make(chan struct{})
}

func (s *switchedSource[T]) releaseLocked() error {
	var err error
	if s.release != nil {
		err = s.release()
	}
	s.next, s.release = nil, nil
	return err
}

// Next returns the next frame, waiting while the source is off. After
// Close it returns ErrNotInCall.
func (s *switchedSource[T]) Next() (T, error) { return s.nextUnless(nil) }

// nextUnless is Next for a reader that may have to give up: when stop is
// closed while the source is off, it returns errPreviewStopped (a frame
// being read from the device is still returned; that takes one frame time).
func (s *switchedSource[T]) nextUnless(stop <-chan struct{}) (T, error) {
	var zero T
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return zero, ErrNotInCall
		}
		if !s.on {
			wake := s.wake
			s.mu.Unlock()
			select {
			case <-wake:
			case <-stop:
				return zero, errPreviewStopped
			}
			continue
		}
		next, gen := s.next, s.gen
		s.mu.Unlock()
		v, err := next()
		s.mu.Lock()
		stale := gen != s.gen || s.closed
		s.mu.Unlock()
		if stale {
			continue // switched while reading: the device may be closed under us
		}
		return v, err
	}
}

// Close releases the device for good and ends a waiting Next. Safe to call
// more than once.
func (s *switchedSource[T]) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.on = false
	s.wakeLocked()
	return s.releaseLocked()
}
