package call

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// Defaults for zero Config durations.
const (
	DefaultConnectTimeout   = 30 * time.Second
	DefaultReconnectTimeout = 30 * time.Second
	DefaultStatsInterval    = time.Second
	DefaultInterfacePoll    = 5 * time.Second
	// MaxChatBytes bounds one chat message (UTF-8 bytes of the text).
	MaxChatBytes = 4096

	chatLabel       = "chat"
	sendTimeout     = 5 * time.Second
	byeTimeout      = time.Second
	restartBackoff0 = 500 * time.Millisecond
	restartBackoffN = 8 * time.Second
	updateBuffer    = 1024
)

// Config describes one session. LocalID, RemoteID and Signaler are required.
type Config struct {
	// LocalID and RemoteID are the peers' ids in the room. The side with
	// the lexicographically greater id is polite: it never offers, it
	// answers and asks the impolite side for offers (docs/ice-policy.md).
	LocalID, RemoteID string
	Signaler          Signaler

	// ICEServers are filtered by Policy (FilterICEServers).
	ICEServers []webrtc.ICEServer
	// Policy is the ICE privacy preset; "" means PolicyAll.
	Policy Policy
	// ICE holds port range, interface lists, IPv6, loopback and the
	// injectable network (vnet in tests).
	ICE ICEOptions
	// SettingEngine, if set, is called last on the SettingEngine built
	// from Policy and ICE, to adjust what those do not cover.
	SettingEngine func(*webrtc.SettingEngine)

	// Tracks are sent from the start. Their ids name them in ReplaceTrack.
	Tracks []webrtc.TrackLocal
	// OnTrack receives each remote track on its own pion goroutine and may
	// block reading it until it ends. If nil, remote media is drained.
	OnTrack func(*webrtc.TrackRemote, *webrtc.RTPReceiver)

	// OnTargetBitrate receives the GCC estimate in bits per second,
	// clamped to [MinBitrate, MaxBitrate]. Called on an interceptor
	// goroutine; must not block.
	OnTargetBitrate func(bps int)
	// Zero values mean DefaultMinBitrate, DefaultMaxBitrate, DefaultStartBitrate.
	MinBitrate, MaxBitrate, StartBitrate int
	// OnAudioLoss receives the loss percentage (0-100) the peer reports in
	// RTCP receiver reports for our audio. Called on an RTCP reader
	// goroutine; must not block.
	OnAudioLoss func(pct int)
	// FlexFEC adds flexfec-03 protection to outgoing video. pion has no
	// FlexFEC decoder interceptor (v0.1.48), so only browsers recover
	// with it; a pion peer ignores the repair stream.
	FlexFEC bool
	// OnKeyFrameRequest is called when the peer asks for a keyframe (PLI or
	// FIR) on a video track we send. Called on an RTCP reader goroutine;
	// must not block.
	OnKeyFrameRequest func()
	// ReceiveLoss drops this fraction (0..1) of received RTP at random at
	// the socket, before SRTP, NACK, FEC and jitter buffers see it: loss
	// experiments (headless --simulate-loss). Zero in real calls.
	ReceiveLoss float64

	// Timeouts: zero means the default; ConnectTimeout runs from Start to
	// the first "connected", ReconnectTimeout from each loss of the path.
	ConnectTimeout, ReconnectTimeout time.Duration
	// StatsInterval between Stats snapshots; zero means one second.
	StatsInterval time.Duration
	// InterfacePoll is how often local addresses are checked for a change
	// that needs an ICE restart; zero means 5 s, negative disables.
	InterfacePoll time.Duration

	// Logger for session events; nil discards. Never receives SDP or
	// candidates. Pion logs go through ICE.LoggerFactory, which defaults
	// to NewSlogLoggerFactory(Logger): same handler and level, redacted.
	Logger *slog.Logger
}

// UpdateKind says which part of an Update is set.
type UpdateKind int

// Update kinds.
const (
	UpdateState       UpdateKind = iota + 1 // From, State, Event, Reason, Err
	UpdateChat                              // Chat
	UpdateStats                             // Stats
	UpdateSAS                               // SAS
	UpdateRemoteMedia                       // RemoteMedia
)

func (k UpdateKind) String() string {
	switch k {
	case UpdateState:
		return "state"
	case UpdateChat:
		return "chat"
	case UpdateStats:
		return "stats"
	case UpdateSAS:
		return "sas"
	case UpdateRemoteMedia:
		return "remote-media"
	default:
		return fmt.Sprintf("UpdateKind(%d)", int(k))
	}
}

// Update is what a session publishes: every state transition with its
// reason, received chat, stats snapshots, the SAS once connected and the
// peer's media state (mic, camera) each time it says what it is.
type Update struct {
	Kind UpdateKind
	Time time.Time

	From, State State // UpdateState: transition From -> State
	Event       Event
	Reason      string // short, user-safe
	Err         error  // set when State is StateFailed (wraps a sentinel)

	Chat        *ChatMessage
	Stats       *Stats
	SAS         *SASCode
	RemoteMedia *MediaState
}

