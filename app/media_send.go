package app

import (
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/peercall/peercall/capture"
	"github.com/peercall/peercall/codec"
)

// sendCounters are read by the report and the stats overlay.
type sendCounters struct {
	frames   atomic.Int64
	bytes    atomic.Int64
	encodeNS atomic.Int64
}

// videoSender pulls raw frames, encodes them with our libvpx encoder and
// writes samples to a local track. PLIs from the peer and the GCC target
// reach the encoder through ForceKeyFrame and SetBitRate.
type videoSender struct {
	track *webrtc.TrackLocalStaticSample
	next  func() (*image.YCbCr, error)
	fps   int

	mu  sync.Mutex // guards enc between the send loop and control calls
	enc *codec.VP8Encoder

	sendCounters
	lastKey atomic.Int64 // value of frames at the latest keyframe sent
	// realTime stamps each frame with the time since the one before (a
	// screen sends only when it changes) instead of the nominal rate.
	realTime bool
	// refresh (a screen's, may be nil) has the source return its
	// picture now, so a forced keyframe goes out at once.
	refresh func()

	// bps is the target SetBitRate last gave; ladder (nil for a screen)
	// sizes the picture for it, scaled is the reused smaller picture.
	bps    atomic.Int64
	ladder *sizeLadder
	scaled *image.YCbCr
	// skipped counts the frames the rate control skipped.
	skipped atomic.Int64
	// narrowed is set by LinkNarrowed for the send loop's next fit.
	narrowed atomic.Bool
	// carried is the camera's share of what the link has shown it
	// carries (SetCarried; 0: unbounded): the ladder steps up within it.
	carried atomic.Int64
	// Width and height of the last picture encoded (the send loop's).
	sentW, sentH int
	// encW, encH are the size the encoder's rate was last capped for and
	// encBps that rate (v.mu).
	encW, encH, encBps int
	// over lowers a camera's rate by what its encoder overshoots (v.mu;
	// nil for a screen, whose rate control drops frames instead).
	over *overshoot
	// drop skips a camera's frames while its output runs ahead of the
	// target (the send loop's; nil for a screen).
	drop *frameDropper
}

// cameraMaxBitrate is the most a camera picture of w×h gets, the caps
// Chromium's encoder keeps (it sends 1.7 Mbit/s at 640x480 on a clean
// link, bench --cpu-chromium): past them the picture barely improves
// while every bit costs encoding and decoding time at both ends.
func cameraMaxBitrate(w, h int) int {
	switch px := w * h; {
	case px <= 320*240:
		return 600_000
	case px <= 640*480:
		return 1_700_000
	case px <= 960*540:
		return 2_000_000
	default:
		return 2_500_000
	}
}

// applyRate gives the encoder the target, capped for a camera picture of
// w×h (v.mu held).
func (v *videoSender) applyRate(w, h int) {
	bps := int(v.bps.Load())
	if v.ladder != nil && w > 0 {
		bps = min(bps, cameraMaxBitrate(w, h))
	}
	if v.over != nil {
		bps = v.over.adjust(bps)
	}
	if v.enc == nil || (bps == v.encBps && w == v.encW && h == v.encH) {
		return
	}
	if v.enc.SetBitRate(bps) == nil {
		v.encW, v.encH, v.encBps = w, h, bps
	}
}

func newVideoSender(track *webrtc.TrackLocalStaticSample, next func() (*image.YCbCr, error), cfg codec.VP8Config) (*videoSender, error) {
	// A camera's rate control skips a frame rather than overrun the
	// target when a busy picture costs more than it at the coarsest
	// quantiser (a screen's always does). Without, the encoder ran 35 %
	// over a 200 kbit/s target for a second on the busy clip, the 300
	// kbit/s link's queue dropped 50-90 packets a second each way, and
	// the picture froze for 1.6 s (bench --network 300k, its timeline).
	cfg.DropFrames = cfg.DropFrames || !cfg.ScreenContent
	enc, err := codec.NewVP8Encoder(cfg)
	if err != nil {
		return nil, fmt.Errorf("video encoder: %w", err)
	}
	v := &videoSender{track: track, next: next, fps: cfg.FPS, enc: enc}
	v.bps.Store(int64(cfg.BitRate))
	if !cfg.ScreenContent {
		v.ladder = &sizeLadder{fps: cfg.FPS}
		v.over = newOvershoot()
		v.drop = &frameDropper{}
	}
	return v, nil
}

