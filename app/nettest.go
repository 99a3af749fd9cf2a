package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/pion/stun/v4"
	"github.com/pion/turn/v5"

	"github.com/peercall/peercall/call"
	"github.com/peercall/peercall/signalserver"
)

// NetTestConfig says what the network test checks.
type NetTestConfig struct {
	Server     string // signaling server URL ("" skips that check)
	ICEServers []ICEServerSetting
	Policy     call.Policy
	// LoopbackOnly refuses every server that is not on loopback (tests,
	// smoke runs): such checks fail with a reason instead of sending.
	LoopbackOnly bool
	// Timeout per check (default 5 s).
	Timeout time.Duration
	// TLSConfig for turns: checks (tests pass one trusting their CA).
	TLSConfig *tls.Config
}

// CheckStatus is the icon of one checklist row.
type CheckStatus int

// Check states.
const (
	CheckPending CheckStatus = iota
	CheckRunning
	CheckPass
	CheckFail
)

func (s CheckStatus) String() string {
	switch s {
	case CheckPending:
		return "pending"
	case CheckRunning:
		return "running"
	case CheckPass:
		return "pass"
	case CheckFail:
		return "fail"
	}
	return fmt.Sprintf("CheckStatus(%d)", int(s))
}

// NetCheck is one row of the network test checklist.
type NetCheck struct {
	Name     string // "Signaling server", "STUN stun:host:3478", "TURN turn:host (UDP)"
	Status   CheckStatus
	Detail   string        // on pass: mapped address, relay address, round trip
	Reason   string        // on fail: why, in plain words
	Duration time.Duration // how long the check took
}

// NetTestReport is the checklist plus what the chosen policy would expose.
type NetTestReport struct {
	Checks []NetCheck
	Policy call.Policy
	// Exposes lists, per candidate type the policy gathers, what the
	// other person would learn ("host: your local addresses", …).
	Exposes []string
	Done    bool
}

func (r NetTestReport) clone() NetTestReport {
	r.Checks = slices.Clone(r.Checks)
	r.Exposes = slices.Clone(r.Exposes)
	return r
}

// Passed reports whether every check passed.
func (r NetTestReport) Passed() bool {
	for _, c := range r.Checks {
		if c.Status != CheckPass {
			return false
		}
	}
	return true
}

// NewNetTester returns the real network test (signaling, STUN, TURN over
// UDP, TCP and TLS).
func NewNetTester() NetTester { return netTester{} }

type netTester struct{}

type netJob struct {
	name string
	run  func(ctx context.Context) (detail string, err error)
}

// Run implements NetTester. progress gets the report after every check.
func (netTester) Run(ctx context.Context, cfg NetTestConfig, progress func(NetTestReport)) NetTestReport {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Policy == "" {
		cfg.Policy = call.PolicyAll
	}
	var jobs []netJob
	if cfg.Server != "" {
		jobs = append(jobs, netJob{"Signaling server " + cfg.Server, func(ctx context.Context) (string, error) {
			return checkSignaling(ctx, cfg)
		}})
	}
	var mapped, relayed bool
	for _, s := range cfg.ICEServers {
		u, err := stun.ParseURI(strings.TrimSpace(s.URL))
		if err != nil {
			jobs = append(jobs, netJob{"Server " + s.URL, func(context.Context) (string, error) {
				return "", &UserError{Msg: "not a valid STUN/TURN address", Err: ErrInvalidSettings}
			}})
			continue
		}
		switch u.Scheme {
		case stun.SchemeTypeSTUN, stun.SchemeTypeSTUNS:
			jobs = append(jobs, netJob{"STUN " + s.URL, func(ctx context.Context) (string, error) {
				d, err := checkSTUN(ctx, cfg, u)
				mapped = mapped || err == nil
				return d, err
			}})
		case stun.SchemeTypeTURN, stun.SchemeTypeTURNS:
			// No ?transport: try both, as ICE would.
			transports := []string{"udp", "tcp"}
			switch {
			case u.Scheme == stun.SchemeTypeTURNS:
				transports = []string{"tls"}
			case u.Proto == stun.ProtoTypeTCP:
				transports = []string{"tcp"}
			case strings.Contains(s.URL, "transport=udp"):
				transports = []string{"udp"}
			}
			for _, tr := range transports {
				jobs = append(jobs, netJob{fmt.Sprintf("TURN %s over %s", hostPort(u), strings.ToUpper(tr)), func(ctx context.Context) (string, error) {
					d, m, err := checkTURN(ctx, cfg, u, tr, s.Username, s.Password)
					relayed = relayed || err == nil
					mapped = mapped || m
					return d, err
				}})
			}
		}
	}
	rep := NetTestReport{Policy: cfg.Policy, Checks: make([]NetCheck, len(jobs))}
	for i, j := range jobs {
		rep.Checks[i] = NetCheck{Name: j.name}
	}
	send := func() {
		if progress != nil {
			progress(rep.clone())
		}
	}
	send()
	for i, j := range jobs {
		rep.Checks[i].Status = CheckRunning
		send()
		cctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
		t0 := time.Now()
		detail, err := j.run(cctx)
		cancel()
		rep.Checks[i].Duration = time.Since(t0)
		if err != nil {
			rep.Checks[i].Status, rep.Checks[i].Reason = CheckFail, netReason(err)
		} else {
			rep.Checks[i].Status, rep.Checks[i].Detail = CheckPass, detail
		}
		send()
	}
	rep.Exposes = PolicyExposure(cfg.Policy, mapped, relayed)
	rep.Done = true
	return rep
}

