package ui

import (
	"bytes"
	"testing"

	"github.com/peercall/peercall/app"
	"github.com/peercall/peercall/assets"
)

// Each phase change plays at most one sound: ringing while waiting, joined
// on connect (not on a reconnect), left when a call that was on ends.
func TestSounds(t *testing.T) {
	tests := []struct {
		name     string
		from, to app.Phase
		want     []byte // nil: silent
	}{
		{"waiting rings", app.PhaseConnectingServer, app.PhaseWaiting, assets.Ringing},
		{"peer arrives", app.PhaseWaiting, app.PhaseConnecting, nil},
		{"connected", app.PhaseConnecting, app.PhaseConnected, assets.Joined},
		{"reconnected is quiet", app.PhaseReconnecting, app.PhaseConnected, nil},
		{"path lost is quiet", app.PhaseConnected, app.PhaseReconnecting, nil},
		{"hang up", app.PhaseConnected, app.PhaseEnded, assets.Left},
		{"peer left while waiting", app.PhaseWaiting, app.PhaseEnded, assets.Left},
		{"call failed", app.PhaseConnecting, app.PhaseFailed, assets.Left},
		{"server unreachable is quiet", app.PhaseConnectingServer, app.PhaseFailed, nil},
		{"no change", app.PhaseConnected, app.PhaseConnected, nil},
		{"back to start", app.PhaseEnded, app.PhaseIdle, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var played [][]byte
			u := &UI{opts: Options{PlaySound: func(wav []byte) { played = append(played, wav) }}}
			u.sounds(app.Notify{Phase: tt.from}, app.Notify{Phase: tt.to})
			switch {
			case tt.want == nil && len(played) != 0:
				t.Errorf("played %d sounds, want none", len(played))
			case tt.want != nil && (len(played) != 1 || !bytes.Equal(played[0], tt.want)):
				t.Errorf("played %d sounds (right one: %v), want exactly one", len(played), len(played) == 1 && bytes.Equal(played[0], tt.want))
			}
		})
	}
	// Without a player nothing happens (tests, no audio output).
	(&UI{}).sounds(app.Notify{Phase: app.PhaseConnecting}, app.Notify{Phase: app.PhaseConnected})
}