// fit is img at the size the bitrate affords (img itself at full size).
func (v *videoSender) fit(img *image.YCbCr, now time.Time) *image.YCbCr {
	l := v.ladder
	if l == nil {
		return img
	}
	l.w, l.h = img.Rect.Dx(), img.Rect.Dy()
	if v.narrowed.Swap(false) {
		l.narrowed(int(v.bps.Load()), now)
		v.drop.reset()
	}
	bps := int(v.bps.Load())
	up := bps
	if c := v.carried.Load(); c > 0 {
		up = min(up, int(c))
	}
	v.mu.Lock()
	if r := v.over.overrun(); r >= ladderOverrun {
		l.overran(bps, r, now)
		v.over.resized()
	}
	v.mu.Unlock()
	k := l.next(bps, up, now)
	w, h := l.size(k)
	if k > 0 {
		if s, err := codec.ScaleI420(v.scaled, img, w, h); err == nil {
			// A test source's marker is stamped anew at the new size,
			// so latency stays measurable (scaling blurs its cells).
			if m, err := capture.ReadVideoMarker(img); err == nil {
				_ = capture.WriteVideoMarker(s, m.Seq, m.CaptureTime)
			}
			v.scaled, img = s, s
		} else {
			w, h = l.w, l.h
		}
	}
	if w != v.sentW || h != v.sentH {
		v.mu.Lock()
		v.over.resized()
		v.mu.Unlock()
		if v.sentW != 0 {
			slog.Debug("video size follows the bitrate", "w", w, "h", h, "kbps", v.bps.Load()/1000)
		}
		v.sentW, v.sentH = w, h
	}
	return img
}

// skipFrame reports whether the camera's frame img, due at now, is to be
// skipped because the output ran ahead of the target (frameDropper). A
// keyframe on request and the first frame of a new size (a keyframe) are
// never skipped; last is the size of the frame encoded before.
func (v *videoSender) skipFrame(img *image.YCbCr, last image.Point, now time.Time) bool {
	if v.drop == nil || img.Rect.Size() != last {
		return false
	}
	skip := v.drop.skip(now)
	v.mu.Lock()
	defer v.mu.Unlock()
	if !skip || v.enc.KeyFramePending() {
		return false
	}
	v.over.skipped()
	return true
}

// ForceKeyFrame makes the next encoded frame a keyframe (peer sent PLI).
func (v *videoSender) ForceKeyFrame() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.enc != nil {
		v.enc.ForceKeyFrame()
	}
	if v.refresh != nil {
		v.refresh()
	}
}

// LinkNarrowed tells a camera's sender that the link was found much
// narrower than what is sent (call.Config.OnLinkNarrowed): the next
// picture takes the size the target affords at once
// (sizeLadder.narrowed). A screen keeps its size.
func (v *videoSender) LinkNarrowed() {
	if v.ladder != nil {
		v.narrowed.Store(true)
	}
}

// SetCarried sets the camera's share of what the link has shown it
// carries; bounded false: the link has not been found full lately, and
// the picture steps up by the target alone (call.Config.OnCarriedBitrate).
func (v *videoSender) SetCarried(bps int, bounded bool) {
	if !bounded {
		v.carried.Store(0)
		return
	}
	v.carried.Store(int64(max(bps, 1)))
}

// SetBitRate follows the congestion controller's target.
func (v *videoSender) SetBitRate(bps int) {
	v.bps.Store(int64(bps))
	v.mu.Lock()
	defer v.mu.Unlock()
	v.applyRate(v.encW, v.encH)
}

