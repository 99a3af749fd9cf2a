package app

import (
	"context"
	"fmt"
	"image"
	"log/slog"

	"github.com/pion/webrtc/v4"

	"github.com/peercall/peercall/capture"
	"github.com/peercall/peercall/codec"
)

// The screen share travels as a second video track with these ids on
// every session: receivers tell it from the camera by them (the browser
// page rewrites its share's msid to them in the SDP it sends).
const (
	ShareTrackID  = "screen"
	ShareStreamID = "peercall-screen"
)

// ShareSource is a screen (or window, or region) to share: raw frames
// that change only when the screen does, and its size.
type ShareSource struct {
	Next          func() (*image.YCbCr, error)
	Width, Height int
	FPS           int // the most frames per second to send
	// Close ends the capture and unblocks Next.
	Close func() error
	// Refresh, if set, makes Next return the current picture soon even
	// when nothing changed: a receiver asked for a keyframe, and a still
	// screen would otherwise send it only with its next keepalive.
	Refresh func()
}

// Sharing limits: content keeps its resolution and gives up frame rate
// under pressure, within a bitrate range of its own.
const (
	shareMinBitrate = 150_000
	shareMaxBitrate = 2_500_000
	// shareShare is the part of the video estimate the share gets while
	// the camera runs beside it.
	shareShare = 0.75
	// shareMaxW x shareMaxH is the largest picture a share sends (issue
	// 15): a larger screen or region is scaled down to fit. Past 1080p
	// text gains little legibility for its pixels, and capture plus
	// encode keeps inside its 25 ms a frame.
	shareMaxW, shareMaxH = 1920, 1080
)

// shareSize is the size a w×h share is sent at: itself when it fits in
// shareMaxW×shareMaxH, else scaled down to fit, the aspect ratio kept
// and both sides even (I420).
func shareSize(w, h int) (int, int) {
	if w <= shareMaxW && h <= shareMaxH {
		return w, h
	}
	if w*shareMaxH >= h*shareMaxW { // wider than 16:9: the width limits
		return shareMaxW, max(h*shareMaxW/w&^1, 2)
	}
	return max(w*shareMaxH/h&^1, 2), shareMaxH
}

// fitShare wraps a share's Next so that every picture comes at most
// shareMaxW×shareMaxH (shareSize), scaled with libyuv as the camera's
// size ladder is, into one reused image.
func fitShare(next func() (*image.YCbCr, error)) func() (*image.YCbCr, error) {
	var scaled *image.YCbCr
	return func() (*image.YCbCr, error) {
		img, err := next()
		if err != nil {
			return nil, err
		}
		w, h := shareSize(img.Rect.Dx(), img.Rect.Dy())
		if w == img.Rect.Dx() && h == img.Rect.Dy() {
			return img, nil
		}
		s, err := codec.ScaleI420(scaled, img, w, h)
		if err != nil {
			// Not I420: better sent at its own size than not at all.
			return img, nil
		}
		scaled = s
		return s, nil
	}
}

// screenShare is the running share: its track, encoder and send loop.
type screenShare struct {
	track  *webrtc.TrackLocalStaticSample
	vs     *videoSender
	src    ShareSource
	cancel context.CancelFunc
	done   chan struct{}
}

// startShare begins encoding src (a keyframe first) on a track of its
// own; the caller adds the track to every session.
func (m *localMedia) startShare(ctx context.Context, src ShareSource, log *slog.Logger) (*screenShare, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.share != nil {
		return nil, ErrAlreadySharing
	}
	if src.Next == nil || src.Width <= 0 || src.Height <= 0 {
		return nil, fmt.Errorf("%w: no frames or no size", ErrShareSource)
	}
	track, vs, err := newScreenSender(src, ShareTrackID, ShareStreamID)
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	s := &screenShare{track: track, vs: vs, src: src, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		if err := vs.run(sctx); err != nil {
			log.Warn("screen share stopped", "err", err)
		}
	}()
	m.share = s
	m.rebalance()
	return s, nil
}

