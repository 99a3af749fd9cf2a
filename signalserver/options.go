package signalserver

import (
	"crypto/tls"
	"log/slog"
	"net"
	"strings"
	"time"
)

// Defaults. Every one can be changed with an Option and a CLI flag.
const (
	DefaultRoomCapacity      = 4 // group calls are a mesh: each peer sends to every other
	DefaultMaxRooms          = 10000
	DefaultMaxConnsPerIP     = 16
	DefaultMaxMessageSize    = 64 << 10
	DefaultRate              = 20 // messages per second per connection
	DefaultBurst             = 60 // ICE gathering sends candidates in bursts
	DefaultPingInterval      = 25 * time.Second
	DefaultPongWait          = 60 * time.Second
	DefaultWriteTimeout      = 10 * time.Second
	DefaultSendQueue         = 32
	DefaultResumeGrace       = 30 * time.Second
	DefaultResumeTTL         = time.Hour
	DefaultTURNCredentialTTL = 10 * time.Minute
	DefaultShutdownTimeout   = 5 * time.Second
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultBufferSize        = 512
	// DefaultMaxRoomsPerIP bounds rooms (held in resume grace included)
	// one client address has created, so one address cannot fill the room
	// table.
	DefaultMaxRoomsPerIP = 16
	// DefaultMaxPendingPerIP bounds HTTP requests to /ws from one address
	// that have not finished their WebSocket upgrade.
	DefaultMaxPendingPerIP = 16
	// DefaultAttemptsFree is how many wrong passwords or tokens an address
	// may send before the backoff starts.
	DefaultAttemptsFree = 3
	// DefaultAttemptsBackoff is the first wait after the free attempts; it
	// doubles with each further failure up to DefaultAttemptsMaxBackoff.
	DefaultAttemptsBackoff    = time.Second
	DefaultAttemptsMaxBackoff = 5 * time.Minute
)

type config struct {
	logger          *slog.Logger
	secret          []byte
	secretEphemeral bool
	requireToken    bool

	roomCapacity  int
	maxRooms      int
	maxConnsPerIP int
	maxMsgSize    int
	rate          float64
	burst         int

	pingInterval time.Duration
	pongWait     time.Duration
	writeTimeout time.Duration
	sendQueue    int
	bufferSize   int

	resumeGrace time.Duration
	resumeTTL   time.Duration

	maxRoomsPerIP   int
	maxPendingPerIP int
	ipv6Prefix      int
	attemptsFree    int
	attemptsBackoff time.Duration
	attemptsMax     time.Duration
	publicHosts     []string

	allowedOrigins []string
	trustProxy     bool

	iceServers  []ICEServer
	turnCredTTL time.Duration
	turn        *TURNConfig

	tlsConfig         *tls.Config
	shutdownTimeout   time.Duration
	readHeaderTimeout time.Duration
}

func defaultConfig() config {
	return config{
		logger:            slog.New(slog.DiscardHandler),
		roomCapacity:      DefaultRoomCapacity,
		maxRooms:          DefaultMaxRooms,
		maxConnsPerIP:     DefaultMaxConnsPerIP,
		maxMsgSize:        DefaultMaxMessageSize,
		rate:              DefaultRate,
		burst:             DefaultBurst,
		pingInterval:      DefaultPingInterval,
		pongWait:          DefaultPongWait,
		writeTimeout:      DefaultWriteTimeout,
		sendQueue:         DefaultSendQueue,
		bufferSize:        DefaultBufferSize,
		resumeGrace:       DefaultResumeGrace,
		resumeTTL:         DefaultResumeTTL,
		maxRoomsPerIP:     DefaultMaxRoomsPerIP,
		maxPendingPerIP:   DefaultMaxPendingPerIP,
		ipv6Prefix:        DefaultIPv6Prefix,
		attemptsFree:      DefaultAttemptsFree,
		attemptsBackoff:   DefaultAttemptsBackoff,
		attemptsMax:       DefaultAttemptsMaxBackoff,
		turnCredTTL:       DefaultTURNCredentialTTL,
		shutdownTimeout:   DefaultShutdownTimeout,
		readHeaderTimeout: DefaultReadHeaderTimeout,
	}
}

// Option configures a Server.
type Option func(*config) error

// WithLogger sets the structured logger (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l != nil {
			c.logger = l
		}
		return nil
	}
}

// WithSecret sets the server secret that signs join tokens, resume tokens
// and TURN REST credentials. Without it a random per-process secret is
// used: tokens then die with the process and a client resuming after a
// restart gets a new peer id.
func WithSecret(secret []byte) Option {
	return func(c *config) error {
		if len(secret) < 16 {
			return configErr("secret must be at least 16 bytes")
		}
		c.secret = append([]byte(nil), secret...)
		return nil
	}
}

