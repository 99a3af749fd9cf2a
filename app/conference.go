package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/peercall/peercall/call"
	"github.com/peercall/peercall/codec"
	"github.com/peercall/peercall/signalserver"
)

// MaxGroupSize is the most people in one call, this side included: a
// mesh of up to three sessions, each sending the one encoded stream.
const MaxGroupSize = 4

// conference is the one call pipeline every front end runs (the desktop
// engine, headless mode and so the bench): it owns the room link, one
// call.Session per remote peer keyed by peer id with signals routed by
// sender, the local media (encoded once, sent to every peer) and one
// receiver per received track. Front ends read its events (CallEvent,
// Peer set for one person's) and its per-peer figures.
type conference struct {
	o    conferenceOptions
	log  *slog.Logger
	link *roomLink

	events chan CallEvent
	ups    chan peerUpdate
	done   chan struct{}

	mu    sync.Mutex
	peers map[string]*confPeer // by alias (peerLink.alias)
	order []*confPeer          // every peer this call had, in join order
	phase Phase                // of the call as a whole
	// ever is true once a session connected: losing every peer then
	// ends the call instead of waiting.
	ever bool

	wg sync.WaitGroup // update forwarders

	files *fileHub // every file transfer of the call
	// benched are people who joined a full call (id → name): admitted
	// when someone of the same name drops (a rejoin after a crash, which
	// the server reports as a new peer before the old one's seat ends).
	benched map[string]string

	ctx atomic.Pointer[context.Context] // run's, for work started outside it

	grace time.Duration // startGrace (shorter in tests)
}

// conferenceOptions are what a front end decides; the conference does the rest.
type conferenceOptions struct {
	Client *signalserver.Client
	Media  *localMedia
	Net    peerNet
	// Group is how many people the call holds, this side included
	// (2..MaxGroupSize; 0 means MaxGroupSize). Peers beyond it are
	// ignored.
	Group int
	// Announce says what this side sends (mic on, camera on), told to
	// every peer when its data channel opens.
	Announce func() (audio, video bool)
	// OnFrame receives every decoded remote frame; must not block.
	OnFrame func(peer string, df DecodedFrame)
	// Speaker, when set, plays every peer's audio mixed (the desktop);
	// nil plays each track out on a 20 ms ticker (headless).
	Speaker *audioMixer
	// BeforeMedia, when set, runs once just before the encoders start
	// (at the first peer): the desktop ends its camera preview there.
	BeforeMedia func()
	// Record is the --record sink of the first peer's media.
	Record *recording
	// Files is the receive policy for file offers; SendFiles are offered
	// to each peer once it connects (headless --send-file).
	Files     FilePolicy
	SendFiles []string
	Logger    *slog.Logger
}

// peerNet is how every session reaches its peer.
type peerNet struct {
	Servers       []webrtc.ICEServer
	Policy        call.Policy
	ICE           call.ICEOptions
	InterfacePoll time.Duration
	MaxBitrate    int
	StartBitrate  int
	ReceiveLoss   float64
}

// peerUpdate is a session update tagged with its peer.
type peerUpdate struct {
	p  *confPeer
	up call.Update
	ok bool // false: the session's updates closed
}

// confPeer is one remote person: session, receivers, figures.
type confPeer struct {
	id   string // alias: stable for the whole call
	name string
	link *peerLink
	sess *call.Session
	idx  int // join order, 0-based
	// away: listed by the server as dropped (slot held for a resume) when
	// this side joined, and not seen back since; guarded by conference.mu.
	away bool

	target atomic.Int64 // GCC estimate for this peer
	// carried is what this peer's link has shown it carries (0: not
	// full lately; call.Config.OnCarriedBitrate).
	carried atomic.Int64
	// settled: this peer's target is a measure of its path, not its
	// controller still climbing from the start estimate (see
	// conference.lowestTarget). Once set it stays.
	settled atomic.Bool
	// graceEnd settles the peer startGrace after its path came up;
	// guarded by mu.
	graceEnd *time.Timer
	loss     atomic.Int64 // audio loss it reports, percent

	mu          sync.Mutex
	videos      []*videoReceiver // camera tracks
	shares      []*videoReceiver // screen share tracks
	audios      []*audioReceiver
	gotTrack    map[webrtc.RTPCodecType]bool
	joinedAt    time.Time
	connectedAt time.Time
	endedAt     time.Time
	ended       string // end* constant
	restarts    int
	gone        bool
	lastFrames  int64
	lastT       time.Time
}

