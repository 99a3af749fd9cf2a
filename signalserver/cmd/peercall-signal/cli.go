package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/peercall/peercall/signalserver"
)

const envPrefix = "PEERCALL_"

// defaultAddr is where the standalone server listens unless told
// otherwise: loopback only, for the usual deployment behind a TLS reverse
// proxy (docs/deploy/nginx.conf). Use --addr :8443 with TLS flags to
// expose it directly.
const defaultAddr = "127.0.0.1:8080"

// run is the peercall-signal command: `peercall-signal [flags]` runs the
// server until ctx is cancelled; `peercall-signal token --room R --ttl 1h`
// prints a join token. Every flag can also come from PEERCALL_<FLAG> (upper
// case, dashes as underscores); command-line values win.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "token" {
		return runToken(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("peercall-signal", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		addr          = fs.String("addr", defaultAddr, "listen address HOST:PORT for HTTP/WebSocket (/ws, /healthz, /metrics)")
		secret        = fs.String("secret", "", "server secret (>=16 bytes) for join/resume tokens and TURN credentials; default random per process")
		secretFile    = fs.String("secret-file", "", "read the server secret from this file")
		requireToken  = fs.Bool("require-token", false, "every join must carry a token from `peercall-signal token`")
		capacity      = fs.Int("room-capacity", signalserver.DefaultRoomCapacity, "peers per room (a group call is a mesh: each peer sends to every other)")
		maxRooms      = fs.Int("max-rooms", signalserver.DefaultMaxRooms, "maximum concurrent rooms")
		connsPerIP    = fs.Int("max-conns-per-ip", signalserver.DefaultMaxConnsPerIP, "maximum WebSocket connections per client IP")
		maxMsg        = fs.Int("max-message-size", signalserver.DefaultMaxMessageSize, "maximum message size in bytes")
		rateF         = fs.Float64("rate", signalserver.DefaultRate, "messages per second per connection (token bucket refill)")
		burst         = fs.Int("burst", signalserver.DefaultBurst, "message burst per connection (token bucket size)")
		ping          = fs.Duration("ping-interval", signalserver.DefaultPingInterval, "WebSocket ping interval")
		pongWait      = fs.Duration("pong-wait", signalserver.DefaultPongWait, "drop a connection silent for this long")
		writeTimeout  = fs.Duration("write-timeout", signalserver.DefaultWriteTimeout, "per-write deadline")
		sendQueue     = fs.Int("send-queue", signalserver.DefaultSendQueue, "per-connection send queue; a full queue drops the slow client")
		grace         = fs.Duration("resume-grace", signalserver.DefaultResumeGrace, "keep a disconnected peer's slot this long for a resume")
		shutdownT     = fs.Duration("shutdown-timeout", signalserver.DefaultShutdownTimeout, "graceful shutdown deadline")
		origins       = fs.String("allowed-origins", "", "comma-separated browser origins allowed (scheme://host[:port] or *); default same host. Clients without Origin are always allowed")
		trustProxy    = fs.Bool("trust-proxy", false, "take the client IP from X-Real-IP (only behind a reverse proxy)")
		stunURLs      = fs.String("stun-url", "", "comma-separated STUN URLs handed to clients (default none)")
		turnURLs      = fs.String("turn-url", "", "comma-separated TURN URLs handed to clients with minted REST credentials; with --turn-listen, the public URLs of the built-in server")
		turnTTL       = fs.Duration("turn-ttl", signalserver.DefaultTURNCredentialTTL, "lifetime of minted TURN credentials")
		turnListen    = fs.String("turn-listen", "", "enable the built-in STUN/TURN server on this UDP address (e.g. 0.0.0.0:3478)")
		turnRelayIP   = fs.String("turn-relay-ip", "", "public IP advertised for TURN relays (required if --turn-listen host is unspecified)")
		turnPorts     = fs.String("turn-relay-ports", "49152-65535", "TURN relay port range MIN-MAX")
		turnPrivate   = fs.Bool("turn-allow-private", false, "let TURN relay to loopback, private, link-local and other non-global peers and to this host's own addresses (tests, LANs)")
		turnTCP       = fs.Bool("turn-allow-tcp", false, "grant RFC 6062 TCP relay allocations (the relay then opens TCP connections for clients)")
		turnUserQuota = fs.Int("turn-user-quota", signalserver.DefaultTURNUserQuota, "maximum live TURN allocations per user (peer id)")
		turnIPQuota   = fs.Int("turn-ip-quota", signalserver.DefaultTURNIPQuota, "maximum live TURN allocations per client address (IPv6: per --ipv6-prefix)")
		turnLifetime  = fs.Duration("turn-max-lifetime", signalserver.DefaultTURNMaxLifetime, "longest TURN allocation lifetime granted; refreshes renew it")
		roomsPerIP    = fs.Int("max-rooms-per-ip", signalserver.DefaultMaxRoomsPerIP, "maximum rooms created by one client address that still exist (rooms held for a resume count)")
		pendingPerIP  = fs.Int("max-pending-per-ip", signalserver.DefaultMaxPendingPerIP, "maximum WebSocket handshakes in progress per client address")
		v6Prefix      = fs.Int("ipv6-prefix", signalserver.DefaultIPv6Prefix, "IPv6 prefix length per-client limits count against")
		attemptsFree  = fs.Int("auth-free-attempts", signalserver.DefaultAttemptsFree, "wrong passwords/tokens per address and per room before backoff starts")
		attemptsWait  = fs.Duration("auth-backoff", signalserver.DefaultAttemptsBackoff, "first wait after the free wrong attempts; doubles per further failure")
		attemptsMax   = fs.Duration("auth-max-backoff", signalserver.DefaultAttemptsMaxBackoff, "longest wait between wrong attempts")
		publicHosts   = fs.String("public-host", "", "comma-separated host[:port] names browsers use to reach this server; their origins are allowed (default: loopback only)")
		resumeTTL     = fs.Duration("resume-ttl", signalserver.DefaultResumeTTL, "lifetime of a resume token (each resume issues a new one)")
		tlsCert       = fs.String("tls-cert", "", "TLS certificate file (PEM); serve wss:// directly")
		tlsKey        = fs.String("tls-key", "", "TLS key file (PEM)")
		tlsSelfSigned = fs.Bool("tls-self-signed", false, "generate a self-signed certificate and print its SHA-256 fingerprint for client pinning")
		tlsHosts      = fs.String("tls-hosts", "localhost,127.0.0.1", "comma-separated names/IPs for the self-signed certificate")
		logLevel      = fs.String("log-level", "info", "log level: debug, info, warn, error")
		logJSON       = fs.Bool("log-json", false, "log as JSON instead of text")
	)
	fs.Usage = func() { usage(fs, stderr) }
	if err := parseWithEnv(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	logger, err := newLogger(stderr, *logLevel, *logJSON)
	if err != nil {
		return err
	}
	sec, err := loadSecret(*secret, *secretFile)
	if err != nil {
		return err
	}
	opts := []signalserver.Option{
		signalserver.WithLogger(logger),
		signalserver.WithRequireToken(*requireToken),
		signalserver.WithRoomCapacity(*capacity),
		signalserver.WithMaxRooms(*maxRooms),
		signalserver.WithMaxConnsPerIP(*connsPerIP),
		signalserver.WithMaxMessageSize(*maxMsg),
		signalserver.WithRateLimit(*rateF, *burst),
		signalserver.WithHeartbeat(*ping, *pongWait),
		signalserver.WithWriteTimeout(*writeTimeout),
		signalserver.WithSendQueue(*sendQueue),
		signalserver.WithResumeGrace(*grace),
		signalserver.WithShutdownTimeout(*shutdownT),
		signalserver.WithAllowedOrigins(splitList(*origins)...),
		signalserver.WithTrustProxy(*trustProxy),
		signalserver.WithTURNCredentialTTL(*turnTTL),
		signalserver.WithMaxRoomsPerIP(*roomsPerIP),
		signalserver.WithMaxPendingPerIP(*pendingPerIP),
		signalserver.WithIPv6Prefix(*v6Prefix),
		signalserver.WithAttemptThrottle(*attemptsFree, *attemptsWait, *attemptsMax),
		signalserver.WithPublicHosts(splitList(*publicHosts)...),
		signalserver.WithResumeTTL(*resumeTTL),
	}
	if sec != nil {
		opts = append(opts, signalserver.WithSecret(sec))
	}
	if u := splitList(*stunURLs); len(u) > 0 {
		opts = append(opts, signalserver.WithICEServers(signalserver.ICEServer{URLs: u}))
	}
	if *turnListen != "" {
		tc := signalserver.TURNConfig{Listen: *turnListen, AllowPrivate: *turnPrivate, URLs: splitList(*turnURLs),
			AllowTCP: *turnTCP, MaxAllocationsPerUser: *turnUserQuota, MaxAllocationsPerIP: *turnIPQuota, MaxLifetime: *turnLifetime}
		if *turnRelayIP != "" {
			if tc.RelayIP = net.ParseIP(*turnRelayIP); tc.RelayIP == nil {
				return configErr("--turn-relay-ip %q is not an IP", *turnRelayIP)
			}
		}
		if tc.MinPort, tc.MaxPort, err = parsePortRange(*turnPorts); err != nil {
			return err
		}
		opts = append(opts, signalserver.WithTURN(tc))
	} else if u := splitList(*turnURLs); len(u) > 0 {
		opts = append(opts, signalserver.WithICEServers(signalserver.ICEServer{URLs: u}))
	}
	switch {
	case *tlsSelfSigned:
		cert, fp, err := signalserver.SelfSignedCertificate(splitList(*tlsHosts), 365*24*time.Hour)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "tls-fingerprint-sha256: %s\n", fp)
		opts = append(opts, signalserver.WithTLSConfig(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}))
	case *tlsCert != "" || *tlsKey != "":
		cert, err := tls.LoadX509KeyPair(*tlsCert, *tlsKey)
		if err != nil {
			return fmt.Errorf("load TLS key pair: %w", err)
		}
		opts = append(opts, signalserver.WithTLSConfig(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}))
	}
	srv, err := signalserver.New(opts...)
	if err != nil {
		return err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", *addr)
	if err != nil {
		_ = srv.Close()
		return fmt.Errorf("listen %s: %w", *addr, err)
	}
	return srv.Serve(ctx, ln)
}

