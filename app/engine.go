package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"image"
	stdlog "log"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/peercall/peercall/call"
	"github.com/peercall/peercall/capture"
	"github.com/peercall/peercall/codec"
	"github.com/peercall/peercall/signalserver"
)

// EngineOptions configures NewEngine.
type EngineOptions struct {
	// HostAddr is where StartCall's signaling server listens; "" means
	// ":0" (all interfaces, a free port) so people on the LAN can join.
	HostAddr string
	Logger   *slog.Logger
	// SelfViewFPS caps how often local frames reach the frame sink
	// (default 15): the self-view is small, full rate wastes CPU.
	SelfViewFPS int
}

// NewEngine returns the real call pipeline (the one headless mode uses):
// in-process signaling server, signaling client, call.Session, VP8/Opus.
func NewEngine(o EngineOptions) Engine {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.HostAddr == "" {
		o.HostAddr = ":0"
	}
	if o.SelfViewFPS <= 0 {
		o.SelfViewFPS = 15
	}
	return &engine{o: o}
}

type engine struct{ o EngineOptions }

// Host implements Engine. One signaling server (one set of rooms) listens
// twice: plain ws:// for this app and desktop peers, and https/wss with a
// self-signed certificate for the browser page, because browsers only give
// camera and microphone to secure contexts.
func (e *engine) Host(ctx context.Context) (HostedServer, error) {
	hs, err := hostSignaling(context.WithoutCancel(ctx), e.o.HostAddr, e.o.Logger)
	if err != nil {
		return HostedServer{}, &UserError{Msg: "Could not start the call server: " + err.Error(), Err: err}
	}
	return hs, nil
}

// hostCertValidity bounds the browser certificate's life. A new key and
// certificate are made for every hosted call, so this only has to outlast
// the longest call.
const hostCertValidity = 7 * 24 * time.Hour

// hostSignaling starts the signaling server on addr (plain) and on a free
// port of the same host (TLS). The plain side is Serve's; the TLS side is
// an http.Server over the same Handler, so both reach the same rooms.
func hostSignaling(ctx context.Context, addr string, log *slog.Logger) (HostedServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return HostedServer{}, fmt.Errorf("listen %s: %w", addr, err)
	}
	bindHost, _, err := net.SplitHostPort(addr)
	if err != nil {
		_ = ln.Close()
		return HostedServer{}, fmt.Errorf("listen %s: %w", addr, err)
	}
	tcpLn, err := net.Listen("tcp", net.JoinHostPort(bindHost, "0"))
	if err != nil {
		_ = ln.Close()
		return HostedServer{}, fmt.Errorf("listen %s (https): %w", bindHost, err)
	}
	closeBoth := func() { _ = ln.Close(); _ = tcpLn.Close() }

	_, port, _ := net.SplitHostPort(ln.Addr().String())
	_, tlsPort, _ := net.SplitHostPort(tcpLn.Addr().String())
	local := net.JoinHostPort("127.0.0.1", port)
	shown := advertisedHost(ln.Addr()) // the host others are told
	cert, fingerprint, err := signalserver.SelfSignedCertificate([]string{shown, "127.0.0.1", "localhost"}, hostCertValidity)
	if err != nil {
		closeBoth()
		return HostedServer{}, fmt.Errorf("certificate: %w", err)
	}
	srv, err := signalserver.New(signalserver.WithLogger(log), hostedSTUN(bindHost, shown))
	if err != nil {
		closeBoth()
		return HostedServer{}, fmt.Errorf("signaling server: %w", err)
	}

	ctx, cancel := context.WithCancel(ctx)
	plainDone := serveInBackground(ctx, srv, ln, log)
	tlsSrv := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: signalserver.DefaultReadHeaderTimeout,
		IdleTimeout:       signalserver.DefaultPongWait,
		// Every browser that meets the certificate first refuses it
		// (a handshake error): not worth more than a debug line.
		ErrorLog: stdlog.New(debugWriter{log}, "", 0),
	}
	tlsLn := tls.NewListener(tcpLn, &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		// HTTP/1.1 only: the WebSocket upgrade hijacks the connection,
		// which HTTP/2 cannot do.
		NextProtos: []string{"http/1.1"},
	})
	tlsDone := make(chan struct{})
	go func() {
		defer close(tlsDone)
		if err := tlsSrv.Serve(tlsLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("https signaling listener stopped", "err", err)
		}
	}()
	log.Info("browser link listener", "addr", tcpLn.Addr().String(), "fingerprint", fingerprint)

	stop := func() {
		// The TLS side first: no new connections. WebSockets it upgraded
		// are the server's, told to leave and waited for by Serve's
		// shutdown below.
		sctx, scancel := context.WithTimeout(context.Background(), signalserver.DefaultShutdownTimeout)
		if err := tlsSrv.Shutdown(sctx); err != nil {
			_ = tlsSrv.Close()
		}
		scancel()
		<-tlsDone
		cancel()
		<-plainDone
	}
	return HostedServer{
		URL:         "ws://" + local + "/ws",
		LANAddr:     net.JoinHostPort(shown, port),
		HTTPSAddr:   net.JoinHostPort(shown, tlsPort),
		Fingerprint: fingerprint,
		Stop:        sync.OnceFunc(stop),
	}, nil
}

