package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/peercall/peercall/call"
)

// TestUserMessage: every error the GUI can show comes out in plain words,
// wrapped or not.
func TestUserMessage(t *testing.T) {
	tests := []struct {
		err  error
		want string // substring
	}{
		{nil, ""},
		{&UserError{Msg: "Room is full."}, "Room is full."},
		{fmt.Errorf("dial: %w", syscall.ECONNREFUSED), "nothing is listening"},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), "Timed out"},
		{fmt.Errorf("setup: %w", call.ErrNoRelayServer), "needs a TURN server"},
		{fmt.Errorf("setup: %w", call.ErrNoICEServer), "STUN or TURN server"},
		{fmt.Errorf("x: %w", ErrUnsupportedMedia), "Camera or microphone"},
		{errors.New("boom"), "Something went wrong: boom"},
	}
	for _, tt := range tests {
		got := UserMessage(tt.err)
		if (tt.want == "" && got != "") || !strings.Contains(got, tt.want) {
			t.Errorf("UserMessage(%v) = %q, want it to contain %q", tt.err, got, tt.want)
		}
	}
}
