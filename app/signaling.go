package app

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"

	"github.com/peercall/peercall/call"
	"github.com/peercall/peercall/signalserver"
)

// RoomEventKind says what happened in the room.
type RoomEventKind int

// Room events the controller and the headless runner react to.
const (
	RoomJoined RoomEventKind = iota + 1 // (re)joined: Peers lists who is here
	RoomPeerJoined
	RoomPeerLeft
	RoomShutdown // the server is going away
	RoomError    // the server sent an error
	RoomClosed   // the signaling client ended for good
)

func (k RoomEventKind) String() string {
	switch k {
	case RoomJoined:
		return "joined"
	case RoomPeerJoined:
		return "peer-joined"
	case RoomPeerLeft:
		return "peer-left"
	case RoomShutdown:
		return "server-shutdown"
	case RoomError:
		return "error"
	case RoomClosed:
		return "closed"
	}
	return fmt.Sprintf("RoomEventKind(%d)", int(k))
}

// RoomEvent is a room-level signaling event.
type RoomEvent struct {
	Kind   RoomEventKind
	PeerID string
	Name   string
	// Peers: RoomJoined, the peers in the room this side had no link
	// with yet (registered with the link already).
	Peers  []signalserver.Peer
	Reason string
	Err    error
}

// roomLink demultiplexes one signaling client: relay messages become call
// signals for the session of the peer that sent them (peerLink, one per
// remote peer), room messages become RoomEvents. One goroutine (pump)
// reads the client.
type roomLink struct {
	client *signalserver.Client
	log    *slog.Logger

	events chan RoomEvent
	done   chan struct{}

	mu sync.Mutex
	// peers are keyed by alias: the id a session knows its peer by. A
	// server restarted without its secret gives everyone new ids; the
	// sessions keep the first ones (their polite roles depend on them),
	// the link translates.
	peers     map[string]*peerLink
	candTypes map[string]bool // types of the candidates we sent
}

// peerLink is one remote peer's side of the room link: the call.Signaler
// of its session.
type peerLink struct {
	l       *roomLink
	alias   string
	name    string
	signals chan call.Signal
	gone    chan struct{} // closed by drop: the pump stops delivering

	current string // the peer's id on the server now; "" while away (l.mu)
}

func newRoomLink(client *signalserver.Client, log *slog.Logger) *roomLink {
	l := &roomLink{
		client: client,
		log:    log,
		events: make(chan RoomEvent, 64),
		done:   make(chan struct{}),
		peers:  map[string]*peerLink{},
	}
	go l.pump()
	return l
}

// Peer registers the peer with server id id and returns its Signaler.
// Registering an id twice returns the same link.
func (l *roomLink) Peer(id, name string) *peerLink {
	l.mu.Lock()
	defer l.mu.Unlock()
	if p, ok := l.peers[id]; ok {
		return p
	}
	p := &peerLink{l: l, alias: id, name: name, current: id,
		signals: make(chan call.Signal, 256), gone: make(chan struct{})}
	l.peers[id] = p
	return p
}

// drop forgets a peer whose session is over; its signals are discarded.
func (p *peerLink) drop() {
	p.l.mu.Lock()
	defer p.l.mu.Unlock()
	if p.l.peers[p.alias] == p {
		delete(p.l.peers, p.alias)
		close(p.gone)
	}
}

// known reports whether server id id belongs to a registered peer.
func (l *roomLink) known(id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.byCurrentLocked(id) != nil
}

func (l *roomLink) byCurrentLocked(id string) *peerLink {
	if id == "" {
		return nil
	}
	for _, p := range l.peers {
		if p.current == id {
			return p
		}
	}
	return nil
}

// rejoined follows the peers across our own rejoin: resumed, nothing
// changed; otherwise (the server forgot us) every peer is away until it
// shows up again under a new id (adopt).
func (l *roomLink) rejoined(m signalserver.Message) {
	if m.Resumed {
		return
	}
	l.mu.Lock()
	for _, p := range l.peers {
		p.current = ""
	}
	l.mu.Unlock()
	for _, p := range m.Peers {
		l.adopt(p.ID, p.Name)
	}
}

// adopt gives a peer that appears under a new id to the away peer it is:
// the only one away, or the only one away with its name. It reports
// whether it found one.
func (l *roomLink) adopt(id, name string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byCurrentLocked(id) != nil {
		return true
	}
	var away, named []*peerLink
	for _, p := range l.peers {
		if p.current == "" {
			away = append(away, p)
			if p.name == name {
				named = append(named, p)
			}
		}
	}
	var p *peerLink
	switch {
	case len(away) == 1:
		p = away[0]
	case len(named) == 1:
		p = named[0]
	default:
		return false
	}
	p.current = id
	l.log.Info("remote peer id changed", "was", p.alias, "now", id)
	return true
}

func (p *peerLink) currentID() string {
	p.l.mu.Lock()
	defer p.l.mu.Unlock()
	return p.current
}

// Signals implements call.Signaler.
func (p *peerLink) Signals() <-chan call.Signal { return p.signals }

// Send implements call.Signaler.
func (p *peerLink) Send(ctx context.Context, s call.Signal) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.To = p.currentID(); s.To == "" {
		return fmt.Errorf("signaling send: remote peer not back after a server restart: %w", signalserver.ErrNotConnected)
	}
	return p.l.send(s)
}