func newConference(o conferenceOptions) *conference {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Group <= 0 || o.Group > MaxGroupSize {
		o.Group = MaxGroupSize
	}
	if o.Media == nil {
		o.Media = &localMedia{}
	}
	c := &conference{
		o:      o,
		log:    o.Logger,
		link:   newRoomLink(o.Client, o.Logger),
		events: make(chan CallEvent, 128),
		ups:    make(chan peerUpdate, 64),
		done:   make(chan struct{}),
		peers:  map[string]*confPeer{},

		benched: map[string]string{},
		grace:   startGrace,
	}
	c.files = newFileHub(o.Logger, o.Files, o.SendFiles, func(f FileView) {
		c.emit(c.runCtx(), CallEvent{Peer: f.PeerID, File: &f})
	})
	return c
}

// Events reports the call's and each peer's changes; closed when run returns.
func (c *conference) Events() <-chan CallEvent { return c.events }

// runCtx is run's context (a cancelled one before run starts).
func (c *conference) runCtx() context.Context {
	if p := c.ctx.Load(); p != nil {
		return *p
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// emit delivers an event unless the call is being torn down.
func (c *conference) emit(ctx context.Context, ev CallEvent) {
	select {
	case c.events <- ev:
	case <-ctx.Done():
	}
}

// setPhase moves the whole call to p and says so once.
func (c *conference) setPhase(ctx context.Context, p Phase, ev CallEvent) {
	c.mu.Lock()
	same := c.phase == p
	c.phase = p
	c.mu.Unlock()
	if !same {
		ev.Phase = p
		c.emit(ctx, ev)
	}
}

// run follows the room and the sessions until ctx ends, the last peer
// leaves or the call fails. It closes every session and waits for their
// goroutines; the client is the caller's to close.
func (c *conference) run(ctx context.Context) error {
	c.ctx.Store(&ctx)
	defer close(c.done)
	defer close(c.events)
	defer c.closeAll()
	c.setPhase(ctx, PhaseWaiting, CallEvent{AudioOnly: c.o.Media.video() == nil})
	room := c.link.Events()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-room:
			if !ok {
				// A closed channel is always ready: selecting on it again
				// would spin a core for the rest of the call. nil never is.
				room = nil
				if !c.connectedOnce() {
					err := &UserError{Msg: "Lost the connection to the server.", Err: ErrConnect}
					c.emit(ctx, CallEvent{Phase: PhaseFailed, Err: err})
					return err
				}
				continue
			}
			if err := c.onRoom(ctx, ev); err != nil {
				c.emit(ctx, CallEvent{Phase: PhaseFailed, Err: err})
				return err
			}
		case pu := <-c.ups:
			if done, err := c.onUpdate(ctx, pu); done {
				return err
			}
		}
	}
}

func (c *conference) connectedOnce() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ever
}

func (c *conference) onRoom(ctx context.Context, ev RoomEvent) error {
	switch ev.Kind {
	case RoomJoined:
		// The people who are there take the call's places first; a member
		// the server lists away (dropped, its slot held for a resume) only
		// gets one that is left over.
		for _, away := range []bool{false, true} {
			for _, p := range ev.Peers {
				if p.Away != away {
					continue
				}
				if err := c.addPeer(ctx, p.ID, p.Name, p.Away); err != nil {
					return err
				}
			}
		}
	case RoomPeerJoined:
		return c.addPeer(ctx, ev.PeerID, ev.Name, false)
	case RoomShutdown:
		if !c.connectedOnce() {
			return &UserError{Msg: "The server is shutting down.", Err: ErrConnect}
		}
	case RoomError:
		if !c.connectedOnce() {
			return ev.Err
		}
		c.log.Warn("signaling error during the call", "code", ev.Reason)
	case RoomClosed:
		if !c.connectedOnce() {
			return &UserError{Msg: "Lost the connection to the server.", Err: ErrConnect}
		}
		// The media path does not need the server, but an ICE restart
		// does: say so instead of failing later unexplained.
		c.log.Warn("signaling closed for good during the call", "err", ev.Err)
		c.emit(ctx, CallEvent{Notice: SignalingLostNotice})
	}
	return nil
}

