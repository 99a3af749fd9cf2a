package call

import "fmt"

// State is the lifecycle of one call as the user sees it.
type State int

// States, in the order a healthy call walks through them.
const (
	StateIdle         State = iota // created, Start not called
	StateJoining                   // building the peer connection and local media
	StateWaiting                   // waiting for the peer's first description
	StateConnecting                // descriptions exchanged, ICE/DTLS running
	StateConnected                 // media and data flow
	StateReconnecting              // path lost; ICE restart in progress
	StateEnded                     // hung up (either side) or peer left; terminal
	StateFailed                    // timeout or fatal error; terminal
)

func (s State) String() string {
	switch s {
	case StateIdle:
		return "idle"
	case StateJoining:
		return "joining"
	case StateWaiting:
		return "waiting"
	case StateConnecting:
		return "connecting"
	case StateConnected:
		return "connected"
	case StateReconnecting:
		return "reconnecting"
	case StateEnded:
		return "ended"
	case StateFailed:
		return "failed"
	default:
		return fmt.Sprintf("State(%d)", int(s))
	}
}

// Terminal reports whether no further transition can leave s.
func (s State) Terminal() bool { return s == StateEnded || s == StateFailed }

// Event is an input to the state machine. The owner goroutine derives events
// from pion callbacks, signals and timers and feeds them to next.
type Event int

// Events.
const (
	EventStart             Event = iota // Start was called
	EventReady                          // peer connection built, tracks attached
	EventRemoteDescription              // first remote offer/answer applied
	EventConnected                      // peer connection reached "connected"
	EventDisconnected                   // ICE disconnected or failed
	EventHangup                         // local hang-up (Close)
	EventBye                            // remote sent bye
	EventPeerLeft                       // signaling reports the peer left
	EventTimeout                        // connect or reconnect timer fired
	EventError                          // unrecoverable local error
)

func (e Event) String() string {
	switch e {
	case EventStart:
		return "start"
	case EventReady:
		return "ready"
	case EventRemoteDescription:
		return "remote-description"
	case EventConnected:
		return "connected"
	case EventDisconnected:
		return "disconnected"
	case EventHangup:
		return "hangup"
	case EventBye:
		return "bye"
	case EventPeerLeft:
		return "peer-left"
	case EventTimeout:
		return "timeout"
	case EventError:
		return "error"
	default:
		return fmt.Sprintf("Event(%d)", int(e))
	}
}

// next is the whole state machine: a pure function of the current state and
// one event. Anything not listed is an ErrInvalidTransition.
func next(cur State, ev Event) (State, error) { //nolint:cyclop // one case per row of the table
	if !cur.Terminal() {
		switch ev {
		case EventHangup, EventBye, EventPeerLeft:
			return StateEnded, nil
		case EventError:
			return StateFailed, nil
		case EventTimeout:
			if cur != StateIdle && cur != StateConnected {
				return StateFailed, nil
			}
		default:
		}
	}

	switch cur {
	case StateIdle:
		if ev == EventStart {
			return StateJoining, nil
		}
	case StateJoining:
		if ev == EventReady {
			return StateWaiting, nil
		}
	case StateWaiting:
		if ev == EventRemoteDescription {
			return StateConnecting, nil
		}
	case StateConnecting:
		switch ev {
		case EventConnected:
			return StateConnected, nil
		case EventDisconnected:
			return StateReconnecting, nil
		default:
		}
	case StateConnected:
		if ev == EventDisconnected {
			return StateReconnecting, nil
		}
	case StateReconnecting:
		if ev == EventConnected {
			return StateConnected, nil
		}
	default:
	}

	return cur, fmt.Errorf("%w: %s on %s", ErrInvalidTransition, ev, cur)
}
