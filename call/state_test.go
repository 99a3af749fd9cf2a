package call

import (
	"errors"
	"testing"
)

func TestNext(t *testing.T) {
	live := []State{StateJoining, StateWaiting, StateConnecting, StateConnected, StateReconnecting}
	type row struct {
		cur  State
		ev   Event
		want State
		err  error
	}
	rows := []row{
		{StateIdle, EventStart, StateJoining, nil},
		{StateIdle, EventHangup, StateEnded, nil},
		{StateIdle, EventError, StateFailed, nil},
		{StateJoining, EventReady, StateWaiting, nil},
		{StateWaiting, EventRemoteDescription, StateConnecting, nil},
		{StateConnecting, EventConnected, StateConnected, nil},
		{StateConnecting, EventDisconnected, StateReconnecting, nil},
		{StateConnected, EventDisconnected, StateReconnecting, nil},
		{StateReconnecting, EventConnected, StateConnected, nil},
		{StateJoining, EventTimeout, StateFailed, nil},
		{StateWaiting, EventTimeout, StateFailed, nil},
		{StateConnecting, EventTimeout, StateFailed, nil},
		{StateReconnecting, EventTimeout, StateFailed, nil},

		// Invalid: skipping steps, stale timers, anything after the end.
		{StateIdle, EventConnected, StateIdle, ErrInvalidTransition},
		{StateIdle, EventTimeout, StateIdle, ErrInvalidTransition},
		{StateIdle, EventBye, StateEnded, nil},
		{StateJoining, EventConnected, StateJoining, ErrInvalidTransition},
		{StateWaiting, EventConnected, StateWaiting, ErrInvalidTransition},
		{StateWaiting, EventStart, StateWaiting, ErrInvalidTransition},
		{StateConnected, EventTimeout, StateConnected, ErrInvalidTransition},
		{StateConnected, EventConnected, StateConnected, ErrInvalidTransition},
		{StateConnected, EventRemoteDescription, StateConnected, ErrInvalidTransition},
		{StateReconnecting, EventDisconnected, StateReconnecting, ErrInvalidTransition},
		{StateEnded, EventStart, StateEnded, ErrInvalidTransition},
		{StateEnded, EventHangup, StateEnded, ErrInvalidTransition},
		{StateFailed, EventConnected, StateFailed, ErrInvalidTransition},
		{StateFailed, EventBye, StateFailed, ErrInvalidTransition},
	}
	// Every live state ends on hangup, bye and peer-left, and fails on error.
	for _, s := range live {
		rows = append(rows,
			row{s, EventHangup, StateEnded, nil},
			row{s, EventBye, StateEnded, nil},
			row{s, EventPeerLeft, StateEnded, nil},
			row{s, EventError, StateFailed, nil},
		)
	}
	for _, r := range rows {
		t.Run(r.cur.String()+"/"+r.ev.String(), func(t *testing.T) {
			got, err := next(r.cur, r.ev)
			if !errors.Is(err, r.err) || (r.err == nil && err != nil) {
				t.Fatalf("next(%s, %s) error = %v, want %v", r.cur, r.ev, err, r.err)
			}
			if got != r.want {
				t.Fatalf("next(%s, %s) = %s, want %s", r.cur, r.ev, got, r.want)
			}
		})
	}
}

func TestEnumStrings(t *testing.T) {
	for s := StateIdle; s <= StateFailed; s++ {
		if got := s.String(); got == "" || got[0] == 'S' {
			t.Errorf("State(%d).String() = %q", int(s), got)
		}
	}
	if got := State(99).String(); got != "State(99)" {
		t.Errorf("unknown state = %q", got)
	}
	for e := EventStart; e <= EventError; e++ {
		if got := e.String(); got == "" || got[0] == 'E' {
			t.Errorf("Event(%d).String() = %q", int(e), got)
		}
	}
	if got := Event(99).String(); got != "Event(99)" {
		t.Errorf("unknown event = %q", got)
	}
}