// addPeer starts a session with a peer that joined (or was there; away
// when the server listed it as dropped, its slot held for a resume).
func (c *conference) addPeer(ctx context.Context, id, name string, away bool) error {
	c.mu.Lock()
	if p, ok := c.peers[id]; ok {
		p.away = p.away && away // it came back
		c.mu.Unlock()
		return nil
	}
	if len(c.peers)+1 >= c.o.Group {
		var stale *confPeer
		for _, p := range c.peers {
			if !away && p.name == name && p.sess.State() != call.StateConnected {
				stale = p
			}
		}
		if stale == nil && !away {
			// Someone who is here takes the place of a member that was
			// away when this side joined and never answered: the ghost of
			// a client that ended without saying bye would otherwise hold
			// the call's only other place until the server's grace ends.
			for _, p := range c.order {
				if c.peers[p.id] == p && p.away && p.sess.State() != call.StateConnected {
					stale = p
					break
				}
			}
		}
		if stale == nil {
			c.benched[id] = name
			c.mu.Unlock()
			c.log.Info("ignoring a peer beyond the call's size", "peer", id, "size", c.o.Group)
			return nil
		}
		c.mu.Unlock()
		if stale.name == name {
			c.log.Info("a peer rejoined under a new id", "old", stale.id, "peer", id)
			c.dropPeer(ctx, stale, endPeerLeft, "The other person rejoined", nil)
		} else {
			c.log.Info("a newcomer takes the place of a peer that is away", "away", stale.id, "peer", id)
			c.dropPeer(ctx, stale, endPeerLeft, "The other person did not come back", nil)
		}
		c.mu.Lock()
	}
	delete(c.benched, id)
	p := &confPeer{id: id, name: name, link: c.link.Peer(id, name), idx: len(c.order), joinedAt: time.Now(),
		gotTrack: map[webrtc.RTPCodecType]bool{}, away: away}
	c.mu.Unlock()

	sess, err := call.New(c.sessionConfig(p))
	if errors.Is(err, call.ErrNoICEServer) || errors.Is(err, call.ErrNoRelayServer) {
		return fmt.Errorf("%w: ICE policy %q has no server to gather through (neither the signaling server nor --stun/--turn gave one): add --stun or --turn, or use --ice-policy mdns or all: %w",
			ErrConnect, c.o.Net.Policy, err)
	}
	if err != nil {
		p.link.drop()
		return fmt.Errorf("call setup: %w", err)
	}
	p.sess = sess
	c.startMedia(ctx)
	c.mu.Lock()
	c.peers[id] = p
	c.order = append(c.order, p)
	c.mu.Unlock()
	c.announceTo(p)
	c.emit(ctx, CallEvent{Peer: id, PeerName: name, Phase: PhaseConnecting})
	c.setPhase(ctx, c.wholePhase(), CallEvent{PeerName: name})
	if err := sess.Start(); err != nil {
		return fmt.Errorf("call start: %w", err)
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for up := range sess.Updates() {
			select {
			case c.ups <- peerUpdate{p: p, up: up, ok: true}:
			case <-c.done:
			}
		}
		select {
		case c.ups <- peerUpdate{p: p}:
		case <-c.done:
		}
	}()
	return nil
}

// startMedia runs the encoders from the first peer on (once): they send
// a fresh keyframe when each path comes up.
func (c *conference) startMedia(ctx context.Context) {
	if c.o.Media.running() {
		return
	}
	if c.o.BeforeMedia != nil {
		c.o.BeforeMedia()
	}
	c.o.Media.start(ctx, c.log)
}

// announceTo tells p what this side sends (sent when its channel opens).
func (c *conference) announceTo(p *confPeer) {
	if c.o.Announce == nil || p.sess == nil {
		return
	}
	a, v := c.o.Announce()
	if err := p.sess.SetLocalMedia(a, v); err != nil && !errors.Is(err, call.ErrClosed) {
		c.log.Warn("media state not sent", "err", err)
	}
}

// Announce tells every peer what this side sends now.
func (c *conference) Announce() {
	for _, p := range c.live() {
		c.announceTo(p)
	}
}