// PolicyExposure says which candidate types policy p would gather and what
// each reveals, given whether STUN (srflx) and TURN (relay) work.
func PolicyExposure(p call.Policy, stunOK, turnOK bool) []string {
	srflx := "srflx: your public IP address (as your router shows it)"
	if !stunOK {
		srflx = "srflx: none (no STUN server answered)"
	}
	relay := "relay: only your TURN server's address"
	if !turnOK {
		relay = "relay: none (no TURN allocation succeeded)"
	}
	switch p {
	case call.PolicyAll:
		return []string{"host: your local network addresses", srflx, relay}
	case call.PolicyMDNS:
		return []string{"host: random .local names (no local addresses)", srflx, relay}
	case call.PolicyNoHost:
		return []string{srflx, relay}
	case call.PolicyRelay:
		return []string{relay}
	case call.PolicyProxy:
		return []string{relay + " (over TCP or TLS only)"}
	}
	return nil
}

func hostPort(u *stun.URI) string { return net.JoinHostPort(u.Host, fmt.Sprint(u.Port)) }

// allowed enforces LoopbackOnly before any packet is sent.
func allowed(cfg NetTestConfig, host string) error {
	if !cfg.LoopbackOnly {
		return nil
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return &UserError{Msg: "skipped: only loopback servers are tested in loopback-only mode", Err: ErrBadFlags}
}

func checkSignaling(ctx context.Context, cfg NetTestConfig) (string, error) {
	u := cfg.Server
	host := hostOf(u)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if err := allowed(cfg, host); err != nil {
		return "", err
	}
	t0 := time.Now()
	c, err := signalserver.Dial(ctx, u, signalserver.ClientOptions{
		Room: fmt.Sprintf("nettest-%d", time.Now().UnixNano()), Name: "network test", NoReconnect: true,
	})
	if err != nil {
		return "", err
	}
	rtt := time.Since(t0)
	_ = c.Close()
	return fmt.Sprintf("joined a test room in %d ms", rtt.Milliseconds()), nil
}

func checkSTUN(ctx context.Context, cfg NetTestConfig, u *stun.URI) (string, error) {
	if err := allowed(cfg, u.Host); err != nil {
		return "", err
	}
	if u.Scheme == stun.SchemeTypeSTUNS {
		return "", &UserError{Msg: "stuns: is not supported by the test", Err: ErrUnsupportedMedia}
	}
	conn, err := net.ListenPacket("udp4", localBind(cfg))
	if err != nil {
		return "", err
	}
	defer conn.Close()
	c, err := turn.NewClient(&turn.ClientConfig{STUNServerAddr: hostPort(u), Conn: conn, RTO: 200 * time.Millisecond})
	if err != nil {
		return "", err
	}
	defer c.Close()
	if err := c.Listen(); err != nil {
		return "", err
	}
	stopOnCancel(ctx, conn)
	t0 := time.Now()
	addr, err := c.SendBindingRequest()
	if err != nil {
		return "", ctxErr(ctx, err)
	}
	return fmt.Sprintf("mapped address %s in %d ms", addr, time.Since(t0).Milliseconds()), nil
}

// checkTURN allocates a relay over transport (udp, tcp, tls).
func checkTURN(ctx context.Context, cfg NetTestConfig, u *stun.URI, transport, user, pass string) (string, bool, error) {
	if err := allowed(cfg, u.Host); err != nil {
		return "", false, err
	}
	if user == "" || pass == "" {
		return "", false, &UserError{Msg: "no username or password for this TURN server", Err: ErrInvalidSettings}
	}
	addr := hostPort(u)
	var pc net.PacketConn
	d := tcpDialer(cfg, u.Host)
	switch transport {
	case "udp":
		conn, err := net.ListenPacket("udp4", localBind(cfg))
		if err != nil {
			return "", false, err
		}
		pc = conn
	case "tcp":
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return "", false, err
		}
		pc = turn.NewSTUNConn(conn)
	case "tls":
		tc := cfg.TLSConfig
		if tc == nil {
			tc = &tls.Config{ServerName: u.Host, MinVersion: tls.VersionTLS12}
		}
		td := tls.Dialer{NetDialer: d, Config: tc}
		conn, err := td.DialContext(ctx, "tcp", addr)
		if err != nil {
			return "", false, err
		}
		pc = turn.NewSTUNConn(conn)
	}
	defer pc.Close()
	c, err := turn.NewClient(&turn.ClientConfig{
		STUNServerAddr: addr, TURNServerAddr: addr, Username: user, Password: pass, Conn: pc, RTO: 200 * time.Millisecond,
	})
	if err != nil {
		return "", false, err
	}
	defer c.Close()
	if err := c.Listen(); err != nil {
		return "", false, err
	}
	stopOnCancel(ctx, pc)
	t0 := time.Now()
	relay, err := c.Allocate()
	if err != nil {
		return "", false, ctxErr(ctx, err)
	}
	took := time.Since(t0)
	defer relay.Close()
	return fmt.Sprintf("relay address %s in %d ms", relay.LocalAddr(), took.Milliseconds()), true, nil
}

