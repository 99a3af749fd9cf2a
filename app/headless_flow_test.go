package app

import (
	"strings"
	"testing"
	"time"
)

// TestMediaFlowUnmet is the received-media rule, one row per case.
func TestMediaFlowUnmet(t *testing.T) {
	c := time.Unix(1000, 0) // connected
	end := c.Add(6 * time.Second)
	at := func(s float64) time.Time { return c.Add(time.Duration(s * float64(time.Second))) }
	tests := []struct {
		name string
		f    mediaFlow
		end  time.Time
		want string // substring of the cause; "" means the rule holds
	}{
		{"flowing", mediaFlow{said: true, on: true, first: at(0.1), last: at(5.98)}, end, ""},
		{"said off, nothing came", mediaFlow{said: true, on: false}, end, ""},
		{"said on, nothing came", mediaFlow{said: true, on: true}, end, "no audio arrived in 6.0 s, though the peer said its microphone is on"},
		{"stopped early (19 packets in 6 s)", mediaFlow{said: true, on: true, first: at(0.1), last: at(0.48)}, end, "stopped arriving 5.5 s before"},
		{"started late", mediaFlow{said: true, on: true, first: at(4), last: at(5.9)}, end, "first arrived 4.0 s after connecting"},
		{"gap at the end within limit", mediaFlow{said: true, on: true, first: at(0.1), last: at(4.5)}, end, ""},
		{"never said, track came, nothing flowed", mediaFlow{gotTrack: true}, end, "the peer's audio track arrived"},
		{"never said, no track", mediaFlow{}, end, ""},
		{"too short to judge", mediaFlow{said: true, on: true}, at(1), ""},
		{"never connected", mediaFlow{said: true, on: true}, end, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.f.kind, tt.f.device = "audio", "microphone"
			conn := c
			if tt.name == "never connected" {
				conn = time.Time{}
			}
			got := tt.f.unmet(conn, tt.end)
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Errorf("unmet = %q, want %q", got, tt.want)
			}
		})
	}
}
