package call

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestSlogLoggerFactoryRedacts(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	log := NewSlogLoggerFactory(l).NewLogger("ice")
	log.Infof("binding to %s:%d", "192.168.0.2", 5000)
	log.Warnf("peer %s unreachable", "fd00::1")
	log.Debug("new candidate: candidate:1 1 udp 1 10.0.0.1 1 typ host")
	log.Errorf("offer v=0\r\no=- 1 1 IN IP4 10.0.0.9")
	log.Info("host abc-123.local resolved")
	log.Trace("trace 10.1.1.1")
	out := buf.String()
	for _, bad := range []string{"192.168.", "fd00", "10.0.0", "10.1.1", "abc-123"} {
		if strings.Contains(out, bad) {
			t.Fatalf("leaked %q:\n%s", bad, out)
		}
	}
	if strings.Count(out, "msg=pion") != 3 || !strings.Contains(out, "scope=ice") {
		t.Fatalf("unexpected output:\n%s", out)
	}
	NewSlogLoggerFactory(nil).NewLogger("x").Error("dropped")
}