// ChatMessage is one text message received over the data channel.
type ChatMessage struct {
	From string    // the remote peer id
	Text string    // UTF-8, at most MaxChatBytes
	Time time.Time // sender's clock
}

// SASCode is the short authentication string of a connected call.
type SASCode struct {
	Digits            string
	Words             []string
	LocalFingerprint  string
	RemoteFingerprint string
}

type chatWire struct {
	From string `json:"from"`
	Time int64  `json:"ts"` // Unix milliseconds
	Text string `json:"text"`
}

// Session is one peer-to-peer call. All peer-connection state is owned by a
// single goroutine (run); pion callbacks and public methods only enqueue
// work for it.
type Session struct {
	cfg    Config
	log    *slog.Logger
	polite bool
	hooks  mediaHooks
	api    *webrtc.API
	rtcCfg webrtc.Configuration

	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{}
	started atomic.Bool
	q       opQueue
	updates chan Update
	wg      sync.WaitGroup // RTCP readers started by the owner

	pcPtr     atomic.Pointer[webrtc.PeerConnection]
	dcPtr     atomic.Pointer[webrtc.DataChannel]
	audioSSRC atomic.Uint32
	stateNow  atomic.Int32

	mu          sync.Mutex // guards stats, sas, remoteMedia
	stats       Stats
	sas         *SASCode
	remoteMedia *MediaState

	// mediaMu orders media state sends: SetLocalMedia and the channel's
	// open callback both send under it, so the last send is the latest
	// state.
	mediaMu    sync.Mutex
	localMedia *MediaState

	// Owner goroutine only.
	pc              *webrtc.PeerConnection
	state           State
	remoteSet       bool
	ignoreOffer     bool
	offerPending    bool
	lastOffer       string // scrubbed copy of our latest offer, for resends
	lastRemoteOffer string
	lastAnswer      string // last answer sent (scrubbed), resent for a duplicate offer
	restartPending  bool
	offerRequested  bool // the peer asked for an offer since our last one
	pendingCands    []webrtc.ICECandidateInit
	senders         map[string]*webrtc.RTPSender
	connectTimer    *time.Timer
	reconnTimer     *time.Timer
	restartTimer    *time.Timer
	restartAttempt  int
	ifaces          string
	prev            statsPrev
}

// New validates cfg and builds the session's API. Nothing touches the
// network until Start.
func New(cfg Config) (*Session, error) {
	if cfg.LocalID == "" || cfg.RemoteID == "" || cfg.LocalID == cfg.RemoteID {
		return nil, fmt.Errorf("%w: need two distinct peer ids", ErrInvalidConfig)
	}
	if cfg.Signaler == nil {
		return nil, fmt.Errorf("%w: no signaler", ErrInvalidConfig)
	}
	if cfg.Policy == "" {
		cfg.Policy = PolicyAll
	}
	cfg.MinBitrate = cmp0(cfg.MinBitrate, DefaultMinBitrate)
	cfg.MaxBitrate = cmp0(cfg.MaxBitrate, DefaultMaxBitrate)
	cfg.StartBitrate = cmp0(cfg.StartBitrate, DefaultStartBitrate)
	if cfg.MinBitrate > cfg.MaxBitrate {
		return nil, fmt.Errorf("%w: min bitrate above max", ErrInvalidConfig)
	}
	if cfg.ReceiveLoss < 0 || cfg.ReceiveLoss >= 1 {
		return nil, fmt.Errorf("%w: receive loss %v outside [0, 1)", ErrInvalidConfig, cfg.ReceiveLoss)
	}
	cfg.ConnectTimeout = cmp0(cfg.ConnectTimeout, DefaultConnectTimeout)
	cfg.ReconnectTimeout = cmp0(cfg.ReconnectTimeout, DefaultReconnectTimeout)
	cfg.StatsInterval = cmp0(cfg.StatsInterval, DefaultStatsInterval)
	cfg.InterfacePoll = cmp0(cfg.InterfacePoll, DefaultInterfacePoll)
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("local", cfg.LocalID, "remote", cfg.RemoteID)
	if cfg.ICE.LoggerFactory == nil {
		cfg.ICE.LoggerFactory = NewSlogLoggerFactory(cfg.Logger)
	}
	servers, err := FilterICEServers(cfg.Policy, cfg.ICEServers)
	if err != nil {
		return nil, err
	}
	s := &Session{
		cfg:     cfg,
		log:     log,
		polite:  cfg.LocalID > cfg.RemoteID,
		done:    make(chan struct{}),
		updates: make(chan Update, updateBuffer),
		senders: map[string]*webrtc.RTPSender{},
		q:       opQueue{wake: make(chan struct{}, 1)},

		connectTimer: stoppedTimer(),
		reconnTimer:  stoppedTimer(),
		restartTimer: stoppedTimer(),
	}
	s.api, err = buildAPI(&s.cfg, &s.hooks)
	if err != nil {
		return nil, err
	}
	s.rtcCfg = webrtc.Configuration{
		ICEServers:         servers,
		ICETransportPolicy: cfg.Policy.TransportPolicy(),
		BundlePolicy:       webrtc.BundlePolicyMaxBundle,
		RTCPMuxPolicy:      webrtc.RTCPMuxPolicyRequire,
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())

	return s, nil
}

