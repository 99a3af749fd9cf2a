package signalserver

import (
	"bytes"
	"encoding/json"
	"unicode"
	"unicode/utf8"
)

// ProtocolVersion is the wire protocol version this package speaks. A join
// must carry it in the `v` field; the server stamps it on every message.
const ProtocolVersion = 1

// Type is the `type` field of a message.
type Type string

// Message types. See docs/protocol.md for direction and fields.
const (
	TypeJoin           Type = "join"            // client → server
	TypeJoined         Type = "joined"          // server → client
	TypePeerJoined     Type = "peer-joined"     // server → client
	TypePeerLeft       Type = "peer-left"       // server → client
	TypeOffer          Type = "offer"           // client → server → peer
	TypeAnswer         Type = "answer"          // client → server → peer
	TypeCandidate      Type = "candidate"       // client → server → peer
	TypeBye            Type = "bye"             // client → server → peer
	TypeError          Type = "error"           // server → client
	TypeKeepalive      Type = "keepalive"       // client → server (never relayed)
	TypeServerShutdown Type = "server-shutdown" // server → client
	TypeRefresh        Type = "refresh"         // server → client
)

var knownTypes = map[Type]bool{
	TypeJoin: true, TypeJoined: true, TypePeerJoined: true, TypePeerLeft: true,
	TypeOffer: true, TypeAnswer: true, TypeCandidate: true, TypeBye: true,
	TypeError: true, TypeKeepalive: true, TypeServerShutdown: true, TypeRefresh: true,
}

// fromClient reports whether a client may send t to the server.
func (t Type) fromClient() bool {
	switch t {
	case TypeJoin, TypeOffer, TypeAnswer, TypeCandidate, TypeBye, TypeKeepalive:
		return true
	}
	return false
}

// relayed reports whether the server forwards t to other peers.
func (t Type) relayed() bool {
	switch t {
	case TypeOffer, TypeAnswer, TypeCandidate, TypeBye:
		return true
	}
	return false
}

// ErrorCode is the machine-readable `code` of an `error` message.
type ErrorCode string

// Error codes. Each is documented, with its close code, in docs/protocol.md.
const (
	CodeBadJSON            ErrorCode = "bad-json"             // not a JSON object / wrong field types
	CodeBadMessage         ErrorCode = "bad-message"          // valid JSON, fails validation
	CodeUnknownType        ErrorCode = "unknown-type"         // `type` is not a protocol type
	CodeUnexpectedType     ErrorCode = "unexpected-type"      // a server-only type sent by a client
	CodeUnsupportedVersion ErrorCode = "unsupported-version"  // join without v == ProtocolVersion
	CodeNotJoined          ErrorCode = "not-joined"           // relay before join
	CodeAlreadyJoined      ErrorCode = "already-joined"       // second join on one connection
	CodeUnknownPeer        ErrorCode = "unknown-peer"         // `to` is not in the room
	CodeRoomFull           ErrorCode = "room-full"            // capacity reached (close 1013)
	CodeTooManyRooms       ErrorCode = "too-many-rooms"       // server room limit (close 1013)
	CodeTooManyConnections ErrorCode = "too-many-connections" // per-IP limit (close 1013)
	CodeWrongPassword      ErrorCode = "wrong-password"       // room password mismatch (close 1008)
	CodeTokenRequired      ErrorCode = "token-required"       // server requires join tokens (close 1008)
	CodeTokenInvalid       ErrorCode = "token-invalid"        // forged, malformed or other room (close 1008)
	CodeTokenExpired       ErrorCode = "token-expired"        // signed but expired (close 1008)
	CodeOriginNotAllowed   ErrorCode = "origin-not-allowed"   // browser Origin not allowed (close 1008)
	CodeMessageTooBig      ErrorCode = "message-too-big"      // frame above the size limit (close 1009)
	CodeRateLimited        ErrorCode = "rate-limited"         // message flood (close 1008)
	CodeSessionReplaced    ErrorCode = "session-replaced"     // same peer resumed elsewhere (close 1008)
	CodeTooManyAttempts    ErrorCode = "too-many-attempts"    // wrong passwords/tokens throttled (close 1013)
	CodeShuttingDown       ErrorCode = "shutting-down"        // join during shutdown (close 1001)
	CodeInternal           ErrorCode = "internal"             // server bug (close 1011)
)