func runToken(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("peercall-signal token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	room := fs.String("room", "", "room the token admits to (required)")
	ttl := fs.Duration("ttl", time.Hour, "token lifetime")
	secret := fs.String("secret", "", "server secret (same as the server's)")
	secretFile := fs.String("secret-file", "", "read the server secret from this file")
	fs.Usage = func() { usage(fs, stderr) }
	if err := parseWithEnv(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	sec, err := loadSecret(*secret, *secretFile)
	if err != nil {
		return err
	}
	if sec == nil {
		return configErr("token needs --secret or --secret-file (the server's secret)")
	}
	tok, err := signalserver.MintToken(sec, *room, *ttl)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, tok)
	return err
}

// parseWithEnv fills flags not given on the command line from PEERCALL_*.
func parseWithEnv(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return configErr("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		if v, ok := os.LookupEnv(envName(f.Name)); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = configErr("%s=%q: %v", envName(f.Name), v, e)
			}
		}
	})
	return err
}

func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func usage(fs *flag.FlagSet, w io.Writer) {
	fmt.Fprintf(w, "Usage:\n  peercall-signal [flags]\n  peercall-signal token --room ROOM [--ttl 1h] [--secret S]\n\nFlags (each also read from the environment variable shown):\n")
	fs.VisitAll(func(f *flag.Flag) {
		def := ""
		if f.DefValue != "" {
			def = " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(w, "  --%s  [%s]%s\n      %s\n", f.Name, envName(f.Name), def, f.Usage)
	})
}

func loadSecret(secret, file string) ([]byte, error) {
	if secret != "" && file != "" {
		return nil, configErr("use --secret or --secret-file, not both")
	}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("read secret file: %w", err)
		}
		secret = strings.TrimSpace(string(b))
	}
	if secret == "" {
		return nil, nil
	}
	if len(secret) < 16 {
		return nil, configErr("secret must be at least 16 bytes")
	}
	return []byte(secret), nil
}

func newLogger(w io.Writer, level string, asJSON bool) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, configErr("log level %q: %v", level, err)
	}
	o := &slog.HandlerOptions{Level: lv}
	if asJSON {
		return slog.New(slog.NewJSONHandler(w, o)), nil
	}
	return slog.New(slog.NewTextHandler(w, o)), nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func parsePortRange(s string) (uint16, uint16, error) {
	lo, hi, ok := strings.Cut(s, "-")
	a, err1 := strconv.ParseUint(strings.TrimSpace(lo), 10, 16)
	b, err2 := strconv.ParseUint(strings.TrimSpace(hi), 10, 16)
	if !ok || err1 != nil || err2 != nil || a == 0 || b < a {
		return 0, 0, configErr("port range %q must be MIN-MAX", s)
	}
	return uint16(a), uint16(b), nil
}

// configErr marks an unusable flag value the way the library marks an
// unusable option, so callers branch on signalserver.ErrConfig alone.
func configErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", signalserver.ErrConfig, fmt.Sprintf(format, args...))
}