func cmp0[T int | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}

	return v
}

// Polite reports whether this side is the polite (never offering) one.
func (s *Session) Polite() bool { return s.polite }

// State returns the current state (a snapshot; Updates has every change).
func (s *Session) State() State { return State(s.stateNow.Load()) }

// Updates delivers state changes, chat, stats and SAS. It is buffered and
// closed when the session has finished; a reader that falls far behind
// loses stats updates first, then others (logged).
func (s *Session) Updates() <-chan Update { return s.updates }

// Done is closed when the session has finished and released everything.
func (s *Session) Done() <-chan struct{} { return s.done }

// Start begins the call: builds the peer connection, attaches tracks and
// (impolite side) sends the first offer.
func (s *Session) Start() error {
	if s.ctx.Err() != nil {
		return ErrClosed
	}
	if !s.started.CompareAndSwap(false, true) {
		if s.ctx.Err() != nil {
			return ErrClosed // lost the race with Close
		}

		return ErrAlreadyStarted
	}
	go s.run()

	return nil
}

// Close hangs up (sending bye if the call is live), cancels the session's
// context and waits until everything it started has stopped.
func (s *Session) Close() error {
	s.cancel()
	if s.started.CompareAndSwap(false, true) {
		// Never started: finish here, there is no owner goroutine.
		s.transition(EventHangup, "closed before start", nil)
		close(s.updates)
		close(s.done)

		return nil
	}
	<-s.done

	return nil
}

// call runs f on the owner goroutine and waits for its result.
func (s *Session) call(f func() error) error {
	if !s.started.Load() {
		return ErrNotStarted
	}
	res := make(chan error, 1)
	s.q.push(func() { res <- f() })
	select {
	case err := <-res:
		return err
	case <-s.done:
		return ErrClosed
	}
}

// AddTrack sends another track; it triggers renegotiation. The session
// negotiates itself rather than waiting for pion's negotiationneeded event,
// which stops firing once pion's own check sticks at true (see
// unnegotiated).
func (s *Session) AddTrack(t webrtc.TrackLocal) error {
	return s.call(func() error {
		if err := s.addTrack(t); err != nil {
			return err
		}
		s.negotiate(false)

		return nil
	})
}

// ReplaceTrack swaps the track sent under id (the id of a track given in
// Config.Tracks or AddTrack) without renegotiation. nil stops sending
// (camera off); a new track of the same kind resumes.
func (s *Session) ReplaceTrack(id string, t webrtc.TrackLocal) error {
	return s.call(func() error {
		snd, ok := s.senders[id]
		if !ok {
			return fmt.Errorf("%w: %q", ErrUnknownTrack, id)
		}
		if err := snd.ReplaceTrack(t); err != nil {
			return fmt.Errorf("replace track: %w", err)
		}

		return nil
	})
}

// RemoveTrack stops sending the track added under id; it renegotiates.
func (s *Session) RemoveTrack(id string) error {
	return s.call(func() error {
		snd, ok := s.senders[id]
		if !ok {
			return fmt.Errorf("%w: %q", ErrUnknownTrack, id)
		}
		delete(s.senders, id)
		if err := s.pc.RemoveTrack(snd); err != nil {
			return fmt.Errorf("remove track: %w", err)
		}
		s.negotiate(false)

		return nil
	})
}

// RequestKeyFrame asks the sender of the remote stream ssrc for a key frame
// (RTCP PLI). Safe from any goroutine.
func (s *Session) RequestKeyFrame(ssrc uint32) error {
	pc := s.pcPtr.Load()
	if pc == nil {
		return ErrNotStarted
	}
	if err := pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}}); err != nil {
		return fmt.Errorf("send pli: %w", err)
	}

	return nil
}

// SendChat sends a text message to the peer. Safe from any goroutine.
func (s *Session) SendChat(text string) error {
	if len(text) > MaxChatBytes {
		return ErrChatTooLong
	}
	if !utf8.ValidString(text) {
		return fmt.Errorf("%w: not UTF-8", ErrBadSignal)
	}
	dc := s.dcPtr.Load()
	if dc == nil || dc.ReadyState() != webrtc.DataChannelStateOpen {
		return ErrChatUnavailable
	}
	b, err := json.Marshal(chatWire{From: s.cfg.LocalID, Time: time.Now().UnixMilli(), Text: text})
	if err != nil {
		return fmt.Errorf("encode chat: %w", err)
	}
	if err := dc.SendText(string(b)); err != nil {
		return fmt.Errorf("send chat: %w", err)
	}

	return nil
}