// advertisedHost is the host others reach a server listening on addr at:
// the address it is bound to, or for a wildcard bind this machine's LAN
// address (127.0.0.1 without one). Its hosted STUN server is named by the
// same host, so the URL handed out always reaches a socket it listens on.
func advertisedHost(addr net.Addr) string {
	host, _, _ := net.SplitHostPort(addr.String())
	if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() {
		return host
	}
	if lan := lanIP(); lan != "" {
		return lan
	}
	return "127.0.0.1"
}

// hostedSTUN is the STUN server an in-process signaling server hands out:
// its own, on a free UDP port of the signaling host, so the no-host policy
// finds a server-reflexive address without asking a third party. It
// refuses relay allocations (see signalserver.TURNConfig.STUNOnly).
func hostedSTUN(bindHost, shown string) signalserver.Option {
	return signalserver.WithTURN(signalserver.TURNConfig{
		Listen:   net.JoinHostPort(bindHost, "0"),
		RelayIP:  net.ParseIP(shown),
		STUNOnly: true,
	})
}

// debugWriter routes http.Server's internal log lines (TLS handshake
// errors) to slog at debug level.
type debugWriter struct{ l *slog.Logger }

func (w debugWriter) Write(p []byte) (int, error) {
	w.l.Debug("https listener", "detail", strings.TrimSpace(string(p)))
	return len(p), nil
}

// lanIP picks the first private IPv4 address of an interface that is up,
// for display. It only reads interface addresses: no traffic.
func lanIP() string {
	ifs, err := net.Interfaces()
	if err != nil {
		return ""
	}
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && n.IP.IsPrivate() {
				return n.IP.String()
			}
		}
	}
	return ""
}