// live lists the peers in the call now, in join order.
func (c *conference) live() []*confPeer {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*confPeer, 0, len(c.peers))
	for _, p := range c.order {
		if c.peers[p.id] == p {
			out = append(out, p)
		}
	}
	return out
}

// Peers lists every peer this call had, in join order (for reports).
func (c *conference) Peers() []*confPeer {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.order)
}

// wholePhase is the call's phase from its peers': connected while anyone
// is, reconnecting when everyone who was is trying again.
func (c *conference) wholePhase() Phase {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.peers) == 0 {
		return PhaseWaiting
	}
	reconnecting := false
	for _, p := range c.peers {
		switch p.sess.State() {
		case call.StateConnected:
			return PhaseConnected
		case call.StateReconnecting:
			reconnecting = true
		}
	}
	if reconnecting {
		return PhaseReconnecting
	}
	return PhaseConnecting
}

// onUpdate folds one session update; done when the call is over.
func (c *conference) onUpdate(ctx context.Context, pu peerUpdate) (done bool, err error) {
	p := pu.p
	if !pu.ok {
		return c.peerGone(ctx, p, endPeerHungUp, "The call ended", nil)
	}
	up := pu.up
	switch up.Kind {
	case call.UpdateState:
		switch up.State {
		case call.StateWaiting, call.StateConnecting:
			c.emit(ctx, CallEvent{Peer: p.id, Phase: PhaseConnecting})
		case call.StateConnected:
			now := time.Now()
			p.mu.Lock()
			if p.connectedAt.IsZero() {
				p.connectedAt = now
				if !p.gone {
					p.graceEnd = time.AfterFunc(c.grace, func() { c.settle(p) })
				}
			}
			p.mu.Unlock()
			c.mu.Lock()
			c.ever = true
			c.mu.Unlock()
			// Frames sent before this path was up are lost: start the
			// picture with a keyframe (the one encoder serves everyone).
			c.o.Media.forceKeyFrame()
			c.o.Media.startFiles()
			c.emit(ctx, CallEvent{Peer: p.id, Phase: PhaseConnected})
			c.files.PeerUp(&filePeer{id: p.id, name: p.name, link: p.sess})
		case call.StateReconnecting:
			p.mu.Lock()
			p.restarts++
			p.mu.Unlock()
			c.emit(ctx, CallEvent{Peer: p.id, Phase: PhaseReconnecting})
			if id := c.benchedNamed(p.name); id != "" {
				// The same person joined again meanwhile: this path is dead.
				c.dropPeer(ctx, p, endPeerLeft, "The other person rejoined", nil)
				return false, c.addPeer(ctx, id, p.name, false)
			}
		case call.StateEnded:
			why, text := endPeerHungUp, endReason(up.Event)
			if up.Event == call.EventPeerLeft {
				why = endPeerLeft
			}
			return c.peerGone(ctx, p, why, text, nil)
		case call.StateFailed:
			return c.peerGone(ctx, p, "failed", up.Reason, up.Err)
		}
		c.setPhase(ctx, c.wholePhase(), CallEvent{})
	case call.UpdateStats:
		if up.Stats != nil {
			st := c.mediaStats(p, *up.Stats)
			c.emit(ctx, CallEvent{Peer: p.id, Stats: &st})
		}
	case call.UpdateSAS:
		c.emit(ctx, CallEvent{Peer: p.id, SAS: up.SAS})
	case call.UpdateChat:
		c.emit(ctx, CallEvent{Peer: p.id, PeerName: p.name, Chat: up.Chat})
	case call.UpdateFile:
		if up.File != nil {
			c.files.OnControl(p.id, *up.File)
		}
	case call.UpdateFileChannel:
		if up.FileChannel != nil {
			c.files.OnChannel(p.id, up.FileChannel)
		}
	case call.UpdateRemoteMedia:
		if up.RemoteMedia != nil {
			m := *up.RemoteMedia
			c.log.Info("peer media state", "peer", p.id, "mic", m.Audio, "camera", m.Video)
			c.emit(ctx, CallEvent{Peer: p.id, RemoteMedia: &m})
		}
	}
	return false, nil
}

