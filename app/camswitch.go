package app

import (
	"image"
	"sync"
)

// videoOpener opens the video device: the frame reader and how to release
// the device (nil when there is nothing to release, e.g. the test pattern).
type videoOpener func() (next func() (*image.YCbCr, error), release func() error, err error)

// switchedVideo is the call's video source with an off switch. Off releases
// the device (the camera light goes out) and Next blocks, so the sender
// encodes and sends nothing; on opens the device again. The video sender is
// its only reader.
type switchedVideo struct {
	open videoOpener

	mu      sync.Mutex
	on      bool
	closed  bool
	next    func() (*image.YCbCr, error)
	release func() error
	gen     uint64        // bumped on every switch: a frame read across one is dropped
	wake    chan struct{} // closed (and replaced) on every switch and on Close
}

// newSwitchedVideo opens the device and returns the source switched on.
func newSwitchedVideo(open videoOpener) (*switchedVideo, error) {
	s := &switchedVideo{open: open, wake: make(chan struct{})}
	if err := s.SetOn(true); err != nil {
		return nil, err
	}
	return s, nil
}

// SetOn switches the source. Switching on opens the device here, so the
// caller learns at once when the camera cannot be used any more.
func (s *switchedVideo) SetOn(on bool) error {
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
		var next func() (*image.YCbCr, error)
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
	s.gen++
	close(s.wake)
	s.wake = make(chan struct{})
	return err
}

// On reports whether the source is switched on.
func (s *switchedVideo) On() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.on
}

func (s *switchedVideo) releaseLocked() error {
	var err error
	if s.release != nil {
		err = s.release()
	}
	s.next, s.release = nil, nil
	return err
}

// Next returns the next frame, waiting while the source is off. After
// Close it returns ErrNotInCall.
func (s *switchedVideo) Next() (*image.YCbCr, error) { return s.nextUnless(nil) }

// nextUnless is Next for a reader that may have to give up: when stop is
// closed while the source is off, it returns errPreviewStopped (a frame
// being read from the device is still returned; that takes one frame time).
func (s *switchedVideo) nextUnless(stop <-chan struct{}) (*image.YCbCr, error) {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, ErrNotInCall
		}
		if !s.on {
			wake := s.wake
			s.mu.Unlock()
			select {
			case <-wake:
			case <-stop:
				return nil, errPreviewStopped
			}
			continue
		}
		next, gen := s.next, s.gen
		s.mu.Unlock()
		img, err := next()
		s.mu.Lock()
		stale := gen != s.gen || s.closed
		s.mu.Unlock()
		if stale {
			continue // switched while reading: the device may be closed under us
		}
		return img, err
	}
}

// Close releases the device for good and ends a waiting Next. Safe to call
// more than once.
func (s *switchedVideo) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.on = false
	s.gen++
	close(s.wake)
	return s.releaseLocked()
}