// Dial implements Engine: media first (a broken device fails before anyone
// waits), then signaling; the returned call waits for the other person.
func (e *engine) Dial(ctx context.Context, p CallParams) (Call, error) {
	lc := &liveCall{p: p, log: e.o.Logger, events: make(chan CallEvent, 64), done: make(chan struct{}), devs: callDevices(p.Settings, p.Media)}
	lc.selfGap = time.Second / time.Duration(e.o.SelfViewFPS)
	tracks, err := lc.buildMedia()
	if err != nil {
		lc.closeSources()
		return nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	client, err := signalserver.Dial(dctx, p.Server, signalserver.ClientOptions{
		Room: p.Room, Name: p.Name, Password: p.Password, Logger: e.o.Logger,
	})
	if err != nil {
		lc.closeSources()
		return nil, err
	}
	lc.client = client
	lc.media = &localMedia{tracks: tracks, vs: lc.vs, as: lc.as}
	lc.spk = newSpeakerOut(p.Settings.Speaker, lc.openPlayer, lc.log)
	lc.mixer = newAudioMixer(lc.spk, lc.voice.render)
	lc.conf = newConference(conferenceOptions{
		Client: client, Media: lc.media, Net: lc.peerNet(), Announce: lc.announce,
		OnFrame: lc.onRemoteFrame, Speaker: lc.mixer, Logger: e.o.Logger, Files: p.Settings.FilePolicy(),
		// The preview ends before the video sender becomes the camera's
		// only reader.
		BeforeMedia: func() { lc.stopPreview() },
	})
	var cctx context.Context
	cctx, lc.cancel = context.WithCancel(context.Background())
	go lc.run(cctx)
	return lc, nil
}

// liveCall is one call of the desktop app: the front end over the one
// call pipeline (conference) that adds what a person at a desk needs:
// switchable devices, the self-view, mute and camera toggles, the speaker.
type liveCall struct {
	p      CallParams
	log    *slog.Logger
	client *signalserver.Client
	conf   *conference
	media  *localMedia
	mixer  *audioMixer
	cancel context.CancelFunc
	events chan CallEvent
	done   chan struct{}

	vs  *videoSender
	cam *switchedVideo // the camera (or test pattern) behind vs
	// stopPreview ends the waiting self-view (idempotent); set by run
	// before the conference starts.
	stopPreview func()
	as          *audioSender
	mic         *switchedAudio  // the microphone behind as; nil for test sounds
	voice       *voiceProcessor // the microphone's processing; nil when off
	spk         *speakerOut
	devs        Devices // in use; guarded by mediaMu
	closers     []func() error

	// mediaMu orders media switches with the state they send to the peers.
	mediaMu   sync.Mutex
	muted     atomic.Bool
	remoteOff sync.Map      // peer id → true: its camera is off, drop its frames
	micLevel  atomic.Uint64 // float64 bits
	selfGap   time.Duration
	lastSelf  time.Time // sender goroutine only

	// Device openers for tests; nil opens the real devices.
	openCamera func(id string) videoOpener
	openMic    func(id string) audioOpener
	openPlayer playerOpener
}

func (lc *liveCall) closeSources() {
	for _, c := range lc.closers {
		_ = c()
	}
}

func (lc *liveCall) buildMedia() ([]webrtc.TrackLocal, error) {
	s, m := lc.p.Settings, lc.p.Media
	var tracks []webrtc.TrackLocal
	var open videoOpener
	video := m.Video
	if video != "none" && s.Camera == "synthetic" {
		video = "synthetic" // the test pattern chosen as camera in Settings
	}
	switch video {
	case "none":
	case "synthetic":
		src, err := capture.NewPatternSource(capture.PatternConfig{Width: s.Width, Height: s.Height, FPS: float64(s.FPS), Paced: true})
		if err != nil {
			return nil, fmt.Errorf("%w: test pattern: %w", ErrUnsupportedMedia, err)
		}
		lc.closers = append(lc.closers, src.Close)
		// The self-view converts and the encoder encodes each frame before
		// the next is drawn: one reused picture, no 460 KB garbage per frame.
		next := src.NextReusing()
		// Nothing to release: camera off just stops reading the pattern.
		open = func() (func() (*image.YCbCr, error), func() error, error) { return next, nil, nil }
	default:
		if isY4MPath(video) {
			open = y4mOpener(video) // --video FILE.y4m: a clip as the camera
			break
		}
		open = lc.cameraOpener(s.Camera)
	}
	if open != nil {
		cam, err := newSwitchedVideo(open)
		if err != nil {
			// No camera is normal: the call goes on audio-only.
			lc.log.Info("no camera, audio-only", "err", err)
		} else {
			lc.cam = cam
			lc.closers = append(lc.closers, cam.Close)
		}
	}
	if lc.cam != nil {
		track, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", "peercall")
		if err != nil {
			lc.closeSources()
			return nil, err
		}
		lc.vs, err = newVideoSender(track, lc.wrapVideo(lc.cam.Next), codec.VP8Config{
			Width: s.Width, Height: s.Height, FPS: s.FPS, BitRate: call.DefaultStartBitrate - audioBitrate, ErrorResilient: true,
		})
		if err != nil {
			lc.closeSources()
			return nil, fmt.Errorf("%w: %w", ErrUnsupportedMedia, err)
		}
		tracks = append(tracks, track)
	}

	var pcm func() ([]int16, error)
	cfg := capture.AudioConfig{SampleRate: 48000, Paced: true}
	switch m.Audio {
	case "none":
	case "synthetic":
		src, err := capture.NewSpeechSource(cfg)
		if err != nil {
			return nil, err
		}
		pcm = src.Next
	case "tone":
		src, err := capture.NewToneSource(440, cfg)
		if err != nil {
			return nil, err
		}
		pcm = src.Next
	default:
		mic, err := newSwitchedAudio(lc.micOpener(s.Microphone))
		if err != nil {
			lc.log.Info("no microphone", "err", err)
			break
		}
		lc.mic = mic
		lc.closers = append(lc.closers, mic.Close)
		// Echo cancellation and the rest run on the microphone only, before
		// the meter: the level shown is what the others hear.
		lc.voice = newVoiceOrNone(s.Voice(), lc.log)
		if v := lc.voice; v != nil {
			lc.closers = append(lc.closers, func() error { v.close(); return nil })
		}
		pcm = lc.voice.wrap(mic.Next)
	}
	if pcm != nil {
		track, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "peercall")
		if err != nil {
			return nil, err
		}
		ocfg := codec.DefaultOpusConfig()
		ocfg.FEC, ocfg.BitRate, ocfg.PacketLossPerc = true, audioBitrate, 10
		lc.as, err = newAudioSender(track, lc.wrapAudio(pcm), ocfg)
		if err != nil {
			lc.closeSources()
			return nil, fmt.Errorf("%w: %w", ErrUnsupportedMedia, err)
		}
		tracks = append(tracks, track)
	}
	return tracks, nil
}