// peerGone removes a peer whose session ended. The call ends with the last
// one: as the 1:1 call always did when the other person left or failed.
func (c *conference) peerGone(ctx context.Context, p *confPeer, why, reason string, err error) (bool, error) {
	left, everConnected, ok := c.dropPeer(ctx, p, why, reason, err)
	if !ok {
		return false, nil
	}
	if left > 0 {
		c.setPhase(ctx, c.wholePhase(), CallEvent{})
		return false, nil
	}
	if why != endPeerHungUp && c.files.waitingForPeer() {
		// Dropped, not hung up, in the middle of a file: wait for the
		// person to come back (docs/protocol.md, "Resume").
		c.log.Info("waiting for the peer to come back for a file transfer")
		c.setPhase(ctx, PhaseWaiting, CallEvent{})
		return false, nil
	}
	if why == "failed" {
		if !c.connectedOnce() && !everConnected {
			err = fmt.Errorf("%w: %s", ErrConnect, reason)
		}
		c.emit(ctx, CallEvent{Phase: PhaseFailed, Err: err, Reason: reason})
		return true, err
	}
	if !c.connectedOnce() {
		err := fmt.Errorf("%w: the call ended before it connected", ErrConnect)
		c.emit(ctx, CallEvent{Phase: PhaseEnded, Reason: reason, Err: err})
		return true, err
	}
	c.emit(ctx, CallEvent{Phase: PhaseEnded, Reason: reason})
	return true, nil
}

// benchedNamed is the id of a benched person called name ("" if none).
func (c *conference) benchedNamed(name string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, n := range c.benched {
		if n == name {
			return id
		}
	}
	return ""
}

// dropPeer removes p (once: ok false after) and says so; left is how many
// remain.
func (c *conference) dropPeer(ctx context.Context, p *confPeer, why, reason string, err error) (left int, everConnected, ok bool) {
	now := time.Now()
	p.mu.Lock()
	if p.gone {
		p.mu.Unlock()
		return 0, false, false
	}
	p.gone = true
	p.endedAt = now
	if p.ended == "" {
		p.ended = why
	}
	if p.graceEnd != nil {
		p.graceEnd.Stop()
	}
	everConnected = !p.connectedAt.IsZero()
	p.mu.Unlock()
	c.mu.Lock()
	delete(c.peers, p.id)
	left = len(c.peers)
	c.mu.Unlock()
	_ = p.sess.Close()
	p.link.drop()
	c.files.PeerDown(p.id)
	c.o.Media.setCarried(c.lowestCarried()) // the weakest link may have gone
	c.o.Media.setBitRate(c.lowestTarget())
	c.emit(ctx, CallEvent{Peer: p.id, Gone: true, Reason: reason, Err: err})
	return left, everConnected, true
}

// closeAll ends every session (bye to each) and waits for the forwarders.
func (c *conference) closeAll() {
	defer c.files.Close()
	for _, p := range c.live() {
		_ = p.sess.Close()
		p.link.drop()
		p.mu.Lock()
		if p.graceEnd != nil {
			p.graceEnd.Stop()
		}
		if p.endedAt.IsZero() {
			p.endedAt = time.Now()
		}
		p.mu.Unlock()
	}
	c.wg.Wait()
}

// sessionConfig is one peer's session: the shared tracks, this side's
// network choices, and hooks that route the peer's feedback to the one
// encoder (bitrate: the lowest estimate of all peers; keyframes: any
// peer's request; FEC: the highest loss any peer reports).
func (c *conference) sessionConfig(p *confPeer) call.Config {
	n := c.o.Net
	ice := n.ICE
	ice.LoggerFactory = call.NewSlogLoggerFactory(c.log)
	cfg := call.Config{
		LocalID: c.o.Client.PeerID(), RemoteID: p.id, Signaler: p.link,
		ICEServers: n.Servers, Policy: n.Policy, ICE: ice, Tracks: c.o.Media.sessionTracks(),
		OnTrack:       func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) { c.onTrack(p, tr) },
		MaxBitrate:    n.MaxBitrate,
		StartBitrate:  n.StartBitrate,
		ReceiveLoss:   n.ReceiveLoss,
		InterfacePoll: n.InterfacePoll,
		Logger:        c.log.With("peer", p.id),
	}
	m := c.o.Media
	cfg.OnTargetBitrate = func(bps int) { m.setBitRate(c.onTarget(p, bps)) }
	cfg.OnLinkNarrowed = m.linkNarrowed
	cfg.OnCarriedBitrate = func(bps int) {
		p.carried.Store(int64(bps))
		if bps > 0 {
			c.settle(p) // the link was found full: its target is a measure
		}
		m.setCarried(c.lowestCarried())
	}
	cfg.OnKeyFrameRequest = m.forceKeyFrame
	cfg.OnAudioLoss = func(pct int) {
		p.loss.Store(int64(pct))
		m.setPacketLoss(c.highestLoss())
	}
	return cfg
}