// SetLocalMedia records whether our microphone (audio) and camera (video)
// are on and tells the peer: now if the data channel is open, and again
// each time it opens, so the peer learns it after a reconnect too. It may
// be called before Start. Safe from any goroutine.
func (s *Session) SetLocalMedia(audio, video bool) error {
	if s.ctx.Err() != nil {
		return ErrClosed
	}
	m := MediaState{Audio: audio, Video: video}
	s.mediaMu.Lock()
	defer s.mediaMu.Unlock()
	s.localMedia = &m
	dc := s.dcPtr.Load()
	if dc == nil || dc.ReadyState() != webrtc.DataChannelStateOpen {
		return nil // sent on open
	}

	return s.sendMedia(dc, m)
}

// sendMedia sends m on dc; the caller holds mediaMu.
func (s *Session) sendMedia(dc *webrtc.DataChannel, m MediaState) error {
	b, err := encodeMedia(m)
	if err != nil {
		return err
	}
	if err := dc.SendText(string(b)); err != nil {
		return fmt.Errorf("send media state: %w", err)
	}

	return nil
}

// RemoteMedia returns the peer's latest media state, and false until the
// peer has sent one (an older peer never does).
func (s *Session) RemoteMedia() (MediaState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.remoteMedia == nil {
		return MediaState{}, false
	}

	return *s.remoteMedia, true
}

// Stats returns the latest snapshot (zero before the first interval).
func (s *Session) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()

	return s.stats
}

// SAS returns the short authentication string once connected.
func (s *Session) SAS() (SASCode, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sas == nil {
		return SASCode{}, ErrNotStarted
	}

	return *s.sas, nil
}

// TargetBitrate is the latest clamped GCC estimate in bits per second.
func (s *Session) TargetBitrate() int { return int(s.hooks.target.Load()) }

// ---- owner goroutine ----

func (s *Session) run() {
	defer close(s.done)
	defer close(s.updates)
	s.connectTimer.Reset(s.cfg.ConnectTimeout)
	s.transition(EventStart, "starting", nil)
	if err := s.setup(); err != nil {
		s.log.Error("setup failed", "err", err)
		s.transition(EventError, "could not set up the call", err)
		s.teardown()

		return
	}
	s.transition(EventReady, "waiting for peer", nil)
	if s.polite {
		// "I am here": if the impolite side's first offer went out before
		// our signaling was listening, this makes it send it again.
		s.send(Signal{Kind: SignalOfferRequest})
	} else {
		s.negotiate(false)
	}
	statsTick := time.NewTicker(s.cfg.StatsInterval)
	defer statsTick.Stop()
	var ifaceC <-chan time.Time
	if s.cfg.InterfacePoll > 0 {
		t := time.NewTicker(s.cfg.InterfacePoll)
		defer t.Stop()
		ifaceC = t.C
		s.ifaces = s.localAddrs()
	}
	signals := s.cfg.Signaler.Signals()
	for !s.state.Terminal() {
		select {
		case <-s.ctx.Done():
			s.sendBye("hung up")
			s.transition(EventHangup, "hung up", nil)
		case <-s.q.wake:
			for _, op := range s.q.drain() {
				op()
			}
		case sig, ok := <-signals:
			if !ok {
				signals = nil

				continue
			}
			s.handleSignal(sig)
		case <-s.connectTimer.C:
			s.fail("connect timeout", fmt.Errorf("%w: not connected after %s", ErrTimeout, s.cfg.ConnectTimeout))
		case <-s.reconnTimer.C:
			s.fail("reconnect timeout", fmt.Errorf("%w: not reconnected after %s", ErrTimeout, s.cfg.ReconnectTimeout))
		case <-s.restartTimer.C:
			if s.state == StateReconnecting {
				s.restartICE()
			}
		case <-statsTick.C:
			s.collectStats()
		case <-ifaceC:
			s.checkInterfaces()
		}
	}
	s.teardown()
}

func stoppedTimer() *time.Timer {
	t := time.NewTimer(time.Hour)
	t.Stop()

	return t
}

func (s *Session) fail(reason string, err error) {
	s.sendBye(reason)
	s.transition(EventTimeout, reason, err)
}

func (s *Session) teardown() {
	s.connectTimer.Stop()
	s.reconnTimer.Stop()
	s.restartTimer.Stop()
	if s.pc != nil {
		if err := s.pc.GracefulClose(); err != nil {
			s.log.Debug("close peer connection", "err", err)
		}
	}
	s.wg.Wait()
}

// transition feeds ev to the state machine and publishes the change.
func (s *Session) transition(ev Event, reason string, err error) bool {
	nxt, terr := next(s.state, ev)
	if terr != nil {
		s.log.Debug("event ignored", "event", ev.String(), "state", s.state.String())

		return false
	}
	prev := s.state
	s.state = nxt
	s.stateNow.Store(int32(nxt))
	s.log.Info("state", "from", prev.String(), "to", nxt.String(), "event", ev.String(), "reason", reason)
	s.publish(Update{Kind: UpdateState, From: prev, State: nxt, Event: ev, Reason: reason, Err: err})
	switch nxt {
	case StateConnected:
		s.connectTimer.Stop()
		s.reconnTimer.Stop()
		s.restartTimer.Stop()
		s.restartAttempt = 0
		s.updateSAS()
	case StateReconnecting:
		s.reconnTimer.Reset(s.cfg.ReconnectTimeout)
	default:
	}

	return true
}