// WithRequireToken makes every join present a valid join token
// (see MintToken). A valid resume token also suffices.
func WithRequireToken(on bool) Option {
	return func(c *config) error { c.requireToken = on; return nil }
}

// WithRoomCapacity sets peers per room (default DefaultRoomCapacity).
func WithRoomCapacity(n int) Option {
	return positive(&n, "room capacity", func(c *config) { c.roomCapacity = n })
}

// WithMaxRooms caps concurrent rooms.
func WithMaxRooms(n int) Option { return positive(&n, "max rooms", func(c *config) { c.maxRooms = n }) }

// WithMaxConnsPerIP caps concurrent WebSocket connections from one IP.
func WithMaxConnsPerIP(n int) Option {
	return positive(&n, "connections per IP", func(c *config) { c.maxConnsPerIP = n })
}

// WithMaxRoomsPerIP caps the rooms one client address has created that
// still exist, counting rooms kept for a resume.
func WithMaxRoomsPerIP(n int) Option {
	return positive(&n, "rooms per IP", func(c *config) { c.maxRoomsPerIP = n })
}

// WithMaxPendingPerIP caps WebSocket handshakes in progress per client
// address (requests to /ws not yet upgraded).
func WithMaxPendingPerIP(n int) Option {
	return positive(&n, "pending handshakes per IP", func(c *config) { c.maxPendingPerIP = n })
}

// WithIPv6Prefix sets the IPv6 prefix length per-client limits count
// against (default 64; 128 counts single addresses).
func WithIPv6Prefix(bits int) Option {
	return func(c *config) error {
		if bits < 16 || bits > 128 {
			return configErr("IPv6 prefix must be 16-128 bits")
		}
		c.ipv6Prefix = bits
		return nil
	}
}

// WithAttemptThrottle sets the wrong password/token throttle: free
// failures per address (and per room) before the backoff, the first wait,
// and the longest wait (the wait doubles with every further failure).
func WithAttemptThrottle(free int, first, longest time.Duration) Option {
	return func(c *config) error {
		if free < 0 || first <= 0 || longest < first {
			return configErr("attempt throttle needs free >= 0 and 0 < first <= longest")
		}
		c.attemptsFree, c.attemptsBackoff, c.attemptsMax = free, first, longest
		return nil
	}
}

// WithPublicHosts sets the host names (host or host:port) browsers reach
// this server under. A browser Origin whose host is one of them is allowed;
// without them only loopback origins and WithAllowedOrigins are.
func WithPublicHosts(hosts ...string) Option {
	return func(c *config) error {
		for _, h := range hosts {
			if h = strings.ToLower(strings.TrimSpace(h)); h != "" {
				c.publicHosts = append(c.publicHosts, h)
			}
		}
		return nil
	}
}

// WithMaxMessageSize caps one message in bytes (default 64 KiB).
func WithMaxMessageSize(n int) Option {
	return positive(&n, "max message size", func(c *config) { c.maxMsgSize = n })
}

// WithRateLimit sets the per-connection token bucket: perSecond refill, burst size.
func WithRateLimit(perSecond float64, burst int) Option {
	return func(c *config) error {
		if perSecond <= 0 || burst <= 0 {
			return configErr("rate limit must be positive")
		}
		c.rate, c.burst = perSecond, burst
		return nil
	}
}

// WithHeartbeat sets the ping interval and how long to wait for any frame
// (pong included) before dropping a connection. pongWait must exceed ping.
func WithHeartbeat(ping, pongWait time.Duration) Option {
	return func(c *config) error {
		if ping <= 0 || pongWait <= ping {
			return configErr("heartbeat needs 0 < ping < pong wait")
		}
		c.pingInterval, c.pongWait = ping, pongWait
		return nil
	}
}

// WithWriteTimeout bounds each write to a client.
func WithWriteTimeout(d time.Duration) Option {
	return positiveDuration(d, "write timeout", func(c *config) { c.writeTimeout = d })
}

// WithSendQueue sets the per-connection outgoing queue length; a client
// whose queue is full is a slow consumer and is dropped.
func WithSendQueue(n int) Option {
	return positive(&n, "send queue", func(c *config) { c.sendQueue = n })
}

// WithBufferSize sets the WebSocket read buffer and pooled write buffer
// size (minimum 512: gorilla only adopts readers above 256 bytes).
func WithBufferSize(n int) Option {
	return positive(&n, "buffer size", func(c *config) { c.bufferSize = max(n, 512) })
}

// WithResumeGrace sets how long a disconnected peer's slot is kept (and
// peer-left withheld) waiting for a resume. Zero announces at once.
func WithResumeGrace(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return configErr("resume grace must not be negative")
		}
		c.resumeGrace = d
		return nil
	}
}

// WithResumeTTL sets how long an issued resume token stays valid.
func WithResumeTTL(d time.Duration) Option {
	return positiveDuration(d, "resume ttl", func(c *config) { c.resumeTTL = d })
}

