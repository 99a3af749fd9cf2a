package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestHeadlessLogLevel: --log-level decides what reaches stderr (a run
// that gives up waiting for a peer logs its state changes at info); a
// level that does not exist is a flag error before anything starts.
func TestHeadlessLogLevel(t *testing.T) {
	base := []string{"--serve", "127.0.0.1:0", "--room", "lvl", "--video", "none", "--audio", "none", "--peer-wait", "200ms"}
	tests := []struct {
		level    string
		code     int
		wantInfo bool
	}{
		{"", ExitConnect, false}, // default warn
		{"warn", ExitConnect, false},
		{"info", ExitConnect, true},
		{"DEBUG", ExitConnect, true},
		{"loud", ExitBadFlags, false},
	}
	for _, tt := range tests {
		t.Run(tt.level, func(t *testing.T) {
			args := base
			if tt.level != "" {
				args = append(append([]string{}, base...), "--log-level", tt.level)
			}
			var stderr bytes.Buffer
			if code := HeadlessMain(context.Background(), args, &bytes.Buffer{}, &stderr); code != tt.code {
				t.Fatalf("exit %d, want %d: %s", code, tt.code, stderr.String())
			}
			if got := strings.Contains(stderr.String(), "level=INFO"); got != tt.wantInfo {
				t.Errorf("info lines on stderr: %v, want %v:\n%s", got, tt.wantInfo, stderr.String())
			}
			if tt.code == ExitBadFlags && !strings.Contains(stderr.String(), "log-level") {
				t.Errorf("stderr does not name the flag: %q", stderr.String())
			}
		})
	}
}