// deliver hands s to the peer's session unless the session is over. A
// session that stopped reading (256 signals behind) loses the signal
// rather than stall every other peer's.
func (p *peerLink) deliver(s call.Signal) {
	select {
	case p.signals <- s:
	case <-p.gone:
	default:
		p.l.log.Warn("dropping signal: the peer's session is not reading", "peer", p.alias, "type", s.Kind.WireType())
	}
}

// Events delivers room events; closed when the client ends.
func (l *roomLink) Events() <-chan RoomEvent { return l.events }

func (l *roomLink) send(s call.Signal) error {
	m, err := signalToMessage(s)
	if err != nil {
		return err
	}
	if s.Kind == call.SignalCandidate && s.Candidate != nil {
		if typ := candidateType(s.Candidate.Candidate); typ != "" {
			l.mu.Lock()
			if l.candTypes == nil {
				l.candTypes = map[string]bool{}
			}
			l.candTypes[typ] = true
			l.mu.Unlock()
		}
	}
	if err := l.client.Send(m); err != nil {
		return fmt.Errorf("signaling send: %w", err)
	}
	return nil
}

// Wait blocks until the pump has ended (after the client closed).
func (l *roomLink) Wait() { <-l.done }

func (l *roomLink) sender(id string) *peerLink {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.byCurrentLocked(id)
}

func (l *roomLink) pump() {
	defer close(l.done)
	defer close(l.events)
	for m := range l.client.Messages() {
		switch m.Type {
		case signalserver.TypeJoined:
			l.rejoined(m)
			// Registered here, before the next message is read: a peer's
			// first signal may follow at once.
			var fresh []signalserver.Peer
			for _, p := range m.Peers {
				if !l.known(p.ID) {
					l.Peer(p.ID, p.Name)
					fresh = append(fresh, p)
				}
			}
			l.events <- RoomEvent{Kind: RoomJoined, PeerID: m.PeerID, Peers: fresh}
		case signalserver.TypePeerJoined:
			name := m.Name
			if len(m.Peers) == 1 && name == "" {
				name = m.Peers[0].Name
			}
			if l.adopt(m.PeerID, name) {
				continue // a peer we are in a call with, back under a new id
			}
			l.Peer(m.PeerID, name)
			l.events <- RoomEvent{Kind: RoomPeerJoined, PeerID: m.PeerID, Name: name}
		case signalserver.TypePeerLeft:
			alias := m.PeerID
			if p := l.sender(m.PeerID); p != nil {
				alias = p.alias
				p.deliver(call.Signal{Kind: call.SignalPeerLeft, From: p.alias, Reason: m.Reason})
			}
			l.events <- RoomEvent{Kind: RoomPeerLeft, PeerID: alias, Reason: m.Reason}
		case signalserver.TypeServerShutdown:
			l.events <- RoomEvent{Kind: RoomShutdown, Reason: m.Reason}
		case signalserver.TypeError:
			l.events <- RoomEvent{Kind: RoomError, Reason: string(m.Code), Err: &UserError{Msg: m.Text, Err: ErrConnect}}
		case signalserver.TypeOffer, signalserver.TypeAnswer, signalserver.TypeCandidate, signalserver.TypeBye:
			p := l.sender(m.From)
			if p == nil {
				continue // a peer this side has no session with (yet)
			}
			s, err := messageToSignal(m)
			if err != nil {
				// Bad input from the peer: drop it, the call goes on.
				l.log.Warn("dropping malformed signal", "type", string(m.Type), "err", err)
				continue
			}
			s.From = p.alias // the session's name for the sender
			p.deliver(s)
		}
	}
	l.events <- RoomEvent{Kind: RoomClosed, Err: l.client.Err()}
}

// signalToMessage puts a call signal on the wire: the call payload travels
// in "sdp" (offer, answer, offer request, bye) or "candidate".
func signalToMessage(s call.Signal) (signalserver.Message, error) {
	payload, err := call.EncodePayload(s)
	if err != nil {
		return signalserver.Message{}, err
	}
	m := signalserver.Message{Type: signalserver.Type(s.Kind.WireType()), To: s.To}
	switch s.Kind {
	case call.SignalCandidate:
		m.Candidate = payload
	case call.SignalBye:
		m.SDP = payload
		m.Reason = s.Reason
	default:
		m.SDP = payload
	}
	if err := m.Validate(); err != nil {
		return signalserver.Message{}, err
	}
	return m, nil
}

func messageToSignal(m signalserver.Message) (call.Signal, error) {
	kind, err := call.ParseSignalKind(string(m.Type))
	if err != nil {
		return call.Signal{}, err
	}
	var data json.RawMessage = m.SDP
	if m.Type == signalserver.TypeCandidate {
		data = m.Candidate
	}
	s, err := call.DecodePayload(kind, m.From, m.To, data)
	if err != nil {
		return call.Signal{}, err
	}
	if s.Kind == call.SignalBye && s.Reason == "" {
		s.Reason = m.Reason
	}
	return s, nil
}

// CandidateTypes lists the types (host, srflx, relay) of the candidates this
// side sent, sorted.
func (l *roomLink) CandidateTypes() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]string, 0, len(l.candTypes))
	for t := range l.candTypes {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// candidateType extracts the "typ" of an SDP candidate attribute.
func candidateType(c string) string {
	f := strings.Fields(c)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "typ" {
			return f[i+1]
		}
	}
	return ""
}