// wrapVideo feeds the self-view (at most SelfViewFPS). While the camera is
// off, next blocks (switchedVideo): no frame is encoded or sent, and the
// self-view shows its placeholder.
func (lc *liveCall) wrapVideo(next func() (*image.YCbCr, error)) func() (*image.YCbCr, error) {
	return func() (*image.YCbCr, error) {
		img, err := next()
		if err != nil {
			return nil, err
		}
		if now := time.Now(); lc.p.OnFrame != nil && now.Sub(lc.lastSelf) >= lc.selfGap {
			lc.lastSelf = now
			lc.p.OnFrame(VideoFrame{Local: true, Image: img})
		}
		return img, nil
	}
}

// previewWhileWaiting shows the self-view while nobody else is in the room
// (people check how they look before the call starts); nothing is encoded.
// stop returns once the preview no longer reads the camera.
func (lc *liveCall) previewWhileWaiting() (stop func()) {
	if lc.cam == nil || lc.p.OnFrame == nil {
		return func() {}
	}
	quit, done := make(chan struct{}), make(chan struct{})
	show := lc.wrapVideo(func() (*image.YCbCr, error) { return lc.cam.nextUnless(quit) })
	go func() {
		defer close(done)
		for {
			select {
			case <-quit:
				return
			default:
			}
			if _, err := show(); err != nil {
				return
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(quit); <-done }) }
}

func (lc *liveCall) wrapAudio(next func() ([]int16, error)) func() ([]int16, error) {
	var silent []int16
	return func() ([]int16, error) {
		pcm, err := next()
		if err != nil {
			return nil, err
		}
		if lc.muted.Load() {
			lc.micLevel.Store(0)
			if len(silent) != len(pcm) {
				silent = make([]int16, len(pcm))
			}
			return silent, nil
		}
		lc.micLevel.Store(math.Float64bits(Level(pcm)))
		return pcm, nil
	}
}

// Level maps the RMS of PCM to 0..1 over -60..0 dBFS, for level meters.
func Level(pcm []int16) float64 {
	if len(pcm) == 0 {
		return 0
	}
	var sum float64
	for _, v := range pcm {
		f := float64(v) / 32768
		sum += f * f
	}
	rms := math.Sqrt(sum / float64(len(pcm)))
	if rms <= 0 {
		return 0
	}
	db := 20 * math.Log10(rms)
	return min(max((db+60)/60, 0), 1)
}

func (lc *liveCall) onRemoteFrame(peer string, df DecodedFrame) {
	// A frame still in flight when the peer's "camera off" arrived must not
	// cover the placeholder.
	if off, _ := lc.remoteOff.Load(peer); off == true {
		return
	}
	if df.Image != nil && lc.p.OnFrame != nil {
		lc.p.OnFrame(VideoFrame{Peer: peer, Share: df.Share, Image: df.Image})
	}
}

// StartShare shares src with everyone in the call.
func (lc *liveCall) StartShare(src ShareSource) error { return lc.conf.StartShare(src) }

// StopShare ends the share.
func (lc *liveCall) StopShare() error { return lc.conf.StopShare() }

