package call

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"unicode"

	"github.com/pion/webrtc/v4"
)

// SignalKind is the type of a signaling message. Its String is the wire
// "type" field of the signaling protocol.
type SignalKind int

// Signal kinds. PeerLeft is never sent: the signaling adapter delivers it
// when the server reports that the peer left the room.
//
// OfferRequest exists because pion cannot roll back a local offer (pion/webrtc
// issue 2133), so the rollback half of perfect negotiation is impossible:
// only the impolite side ever creates offers, and the polite side asks it
// for one (naming the media kinds it wants to add, or an ICE restart). On
// the wire it travels as type "offer" with payload {"request":true,...}.
const (
	SignalOffer SignalKind = iota + 1
	SignalAnswer
	SignalCandidate
	SignalBye
	SignalPeerLeft
	SignalOfferRequest
)

func (k SignalKind) String() string {
	switch k {
	case SignalOffer:
		return "offer"
	case SignalAnswer:
		return "answer"
	case SignalCandidate:
		return "candidate"
	case SignalBye:
		return "bye"
	case SignalPeerLeft:
		return "peer-left"
	case SignalOfferRequest:
		return "offer-request"
	default:
		return fmt.Sprintf("SignalKind(%d)", int(k))
	}
}

// WireType is the wire message "type" carrying k: "offer" for offer
// requests (told apart by their payload), String otherwise.
func (k SignalKind) WireType() string {
	if k == SignalOfferRequest {
		return SignalOffer.String()
	}

	return k.String()
}

// ParseSignalKind maps a wire "type" to a SignalKind. For "offer" it
// returns SignalOffer; DecodePayload turns request payloads into
// SignalOfferRequest.
func ParseSignalKind(s string) (SignalKind, error) {
	for k := SignalOffer; k <= SignalPeerLeft; k++ {
		if k.String() == s {
			return k, nil
		}
	}

	return 0, fmt.Errorf("%w: unknown type %q", ErrBadSignal, s)
}

// Signal is one message between the two sessions of a call.
type Signal struct {
	Kind     SignalKind
	From, To string // peer ids
	// SDP of an offer or answer (already scrubbed by the sending session).
	SDP string
	// Candidate of a candidate signal (already scrubbed); nil is the
	// peer's end-of-candidates (wire "candidate": null), which needs no action.
	Candidate *webrtc.ICECandidateInit
	// Reason of a bye, for the remote user ("hung up", "timeout").
	Reason string
	// Kinds ("audio", "video") the polite side wants to add, and whether it
	// wants an ICE restart: set on SignalOfferRequest only.
	Kinds   []string
	Restart bool
}

// Signaler carries signals to and from the remote peer. Send must be safe
// for concurrent use and should not block for long; Signals delivers the
// peer's signals in order (closing it means signaling is gone).
type Signaler interface {
	Send(ctx context.Context, s Signal) error
	Signals() <-chan Signal
}

// payload is the JSON shape of the opaque wire payload.
type payload struct {
	SDP           string   `json:"sdp,omitempty"`
	Candidate     string   `json:"candidate,omitempty"`
	SDPMid        *string  `json:"sdpMid,omitempty"`
	SDPMLineIndex *uint16  `json:"sdpMLineIndex,omitempty"`
	UsernameFrag  *string  `json:"usernameFragment,omitempty"`
	Reason        string   `json:"reason,omitempty"`
	Request       bool     `json:"request,omitempty"`
	Kinds         []string `json:"kinds,omitempty"`
	Restart       bool     `json:"restart,omitempty"`
}

// EncodePayload returns the opaque JSON payload of s for the wire message
// (whose "type" is s.Kind.WireType()). Field names follow the browser's
// RTCSessionDescriptionInit / RTCIceCandidateInit.
func EncodePayload(s Signal) ([]byte, error) {
	var p payload
	switch s.Kind {
	case SignalOffer, SignalAnswer:
		p.SDP = s.SDP
	case SignalCandidate:
		if s.Candidate == nil {
			return []byte("null"), nil // end of candidates
		}
		p.Candidate = s.Candidate.Candidate
		p.SDPMid, p.SDPMLineIndex, p.UsernameFrag = s.Candidate.SDPMid, s.Candidate.SDPMLineIndex, s.Candidate.UsernameFragment
	case SignalBye, SignalPeerLeft:
		p.Reason = s.Reason
	case SignalOfferRequest:
		p.Request, p.Kinds, p.Restart = true, s.Kinds, s.Restart
	default:
		return nil, fmt.Errorf("%w: kind %s", ErrBadSignal, s.Kind)
	}

	return json.Marshal(p)
}

