package call

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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
	// block reading it until it ends. If nil, remote media is drained. It
	// must return once the track ends (reads fail): Close waits for every
	// OnTrack call to return, so the handler's own clean-up is done too.
	// It may call the session's methods (they fail with ErrClosed once the
	// session is ending) but must not wait for Done or Close.
	OnTrack func(*webrtc.TrackRemote, *webrtc.RTPReceiver)

	// OnTargetBitrate receives the media's target in bits per second: the
	// GCC estimate clamped to [MinBitrate, MaxBitrate] less the rate of
	// retransmissions (sendtarget.go), never under MinBitrate. Called on
	// an interceptor goroutine; must not block.
	OnTargetBitrate func(bps int)
	// OnLinkNarrowed is called, after OnTargetBitrate has had the new
	// target, when the controller finds the link much narrower than what
	// is sent: a quarter or more of a feedback lost behind a queue that
	// has just filled, and the target cut to under half (lossbwe.go), as
	// when a link falls from 3 Mbit/s to 500 kbit/s mid-call. Most of
	// what was sent since is lost, so the peer's picture is broken until
	// a keyframe. Called on an interceptor goroutine; must not block.
	OnLinkNarrowed func()
	// OnCarriedBitrate receives, in bits per second, what the link has
	// shown it carries: while it was found full lately (a backoff within
	// the last 10 s, lossbwe.go), the larger of the rate it delivered then
	// and the rate it delivers now; 0 when it has not been full lately
	// and nothing but the target bounds the rate. A camera's picture
	// steps up to a larger size only within it (app/media_ladder.go):
	// the step brings a keyframe larger than the frames around it, which
	// a link at the edge of its capacity drops from its queue. Called on
	// an interceptor goroutine when it changes by carriedStep or more, or
	// to or from 0; must not block.
	OnCarriedBitrate func(bps int)
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
	UpdateFile                              // File: a file control message
	UpdateFileChannel                       // FileChannel: the peer opened one
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
	case UpdateFile:
		return "file"
	case UpdateFileChannel:
		return "file-channel"
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
	// File is a file control message from the peer; FileChannel a
	// "file:ID" channel it opened, which the receiver must Close unless it
	// accepted ID.
	File        *FileControl
	FileChannel *FileChannel
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
	// ownerDone is closed when the owner loop stops taking work, so calls
	// made during teardown (from a track handler Close waits for) fail
	// instead of waiting for it.
	ownerDone chan struct{}

	// wg counts the goroutines the session owns: RTCP readers and OnTrack
	// calls. pion starts OnTrack goroutines itself, possibly after the
	// owner has begun waiting, so they join under goMu and only while
	// goOpen.
	goMu   sync.Mutex
	goOpen bool
	wg     sync.WaitGroup

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
	// Canonical from here on: the policy is compared by value everywhere.
	policy, err := ParsePolicy(string(cfg.Policy))
	if err != nil {
		return nil, err
	}
	cfg.Policy = policy
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
		cfg:       cfg,
		log:       log,
		polite:    cfg.LocalID > cfg.RemoteID,
		done:      make(chan struct{}),
		ownerDone: make(chan struct{}),
		goOpen:    true,
		updates:   make(chan Update, updateBuffer),
		senders:   map[string]*webrtc.RTPSender{},
		q:         opQueue{wake: make(chan struct{}, 1)},

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
		close(s.ownerDone)
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
	case <-s.ownerDone:
		select {
		case err := <-res: // ran just before the owner stopped
			return err
		default:
			return ErrClosed
		}
	}
}

// Stats returns the latest snapshot (zero before the first interval).
func (s *Session) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()

	return s.stats
}

// TargetBitrate is the latest clamped GCC estimate in bits per second:
// what the pacer paces by (the media get it less repairs, sendtarget.go).
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

// teardown closes the peer connection, which ends every track read and
// RTCP read, and waits for the goroutines those ended.
func (s *Session) teardown() {
	close(s.ownerDone)
	s.connectTimer.Stop()
	s.reconnTimer.Stop()
	s.restartTimer.Stop()
	if s.pc != nil {
		if err := s.pc.GracefulClose(); err != nil {
			s.log.Debug("close peer connection", "err", err)
		}
	}
	s.goMu.Lock()
	s.goOpen = false
	s.goMu.Unlock()
	s.wg.Wait()
}

// join adds one goroutine to those Close waits for; false once teardown
// has begun waiting, when the goroutine must not start.
func (s *Session) join() bool {
	s.goMu.Lock()
	defer s.goMu.Unlock()
	if !s.goOpen {
		return false
	}
	s.wg.Add(1)

	return true
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
		switch {
		case dc.Label() == chatLabel:
			s.bindChat(dc)
		case strings.HasPrefix(dc.Label(), FileLabelPrefix):
			s.onFileChannel(dc)
		default:
			_ = dc.Close() // nothing else is spoken here
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
