package app

import (
	"context"
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pion/turn/v5"

	"github.com/peercall/peercall/call"
	"github.com/peercall/peercall/signalserver"
)

// loopbackServers starts, on 127.0.0.1 only, the signaling server with its
// built-in STUN/TURN (UDP) and a pion TURN server on TCP and TLS.
type loopbackServers struct {
	wsURL          string
	udpTURN        string // host:port of the built-in STUN/TURN
	udpUser, udpPw string
	tcpTURN        string
	tlsTURN        string
	tcpUser, tcpPw string
}

func startLoopbackServers(t *testing.T) loopbackServers {
	t.Helper()
	secret := []byte("nettest-secret-0123456789")
	srv, err := signalserver.New(signalserver.WithSecret(secret),
		signalserver.WithTURN(signalserver.TURNConfig{Listen: "127.0.0.1:0", AllowPrivate: true, RelayIP: net.IPv4(127, 0, 0, 1)}))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	var s loopbackServers
	s.wsURL = "ws://" + ln.Addr().String() + "/ws"
	s.udpTURN = srv.TURNAddr().String()
	if s.udpUser, s.udpPw, err = signalserver.TURNCredentials(secret, "tester", time.Hour); err != nil {
		t.Fatal(err)
	}

	const shared = "pion-secret"
	tcpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cert, _, err := signalserver.SelfSignedCertificate([]string{"127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tlsLn, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	gen := func() turn.RelayAddressGenerator {
		return &turn.RelayAddressGeneratorStatic{RelayAddress: net.IPv4(127, 0, 0, 1), Address: "127.0.0.1"}
	}
	ts, err := turn.NewServer(turn.ServerConfig{
		Realm:       "peercall",
		AuthHandler: turn.NewLongTermAuthHandler(shared, nil),
		ListenerConfigs: []turn.ListenerConfig{
			{Listener: tcpLn, RelayAddressGenerator: gen()},
			{Listener: tlsLn, RelayAddressGenerator: gen()},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ts.Close() })
	s.tcpTURN, s.tlsTURN = tcpLn.Addr().String(), tlsLn.Addr().String()
	if s.tcpUser, s.tcpPw, err = turn.GenerateLongTermCredentials(shared, time.Hour); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNetworkTestLoopback(t *testing.T) {
	s := startLoopbackServers(t)
	cfg := NetTestConfig{
		Server: s.wsURL,
		ICEServers: []ICEServerSetting{
			{URL: "stun:" + s.udpTURN},
			{URL: "turn:" + s.udpTURN + "?transport=udp", Username: s.udpUser, Password: s.udpPw},
			{URL: "turn:" + s.tcpTURN + "?transport=tcp", Username: s.tcpUser, Password: s.tcpPw},
			{URL: "turns:" + s.tlsTURN, Username: s.tcpUser, Password: s.tcpPw},
			{URL: "turn:" + s.udpTURN + "?transport=udp", Username: s.udpUser, Password: "wrong"},
			{URL: "stun:127.0.0.1:1"},
			{URL: "stun:192.0.2.1:3478"}, // TEST-NET: refused before sending
		},
		Policy:       call.PolicyRelay,
		LoopbackOnly: true,
		Timeout:      3 * time.Second,
		TLSConfig:    &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}, //nolint:gosec // self-signed test server
	}
	var updates int
	rep := NewNetTester().Run(context.Background(), cfg, func(NetTestReport) { updates++ })
	want := []struct {
		name   string
		status CheckStatus
		text   string
	}{
		{"Signaling server", CheckPass, "joined a test room"},
		{"STUN stun:", CheckPass, "mapped address 127.0.0.1:"},
		{"TURN 127.0.0.1", CheckPass, "relay address 127.0.0.1:"},
		{"over TCP", CheckPass, "relay address 127.0.0.1:"},
		{"over TLS", CheckPass, "relay address 127.0.0.1:"},
		{"over UDP", CheckFail, "username or password"},
		{"STUN stun:127.0.0.1:1", CheckFail, "no answer"},
		{"STUN stun:192.0.2.1", CheckFail, "loopback"},
	}
	if len(rep.Checks) != len(want) {
		for _, c := range rep.Checks {
			t.Logf("%+v", c)
		}
		t.Fatalf("%d checks, want %d", len(rep.Checks), len(want))
	}
	for i, w := range want {
		c := rep.Checks[i]
		text := c.Detail
		if c.Status == CheckFail {
			text = c.Reason
		}
		if !strings.Contains(c.Name, w.name) || c.Status != w.status || !strings.Contains(text, w.text) {
			t.Errorf("check %d = %q %v %q, want %q %v %q", i, c.Name, c.Status, text, w.name, w.status, w.text)
		}
	}
	if !rep.Done || rep.Passed() || updates < 2*len(want) {
		t.Errorf("done=%v passed=%v updates=%d", rep.Done, rep.Passed(), updates)
	}
	if strings.Join(rep.Exposes, "|") != "relay: only your TURN server's address" {
		t.Errorf("exposes %q", rep.Exposes)
	}
}

func TestNetworkTestSignalingDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "ws://" + ln.Addr().String() + "/ws"
	_ = ln.Close()
	rep := NewNetTester().Run(context.Background(), NetTestConfig{Server: url, LoopbackOnly: true, Timeout: 2 * time.Second}, nil)
	if len(rep.Checks) != 1 || rep.Checks[0].Status != CheckFail || rep.Checks[0].Reason == "" {
		t.Fatalf("checks %+v", rep.Checks)
	}
	t.Logf("reason: %s", rep.Checks[0].Reason)
}

func TestPolicyExposure(t *testing.T) {
	tests := []struct {
		p          call.Policy
		stun, turn bool
		want       []string
	}{
		{call.PolicyAll, true, true, []string{"host: your local", "srflx: your public", "relay: only"}},
		{call.PolicyMDNS, true, false, []string{"host: random .local", "srflx: your public", "relay: none"}},
		{call.PolicyNoHost, false, true, []string{"srflx: none", "relay: only"}},
		{call.PolicyRelay, true, true, []string{"relay: only"}},
		{call.PolicyProxy, true, true, []string{"TCP or TLS"}},
	}
	for _, tt := range tests {
		got := PolicyExposure(tt.p, tt.stun, tt.turn)
		if len(got) != len(tt.want) {
			t.Errorf("%s: %q", tt.p, got)
			continue
		}
		for i := range got {
			if !strings.Contains(got[i], tt.want[i]) {
				t.Errorf("%s[%d] = %q, want %q", tt.p, i, got[i], tt.want[i])
			}
		}
	}
}

func TestControllerNetworkTest(t *testing.T) {
	s := startLoopbackServers(t)
	c := NewController(ControllerOptions{NetTester: NewNetTester(), Store: memStore{}, Media: MediaOptions{LoopbackOnly: true}})
	defer c.Close()
	set := c.Settings()
	set.ICEServers = []ICEServerSetting{{URL: "stun:" + s.udpTURN}}
	if err := c.ApplySettings(set); err != nil {
		t.Fatal(err)
	}
	r := newRecorder()
	c.Watch(r.watch)
	if err := c.RunNetworkTest(s.wsURL); err != nil {
		t.Fatal(err)
	}
	n := r.waitFor(t, "test done", func(n Notify) bool { return n.NetTest != nil && n.NetTest.Done && !n.NetTestRunning })
	if !n.NetTest.Passed() || len(n.NetTest.Checks) != 2 {
		t.Errorf("report %+v", n.NetTest)
	}
}

// heldTester runs until released (or cancelled), so that a test is surely
// still running: the real one on loopback can finish within microseconds.
type heldTester struct{ release chan struct{} }

func (h heldTester) Run(ctx context.Context, cfg NetTestConfig, _ func(NetTestReport)) NetTestReport {
	select {
	case <-h.release:
	case <-ctx.Done():
	}
	return NetTestReport{Policy: cfg.Policy, Done: true}
}

func TestControllerOneNetworkTestAtATime(t *testing.T) {
	h := heldTester{release: make(chan struct{})}
	c := NewController(ControllerOptions{NetTester: h, Store: memStore{}, Media: MediaOptions{LoopbackOnly: true}})
	defer c.Close()
	r := newRecorder()
	c.Watch(r.watch)
	if err := c.RunNetworkTest("ws://127.0.0.1:1/ws"); err != nil {
		t.Fatal(err)
	}
	if err := c.RunNetworkTest("ws://127.0.0.1:1/ws"); err == nil {
		t.Error("second test while one runs accepted")
	}
	close(h.release)
	r.waitFor(t, "test done", func(n Notify) bool { return n.NetTest != nil && n.NetTest.Done && !n.NetTestRunning })
	if err := c.RunNetworkTest("ws://127.0.0.1:1/ws"); err != nil {
		t.Errorf("a new test after the first ended: %v", err)
	}
}

// startTCPTURN starts a pion TURN server on TCP at listen (a loopback
// address), relaying on relay, and returns its host:port and credentials.
func startTCPTURN(t *testing.T, listen string, relay net.IP) (addr, user, pass string) {
	t.Helper()
	const shared = "pion-secret-2"
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		t.Fatalf("listen %s: %v", listen, err)
	}
	ts, err := turn.NewServer(turn.ServerConfig{
		Realm:       "peercall",
		AuthHandler: turn.NewLongTermAuthHandler(shared, nil),
		ListenerConfigs: []turn.ListenerConfig{{Listener: ln, RelayAddressGenerator: &turn.RelayAddressGeneratorStatic{
			RelayAddress: relay, Address: relay.String(),
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ts.Close() })
	if user, pass, err = turn.GenerateLongTermCredentials(shared, time.Hour); err != nil {
		t.Fatal(err)
	}
	return ln.Addr().String(), user, pass
}

// TestNetworkTestTCPSource runs the TURN-over-TCP and turns: checks with
// and without loopback-only mode, on IPv4 and IPv6 loopback. Outside
// loopback-only mode the test used to dial from 127.0.0.1 whatever the
// destination ("connect: invalid argument" for every real server); a ::1
// server shows the same pinned source failing without leaving the host.
func TestNetworkTestTCPSource(t *testing.T) {
	s := startLoopbackServers(t)
	v6, v6User, v6Pass := startTCPTURN(t, "[::1]:0", net.IPv6loopback)
	servers := []ICEServerSetting{
		{URL: "turn:" + s.tcpTURN + "?transport=tcp", Username: s.tcpUser, Password: s.tcpPw},
		{URL: "turns:" + s.tlsTURN, Username: s.tcpUser, Password: s.tcpPw},
		{URL: "turn:" + v6 + "?transport=tcp", Username: v6User, Password: v6Pass},
	}
	for _, loopbackOnly := range []bool{true, false} {
		t.Run(map[bool]string{true: "loopback-only", false: "any-source"}[loopbackOnly], func(t *testing.T) {
			cfg := NetTestConfig{
				Server:       s.wsURL,
				ICEServers:   servers,
				Policy:       call.PolicyRelay,
				LoopbackOnly: loopbackOnly,
				Timeout:      3 * time.Second,
				TLSConfig:    &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}, //nolint:gosec // self-signed test server
			}
			rep := NewNetTester().Run(context.Background(), cfg, func(NetTestReport) {})
			if len(rep.Checks) != 1+len(servers) {
				t.Fatalf("%d checks: %+v", len(rep.Checks), rep.Checks)
			}
			for _, c := range rep.Checks {
				if c.Status != CheckPass {
					t.Errorf("%s: %v %q", c.Name, c.Status, c.Reason)
				}
			}
		})
	}
}