// run encodes until ctx ends or the source fails. The source paces it.
func (v *videoSender) run(ctx context.Context) error {
	defer func() {
		v.mu.Lock()
		_ = v.enc.Close()
		v.enc = nil
		v.mu.Unlock()
	}()
	frameDur := time.Second / time.Duration(max(v.fps, 1))
	start := time.Now()
	var prev time.Time   // when the previous frame was encoded
	var last image.Point // its size
	skipped := 0         // frames skipped since the previous one sent
	// hidden is the time of the frames the sender dropped (frameDropper):
	// the encoder's timestamps leave it out, so that libvpx budgets each
	// frame for the full frame rate. Given the gaps, it read a lower
	// frame rate, made the next frames larger, and the dropper dropped
	// more (bench --network: 1 Mbit/s delivered half the picture).
	var hidden time.Duration
	var prevPTS time.Duration
	for ctx.Err() == nil {
		img, err := v.next()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("video source: %w", err)
		}
		t0 := time.Now()
		pts := t0.Sub(start) - hidden
		since, encSince := frameDur, frameDur
		if !prev.IsZero() {
			since = t0.Sub(prev)
			encSince = max(pts-prevPTS, time.Millisecond)
		}
		img = v.fit(img, t0)
		if v.skipFrame(img, last, t0) {
			skipped++
			hidden += frameDur
			v.skipped.Add(1)
			continue
		}
		v.mu.Lock()
		v.applyRate(img.Rect.Dx(), img.Rect.Dy())
		data, key, err := v.enc.Encode(img, pts)
		if err == nil && v.over != nil {
			f := v.over.factor
			v.over.frame(len(data), key, v.encBps, int(v.bps.Load()), encSince)
			if v.over.factor != f {
				slog.Debug("camera encoder overshoot", "factor", v.over.factor)
			}
		}
		v.mu.Unlock()
		if errors.Is(err, codec.ErrNoFrame) {
			// Rate control skipped the frame: the next one's sample
			// carries its time too, so that the pictures after it
			// keep their capture times (pion stamps a sample where
			// the one before ended).
			skipped++
			v.skipped.Add(1)
			continue
		}
		if err != nil {
			return fmt.Errorf("encode video: %w", err)
		}
		prev, prevPTS, last = t0, pts, img.Rect.Size()
		if v.drop != nil {
			v.drop.sent(len(data), int(v.bps.Load()))
		}
		v.encodeNS.Add(int64(time.Since(t0)))
		n := v.frames.Add(1)
		if key {
			v.lastKey.Store(n)
		}
		v.bytes.Add(int64(len(data)))
		dur := frameDur * time.Duration(1+skipped)
		skipped = 0
		if v.realTime {
			dur = since
		}
		if err := v.track.WriteSample(media.Sample{Data: data, Duration: dur}); err != nil {
			return fmt.Errorf("send video: %w", err)
		}
	}
	return nil
}

// encodedSender streams pre-encoded frames (IVF video, Ogg Opus) as they are.
type encodedSender struct {
	track   *webrtc.TrackLocalStaticSample
	next    func() (capture.EncodedFrame, error)
	wantKey atomic.Bool // a PLI arrived: skip to the next keyframe
	sendCounters
}

// ForceKeyFrame cannot encode one: it makes the sender skip ahead to the
// file's next keyframe, the soonest the peer can decode again.
func (s *encodedSender) ForceKeyFrame() { s.wantKey.Store(true) }

func (s *encodedSender) run(ctx context.Context) error {
	for ctx.Err() == nil {
		f, err := s.next()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("file source: %w", err)
		}
		if s.wantKey.Load() {
			if !f.Keyframe {
				continue
			}
			s.wantKey.Store(false)
		}
		s.frames.Add(1)
		s.bytes.Add(int64(len(f.Data)))
		if err := s.track.WriteSample(media.Sample{Data: f.Data, Duration: f.Duration}); err != nil {
			return fmt.Errorf("send: %w", err)
		}
	}
	return nil
}

// audioSender encodes 20 ms PCM frames with our libopus encoder (in-band
// FEC) and follows the loss the peer reports.
type audioSender struct {
	track *webrtc.TrackLocalStaticSample
	next  func() ([]int16, error)

	mu  sync.Mutex
	enc *codec.OpusEncoder

	sendCounters
}

func newAudioSender(track *webrtc.TrackLocalStaticSample, next func() ([]int16, error), cfg codec.OpusConfig) (*audioSender, error) {
	enc, err := codec.NewOpusEncoder(cfg)
	if err != nil {
		return nil, fmt.Errorf("audio encoder: %w", err)
	}
	return &audioSender{track: track, next: next, enc: enc}, nil
}

// SetPacketLoss tells the encoder how much loss to protect against, which
// sizes its in-band FEC.
func (a *audioSender) SetPacketLoss(pct int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.enc != nil {
		// Never below 10 %: FEC must already be there when the first burst hits.
		_ = a.enc.SetPacketLossPerc(min(max(pct, 10), 50))
	}
}

func (a *audioSender) run(ctx context.Context) error {
	defer func() {
		a.mu.Lock()
		_ = a.enc.Close()
		a.enc = nil
		a.mu.Unlock()
	}()
	frameDur := a.enc.Config().FrameDuration
	for ctx.Err() == nil {
		pcm, err := a.next()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("audio source: %w", err)
		}
		t0 := time.Now()
		a.mu.Lock()
		data, err := a.enc.Encode(pcm)
		a.mu.Unlock()
		if err != nil {
			return fmt.Errorf("encode audio: %w", err)
		}
		a.encodeNS.Add(int64(time.Since(t0)))
		a.frames.Add(1)
		a.bytes.Add(int64(len(data)))
		if err := a.track.WriteSample(media.Sample{Data: data, Duration: frameDur}); err != nil {
			return fmt.Errorf("send audio: %w", err)
		}
	}
	return nil
}