// startGrace is how long after its path came up a newcomer's target may
// be left out of the shared encoder's (lowestTarget).
const startGrace = 5 * time.Second

// onTarget takes peer p's new target and returns the shared encoder's.
// A peer still climbing from the start estimate settles once it reaches
// the others' lowest: from there on it holds the encoder down like
// anyone else.
func (c *conference) onTarget(p *confPeer, bps int) int {
	p.target.Store(int64(bps))
	if !p.settled.Load() {
		if low := c.lowestSettled(); low > 0 && bps >= low {
			p.settled.Store(true)
		}
	}
	return c.lowestTarget()
}

// settle counts p's target in the shared encoder's from now on (its link
// was found full, or startGrace has passed) and hands the encoder the
// new lowest.
func (c *conference) settle(p *confPeer) {
	if p.settled.Swap(true) {
		return
	}
	c.o.Media.setBitRate(c.lowestTarget())
}

// lowestTarget is the shared encoder's bitrate: the lowest of the peers'
// targets, leaving out a newcomer's while its controller climbs from the
// start estimate (call.DefaultStartBitrate, 250 kbit/s) and others have
// measured theirs. Counted at once, every join would pull everyone's
// picture down to the start's size for the ladder's hold, several
// seconds, however good every link is; left out, the newcomer is sent
// the call's rate until its own controller has found that its path
// carries it, finds it full (OnCarriedBitrate), or startGrace is over.
// When nobody has measured yet (a call's start, a 1:1 call), it is the
// lowest of all.
func (c *conference) lowestTarget() int {
	if low := c.lowestSettled(); low > 0 {
		return low
	}
	return c.lowest(func(p *confPeer) int64 { return p.target.Load() })
}

// lowestSettled is the lowest target among the settled peers (0: none).
func (c *conference) lowestSettled() int {
	return c.lowest(func(p *confPeer) int64 {
		if !p.settled.Load() {
			return 0
		}
		return p.target.Load()
	})
}

// lowestCarried is the least of what the peers' links have shown they
// carry, among those found full lately (0: none).
func (c *conference) lowestCarried() int {
	return c.lowest(func(p *confPeer) int64 { return p.carried.Load() })
}

// lowest is the least positive of the live peers' figures of (0: none).
func (c *conference) lowest(of func(*confPeer) int64) int {
	low := 0
	for _, p := range c.live() {
		if v := int(of(p)); v > 0 && (low == 0 || v < low) {
			low = v
		}
	}
	return low
}

func (c *conference) highestLoss() int {
	high := 0
	for _, p := range c.live() {
		high = max(high, int(p.loss.Load()))
	}
	return high
}

// onTrack gives each received track its own receiver (one decoder per
// video track); it returns when the track ends (the session waits).
func (c *conference) onTrack(p *confPeer, tr *webrtc.TrackRemote) {
	p.mu.Lock()
	p.gotTrack[tr.Kind()] = true
	first := p.idx == 0
	p.mu.Unlock()
	var rec *recording
	if first {
		rec = c.o.Record
	}
	switch tr.Kind() {
	case webrtc.RTPCodecTypeVideo:
		ssrc := uint32(tr.SSRC())
		share := isShareTrack(tr)
		var onFrame func(DecodedFrame)
		if c.o.OnFrame != nil {
			onFrame = func(df DecodedFrame) { df.Share = share; c.o.OnFrame(p.id, df) }
		}
		if share {
			rec = nil // --record keeps the camera
		}
		v := newVideoReceiver(func() { _ = p.sess.RequestKeyFrame(ssrc) }, onFrame, rec, c.log)
		v.rtt = p.sess.RepairRTT
		p.mu.Lock()
		if share {
			p.shares = append(p.shares, v)
		} else {
			p.videos = append(p.videos, v)
		}
		p.mu.Unlock()
		if share {
			c.emit(c.runCtx(), CallEvent{Peer: p.id, Share: &ShareState{On: true}})
			defer c.emit(c.runCtx(), CallEvent{Peer: p.id, Share: &ShareState{}})
		}
		v.run(p.sess.NewTrackReader(tr))
	case webrtc.RTPCodecTypeAudio:
		a := newAudioReceiver(rec, c.log)
		if c.o.Speaker != nil {
			a.player = func(jb *codec.AudioJitterBuffer) func() { return c.o.Speaker.add(p.id, jb) }
		}
		p.mu.Lock()
		p.audios = append(p.audios, a)
		p.mu.Unlock()
		a.run(p.sess.NewTrackReader(tr))
	}
}

