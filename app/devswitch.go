package app

import (
	"fmt"
	"image"
	"io"
	"log/slog"
	"strings"
	"sync"

	"github.com/peercall/peercall/capture"
	"github.com/peercall/peercall/codec"
)

// Mid-call device switching: the camera and the microphone are swapped
// behind their senders (switchedSource: the encoder, the track and the
// RTP stream stay), the speaker by reopening the player on the same jitter
// buffer.

// cameraOpener opens camera id ("synthetic": a fresh test pattern, released
// with the switch) in the call's video mode.
func (lc *liveCall) cameraOpener(id string) videoOpener {
	if lc.openCamera != nil {
		return lc.openCamera(id)
	}
	s := lc.p.Settings
	if id == "synthetic" {
		return func() (func() (*image.YCbCr, error), func() error, error) {
			src, err := capture.NewPatternSource(capture.PatternConfig{Width: s.Width, Height: s.Height, FPS: float64(s.FPS), Paced: true})
			if err != nil {
				return nil, nil, err
			}
			return src.NextReusing(), src.Close, nil
		}
	}
	return func() (func() (*image.YCbCr, error), func() error, error) {
		cam, err := capture.OpenCamera(id, capture.VideoConstraints{Width: s.Width, Height: s.Height, FPS: float64(s.FPS)})
		if err != nil {
			return nil, nil, err
		}
		return cam.Next, cam.Close, nil
	}
}

// y4mOpener opens a clip as the camera: looped and paced at its own rate,
// like Chromium's --use-file-for-fake-video-capture.
func y4mOpener(path string) videoOpener {
	return func() (func() (*image.YCbCr, error), func() error, error) {
		src, err := capture.OpenY4M(path, capture.Y4MConfig{Loop: true, Paced: true})
		if err != nil {
			return nil, nil, err
		}
		return src.Next, src.Close, nil
	}
}

// isY4MPath reports whether --video names a raw clip.
func isY4MPath(v string) bool { return strings.HasSuffix(strings.ToLower(v), ".y4m") }

// micOpener opens microphone id at the encoder's rate.
func (lc *liveCall) micOpener(id string) audioOpener {
	if lc.openMic != nil {
		return lc.openMic(id)
	}
	return func() (func() ([]int16, error), func() error, error) {
		mic, err := capture.OpenMicrophone(id, capture.AudioConstraints{SampleRate: 48000})
		if err != nil {
			return nil, nil, err
		}
		return mic.Next, mic.Close, nil
	}
}

// SetDevices implements Call. Sources chosen on the command line
// (--video synthetic|none, --audio synthetic|tone|none) cannot be switched:
// asking to is an error that names the reason. The speaker can always be.
func (lc *liveCall) SetDevices(want Devices) (Devices, error) {
	lc.mediaMu.Lock()
	defer lc.mediaMu.Unlock()
	var first error
	fail := func(err error) {
		lc.log.Warn("device switch failed", "err", err)
		if first == nil {
			first = err
		}
	}
	if want.Camera != lc.devs.Camera {
		if err := lc.switchCamera(want.Camera); err != nil {
			fail(err)
		} else {
			lc.devs.Camera = want.Camera
		}
	}
	if want.Microphone != lc.devs.Microphone {
		if err := lc.switchMic(want.Microphone); err != nil {
			fail(err)
		} else {
			lc.devs.Microphone = want.Microphone
		}
	}
	if want.Speaker != lc.devs.Speaker {
		if err := lc.spk.switchTo(want.Speaker); err != nil {
			fail(&UserError{Msg: "That speaker could not be used; the sound stays on the previous one.", Err: fmt.Errorf("%w: %w", ErrUnsupportedMedia, err)})
		} else {
			lc.devs.Speaker = want.Speaker
		}
	}
	return lc.devs, first
}

func (lc *liveCall) switchCamera(id string) error {
	switch {
	case lc.p.Media.Video == "synthetic":
		return &UserError{Msg: "This call sends the test pattern (--video synthetic): the camera cannot be changed.", Err: ErrUnsupportedMedia}
	case isY4MPath(lc.p.Media.Video):
		return &UserError{Msg: "This call sends a video file (--video FILE.y4m): the camera cannot be changed.", Err: ErrUnsupportedMedia}
	case lc.p.Media.Video == "none":
		return &UserError{Msg: "This call sends no video (--video none).", Err: ErrUnsupportedMedia}
	case lc.cam == nil || lc.vs == nil:
		return &UserError{Msg: "No camera found: this is an audio-only call.", Err: ErrUnsupportedMedia}
	}
	if err := lc.cam.Switch(lc.cameraOpener(id)); err != nil {
		return &UserError{Msg: "That camera could not be opened; still using the previous one.", Err: fmt.Errorf("%w: %w", ErrUnsupportedMedia, err)}
	}
	// The peer's decoder gets a clean start on the new picture (a frame
	// read from the old camera just before the switch may still be the one
	// encoded; either decodes).
	lc.vs.ForceKeyFrame()
	lc.log.Info("camera switched", "camera", id)
	return nil
}

