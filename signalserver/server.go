package signalserver

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/turn/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Server is the signaling server. Create it with New; host it with Serve
// on a listener or mount Handler in an existing http.Server.
type Server struct {
	cfg      config
	log      *slog.Logger
	metrics  *metrics
	hub      *hub
	upgrader websocket.Upgrader
	handler  http.Handler
	turn     *turn.Server
	// turnGuard is the built-in TURN server's quota and membership state;
	// nil without it.
	turnGuard *turnGuard
	turnURLs  []string
	turnAddr  net.Addr
	// turnQuiet silences the TURN server's logs from its Close on.
	turnQuiet atomic.Bool
	epoch     time.Time // base of the monotonic relay timestamps

	addr atomic.Pointer[net.Addr]

	mu      sync.Mutex
	closing bool
	conns   map[*conn]struct{}
	perIP   map[string]int
	// pending counts, per address, TCP connections that have not yet sent
	// a complete request (Serve only).
	pending      map[string]int
	pendingConns map[net.Conn]struct{}
	wg           sync.WaitGroup // hijacked connections

	served       atomic.Bool
	shutdownOnce sync.Once
	shutdownErr  error
}

// New builds a server and starts its hub (and the built-in TURN server when
// configured). Release it with Serve's context, Shutdown or Close.
func New(opts ...Option) (*Server, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if len(cfg.secret) == 0 {
		cfg.secret = make([]byte, 32)
		if _, err := rand.Read(cfg.secret); err != nil {
			return nil, fmt.Errorf("server secret: %w", err)
		}
		cfg.secretEphemeral = true
	}
	s := &Server{
		cfg:     cfg,
		log:     cfg.logger,
		metrics: newMetrics(),
		conns:   make(map[*conn]struct{}),
		perIP:   make(map[string]int),
		pending: make(map[string]int),

		pendingConns: make(map[net.Conn]struct{}),
		epoch:        time.Now(),
	}
	s.upgrader = websocket.Upgrader{
		// 0: gorilla adopts the hijacked reader, which ownReader supplies.
		ReadBufferSize:  0,
		WriteBufferSize: cfg.bufferSize,
		// A shared pool: idle connections hold no write buffer.
		WriteBufferPool:  &sync.Pool{},
		HandshakeTimeout: cfg.writeTimeout,
		// Origin is checked in serveWS so the client gets a protocol error.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	if cfg.turn != nil {
		if err := s.startTURN(); err != nil {
			return nil, err
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", s.serveWS)
	mux.HandleFunc("/healthz", s.serveHealth)
	mux.Handle("/metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}))
	registerWeb(mux) // the browser client at / and /r/{room} (docs/browser.md)
	s.handler = mux
	s.hub = newHub(s)
	go s.hub.run(s.hub.ctx)
	if cfg.secretEphemeral {
		s.log.Info("no server secret configured; using a per-process secret, resume after restart yields new peer ids")
	}
	return s, nil
}

// Handler serves /ws, /healthz, /metrics and the browser page (/, /r/{room},
// /static/), for hosting the server inside another http.Server (the app
// does this in-process).
func (s *Server) Handler() http.Handler { return s.handler }

// Gatherer exposes the server's private metrics registry.
func (s *Server) Gatherer() prometheus.Gatherer { return s.metrics.reg }

// Addr is the listener address while Serve runs, nil before.
func (s *Server) Addr() net.Addr {
	if p := s.addr.Load(); p != nil {
		return *p
	}
	return nil
}

// TURNAddr is the built-in TURN server's UDP address, nil when disabled.
func (s *Server) TURNAddr() net.Addr {
	return s.turnAddr
}

// Serve accepts connections on ln until ctx is cancelled, then shuts down
// gracefully: stop accepting, tell clients server-shutdown, wait up to the
// shutdown timeout, cut the rest. It returns nil after a graceful stop.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if !s.served.CompareAndSwap(false, true) {
		return fmt.Errorf("%w: Serve called twice", ErrConfig)
	}
	if s.cfg.tlsConfig != nil {
		ln = tls.NewListener(ln, s.cfg.tlsConfig)
	}
	a := ln.Addr()
	s.addr.Store(&a)
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.cfg.readHeaderTimeout,
		IdleTimeout:       s.cfg.pongWait,
		ErrorLog:          log.New(slogWriter{s.log}, "", 0),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	if !s.cfg.trustProxy {
		// Behind a proxy every connection comes from the proxy; it bounds
		// its own clients.
		hs.ConnState = s.connState
	}
	// Hijacked WebSocket conns are invisible to http.Server.Shutdown; this
	// hook tells them to leave, and Shutdown below waits for them.
	hs.RegisterOnShutdown(s.beginShutdown)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	s.log.Info("signal server listening", "addr", a.String(), "tls", s.cfg.tlsConfig != nil)

	var serveErr error
	select {
	case serveErr = <-errc:
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.shutdownTimeout)
	defer cancel()
	_ = hs.Shutdown(sctx)
	err := s.Shutdown(sctx)
	if serveErr == nil {
		serveErr = <-errc
	}
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	return errors.Join(serveErr, err)
}

// Shutdown sends server-shutdown to every client, waits for them to close
// until ctx ends, then cuts the remaining connections and stops the hub and
// TURN server. It is idempotent; later calls return the first result.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutdownOnce.Do(func() {
		s.beginShutdown()
		done := make(chan struct{})
		go func() { s.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			s.mu.Lock()
			n := len(s.conns)
			for c := range s.conns {
				c.kill()
			}
			s.mu.Unlock()
			s.log.Warn("shutdown deadline passed, cutting connections", "count", n)
			<-done
		}
		s.hub.stop()
		if s.turn != nil {
			s.turnQuiet.Store(true)
			if err := s.turn.Close(); err != nil {
				s.shutdownErr = fmt.Errorf("turn close: %w", err)
			}
		}
		s.log.Info("signal server stopped")
	})
	return s.shutdownErr
}