// run forwards the conference's events to the controller, previews the
// camera until someone joins and runs the encoders from then on.
func (lc *liveCall) run(ctx context.Context) {
	defer close(lc.done)
	defer close(lc.events)
	defer lc.closeSources()
	defer func() {
		_ = lc.client.Close()
		lc.conf.link.Wait()
	}()
	defer lc.mixer.close()
	lc.stopPreview = lc.previewWhileWaiting()
	confDone := make(chan struct{})
	go func() {
		defer close(confDone)
		_ = lc.conf.run(ctx)
	}()
	defer func() {
		lc.stopPreview()
		<-confDone // every session closed: nothing pulls the encoders' tracks
		if lc.cam != nil {
			_ = lc.cam.Close() // ends a sender waiting while the camera is off
		}
		lc.media.stop()
	}()
	for ev := range lc.conf.Events() {
		if ev.Peer != "" && ev.RemoteMedia != nil {
			lc.remoteOff.Store(ev.Peer, !ev.RemoteMedia.Video)
		}
		if ev.Peer != "" && ev.Gone {
			lc.remoteOff.Delete(ev.Peer)
		}
		select {
		case lc.events <- ev:
		case <-ctx.Done():
		}
	}
}

// SignalingLostNotice is what the user is told when the signaling client
// ends for good mid-call (rate limit, token refused on rejoin, session
// replaced): media keeps flowing, but a path change can no longer be
// negotiated.
const SignalingLostNotice = "Signaling server lost: the call continues, but reconnection is not possible."

func endReason(ev call.Event) string {
	switch ev {
	case call.EventBye:
		return "The other person hung up"
	case call.EventPeerLeft:
		return "The other person left"
	case call.EventHangup:
		return "You hung up"
	}
	return "The call ended"
}

// peerNet is how the desktop's sessions reach their peers: the server's
// ICE servers and the Settings' ones under the Settings' policy, or
// loopback only (same-host calls, tests).
func (lc *liveCall) peerNet() peerNet {
	s := lc.p.Settings
	servers := toWebRTCServers(lc.client.ICEServers())
	policy := call.Policy(s.ICEPolicy)
	opts := s.ICEOptions()
	n := peerNet{MaxBitrate: s.MaxBitrateKbps * 1000}
	if lc.p.Media.LoopbackOnly {
		opts = call.ICEOptions{Loopback: true}
		servers = nil
		if policy != call.PolicyNoHost {
			policy = call.PolicyAll
		}
		n.InterfacePoll = -1
	} else {
		servers = append(servers, s.WebRTCICEServers()...)
	}
	n.Servers, n.Policy, n.ICE = servers, policy, opts
	if n.MaxBitrate < call.DefaultStartBitrate {
		n.StartBitrate = n.MaxBitrate
	}
	return n
}

// announce is what this side tells every peer it sends. No microphone is
// said like a muted one: the peer must not wait for audio that cannot come.
func (lc *liveCall) announce() (mic, camera bool) {
	return lc.as != nil && !lc.muted.Load(), lc.cam != nil && lc.cam.On()
}

// Events implements Call.
func (lc *liveCall) Events() <-chan CallEvent { return lc.events }

// Levels implements Call.
func (lc *liveCall) Levels() (mic, speaker float64) {
	spk, _ := lc.mixer.levels()
	return math.Float64frombits(lc.micLevel.Load()), spk
}

// PeerLevels are each peer's received audio levels, 0..1 (active speaker).
func (lc *liveCall) PeerLevels() map[string]float64 {
	_, peers := lc.mixer.levels()
	return peers
}

// SetMute implements Call: the microphone sends silence and the peer is
// told (its screen shows "muted").
func (lc *liveCall) SetMute(on bool) {
	lc.mediaMu.Lock()
	defer lc.mediaMu.Unlock()
	lc.muted.Store(on)
	lc.sendMediaStateLocked()
}

// SetCamera implements Call. Off releases the camera and stops encoding
// and sending; on opens it again and starts with a keyframe, so the peer
// shows the picture at once. The peer is told either way, to show its
// placeholder instead of a frozen frame.
func (lc *liveCall) SetCamera(on bool) error {
	if lc.vs == nil || lc.cam == nil {
		return &UserError{Msg: "No camera found: this is an audio-only call.", Err: ErrUnsupportedMedia}
	}
	lc.mediaMu.Lock()
	defer lc.mediaMu.Unlock()
	if on {
		// Before the first frame can be read: it is encoded as a keyframe.
		lc.vs.ForceKeyFrame()
	}
	if err := lc.cam.SetOn(on); err != nil {
		if on {
			return &UserError{Msg: "The camera could not be turned back on.", Err: fmt.Errorf("%w: %w", ErrUnsupportedMedia, err)}
		}
		// Off even so: the device reported an error while closing.
		lc.log.Warn("camera release failed", "err", err)
	}
	lc.sendMediaStateLocked()
	return nil
}