func (lc *liveCall) switchMic(id string) error {
	switch m := lc.p.Media.Audio; {
	case m == "synthetic" || m == "tone":
		return &UserError{Msg: "This call sends a test sound (--audio " + m + "): the microphone cannot be changed.", Err: ErrUnsupportedMedia}
	case m == "none":
		return &UserError{Msg: "This call sends no sound (--audio none).", Err: ErrUnsupportedMedia}
	case lc.mic == nil:
		return &UserError{Msg: "No microphone was found when the call started; it cannot be added during the call.", Err: ErrUnsupportedMedia}
	}
	if err := lc.mic.Switch(lc.micOpener(id)); err != nil {
		return &UserError{Msg: "That microphone could not be opened; still using the previous one.", Err: fmt.Errorf("%w: %w", ErrUnsupportedMedia, err)}
	}
	lc.log.Info("microphone switched", "microphone", id)
	return nil
}

// playerOpener starts playback of src on output device id.
type playerOpener func(id string, src codec.AudioSource) (io.Closer, error)

func openPlayer(id string, src codec.AudioSource) (io.Closer, error) {
	p, err := codec.NewPlayer(id, 48000, 1, src)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// speakerOut plays the received audio and moves it to another output device
// during the call. Each player pulls through a gate: only the newest one
// takes frames from the jitter buffer, so the old and the new device never
// both drain it while one replaces the other, and there is no gap.
type speakerOut struct {
	open playerOpener
	log  *slog.Logger

	mu     sync.Mutex // orders start, switchTo and stop
	id     string
	src    codec.AudioSource // nil until the remote audio plays
	player io.Closer
	gen    uint64

	pullMu sync.Mutex // held while a player pulls: the jitter source is not reentrant
	active uint64     // the generation allowed to pull
}

func newSpeakerOut(id string, open playerOpener, log *slog.Logger) *speakerOut {
	if open == nil {
		open = openPlayer
	}
	return &speakerOut{id: id, open: open, log: log}
}

// feed is src as player generation gen sees it: silence once replaced.
func (o *speakerOut) feed(gen uint64) codec.AudioSource {
	return func(pcm []int16) {
		o.pullMu.Lock()
		defer o.pullMu.Unlock()
		if o.active != gen || o.src == nil {
			clear(pcm)
			return
		}
		o.src(pcm)
	}
}

func (o *speakerOut) activate(gen uint64) {
	o.pullMu.Lock()
	o.active = gen
	o.pullMu.Unlock()
}

// start plays src on the chosen speaker (the null sink when it cannot be
// opened: the jitter buffer must still drain); stop ends it.
func (o *speakerOut) start(src codec.AudioSource) (stop func()) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.pullMu.Lock()
	o.src = src
	o.pullMu.Unlock()
	o.gen++
	gen := o.gen
	p, err := o.open(o.id, o.feed(gen))
	if err != nil {
		o.log.Warn("speaker unavailable, audio muted", "err", err)
		if p, err = o.open(codec.NullDeviceID, o.feed(gen)); err != nil {
			p = nil
		}
	}
	o.player = p
	o.activate(gen)
	return func() {
		o.mu.Lock()
		defer o.mu.Unlock()
		o.activate(0)
		if o.player != nil {
			_ = o.player.Close()
			o.player = nil
		}
		o.pullMu.Lock()
		o.src = nil
		o.pullMu.Unlock()
	}
}

// switchTo moves playback to device id. The new device is opened before
// the old one is closed: when it fails, the sound stays where it was.
// Before the remote audio plays, it only records the choice.
func (o *speakerOut) switchTo(id string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.pullMu.Lock()
	playing := o.src != nil
	o.pullMu.Unlock()
	if !playing {
		o.id = id
		return nil
	}
	gen := o.gen + 1
	p, err := o.open(id, o.feed(gen))
	if err != nil {
		return err
	}
	o.gen = gen
	o.activate(gen)
	// Not under pullMu: closing a device waits for its callback, which
	// may be waiting for pullMu.
	if o.player != nil {
		_ = o.player.Close()
	}
	o.player, o.id = p, id
	o.log.Info("speaker switched", "speaker", id)
	return nil
}