// Close is Shutdown bounded by the configured shutdown timeout.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.shutdownTimeout)
	defer cancel()
	return s.Shutdown(ctx)
}

func (s *Server) beginShutdown() {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return
	}
	s.closing = true
	s.mu.Unlock()
	s.hub.post(hubEvent{kind: evShutdown})
}

func (s *Server) serveHealth(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	closing := s.closing
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if closing {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("shutting down\n"))
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	// IPv6 clients count per prefix: one subscriber holds a whole /64.
	ip := addrKey(s.clientIP(r), s.cfg.ipv6Prefix)
	// The address's slot is taken before the handshake completes: taken
	// after it, a burst of handshakes from one address all passed the check
	// before any was counted (and a client could see its 101 before the
	// server counted it).
	s.mu.Lock()
	reserved := s.perIP[ip] < s.cfg.maxConnsPerIP
	if reserved {
		s.perIP[ip]++
	}
	s.mu.Unlock()

	ow := &ownReader{ResponseWriter: w, size: s.cfg.bufferSize}
	ws, err := s.upgrader.Upgrade(ow, r, nil)
	if err != nil {
		// Upgrade already wrote an HTTP error.
		if reserved {
			s.mu.Lock()
			s.releaseIPLocked(ip)
			s.mu.Unlock()
		}
		s.metrics.reject("bad-handshake")
		return
	}

	code := ErrorCode("")
	s.mu.Lock()
	if s.closing {
		// Shutdown may already be waiting on wg; do not add to it.
		if reserved {
			s.releaseIPLocked(ip)
		}
		s.mu.Unlock()
		s.metrics.reject(string(CodeShuttingDown))
		rejectNow(ws, CodeShuttingDown, s.cfg.writeTimeout)
		return
	}
	c := newConn(s, ws, ow.br, ip)
	switch {
	case !s.originAllowed(r):
		code = CodeOriginNotAllowed
	case !reserved:
		code = CodeTooManyConnections
	}
	// Counted even when rejected, so the wait in Shutdown covers the
	// rejection's close handshake too.
	s.wg.Add(1)
	s.conns[c] = struct{}{}
	switch {
	case code == "":
		c.counted = true // released in connDone
	case reserved:
		s.releaseIPLocked(ip)
	}
	s.mu.Unlock()
	s.metrics.connections.Inc()

	if code != "" {
		s.log.Info("connection rejected", "code", string(code), "ip", ip)
		c.fail(code, rejectText(code))
		go c.readPump(false)
		return
	}
	go c.readPump(true)
}