func (s *Session) publish(u Update) {
	u.Time = time.Now()
	if u.Kind == UpdateStats && len(s.updates) > updateBuffer-64 {
		return // keep room for state and chat
	}
	select {
	case s.updates <- u:
	default:
		s.log.Warn("update dropped, reader too slow", "kind", u.Kind.String())
	}
}

func (s *Session) setup() error {
	pc, err := s.api.NewPeerConnection(s.rtcCfg)
	if err != nil {
		return fmt.Errorf("new peer connection: %w", err)
	}
	s.pc = pc
	s.pcPtr.Store(pc)
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c != nil {
			s.q.push(func() { s.sendCandidate(c.ToJSON()) })
		}
	})
	pc.OnNegotiationNeeded(func() { s.q.push(func() { s.negotiate(false) }) })
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		s.q.push(func() { s.onConnectionState(st) })
	})
	pc.OnTrack(s.onTrack)
	pc.OnDataChannel(func(dc *webrtc.DataChannel) {
		if dc.Label() == chatLabel {
			s.bindChat(dc)
		}
	})
	for _, t := range s.cfg.Tracks {
		if err := s.addTrack(t); err != nil {
			return err
		}
	}
	// The impolite side always sends the first offer, so it opens the chat
	// channel and the polite side receives it in OnDataChannel. It also
	// offers to receive audio and video even without tracks of its own, so
	// the polite side's tracks bind in the first answer.
	if !s.polite {
		for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
			if !s.hasTrackKind(kind) {
				if _, err := pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{
					Direction: webrtc.RTPTransceiverDirectionRecvonly,
				}); err != nil {
					return fmt.Errorf("receive %s: %w", kind, err)
				}
			}
		}
		dc, err := pc.CreateDataChannel(chatLabel, nil)
		if err != nil {
			return fmt.Errorf("chat channel: %w", err)
		}
		s.bindChat(dc)
	}

	return nil
}

func (s *Session) hasTrackKind(kind webrtc.RTPCodecType) bool {
	for _, t := range s.cfg.Tracks {
		if t != nil && t.Kind() == kind {
			return true
		}
	}

	return false
}

func (s *Session) addTrack(t webrtc.TrackLocal) error {
	if t == nil {
		return fmt.Errorf("%w: nil track", ErrInvalidConfig)
	}
	if _, dup := s.senders[t.ID()]; dup {
		return fmt.Errorf("%w: duplicate track id %q", ErrInvalidConfig, t.ID())
	}
	snd, err := s.pc.AddTrack(t)
	if err != nil {
		return fmt.Errorf("add track: %w", err)
	}
	s.senders[t.ID()] = snd
	var ssrc uint32
	if enc := snd.GetParameters().Encodings; len(enc) > 0 {
		ssrc = uint32(enc[0].SSRC)
	}
	if t.Kind() == webrtc.RTPCodecTypeAudio {
		s.audioSSRC.Store(ssrc)
	}
	s.wg.Add(1)
	go s.readSenderRTCP(snd, t.Kind() == webrtc.RTPCodecTypeAudio, ssrc)

	return nil
}

// readSenderRTCP drains RTCP for one sender, which is what lets the NACK
// responder and GCC see feedback, and reports audio loss.
func (s *Session) readSenderRTCP(snd *webrtc.RTPSender, audio bool, ssrc uint32) {
	defer s.wg.Done()
	for {
		pkts, _, err := snd.ReadRTCP()
		if err != nil {
			return
		}
		if !audio {
			if s.cfg.OnKeyFrameRequest != nil && wantsKeyFrame(pkts) {
				s.cfg.OnKeyFrameRequest()
			}
			continue
		}
		if s.cfg.OnAudioLoss == nil {
			continue
		}
		for _, p := range pkts {
			var reports []rtcp.ReceptionReport
			switch r := p.(type) {
			case *rtcp.ReceiverReport:
				reports = r.Reports
			case *rtcp.SenderReport:
				reports = r.Reports
			}
			for _, rr := range reports {
				if rr.SSRC == ssrc {
					s.cfg.OnAudioLoss(int(rr.FractionLost) * 100 / 256)
				}
			}
		}
	}
}

// onTrack runs on a pion goroutine per remote track.
func (s *Session) onTrack(tr *webrtc.TrackRemote, rcv *webrtc.RTPReceiver) {
	go func() { // receiver RTCP (sender reports) must be read for interceptors
		for {
			if _, _, err := rcv.ReadRTCP(); err != nil {
				return
			}
		}
	}()
	if s.cfg.OnTrack != nil {
		s.cfg.OnTrack(tr, rcv)

		return
	}
	buf := make([]byte, 1500)
	for {
		if _, _, err := tr.Read(buf); err != nil {
			return
		}
	}
}