// WithAllowedOrigins sets the browser Origin allow-list (exact
// "scheme://host[:port]" matches, or "*"). Requests without an Origin
// header (desktop clients) are always allowed. Without a list only
// same-host origins are allowed.
func WithAllowedOrigins(origins ...string) Option {
	return func(c *config) error {
		for _, o := range origins {
			if o = strings.TrimSpace(o); o != "" {
				c.allowedOrigins = append(c.allowedOrigins, strings.ToLower(strings.TrimRight(o, "/")))
			}
		}
		return nil
	}
}

// WithTrustProxy takes the client IP from X-Real-IP (set by the reverse
// proxy) for per-IP limits. Only enable it behind a proxy.
func WithTrustProxy(on bool) Option {
	return func(c *config) error { c.trustProxy = on; return nil }
}

// WithICEServers adds STUN/TURN servers to hand out on join. Entries with
// a turn: or turns: URL and no Username get per-join TURN REST credentials
// minted from the server secret.
func WithICEServers(servers ...ICEServer) Option {
	return func(c *config) error {
		for _, s := range servers {
			if len(s.URLs) == 0 {
				return configErr("ICE server without URLs")
			}
			for _, u := range s.URLs {
				if !strings.HasPrefix(u, "stun:") && !strings.HasPrefix(u, "stuns:") &&
					!strings.HasPrefix(u, "turn:") && !strings.HasPrefix(u, "turns:") {
					return configErr("ICE URL %q must start with stun:, stuns:, turn: or turns:", u)
				}
			}
			c.iceServers = append(c.iceServers, s)
		}
		return nil
	}
}

// WithTURNCredentialTTL sets the lifetime of minted TURN credentials.
func WithTURNCredentialTTL(d time.Duration) Option {
	return positiveDuration(d, "TURN credential ttl", func(c *config) { c.turnCredTTL = d })
}

// TURNConfig enables the built-in STUN/TURN server (pion/turn).
type TURNConfig struct {
	// Listen is the UDP address, e.g. "0.0.0.0:3478".
	Listen string
	// RelayIP is the address put in relay candidates (the public IP).
	// Default: the Listen host when it is a specific address.
	RelayIP net.IP
	// MinPort and MaxPort bound relay ports (default 49152-65535).
	MinPort, MaxPort uint16
	// AllowPrivate permits relaying to loopback, private and link-local peers.
	AllowPrivate bool
	// URLs are the URLs clients use to reach this server (public names).
	// Default: stun:/turn: URLs from RelayIP and the listen port.
	URLs []string
	// Realm (default "peercall").
	Realm string
	// MaxAllocationsPerUser caps live relay allocations per TURN user
	// (one peer id); more get 486 Allocation Quota Reached. Default
	// DefaultTURNUserQuota.
	MaxAllocationsPerUser int
	// MaxAllocationsPerIP caps live relay allocations per client address
	// (IPv6: per prefix, see WithIPv6Prefix). Default DefaultTURNIPQuota.
	MaxAllocationsPerIP int
	// MaxLifetime caps the lifetime a client may ask for; refreshes renew
	// it. Default DefaultTURNMaxLifetime.
	MaxLifetime time.Duration
	// AllowTCP grants RFC 6062 TCP relay allocations. Off by default: the
	// relay would open outbound TCP connections for anyone holding
	// credentials (a port scanner from the server's address).
	AllowTCP bool
	// STUNOnly answers STUN binding requests and refuses every relay
	// allocation; joins get the stun: URL without credentials. An app that
	// hosts a call in-process uses it so srflx-only policies (no-host) work
	// without a third party, and without opening a relay into the host's
	// network to everyone who has the link.
	STUNOnly bool
}

// WithTURN enables the built-in TURN server.
func WithTURN(t TURNConfig) Option {
	return func(c *config) error {
		if t.Listen == "" {
			return configErr("TURN listen address is empty")
		}
		cp := t
		c.turn = &cp
		return nil
	}
}

// WithTLSConfig makes Serve speak TLS (wss://) on its listener.
func WithTLSConfig(tc *tls.Config) Option {
	return func(c *config) error { c.tlsConfig = tc; return nil }
}

// WithShutdownTimeout bounds graceful shutdown before connections are cut.
func WithShutdownTimeout(d time.Duration) Option {
	return positiveDuration(d, "shutdown timeout", func(c *config) { c.shutdownTimeout = d })
}

func positive(n *int, what string, set func(*config)) Option {
	return func(c *config) error {
		if *n <= 0 {
			return configErr("%s must be positive", what)
		}
		set(c)
		return nil
	}
}

func positiveDuration(d time.Duration, what string, set func(*config)) Option {
	return func(c *config) error {
		if d <= 0 {
			return configErr("%s must be positive", what)
		}
		set(c)
		return nil
	}
}
