package signalserver

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync/atomic"

	"github.com/pion/logging"
	"github.com/pion/turn/v5"
)

// startTURN runs the built-in STUN/TURN server. It authenticates with the
// TURN REST scheme over the server secret, so credentials minted on join
// work here and on a coturn configured with the same use-auth-secret.
func (s *Server) startTURN() error {
	t := s.cfg.turn
	host, portStr, err := net.SplitHostPort(t.Listen)
	if err != nil {
		return configErr("TURN listen %q: %v", t.Listen, err)
	}
	relayIP := t.RelayIP
	if relayIP == nil {
		relayIP = net.ParseIP(host)
		if relayIP == nil || relayIP.IsUnspecified() {
			return configErr("TURN relay IP is required when listening on %q", t.Listen)
		}
	}
	minPort, maxPort := t.MinPort, t.MaxPort
	if minPort == 0 && maxPort == 0 {
		minPort, maxPort = 49152, 65535
	}
	if minPort == 0 || maxPort < minPort {
		return configErr("TURN relay port range %d-%d is invalid", minPort, maxPort)
	}
	relayBind := host
	if relayBind == "" {
		relayBind = "0.0.0.0"
	}
	pc, err := net.ListenPacket("udp", t.Listen)
	if err != nil {
		return fmt.Errorf("turn listen: %w", err)
	}
	realm := t.Realm
	if realm == "" {
		realm = "peercall"
	}
	lf := slogLoggerFactory{l: s.log, quiet: &s.turnQuiet}
	allowPrivate := t.AllowPrivate
	v6Prefix := s.cfg.ipv6Prefix
	g := newTURNGuard(s.cfg.secret, t, func(a net.Addr) string {
		if ua, ok := a.(*net.UDPAddr); ok {
			return addrKey(ua.IP.String(), v6Prefix)
		}
		return a.String()
	})
	g.onQuota = func() { s.metrics.reject("turn-quota") }
	s.turnGuard = g
	own := newOwnAddrs(relayIP, net.ParseIP(host))
	authHandler := g.auth
	if t.STUNOnly {
		// Binding requests need no authentication; every allocation fails it.
		authHandler = func(*turn.RequestAttributes) (string, []byte, bool) { return "", nil, false }
	}
	srv, err := turn.NewServer(turn.ServerConfig{
		Realm:              realm,
		LoggerFactory:      lf,
		AuthHandler:        authHandler,
		QuotaHandler:       g.quota,
		EventHandler:       g.events(),
		AllocationLifetime: g.maxLifetime,
		PacketConnConfigs: []turn.PacketConnConfig{{
			PacketConn: &turnGate{PacketConn: pc, g: g},
			RelayAddressGenerator: guardedRelays{g: g, RelayAddressGenerator: &turn.RelayAddressGeneratorPortRange{
				RelayAddress: relayIP,
				Address:      relayBind,
				MinPort:      minPort,
				MaxPort:      maxPort,
			}},
			PermissionHandler: func(_ net.Addr, peerIP net.IP) bool {
				return allowPrivate || relayablePeer(peerIP) && !own.contains(peerIP)
			},
		}},
	})
	if err != nil {
		_ = pc.Close()
		return fmt.Errorf("turn server: %w", err)
	}
	s.turn = srv
	s.turnAddr = pc.LocalAddr()
	urls := append([]string(nil), t.URLs...)
	if len(urls) == 0 {
		port := portStr
		if ua, ok := pc.LocalAddr().(*net.UDPAddr); ok {
			port = strconv.Itoa(ua.Port)
		}
		hp := net.JoinHostPort(relayIP.String(), port)
		urls = []string{"stun:" + hp}
		if !t.STUNOnly {
			urls = append(urls, "turn:"+hp+"?transport=udp")
		}
	}
	if t.STUNOnly {
		// Handed out like a configured STUN server: no credentials.
		s.cfg.iceServers = append(s.cfg.iceServers, ICEServer{URLs: urls})
	} else {
		s.turnURLs = urls
	}
	s.log.Info("built-in TURN listening", "addr", pc.LocalAddr().String(), "relay_ip", relayIP.String(),
		"ports", fmt.Sprintf("%d-%d", minPort, maxPort), "allow_private", allowPrivate, "allow_tcp", t.AllowTCP,
		"user_quota", g.userQuota, "ip_quota", g.ipQuota, "max_lifetime", g.maxLifetime)
	return nil
}

// slogLoggerFactory routes pion logs into slog. Once quiet is set its
// loggers drop every line: pion/turn's Close does not wait for its read
// loops, which log their exit after Shutdown has returned, into a log its
// caller may already have closed or be reading.
type slogLoggerFactory struct {
	l     *slog.Logger
	quiet *atomic.Bool
}

func (f slogLoggerFactory) NewLogger(scope string) logging.LeveledLogger {
	return slogLeveled{l: f.l.With("scope", scope), quiet: f.quiet}
}

type slogLeveled struct {
	l     *slog.Logger
	quiet *atomic.Bool
}

func (s slogLeveled) logf(level slog.Level, format string, args ...any) {
	if s.quiet != nil && s.quiet.Load() || !s.l.Enabled(context.Background(), level) {
		return
	}
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	s.l.Log(context.Background(), level, "pion", "detail", msg)
}

func (s slogLeveled) Trace(string)                      {}
func (s slogLeveled) Tracef(string, ...any)             {}
func (s slogLeveled) Debug(msg string)                  { s.logf(slog.LevelDebug, "%s", msg) }
func (s slogLeveled) Debugf(format string, args ...any) { s.logf(slog.LevelDebug, format, args...) }
func (s slogLeveled) Info(msg string)                   { s.logf(slog.LevelInfo, "%s", msg) }
func (s slogLeveled) Infof(format string, args ...any)  { s.logf(slog.LevelInfo, format, args...) }
func (s slogLeveled) Warn(msg string)                   { s.logf(slog.LevelWarn, "%s", msg) }
func (s slogLeveled) Warnf(format string, args ...any)  { s.logf(slog.LevelWarn, format, args...) }
func (s slogLeveled) Error(msg string)                  { s.logf(slog.LevelError, "%s", msg) }
func (s slogLeveled) Errorf(format string, args ...any) { s.logf(slog.LevelError, format, args...) }