// sendMediaState tells the peers whether the mic and camera are on.
func (lc *liveCall) sendMediaState() {
	lc.mediaMu.Lock()
	defer lc.mediaMu.Unlock()
	lc.sendMediaStateLocked()
}

func (lc *liveCall) sendMediaStateLocked() {
	if lc.conf != nil {
		lc.conf.Announce()
	}
}

// SendChat implements Call: the message goes to everyone in the call.
func (lc *liveCall) SendChat(text string) error {
	if lc.conf == nil {
		return call.ErrChatUnavailable
	}
	return lc.conf.SendChat(text)
}

// SendFile offers a file to everyone in the call (fileCaller).
func (lc *liveCall) SendFile(path string) error { return lc.conf.files.SendFile(path) }

// AcceptFile accepts an offer (fileCaller).
func (lc *liveCall) AcceptFile(id string) error { return lc.conf.files.AcceptFile(id) }

// DeclineFile declines an offer (fileCaller).
func (lc *liveCall) DeclineFile(id string) error { return lc.conf.files.DeclineFile(id) }

// CancelFile cancels a transfer (fileCaller).
func (lc *liveCall) CancelFile(id string) error { return lc.conf.files.CancelFile(id) }

// SetFilePolicy sets where offers from now on go (fileCaller).
func (lc *liveCall) SetFilePolicy(p FilePolicy) { lc.conf.files.SetPolicy(p) }

// HangUp implements Call.
func (lc *liveCall) HangUp() {
	lc.cancel()
	<-lc.done
}

// NewPreviewer returns the real device preview (camera or test pattern at
// the self-view rate, microphone level).
func NewPreviewer() Previewer { return previewer{} }

type previewer struct{}

// Preview implements Previewer.
func (previewer) Preview(ctx context.Context, s Settings, m MediaOptions, onFrame func(VideoFrame), level func(float64), warn func(error)) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var errs []error
	var next func() (*image.YCbCr, error)
	var closeVideo func() error
	fps := 15.0
	if m.Video == "synthetic" || s.Camera == "synthetic" {
		src, err := capture.NewPatternSource(capture.PatternConfig{Width: s.Width, Height: s.Height, FPS: fps, Paced: true, NoMarker: true})
		if err != nil {
			return err
		}
		next = src.NextReusing()
	} else if m.Video != "none" {
		cam, err := capture.OpenCamera(s.Camera, capture.VideoConstraints{Width: s.Width, Height: s.Height, FPS: fps})
		if err != nil {
			errs = append(errs, &UserError{Msg: "No camera found.", Err: err})
		} else {
			next, closeVideo = cam.Next, cam.Close
		}
	}
	var pcm func() ([]int16, error)
	var closeAudio func() error
	cfg := capture.AudioConfig{SampleRate: 48000, Paced: true, MarkerInterval: -1}
	switch m.Audio {
	case "none":
	case "synthetic", "tone":
		src, err := capture.NewSpeechSource(cfg)
		if err != nil {
			return err
		}
		pcm, closeAudio = src.Next, src.Close
	default:
		mic, err := capture.OpenMicrophone(s.Microphone, capture.AudioConstraints{SampleRate: 48000})
		if err != nil {
			errs = append(errs, &UserError{Msg: "No microphone found.", Err: err})
		} else {
			// The meter shows what a call would send: the processed signal
			// (noise suppressed, gain controlled; nothing plays, so no echo).
			voice := newVoiceOrNone(s.Voice(), slog.New(slog.DiscardHandler))
			pcm = voice.wrap(mic.Next)
			closeAudio = func() error { err := mic.Close(); voice.close(); return err }
		}
	}
	if len(errs) > 0 && (next != nil || pcm != nil) {
		warn(errs[0]) // one of the two works: keep previewing it
	}
	if next != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				img, err := next()
				if err != nil {
					return
				}
				onFrame(VideoFrame{Local: true, Image: img})
			}
		}()
	}
	if pcm != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				p, err := pcm()
				if err != nil {
					return
				}
				level(Level(p))
			}
		}()
	}
	<-ctx.Done()
	// Closing the devices unblocks Next.
	if closeVideo != nil {
		_ = closeVideo()
	}
	if closeAudio != nil {
		_ = closeAudio()
	}
	wg.Wait()
	if len(errs) > 0 && next == nil && pcm == nil {
		return errs[0]
	}
	return ctx.Err()
}
