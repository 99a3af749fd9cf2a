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
	Peers  []signalserver.Peer
	Reason string
	Err    error
}

// roomLink adapts a signaling client to call.Signaler: relay messages from
// the current remote peer become call signals, room messages become
// RoomEvents. One goroutine (pump) reads the client.
type roomLink struct {
	client *signalserver.Client
	log    *slog.Logger

	signals chan call.Signal
	events  chan RoomEvent
	done    chan struct{}

	mu     sync.Mutex
	remote string // the remote's id on the server now; "" while it is away
	// alias is the id the session knows the remote by. A server restarted
	// without its secret gives both sides new ids; the session keeps the
	// first ones (its polite role depends on them), the link translates.
	alias     string
	candTypes map[string]bool // types of the candidates we sent
}

func newRoomLink(client *signalserver.Client, log *slog.Logger) *roomLink {
	l := &roomLink{
		client:  client,
		log:     log,
		signals: make(chan call.Signal, 256),
		events:  make(chan RoomEvent, 64),
		done:    make(chan struct{}),
	}
	go l.pump()
	return l
}

// SetRemote selects the peer whose relay messages reach the call.
func (l *roomLink) SetRemote(id string) {
	l.mu.Lock()
	l.remote, l.alias = id, id
	l.mu.Unlock()
}

// rejoined follows the remote across our own rejoin: resumed, nothing
// changed; otherwise (the server forgot us) the remote is whoever is in
// the room, or the next to join.
func (l *roomLink) rejoined(m signalserver.Message) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.alias == "" || m.Resumed {
		return
	}
	l.remote = ""
	if len(m.Peers) > 0 {
		l.remote = m.Peers[0].ID
		l.log.Info("remote peer id changed", "was", l.alias, "now", l.remote)
	}
}

// peerJoined adopts a joining peer as the remote while the remote is away
// after our rejoin under a new id.
func (l *roomLink) peerJoined(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.alias != "" && l.remote == "" {
		l.remote = id
		l.log.Info("remote peer id changed", "was", l.alias, "now", id)
	}
}

func (l *roomLink) currentRemote() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.remote
}

func (l *roomLink) aliasID() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.alias
}

// Signals implements call.Signaler.
func (l *roomLink) Signals() <-chan call.Signal { return l.signals }

// Events delivers room events; closed when the client ends.
func (l *roomLink) Events() <-chan RoomEvent { return l.events }

// Send implements call.Signaler.
func (l *roomLink) Send(ctx context.Context, s call.Signal) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m, err := signalToMessage(s)
	if err != nil {
		return err
	}
	if m.To == "" || m.To == l.aliasID() {
		if m.To = l.currentRemote(); m.To == "" {
			return fmt.Errorf("signaling send: remote peer not back after a server restart: %w", signalserver.ErrNotConnected)
		}
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

func (l *roomLink) pump() {
	defer close(l.done)
	defer close(l.events)
	defer close(l.signals)
	for m := range l.client.Messages() {
		switch m.Type {
		case signalserver.TypeJoined:
			l.rejoined(m)
			l.events <- RoomEvent{Kind: RoomJoined, PeerID: m.PeerID, Peers: m.Peers}
		case signalserver.TypePeerJoined:
			name := m.Name
			if len(m.Peers) == 1 && name == "" {
				name = m.Peers[0].Name
			}
			l.peerJoined(m.PeerID)
			l.events <- RoomEvent{Kind: RoomPeerJoined, PeerID: m.PeerID, Name: name}
		case signalserver.TypePeerLeft:
			if m.PeerID != "" && m.PeerID == l.currentRemote() {
				l.signals <- call.Signal{Kind: call.SignalPeerLeft, From: l.aliasID(), Reason: m.Reason}
			}
			l.events <- RoomEvent{Kind: RoomPeerLeft, PeerID: m.PeerID, Reason: m.Reason}
		case signalserver.TypeServerShutdown:
			l.events <- RoomEvent{Kind: RoomShutdown, Reason: m.Reason}
		case signalserver.TypeError:
			l.events <- RoomEvent{Kind: RoomError, Reason: string(m.Code), Err: &UserError{Msg: m.Text, Err: ErrConnect}}
		case signalserver.TypeOffer, signalserver.TypeAnswer, signalserver.TypeCandidate, signalserver.TypeBye:
			if m.From != l.currentRemote() {
				continue // another peer's negotiation; this call has one remote
			}
			s, err := messageToSignal(m)
			if err != nil {
				// Bad input from the peer: drop it, the call goes on.
				l.log.Warn("dropping malformed signal", "type", string(m.Type), "err", err)
				continue
			}
			s.From = l.aliasID() // the session's name for the sender
			l.signals <- s
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