func (s *Session) bindChat(dc *webrtc.DataChannel) {
	dc.OnOpen(func() {
		s.dcPtr.Store(dc)
		s.mediaMu.Lock()
		defer s.mediaMu.Unlock()
		if s.localMedia != nil {
			if err := s.sendMedia(dc, *s.localMedia); err != nil {
				s.log.Warn("media state not sent", "err", err)
			}
		}
	})
	dc.OnMessage(func(m webrtc.DataChannelMessage) {
		if !m.IsString {
			s.log.Info("binary data channel message dropped")

			return
		}
		msg, err := decodeDataMessage(m.Data)
		switch {
		case errors.Is(err, ErrUnknownMessage):
			s.log.Debug("data channel message of unknown type ignored")

			return
		case err != nil:
			s.log.Info("bad data channel message dropped", "err", err)

			return
		}
		s.onDataMessage(msg)
	})
}

// onDataMessage runs on the data channel's goroutine; publishing happens on
// the owner goroutine.
func (s *Session) onDataMessage(msg dataMessage) {
	switch msg.kind {
	case dataChat:
		c := &ChatMessage{From: s.cfg.RemoteID, Text: msg.chat.Text, Time: time.UnixMilli(msg.chat.Time)}
		s.q.push(func() { s.publish(Update{Kind: UpdateChat, Chat: c}) })
	case dataMedia:
		m := msg.media
		s.mu.Lock()
		s.remoteMedia = &m
		s.mu.Unlock()
		s.q.push(func() { s.publish(Update{Kind: UpdateRemoteMedia, RemoteMedia: &m}) })
	}
}

// ---- negotiation ----
//
// Perfect negotiation (W3C WebRTC 10.7) without rollback, which pion lacks:
// the impolite side is the only offerer and ignores colliding remote offers
// (from a peer that can roll back); the polite side never has a local offer
// pending, so it can always answer, and asks for offers with
// SignalOfferRequest. Candidates that arrive before the description are
// queued.

func (s *Session) negotiate(restart bool) {
	if s.state.Terminal() || s.pc == nil {
		return
	}
	if s.polite {
		// The impolite side opens the call; later needs go as a request,
		// and only for a real change (see unnegotiated).
		if s.remoteSet && (restart || unnegotiated(s.pc, s.dcPtr.Load() != nil)) {
			s.requestOffer(restart)
		}

		return
	}
	if s.pc.SignalingState() != webrtc.SignalingStateStable {
		// Offer again once the answer is in (pion also re-fires
		// negotiationneeded then, but a requested restart would be lost).
		s.offerPending = true
		s.restartPending = s.restartPending || restart

		return
	}
	restart = restart || s.restartPending
	s.offerPending, s.restartPending = false, false
	requested := s.offerRequested
	s.offerRequested = false
	if !restart && !requested && s.remoteSet && !unnegotiated(s.pc, true) {
		return // nothing new since the last answer
	}
	offer, err := s.pc.CreateOffer(&webrtc.OfferOptions{ICERestart: restart})
	if err != nil {
		s.log.Warn("create offer failed", "err", err)

		return
	}
	if err := s.pc.SetLocalDescription(offer); err != nil {
		s.log.Warn("set local offer failed", "err", err)

		return
	}
	s.sendDescription(SignalOffer, offer.SDP)
}

// requestOffer (polite side) names the media kinds whose local tracks have
// no m-line yet, so the impolite side can add receive slots for them.
func (s *Session) requestOffer(restart bool) {
	var kinds []string
	for _, tr := range s.pc.GetTransceivers() {
		if tr.Mid() == "" && tr.Sender() != nil && tr.Sender().Track() != nil {
			kinds = append(kinds, tr.Kind().String())
		}
	}
	s.send(Signal{Kind: SignalOfferRequest, Kinds: kinds, Restart: restart})
}

// onOfferRequest (impolite side) adds a receive-only transceiver per kind
// the polite side wants to send and offers.
func (s *Session) onOfferRequest(sig Signal) {
	if s.polite {
		s.log.Debug("offer request to the polite side ignored")

		return
	}
	if s.pc.SignalingState() == webrtc.SignalingStateHaveLocalOffer && s.lastOffer != "" {
		// The peer asks for an offer while ours is unanswered: it never got
		// it (sent before the peer listened, or lost in a signaling
		// restart), or our copy of its answer was lost. pion cannot replace
		// a pending offer, so resend it unchanged: the peer applies it, or
		// answers a duplicate again. What the request asks for follows in
		// the next offer once this one is answered.
		s.send(Signal{Kind: SignalOffer, SDP: s.lastOffer})
		if len(sig.Kinds) == 0 && !sig.Restart {
			return
		}
	}
	// The peer knows of a change of its own we cannot see (a track on an
	// m-line it already has): offer even if nothing changed here.
	s.offerRequested = s.remoteSet
	for _, k := range sig.Kinds {
		kind := webrtc.NewRTPCodecType(k)
		if kind == 0 {
			continue
		}
		if _, err := s.pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{
			Direction: webrtc.RTPTransceiverDirectionRecvonly,
		}); err != nil {
			s.log.Warn("add receive slot failed", "kind", k, "err", err)
		}
	}
	s.negotiate(sig.Restart)
}