// DecodePayload is the inverse of EncodePayload. A candidate payload of
// null, or with an empty "candidate" string (what a browser's
// RTCIceCandidate.toJSON gives at the end of gathering), is the peer's
// end-of-candidates: a candidate signal with a nil Candidate, not an error.
func DecodePayload(kind SignalKind, from, to string, data []byte) (Signal, error) {
	if kind == SignalCandidate && endOfCandidates(data) {
		return Signal{Kind: kind, From: from, To: to}, nil
	}
	var p payload
	if len(data) > 0 {
		if err := json.Unmarshal(data, &p); err != nil {
			return Signal{}, fmt.Errorf("%w: %w", ErrBadSignal, err)
		}
	}
	if kind == SignalOffer && p.Request {
		kind = SignalOfferRequest
	}
	s := Signal{Kind: kind, From: from, To: to}
	switch kind {
	case SignalOfferRequest:
		for _, k := range p.Kinds {
			if k != "audio" && k != "video" {
				return Signal{}, fmt.Errorf("%w: media kind %q", ErrBadSignal, k)
			}
		}
		s.Kinds, s.Restart = p.Kinds, p.Restart
	case SignalOffer, SignalAnswer:
		if p.SDP == "" {
			return Signal{}, fmt.Errorf("%w: %s without sdp", ErrBadSignal, kind)
		}
		s.SDP = p.SDP
	case SignalCandidate:
		if p.Candidate == "" {
			return Signal{}, fmt.Errorf("%w: empty candidate", ErrBadSignal)
		}
		s.Candidate = &webrtc.ICECandidateInit{
			Candidate: p.Candidate, SDPMid: p.SDPMid, SDPMLineIndex: p.SDPMLineIndex, UsernameFragment: p.UsernameFrag,
		}
	case SignalBye, SignalPeerLeft:
		s.Reason = displayReason(p.Reason)
	default:
		return Signal{}, fmt.Errorf("%w: kind %s", ErrBadSignal, kind)
	}

	return s, nil
}

// maxReasonRunes bounds a bye reason the peer sends: it is shown to the
// user, so it is cut to one short line of printable text.
const maxReasonRunes = 120

// displayReason keeps the printable characters of a peer's bye reason (no
// control or format characters: no line breaks, no bidi overrides) and
// cuts it to maxReasonRunes.
func displayReason(r string) string {
	var b strings.Builder
	n := 0
	for _, c := range strings.ToValidUTF8(r, "") {
		if n == maxReasonRunes {
			b.WriteString("…")
			break
		}
		if unicode.IsControl(c) || unicode.Is(unicode.Cf, c) {
			continue
		}
		b.WriteRune(c)
		n++
	}

	return strings.TrimSpace(b.String())
}

func endOfCandidates(data []byte) bool {
	if string(bytes.TrimSpace(data)) == "null" {
		return true
	}
	var c struct {
		Candidate *string `json:"candidate"`
	}

	return json.Unmarshal(data, &c) == nil && c.Candidate != nil && *c.Candidate == ""
}

// PipeSignaler is an in-memory Signaler connected to a twin; see
// NewPipeSignalers. Useful for tests and for two sessions in one process.
type PipeSignaler struct {
	id   string
	peer *PipeSignaler
	in   chan Signal

	mu     sync.Mutex
	tap    func(Signal)
	closed bool
}

// NewPipeSignalers returns two connected signalers for peers a and b.
// Each holds up to 1024 undelivered signals; Send blocks beyond that.
func NewPipeSignalers(a, b string) (*PipeSignaler, *PipeSignaler) {
	pa := &PipeSignaler{id: a, in: make(chan Signal, 1024)}
	pb := &PipeSignaler{id: b, in: make(chan Signal, 1024)}
	pa.peer, pb.peer = pb, pa

	return pa, pb
}

// Tap sets a function called with every signal this side sends (tests use
// it to inspect what leaves a session).
func (p *PipeSignaler) Tap(f func(Signal)) {
	p.mu.Lock()
	p.tap = f
	p.mu.Unlock()
}

// Close makes further Sends to and from this pipe fail.
func (p *PipeSignaler) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
}

// Send implements Signaler.
func (p *PipeSignaler) Send(ctx context.Context, s Signal) error {
	p.mu.Lock()
	tap, closed := p.tap, p.closed
	p.mu.Unlock()
	p.peer.mu.Lock()
	closed = closed || p.peer.closed
	p.peer.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if tap != nil {
		tap(s)
	}
	s.From, s.To = p.id, p.peer.id
	select {
	case p.peer.in <- s:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Signals implements Signaler.
func (p *PipeSignaler) Signals() <-chan Signal { return p.in }