// tcpDialer pins TCP checks to loopback, in the destination's address
// family, in loopback-only mode (allowed already refused other hosts).
// Outside it the system picks the source: a 127.0.0.1 source cannot reach
// any other address ("connect: invalid argument").
func tcpDialer(cfg NetTestConfig, host string) *net.Dialer {
	d := &net.Dialer{}
	if !cfg.LoopbackOnly {
		return d
	}
	d.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}
	if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
		d.LocalAddr = &net.TCPAddr{IP: net.IPv6loopback}
	}
	return d
}

func localBind(cfg NetTestConfig) string {
	if cfg.LoopbackOnly {
		return "127.0.0.1:0"
	}
	return ":0"
}

// stopOnCancel closes c when ctx ends, which unblocks pion's transactions.
func stopOnCancel(ctx context.Context, c net.PacketConn) {
	go func() {
		<-ctx.Done()
		_ = c.SetDeadline(time.Now())
	}()
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w: %w", ctx.Err(), err)
	}
	return err
}

// netReason turns a check's error into the sentence the checklist shows.
func netReason(err error) string {
	low := strings.ToLower(err.Error())
	switch {
	case errors.Is(err, context.DeadlineExceeded) || strings.Contains(low, "all retransmissions failed") || strings.Contains(low, "timeout"):
		return "no answer (blocked by a firewall, or the server is down)"
	case strings.Contains(low, "error 401") || strings.Contains(low, "error 400") || strings.Contains(low, "error 431") || strings.Contains(low, "unauthorized"):
		return "the TURN server rejected the username or password"
	}
	msg := UserMessage(err)
	return strings.TrimPrefix(msg, "Something went wrong: ")
}