// WebSocket close codes the server uses (RFC 6455 §7.4.1).
const (
	CloseNormal        = 1000
	CloseGoingAway     = 1001
	ClosePolicy        = 1008
	CloseTooBig        = 1009
	CloseInternalError = 1011
	CloseTryAgainLater = 1013
)

// closeCodeFor maps an error code to the close code that follows it, or 0
// when the connection stays open.
func closeCodeFor(c ErrorCode) int {
	switch c {
	case CodeRoomFull, CodeTooManyRooms, CodeTooManyConnections, CodeTooManyAttempts:
		return CloseTryAgainLater
	case CodeWrongPassword, CodeTokenRequired, CodeTokenInvalid, CodeTokenExpired,
		CodeOriginNotAllowed, CodeRateLimited, CodeSessionReplaced, CodeUnsupportedVersion:
		return ClosePolicy
	case CodeMessageTooBig:
		return CloseTooBig
	case CodeShuttingDown:
		return CloseGoingAway
	case CodeInternal:
		return CloseInternalError
	}
	return 0
}

// Peer is a room member as listed in `joined` and `peer-joined`.
type Peer struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Away (in `joined` only): the member's connection dropped and the
	// server holds its slot for a resume; it may never come back.
	Away bool `json:"away,omitempty"`
}

// ICEServer is one entry of the ICE server list handed out on join. It has
// the shape of the W3C RTCIceServer dictionary.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// Message is every protocol message; which fields are set depends on Type.
// SDP and Candidate are opaque to the server: it relays them untouched.
type Message struct {
	V    int  `json:"v,omitempty"`
	Type Type `json:"type"`

	// join
	Room     string `json:"room,omitempty"`
	Name     string `json:"name,omitempty"`
	Password string `json:"password,omitempty"`
	Token    string `json:"token,omitempty"`
	// Resume is the resume token: sent by the client in join, issued in joined.
	Resume string `json:"resume,omitempty"`

	// joined / peer-joined / peer-left
	// Capacity (joined only) is how many peers the room holds, so a client
	// can size its layout before the others arrive.
	PeerID     string      `json:"peer_id,omitempty"`
	Peers      []Peer      `json:"peers,omitempty"`
	Capacity   int         `json:"capacity,omitempty"`
	ICEServers []ICEServer `json:"ice_servers,omitempty"`
	Resumed    bool        `json:"resumed,omitempty"`

	// relay
	From      string          `json:"from,omitempty"`
	To        string          `json:"to,omitempty"`
	SDP       json.RawMessage `json:"sdp,omitempty"`
	Candidate json.RawMessage `json:"candidate,omitempty"`

	// error
	Code ErrorCode `json:"code,omitempty"`
	Text string    `json:"message,omitempty"`
	// Reason is a short machine word for bye, peer-left and server-shutdown.
	Reason string `json:"reason,omitempty"`
}

// Field limits enforced by DecodeMessage.
const (
	maxRoomLen     = 64
	maxNameRunes   = 64
	maxIDLen       = 64
	maxSecretLen   = 512 // password, token, resume token
	maxTextLen     = 512
	maxReasonLen   = 64
	maxPeersListed = 256
)

// DecodeMessage parses and validates one message. The returned error is a
// *ProtocolError whose Code is what the server answers with.
func DecodeMessage(data []byte) (Message, error) {
	m, err := parseMessage(data)
	if err != nil {
		return Message{}, err
	}
	if err := m.Validate(); err != nil {
		return Message{}, err
	}
	return m, nil
}

// parseMessage reads one JSON object into a Message without validating it.
func parseMessage(data []byte) (Message, error) {
	var m Message
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return Message{}, invalid(CodeBadJSON, "message must be a JSON object")
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return Message{}, invalid(CodeBadJSON, "message is not valid JSON for the protocol")
	}
	return m, nil
}

// decodeClientMessage is DecodeMessage for what a client sends: a
// server-only type is answered with unexpected-type before its fields are
// validated, so the code does not depend on which fields happen to be set.
func decodeClientMessage(data []byte) (Message, error) {
	m, err := parseMessage(data)
	if err != nil {
		return Message{}, err
	}
	if knownTypes[m.Type] && !m.Type.fromClient() {
		return Message{}, &ProtocolError{Code: CodeUnexpectedType, Text: rejectText(CodeUnexpectedType), Err: ErrInvalidMessage}
	}
	if err := m.Validate(); err != nil {
		return Message{}, err
	}
	return m, nil
}

