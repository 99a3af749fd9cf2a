package app

import (
	"testing"
	"time"
)

// TestTailLeftOut: the concealment after the peer's last packet is left
// out when the peer hung up or left, up to endTailGrace when our side
// ended the call, and never when the session failed.
func TestTailLeftOut(t *testing.T) {
	tests := []struct {
		ended string
		tail  time.Duration
		want  bool
	}{
		{endPeerHungUp, 5 * time.Second, true},
		{endPeerLeft, 5 * time.Second, true},
		{endDuration, 300 * time.Millisecond, true},
		{endDuration, endTailGrace, true},
		{endDuration, endTailGrace + 20*time.Millisecond, false},
		{endInterrupted, 300 * time.Millisecond, true},
		{"failed", 20 * time.Millisecond, false},
		{"", 20 * time.Millisecond, false},
	}
	for _, tt := range tests {
		if got := tailLeftOut(tt.ended, tt.tail); got != tt.want {
			t.Errorf("tailLeftOut(%q, %v) = %v, want %v", tt.ended, tt.tail, got, tt.want)
		}
	}
}