// sender is one media send loop (video or audio, encoded or from a file).
type sender interface{ run(context.Context) error }

// startSenders runs each non-nil sender on its own goroutine until ctx ends;
// wg tracks them.
func startSenders(ctx context.Context, wg *sync.WaitGroup, log *slog.Logger, senders ...sender) {
	for _, s := range senders {
		if s == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.run(ctx); err != nil {
				log.Warn("media sender stopped", "err", err)
			}
		}()
	}
}

// nilIfNil turns a typed nil pointer into a nil interface.
func nilIfNil[T any](p *T) sender {
	if p == nil {
		return nil
	}
	return any(p).(sender)
}

// localMedia is what this side sends: tracks shared by every peer's
// session (pion writes each sample to every connection a track is bound
// to) and the senders behind them, encoded once.
type localMedia struct {
	tracks []webrtc.TrackLocal
	vs     *videoSender   // camera or test pattern
	fs     *encodedSender // video from a file
	as     *audioSender   // microphone or test sound
	afs    *encodedSender // audio from a file

	closers  []func() error // sources to close after the senders stopped
	mu       sync.Mutex     // guards log, ctx, cancel, started, share, estimate, carried
	share    *screenShare
	estimate int // the latest bitrate for all media (lowest of the peers')
	// carried is the least of what the peers' links have shown they
	// carry (0: none found full lately; conference.lowestCarried).
	carried   int
	log       *slog.Logger
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	started   bool
	filesOnce sync.Once
}

// video is the video sender that can make keyframes (nil for none).
func (m *localMedia) video() *videoSender { return m.vs }

// hasVideo reports whether a video track is sent.
func (m *localMedia) hasVideo() bool { return m.vs != nil || m.fs != nil }

// start runs the encoders. They run from the start and send a fresh
// keyframe when a path comes up (browsers stall on a stream whose first
// packet arrives the moment they see "connected").
// Only the first call starts them.
func (m *localMedia) start(ctx context.Context, log *slog.Logger) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.started {
		return
	}
	m.log = log
	m.ctx, m.cancel = context.WithCancel(ctx)
	m.started = true
	startSenders(m.ctx, &m.wg, log, nilIfNil(m.vs), nilIfNil(m.as))
}

// running reports whether start was called.
func (m *localMedia) running() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.started
}

// startFiles runs the file senders, at the first connection: they cannot
// make a keyframe to replace the frames lost before it.
func (m *localMedia) startFiles() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.started {
		return
	}
	m.filesOnce.Do(func() { startSenders(m.ctx, &m.wg, m.log, nilIfNil(m.fs), nilIfNil(m.afs)) })
}

// stop ends the senders and waits for them; encoders that never ran are
// closed here.
func (m *localMedia) stop() {
	m.stopShare()
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.started {
		if m.vs != nil {
			_ = m.vs.enc.Close()
		}
		if m.as != nil {
			_ = m.as.enc.Close()
		}
		m.closeSources()
		return
	}
	m.cancel()
	m.closeSources() // unblocks a sender waiting for a still screen
	m.wg.Wait()
}

func (m *localMedia) closeSources() {
	for _, c := range m.closers {
		_ = c()
	}
	m.closers = nil
}

func (m *localMedia) forceKeyFrame() {
	if s := m.sharing(); s != nil {
		s.vs.ForceKeyFrame()
	}
	if m.vs != nil {
		m.vs.ForceKeyFrame()
	}
	if m.fs != nil {
		m.fs.ForceKeyFrame()
	}
}

// linkNarrowed: a peer's link was found narrower than what is sent; the
// camera's picture takes the size the target affords at once.
func (m *localMedia) linkNarrowed() {
	if m.vs != nil {
		m.vs.LinkNarrowed()
	}
}

// setBitRate follows the lowest estimate of all peers (0: none yet).
func (m *localMedia) setBitRate(bps int) {
	if bps <= 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.estimate = bps
	m.rebalance()
}

// setCarried follows what the peers' links have shown they carry (0:
// none found full lately): the camera's picture steps up within it.
func (m *localMedia) setCarried(bps int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.carried = bps
	m.rebalance()
}

func (m *localMedia) setPacketLoss(pct int) {
	if m.as != nil {
		m.as.SetPacketLoss(pct)
	}
}
