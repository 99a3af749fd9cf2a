package signalserver

import (
	"errors"
	"fmt"
)

// Sentinel errors. Callers branch on them with errors.Is; the wire-level
// reason travels in a *ProtocolError.
var (
	// ErrInvalidMessage: a frame that is not a valid protocol message.
	ErrInvalidMessage = errors.New("signalserver: invalid message")
	// ErrRejected: the server refused a request (join, relay) with an error message.
	ErrRejected = errors.New("signalserver: rejected by server")
	// ErrInvalidToken: a join or resume token is malformed, forged or for another room.
	ErrInvalidToken = errors.New("signalserver: invalid token")
	// ErrTokenExpired: a correctly signed token whose expiry has passed.
	ErrTokenExpired = errors.New("signalserver: token expired")
	// ErrNotConnected: Client.Send while the client is between connections.
	ErrNotConnected = errors.New("signalserver: not connected")
	// ErrClosed: the client or server has been closed.
	ErrClosed = errors.New("signalserver: closed")
	// ErrConfig: an option or flag has an unusable value.
	ErrConfig = errors.New("signalserver: invalid configuration")
	// ErrPinMismatch: the server certificate does not match the pinned fingerprint.
	ErrPinMismatch = errors.New("signalserver: certificate fingerprint mismatch")
)

// errNonCanonical: base64 that decodes but is not in canonical form.
var errNonCanonical = errors.New("signalserver: non-canonical base64")

// ProtocolError is an error carried by an `error` message, or found while
// decoding one. Text is safe to show to a user as-is.
type ProtocolError struct {
	Code ErrorCode
	Text string
	// Err is the sentinel the error belongs to (ErrInvalidMessage, ErrRejected, ...).
	Err error
}

func (e *ProtocolError) Error() string {
	return fmt.Sprintf("%s: %s", e.Code, e.Text)
}

// Unwrap lets callers use errors.Is with the sentinels above.
func (e *ProtocolError) Unwrap() error { return e.Err }

// UserMessage is the text a GUI can display without further processing.
func (e *ProtocolError) UserMessage() string { return e.Text }

func invalid(code ErrorCode, format string, args ...any) *ProtocolError {
	return &ProtocolError{Code: code, Text: fmt.Sprintf(format, args...), Err: ErrInvalidMessage}
}

func configErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
}