func (s *Session) sendDescription(kind SignalKind, sdpText string) {
	scrubbed, err := ScrubSDPWith(s.cfg.Policy, s.cfg.ICE, sdpText)
	if err != nil {
		// Fail closed: an SDP we cannot scrub is not sent.
		s.log.Error("scrub sdp failed", "kind", kind.String(), "err", err)
		s.transition(EventError, "internal error", err)

		return
	}
	switch kind {
	case SignalOffer:
		s.lastOffer = scrubbed
	case SignalAnswer:
		s.lastAnswer = scrubbed
	}
	s.send(Signal{Kind: kind, SDP: scrubbed})
}

func (s *Session) sendCandidate(c webrtc.ICECandidateInit) {
	v, ok := ScrubCandidateWith(s.cfg.Policy, s.cfg.ICE, c.Candidate)
	if !ok {
		return
	}
	c.Candidate = v
	s.send(Signal{Kind: SignalCandidate, Candidate: &c})
}

func (s *Session) send(sig Signal) {
	if s.state.Terminal() {
		return
	}
	sig.From, sig.To = s.cfg.LocalID, s.cfg.RemoteID
	ctx, cancel := context.WithTimeout(s.ctx, sendTimeout)
	defer cancel()
	if err := s.cfg.Signaler.Send(ctx, sig); err != nil {
		s.log.Warn("signal send failed", "kind", sig.Kind.String(), "err", err)
	}
}

func (s *Session) sendBye(reason string) {
	if s.state.Terminal() || s.state == StateIdle {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), byeTimeout)
	defer cancel()
	sig := Signal{Kind: SignalBye, From: s.cfg.LocalID, To: s.cfg.RemoteID, Reason: reason}
	if err := s.cfg.Signaler.Send(ctx, sig); err != nil {
		s.log.Debug("bye not sent", "err", err)
	}
}

func (s *Session) handleSignal(sig Signal) {
	if sig.From != "" && sig.From != s.cfg.RemoteID {
		s.log.Debug("signal from another peer ignored", "kind", sig.Kind.String())

		return
	}
	switch sig.Kind {
	case SignalOffer, SignalAnswer:
		s.onDescription(sig)
	case SignalCandidate:
		s.onRemoteCandidate(sig.Candidate)
	case SignalOfferRequest:
		s.onOfferRequest(sig)
	case SignalBye:
		reason := "peer hung up"
		if sig.Reason != "" {
			reason = "peer: " + sig.Reason
		}
		s.transition(EventBye, reason, ErrRemoteHangup)
	case SignalPeerLeft:
		s.transition(EventPeerLeft, "peer left", ErrPeerLeft)
	default:
		s.log.Debug("unknown signal ignored", "kind", sig.Kind.String())
	}
}

func (s *Session) onDescription(sig Signal) {
	typ := webrtc.SDPTypeOffer
	if sig.Kind == SignalAnswer {
		typ = webrtc.SDPTypeAnswer
	}
	if typ == webrtc.SDPTypeOffer && sig.SDP == s.lastRemoteOffer {
		// A resent offer we already answered: our answer may have been
		// lost (signaling restart), and the peer cannot offer anew until it
		// has one. Answer again with the same answer.
		if s.pc.SignalingState() == webrtc.SignalingStateStable && s.lastAnswer != "" {
			s.log.Debug("duplicate offer: answer resent")
			s.send(Signal{Kind: SignalAnswer, SDP: s.lastAnswer})
		}

		return
	}
	desc := webrtc.SessionDescription{Type: typ, SDP: sig.SDP}
	collision := typ == webrtc.SDPTypeOffer && s.pc.SignalingState() != webrtc.SignalingStateStable
	s.ignoreOffer = collision
	if collision {
		// Impolite: keep ours, the peer rolls back. Polite: cannot happen
		// (we never offer); ignoring is the safe answer.
		s.log.Info("offer glare: remote offer ignored")

		return
	}
	if typ == webrtc.SDPTypeAnswer && s.pc.SignalingState() != webrtc.SignalingStateHaveLocalOffer {
		s.log.Debug("stale answer ignored")

		return
	}
	if err := s.pc.SetRemoteDescription(desc); err != nil {
		s.log.Warn("set remote description failed", "type", typ.String(), "err", err)
		if !s.remoteSet {
			s.transition(EventError, "peer sent an unusable description", fmt.Errorf("%w: %w", ErrBadSignal, err))
		}

		return
	}
	first := !s.remoteSet
	s.remoteSet = true
	if typ == webrtc.SDPTypeOffer {
		s.lastRemoteOffer = sig.SDP
	}
	for _, c := range s.pendingCands {
		if err := s.pc.AddICECandidate(c); err != nil {
			s.log.Debug("queued candidate rejected", "err", err)
		}
	}
	s.pendingCands = nil
	if typ == webrtc.SDPTypeOffer {
		answer, err := s.pc.CreateAnswer(nil)
		if err != nil {
			s.log.Warn("create answer failed", "err", err)

			return
		}
		if err := s.pc.SetLocalDescription(answer); err != nil {
			s.log.Warn("set local answer failed", "err", err)

			return
		}
		s.sendDescription(SignalAnswer, answer.SDP)
	}
	if first {
		s.transition(EventRemoteDescription, "connecting", nil)
	}
	if s.state == StateConnected {
		s.updateSAS()
	}
	if s.offerPending {
		s.negotiate(false)
	}
}