// mediaStats completes a session's stats with what this side decoded
// from p since the last ones.
func (c *conference) mediaStats(p *confPeer, st call.Stats) CallStats {
	out := CallStats{Stats: st}
	v := p.video()
	if v == nil {
		return out
	}
	n, w, h, lat := v.live()
	now := time.Now()
	p.mu.Lock()
	if dt := now.Sub(p.lastT).Seconds(); !p.lastT.IsZero() && dt > 0 {
		out.VideoIn.FPS = float64(n-p.lastFrames) / dt
	}
	p.lastFrames, p.lastT = n, now
	p.mu.Unlock()
	out.VideoIn.FrameWidth, out.VideoIn.FrameHeight = w, h
	out.LatencyMS = lat
	return out
}

// isShareTrack tells a screen share from a camera: Peercall's share
// track id, or the stream id the browser page gives its share.
func isShareTrack(tr *webrtc.TrackRemote) bool {
	return tr.ID() == ShareTrackID || tr.StreamID() == ShareStreamID
}

// shareVideo is the peer's latest screen share receiver (nil before any).
func (p *confPeer) shareVideo() *videoReceiver {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.shares) == 0 {
		return nil
	}
	return p.shares[len(p.shares)-1]
}

// StartShare shares src with everyone in the call (and everyone who joins
// while it runs) on a second video track; a keyframe starts it.
func (c *conference) StartShare(src ShareSource) error {
	sh, err := c.o.Media.startShare(c.runCtx(), src, c.log)
	if err != nil {
		return err
	}
	for _, p := range c.live() {
		if err := p.sess.AddTrack(sh.track); err != nil && !errors.Is(err, call.ErrClosed) {
			c.log.Warn("share not sent to a peer", "peer", p.id, "err", err)
		}
	}
	return nil
}

// StopShare ends the share on every session (renegotiated away).
func (c *conference) StopShare() error {
	sh := c.o.Media.sharing()
	if sh == nil {
		return ErrNotSharing
	}
	for _, p := range c.live() {
		if err := p.sess.RemoveTrack(ShareTrackID); err != nil && !errors.Is(err, call.ErrClosed) {
			c.log.Warn("share not removed from a peer", "peer", p.id, "err", err)
		}
	}
	c.o.Media.stopShare()
	return nil
}

// video is the peer's busiest video receiver (nil before any).
func (p *confPeer) video() *videoReceiver {
	p.mu.Lock()
	defer p.mu.Unlock()
	var best *videoReceiver
	var most int64 = -1
	for _, v := range p.videos {
		if n, _, _, _ := v.live(); n > most {
			best, most = v, n
		}
	}
	return best
}

// audio is the peer's busiest audio receiver (nil before any).
func (p *confPeer) audio() *audioReceiver {
	p.mu.Lock()
	defer p.mu.Unlock()
	var best *audioReceiver
	most := -1
	for _, a := range p.audios {
		if n := a.count(); n > most {
			best, most = a, n
		}
	}
	return best
}

// SendChat sends text to everyone in the call; it fails only when nobody
// could get it.
func (c *conference) SendChat(text string) error {
	var sent bool
	var first error
	for _, p := range c.live() {
		if err := p.sess.SendChat(text); err != nil {
			first = cmp.Or(first, err)
			continue
		}
		sent = true
	}
	if sent {
		return nil
	}
	if first == nil {
		return call.ErrChatUnavailable
	}
	return first
}
