package call

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"

	"github.com/pion/logging"
)

// NewSlogLoggerFactory routes pion's scoped loggers into slog. The pion text
// goes into a "text" attribute under the static message "pion" after
// addresses are redacted, and anything that looks like SDP or a candidate is
// dropped: session logs must never reveal the user's addresses. Trace is
// dropped. A nil logger discards everything.
func NewSlogLoggerFactory(l *slog.Logger) logging.LoggerFactory {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}

	return slogFactory{l: l}
}

type slogFactory struct{ l *slog.Logger }

func (f slogFactory) NewLogger(scope string) logging.LeveledLogger {
	return slogLogger{l: f.l.With("scope", scope)}
}

type slogLogger struct{ l *slog.Logger }

var (
	ipv4Re = regexp.MustCompile(`\b\d{1,3}(\.\d{1,3}){3}\b`)
	// Loose on purpose: any run of hex groups with two or more colons.
	ipv6Re  = regexp.MustCompile(`\[?\b[0-9A-Fa-f]{0,4}(:[0-9A-Fa-f]{0,4}){2,7}\]?`)
	mdnsRe  = regexp.MustCompile(`[0-9A-Za-z-]+\.local\b`)
	sdpHint = []string{"candidate", "v=0", "a=", "typ host", "typ srflx", "typ relay", "raddr", "ufrag", "pwd", "password"}
)

// redact returns the message with addresses removed, or false to drop it.
func redact(msg string) (string, bool) {
	low := strings.ToLower(msg)
	for _, h := range sdpHint {
		if strings.Contains(low, h) {
			return "", false
		}
	}
	msg = ipv4Re.ReplaceAllString(msg, "<ip>")
	msg = ipv6Re.ReplaceAllStringFunc(msg, func(s string) string {
		if strings.Count(s, ":") >= 2 {
			return "<ip>"
		}

		return s
	})

	return mdnsRe.ReplaceAllString(msg, "<mdns>"), true
}

func (s slogLogger) log(level slog.Level, msg string) {
	ctx := context.Background()
	if !s.l.Enabled(ctx, level) {
		return
	}
	if text, ok := redact(msg); ok {
		s.l.Log(ctx, level, "pion", "text", text)
	}
}

func (s slogLogger) Trace(string)                      {}
func (s slogLogger) Tracef(string, ...any)             {}
func (s slogLogger) Debug(msg string)                  { s.log(slog.LevelDebug, msg) }
func (s slogLogger) Debugf(format string, args ...any) { s.logf(slog.LevelDebug, format, args) }
func (s slogLogger) Info(msg string)                   { s.log(slog.LevelInfo, msg) }
func (s slogLogger) Infof(format string, args ...any)  { s.logf(slog.LevelInfo, format, args) }
func (s slogLogger) Warn(msg string)                   { s.log(slog.LevelWarn, msg) }
func (s slogLogger) Warnf(format string, args ...any)  { s.logf(slog.LevelWarn, format, args) }
func (s slogLogger) Error(msg string)                  { s.log(slog.LevelError, msg) }
func (s slogLogger) Errorf(format string, args ...any) { s.logf(slog.LevelError, format, args) }

func (s slogLogger) logf(level slog.Level, format string, args []any) {
	if s.l.Enabled(context.Background(), level) {
		s.log(level, fmt.Sprintf(format, args...))
	}
}