// Validate checks the fields required by m.Type. DecodeMessage calls it;
// Client.Send calls it before a message leaves.
func (m *Message) Validate() error {
	if m.Type == "" {
		return invalid(CodeBadMessage, "missing type")
	}
	if !knownTypes[m.Type] {
		return invalid(CodeUnknownType, "unknown message type")
	}
	if m.Type == TypeJoin && m.V != ProtocolVersion {
		return invalid(CodeUnsupportedVersion, "join must carry v=%d", ProtocolVersion)
	}
	if m.V != 0 && m.V != ProtocolVersion {
		return invalid(CodeUnsupportedVersion, "unsupported protocol version")
	}
	if !validID(m.To) || !validID(m.From) || !validID(m.PeerID) {
		return invalid(CodeBadMessage, "peer ids are 1-64 characters of [A-Za-z0-9_-]")
	}
	if len(m.Password) > maxSecretLen || len(m.Token) > maxSecretLen || len(m.Resume) > maxSecretLen {
		return invalid(CodeBadMessage, "password or token too long")
	}
	if len(m.Text) > maxTextLen || !utf8.ValidString(m.Text) {
		return invalid(CodeBadMessage, "message text too long or not UTF-8")
	}
	if len(m.Reason) > maxReasonLen || !validReason(m.Reason) {
		return invalid(CodeBadMessage, "reason is at most 64 bytes of printable UTF-8")
	}
	if m.Capacity < 0 {
		return invalid(CodeBadMessage, "capacity must not be negative")
	}
	if len(m.Peers) > maxPeersListed {
		return invalid(CodeBadMessage, "too many peers")
	}
	switch m.Type {
	case TypeJoin:
		if !validRoom(m.Room) {
			return invalid(CodeBadMessage, "room is 1-64 characters of [A-Za-z0-9._-]")
		}
		if !validName(m.Name) {
			return invalid(CodeBadMessage, "name must be 1-64 printable characters")
		}
	case TypeOffer, TypeAnswer:
		if isAbsent(m.SDP) {
			return invalid(CodeBadMessage, "%s needs sdp", m.Type)
		}
	case TypeCandidate:
		// A null candidate is meaningful (end of candidates) and is relayed,
		// but the field must be present.
		if len(m.Candidate) == 0 {
			return invalid(CodeBadMessage, "candidate needs candidate")
		}
	case TypeError:
		if m.Code == "" {
			return invalid(CodeBadMessage, "error needs code")
		}
	case TypeJoined:
		if m.PeerID == "" {
			return invalid(CodeBadMessage, "joined needs peer_id")
		}
	case TypeRefresh:
		if m.Resume == "" {
			return invalid(CodeBadMessage, "refresh needs resume")
		}
	case TypePeerJoined, TypePeerLeft:
		if m.PeerID == "" {
			return invalid(CodeBadMessage, "%s needs peer_id", m.Type)
		}
	}
	return nil
}

func isAbsent(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

func validID(s string) bool {
	if len(s) > maxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// ValidRoom reports whether s is a room name the server accepts (clients
// check before dialing).
func ValidRoom(s string) bool { return validRoom(s) }

func validRoom(s string) bool {
	if s == "" || len(s) > maxRoomLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// validName: 1-64 printable runes, at least one of them visible. Peers
// show names as they are, so a name of spaces or fillers would impersonate
// "nobody".
func validName(s string) bool {
	if s == "" || !utf8.ValidString(s) || utf8.RuneCountInString(s) > maxNameRunes {
		return false
	}
	visible := false
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
		visible = visible || isVisible(r)
	}
	return visible
}

// isVisible reports whether r draws something: not a space, not a
// combining mark on its own, not one of the letters and symbols that
// render blank.
func isVisible(r rune) bool {
	switch r {
	case '\u115F', '\u1160', '\u3164', '\uFFA0', // Hangul fillers
		'\u2800',                               // braille blank
		'\u180E', '\u034F', '\u17B4', '\u17B5': // invisible separators and marks
		return false
	}
	return !unicode.IsSpace(r) && !unicode.Is(unicode.Mn, r) && !unicode.Is(unicode.Me, r) &&
		!unicode.Is(unicode.Variation_Selector, r)
}

// validReason: a reason is shown to the other user, so no control or
// format characters (line breaks, bidi overrides, zero-width joiners).
func validReason(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// Encode marshals m, stamping the protocol version.
func (m Message) Encode() ([]byte, error) {
	m.V = ProtocolVersion
	return json.Marshal(m)
}