func (s *Session) onRemoteCandidate(c *webrtc.ICECandidateInit) {
	if c == nil {
		return
	}
	if !s.remoteSet || s.pc.RemoteDescription() == nil {
		// Late-arriving description: keep candidates until it is set.
		s.pendingCands = append(s.pendingCands, *c)

		return
	}
	if err := s.pc.AddICECandidate(*c); err != nil && !s.ignoreOffer {
		s.log.Debug("remote candidate rejected", "err", err)
	}
}

// ---- connectivity ----

func (s *Session) onConnectionState(st webrtc.PeerConnectionState) {
	s.log.Debug("peer connection state", "state", st.String())
	switch st {
	case webrtc.PeerConnectionStateConnected:
		s.transition(EventConnected, "connected", nil)
	case webrtc.PeerConnectionStateDisconnected, webrtc.PeerConnectionStateFailed:
		if s.state == StateConnected || s.state == StateConnecting {
			s.transition(EventDisconnected, "connection lost, reconnecting", nil)
		}
		// The impolite side drives ICE restarts; "failed" will not heal
		// on its own, "disconnected" might, so it waits a little first.
		if !s.polite && s.state == StateReconnecting {
			delay := restartBackoff0
			if st == webrtc.PeerConnectionStateFailed {
				delay = 0
			}
			s.scheduleRestart(delay)
		}
	default:
	}
}

func (s *Session) scheduleRestart(d time.Duration) {
	s.restartTimer.Stop()
	s.restartTimer.Reset(d)
}

func (s *Session) restartICE() {
	s.restartAttempt++
	s.log.Info("ice restart", "attempt", s.restartAttempt)
	s.negotiate(true)
	// Try again with exponential backoff while still reconnecting.
	backoff := min(restartBackoff0<<min(s.restartAttempt, 6), restartBackoffN)
	s.scheduleRestart(backoff)
}

func (s *Session) localAddrs() string {
	var addrs []string
	if n := s.cfg.ICE.Net; n != nil {
		ifs, err := n.Interfaces()
		if err != nil {
			return s.ifaces
		}
		for _, ifc := range ifs {
			as, err := ifc.Addrs()
			if err != nil {
				continue
			}
			for _, a := range as {
				addrs = append(addrs, a.String())
			}
		}
	} else {
		as, err := net.InterfaceAddrs()
		if err != nil {
			return s.ifaces
		}
		for _, a := range as {
			addrs = append(addrs, a.String())
		}
	}
	slices.Sort(addrs)

	return strings.Join(addrs, ",")
}

// checkInterfaces restarts ICE when local addresses changed (Wi-Fi to
// cable, VPN up): the old candidate pair may be dead without ICE noticing
// for seconds.
func (s *Session) checkInterfaces() {
	now := s.localAddrs()
	if now == s.ifaces {
		return
	}
	s.ifaces = now
	if s.state == StateConnected || s.state == StateReconnecting {
		s.log.Info("local interfaces changed, restarting ice")
		s.negotiate(true)
	}
}

func (s *Session) updateSAS() {
	ld, rd := s.pc.CurrentLocalDescription(), s.pc.CurrentRemoteDescription()
	if ld == nil || rd == nil {
		return
	}
	lfp, err1 := ParseFingerprint(ld.SDP)
	rfp, err2 := ParseFingerprint(rd.SDP)
	if err := errors.Join(err1, err2); err != nil {
		s.log.Warn("no fingerprint for sas", "err", err)

		return
	}
	s.mu.Lock()
	same := s.sas != nil && s.sas.LocalFingerprint == lfp && s.sas.RemoteFingerprint == rfp
	s.mu.Unlock()
	if same {
		return
	}
	d, w := SAS(lfp, rfp)
	code := &SASCode{Digits: d, Words: w, LocalFingerprint: lfp, RemoteFingerprint: rfp}
	s.mu.Lock()
	s.sas = code
	s.mu.Unlock()
	c := *code
	s.publish(Update{Kind: UpdateSAS, SAS: &c})
}

// opQueue is an unbounded FIFO of work for the owner goroutine, so pion
// callbacks never block on it (they may hold pion locks).
type opQueue struct {
	mu   sync.Mutex
	ops  []func()
	wake chan struct{}
}

func (q *opQueue) push(f func()) {
	q.mu.Lock()
	q.ops = append(q.ops, f)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *opQueue) drain() []func() {
	q.mu.Lock()
	defer q.mu.Unlock()
	ops := q.ops
	q.ops = nil

	return ops
}