// connState bounds connections per address that are open but have not
// delivered a request yet: ReadHeaderTimeout bounds how long each may
// dawdle, this bounds how many one address may hold meanwhile.
func (s *Server) connState(nc net.Conn, st http.ConnState) {
	if st != http.StateNew && st != http.StateActive && st != http.StateClosed && st != http.StateHijacked {
		return
	}
	host, _, err := net.SplitHostPort(nc.RemoteAddr().String())
	if err != nil {
		return
	}
	key := addrKey(host, s.cfg.ipv6Prefix)
	s.mu.Lock()
	defer s.mu.Unlock()
	if st != http.StateNew {
		// Only a connection still counted as new leaves the count.
		if _, ok := s.pendingConns[nc]; ok {
			delete(s.pendingConns, nc)
			decr(s.pending, key)
		}
		return
	}
	if s.pending[key] >= s.cfg.maxPendingPerIP {
		s.metrics.reject("too-many-pending")
		_ = nc.Close()
		return
	}
	s.pending[key]++
	s.pendingConns[nc] = struct{}{}
}

// rejectNow answers a connection that is not tracked by the server.
func rejectNow(ws *websocket.Conn, code ErrorCode, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	if b, err := (Message{Type: TypeError, Code: code, Text: rejectText(code)}).Encode(); err == nil {
		_ = ws.SetWriteDeadline(deadline)
		_ = ws.WriteMessage(websocket.TextMessage, b)
	}
	_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(closeCodeFor(code), string(code)), deadline)
	_ = ws.Close()
}

// connDone is called once per connection after both pumps have exited.
func (s *Server) connDone(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	if c.counted {
		s.releaseIPLocked(c.ip)
	}
	s.mu.Unlock()
	s.metrics.connections.Dec()
	s.wg.Done()
}

// releaseIPLocked gives back one of ip's connection slots. s.mu is held.
func (s *Server) releaseIPLocked(ip string) {
	if s.perIP[ip]--; s.perIP[ip] <= 0 {
		delete(s.perIP, ip)
	}
}

func (s *Server) clientIP(r *http.Request) string {
	if s.cfg.trustProxy {
		if ip := strings.TrimSpace(r.Header.Get("X-Real-IP")); ip != "" {
			return ip
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// originAllowed: no Origin means a desktop client. A browser's Origin is
// allowed when its host[:port] is one of the configured public hosts, when
// it is listed, or when it equals the request's Host and that host is an
// IP address or "localhost". The request's Host alone is not trusted: a
// DNS-rebinding page sends its own name in both headers, but it cannot
// have an IP literal as its origin unless it is served from this server,
// which is how same-host pages without configuration (the app hosting the
// server, reached by address) keep working.
func (s *Server) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	o := strings.ToLower(strings.TrimRight(origin, "/"))
	for _, a := range s.cfg.allowedOrigins {
		if a == "*" || a == o {
			return true
		}
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" {
		return false
	}
	for _, h := range s.cfg.publicHosts {
		if u.Host == h {
			return true
		}
	}
	if !strings.EqualFold(u.Host, r.Host) {
		return false
	}
	host := u.Hostname()
	return host == "localhost" || net.ParseIP(host) != nil
}

// slogWriter routes http.Server's internal log lines into slog.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Debug("http server", "detail", strings.TrimSpace(string(p)))
	return len(p), nil
}

func rejectText(code ErrorCode) string {
	switch code {
	case CodeRoomFull:
		return "The room is full."
	case CodeTooManyRooms:
		return "The server has no room for another call right now. Try again later."
	case CodeTooManyConnections:
		return "Too many connections from your address. Try again later."
	case CodeWrongPassword:
		return "Wrong room password."
	case CodeTooManyAttempts:
		return "Too many wrong passwords or tokens from your address. Wait a moment and try again."
	case CodeTokenRequired:
		return "This server requires an invitation token."
	case CodeTokenInvalid:
		return "The invitation token is not valid for this room."
	case CodeTokenExpired:
		return "The invitation token has expired."
	case CodeOriginNotAllowed:
		return "This web origin may not use the signaling server."
	case CodeMessageTooBig:
		return "Message too big."
	case CodeRateLimited:
		return "Too many messages; slow down."
	case CodeSessionReplaced:
		return "This session was resumed from another connection."
	case CodeShuttingDown:
		return "The server is shutting down."
	case CodeNotJoined:
		return "Join a room first."
	case CodeAlreadyJoined:
		return "Already in a room."
	case CodeUnknownPeer:
		return "No such peer in the room."
	case CodeUnexpectedType:
		return "Clients may not send this message type."
	}
	return "Internal server error."
}
