package call

import "errors"

// Sentinel errors. Callers branch on them with errors.Is; the session wraps
// them with short context using %w.
var (
	// ErrInvalidTransition is returned by the state machine when an event
	// is not allowed in the current state.
	ErrInvalidTransition = errors.New("call: invalid state transition")
	// ErrClosed is returned by methods called after the session ended.
	ErrClosed = errors.New("call: session closed")
	// ErrNotStarted is returned by methods that need a running session.
	ErrNotStarted = errors.New("call: session not started")
	// ErrAlreadyStarted is returned by a second Start.
	ErrAlreadyStarted = errors.New("call: session already started")
	// ErrTimeout ends a call that did not connect (or reconnect) in time.
	ErrTimeout = errors.New("call: timeout")
	// ErrInvalidConfig reports a missing or contradictory Config field.
	ErrInvalidConfig = errors.New("call: invalid config")
	// ErrInvalidPolicy reports an unknown ICE policy name or an invalid
	// combination of policy and options.
	ErrInvalidPolicy = errors.New("call: invalid ICE policy")
	// ErrBadICEServerURL reports a STUN or TURN URL that ParseICEServerURL
	// refuses (an *ICEServerURLError says why).
	ErrBadICEServerURL = errors.New("call: bad ICE server URL")
	// ErrNoRelayServer is returned when a relay-only policy has no usable
	// TURN server.
	ErrNoRelayServer = errors.New("call: policy needs a TURN server")
	// ErrNoICEServer is returned when a policy without host candidates
	// (no-host) has no STUN or TURN server: it could gather nothing.
	ErrNoICEServer = errors.New("call: policy needs a STUN or TURN server")
	// ErrNoFingerprint is returned when an SDP carries no a=fingerprint.
	ErrNoFingerprint = errors.New("call: no DTLS fingerprint in SDP")
	// ErrBadFingerprint reports a malformed fingerprint value.
	ErrBadFingerprint = errors.New("call: malformed DTLS fingerprint")
	// ErrBadSignal reports a signal that cannot be decoded or applied.
	ErrBadSignal = errors.New("call: bad signal")
	// ErrChatUnavailable is returned by SendChat before the data channel opens.
	ErrChatUnavailable = errors.New("call: chat channel not open")
	// ErrChatTooLong is returned for chat messages over MaxChatBytes.
	ErrChatTooLong = errors.New("call: chat message too long")
	// ErrBadMessage reports a data channel message that cannot be decoded.
	ErrBadMessage = errors.New("call: bad data channel message")
	// ErrUnknownMessage reports a data channel message of a type this
	// version does not know (a newer peer): ignored.
	ErrUnknownMessage = errors.New("call: unknown data channel message type")
	// ErrFileChannel reports a file transfer data channel that cannot be
	// opened or used (closed, path gone).
	ErrFileChannel = errors.New("call: file channel failed")
	// ErrUnknownTrack is returned by ReplaceTrack for an id never added.
	ErrUnknownTrack = errors.New("call: unknown track")
	// ErrSDP reports an SDP that cannot be parsed or rewritten.
	ErrSDP = errors.New("call: cannot process SDP")
	// ErrRemoteHangup ends a call when the peer said bye.
	ErrRemoteHangup = errors.New("call: remote hung up")
	// ErrPeerLeft ends a call when signaling reports the peer left.
	ErrPeerLeft = errors.New("call: peer left")
)