// newScreenSender is a track and the screen encoder feeding it: libvpx's
// screen content mode, frames stamped when the screen changed. The share
// and headless --video screen both send through it.
func newScreenSender(src ShareSource, trackID, streamID string) (*webrtc.TrackLocalStaticSample, *videoSender, error) {
	track, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, trackID, streamID)
	if err != nil {
		return nil, nil, err
	}
	w, h := shareSize(src.Width, src.Height)
	vs, err := newVideoSender(track, fitShare(src.Next), codec.VP8Config{
		Width: w, Height: h, FPS: min(max(src.FPS, 1), 30), BitRate: 1_000_000,
		ErrorResilient: true, ScreenContent: true,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrUnsupportedMedia, err)
	}
	vs.realTime = true // frames come when the screen changes
	vs.refresh = src.Refresh
	return track, vs, nil
}

// stopShare ends the share and waits for its send loop.
func (m *localMedia) stopShare() *screenShare {
	m.mu.Lock()
	s := m.share
	m.share = nil
	m.rebalance()
	m.mu.Unlock()
	if s == nil {
		return nil
	}
	s.cancel()
	if s.src.Close != nil {
		_ = s.src.Close() // unblocks Next
	}
	<-s.done
	return s
}

// sharing is the running share (nil when none).
func (m *localMedia) sharing() *screenShare {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.share
}

// sessionTracks are the tracks a new session sends: the camera and
// microphone, and the share while it runs.
func (m *localMedia) sessionTracks() []webrtc.TrackLocal {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := append([]webrtc.TrackLocal(nil), m.tracks...)
	if m.share != nil {
		out = append(out, m.share.track)
	}
	return out
}

// rebalance gives camera and share their parts of the last estimate
// (splitBitrate; m.mu held).
func (m *localMedia) rebalance() {
	if m.estimate <= 0 {
		return
	}
	cam, scr := splitBitrate(m.estimate, m.vs != nil, m.share != nil)
	if m.share != nil {
		m.share.vs.SetBitRate(scr)
	}
	if m.vs != nil {
		camCarried, _ := splitBitrate(m.carried, true, m.share != nil)
		m.vs.SetCarried(camCarried, m.carried > 0)
		m.vs.SetBitRate(cam)
	}
}

// codecMinVideoBitrate keeps the camera alive beside a share.
const codecMinVideoBitrate = 100_000

// splitBitrate divides an estimate between the camera and the share,
// after audio's audioBitrate: alone, each gets all of the rest (the
// share at most shareMaxBitrate); together the share gets shareShare of
// it within its limits and the camera the remainder, at least
// codecMinVideoBitrate. Where the rest cannot hold both minimums (under
// about 280 kbit/s) they shrink in proportion, so the sum never exceeds
// the estimate. The call's estimate never falls below
// call.DefaultMinBitrate, which leaves each encoder more than libvpx's
// least.
func splitBitrate(estimate int, camera, share bool) (cam, scr int) {
	bps := max(estimate-audioBitrate, 0)
	switch {
	case !share:
		return bps, 0
	case !camera:
		return 0, min(bps, shareMaxBitrate)
	}
	if floor := shareMinBitrate + codecMinVideoBitrate; bps < floor {
		scr = bps * shareMinBitrate / floor
		return bps - scr, scr
	}
	scr = min(max(int(float64(bps)*shareShare), shareMinBitrate), shareMaxBitrate, bps-codecMinVideoBitrate)
	return bps - scr, scr
}

// OpenShareSource opens a share by its spec: "synthetic" (a moving
// 1280x720 test picture at 10 fps), "screen[:DISPLAY[:WxH+X+Y]]",
// "window:ID" or "portal" (the desktop's picker). The X windows in hide
// (the app's own) are painted over wherever they show in a screen.
func OpenShareSource(spec string, hide ...uint32) (ShareSource, error) {
	if spec == "synthetic" {
		const w, h, fps = 1280, 720, 10
		src, err := capture.NewPatternSource(capture.PatternConfig{Width: w, Height: h, FPS: fps, Paced: true})
		if err != nil {
			return ShareSource{}, fmt.Errorf("share synthetic: %w", err)
		}
		return ShareSource{Next: src.NextReusing(), Width: w, Height: h, FPS: fps, Close: src.Close}, nil
	}
	return openScreenShare(spec, hide)
}
