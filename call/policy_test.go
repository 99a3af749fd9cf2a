package call

import (
	"errors"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/pion/transport/v4/vnet"
	"github.com/pion/webrtc/v4"
)

func TestParsePolicy(t *testing.T) {
	for _, p := range Policies {
		got, err := ParsePolicy(" " + string(p) + " ")
		if err != nil || got != p || got.String() != string(p) {
			t.Fatalf("ParsePolicy(%q) = %q, %v", p, got, err)
		}
	}
	if got, err := ParsePolicy(""); err != nil || got != PolicyAll {
		t.Fatalf("empty = %q, %v", got, err)
	}
	if _, err := ParsePolicy("public"); !errors.Is(err, ErrInvalidPolicy) {
		t.Fatalf("unknown: %v", err)
	}
	want := map[Policy]webrtc.ICETransportPolicy{
		PolicyAll: webrtc.ICETransportPolicyAll, PolicyMDNS: webrtc.ICETransportPolicyAll,
		PolicyNoHost: webrtc.ICETransportPolicyNoHost,
		PolicyRelay:  webrtc.ICETransportPolicyRelay, PolicyProxy: webrtc.ICETransportPolicyRelay,
	}
	for p, tp := range want {
		if p.TransportPolicy() != tp || p.Strict() == (p == PolicyAll) {
			t.Errorf("%s: transport %s strict %v", p, p.TransportPolicy(), p.Strict())
		}
	}
}

func TestNewSettingEngine(t *testing.T) {
	tests := []struct {
		name string
		p    Policy
		o    ICEOptions
		err  error
	}{
		{"all defaults", PolicyAll, ICEOptions{}, nil},
		{"mdns", PolicyMDNS, ICEOptions{MDNSHostName: "peer.local"}, nil},
		{"no-host loopback", PolicyNoHost, ICEOptions{Loopback: true}, nil},
		{"relay ipv6 ports", PolicyRelay, ICEOptions{IPv6: true, PortMin: 40000, PortMax: 40100}, nil},
		{"interfaces", PolicyAll, ICEOptions{AllowInterfaces: []string{"eth0"}, DenyInterfaces: []string{"docker0"}}, nil},
		{"unknown policy", "lan", ICEOptions{}, ErrInvalidPolicy},
		{"half port range", PolicyAll, ICEOptions{PortMin: 5000}, ErrInvalidPolicy},
		{"reversed port range", PolicyAll, ICEOptions{PortMin: 6000, PortMax: 5000}, ErrInvalidPolicy},
		{"allowed and denied", PolicyAll, ICEOptions{AllowInterfaces: []string{"eth0"}, DenyInterfaces: []string{"eth0"}}, ErrInvalidPolicy},
		{"mdns loopback", PolicyMDNS, ICEOptions{Loopback: true}, ErrInvalidPolicy},
		{"mdns name without mdns", PolicyAll, ICEOptions{MDNSHostName: "x.local"}, ErrInvalidPolicy},
		{"mdns name not .local", PolicyMDNS, ICEOptions{MDNSHostName: "x.example"}, ErrInvalidPolicy},
		{"only ip", PolicyAll, ICEOptions{OnlyIP: net.ParseIP("10.99.0.1")}, nil},
		{"only ip no-host", PolicyNoHost, ICEOptions{OnlyIP: net.ParseIP("10.99.0.1")}, nil},
		{"only ip loopback address", PolicyAll, ICEOptions{OnlyIP: net.ParseIP("127.0.0.1")}, ErrInvalidPolicy},
		{"only ip with loopback", PolicyAll, ICEOptions{OnlyIP: net.ParseIP("10.99.0.1"), Loopback: true}, ErrInvalidPolicy},
		{"only ip unspecified", PolicyAll, ICEOptions{OnlyIP: net.IPv4zero}, ErrInvalidPolicy},
		{"only ip link-local", PolicyAll, ICEOptions{OnlyIP: net.ParseIP("169.254.1.1")}, ErrInvalidPolicy},
		{"only ip v6 without ipv6", PolicyAll, ICEOptions{OnlyIP: net.ParseIP("fd00::1")}, ErrInvalidPolicy},
		{"only ip v6", PolicyAll, ICEOptions{OnlyIP: net.ParseIP("fd00::1"), IPv6: true}, nil},
		{"only ip mdns", PolicyMDNS, ICEOptions{OnlyIP: net.ParseIP("10.99.0.1")}, ErrInvalidPolicy},
		{"timeouts reversed", PolicyAll, ICEOptions{DisconnectedTimeout: 10e9, FailedTimeout: 5e9}, ErrInvalidPolicy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			se, err := NewSettingEngine(tt.p, tt.o)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if tt.err == nil && se == nil {
				t.Fatal("nil engine")
			}
		})
	}
}

func TestFilterICEServers(t *testing.T) {
	servers := []webrtc.ICEServer{
		{URLs: []string{"stun:stun.example:3478"}},
		{URLs: []string{"turn:t.example:3478?transport=udp", "turn:t.example:3478?transport=tcp", "turns:t.example:5349"}, Username: "u", Credential: "p"},
	}
	urls := func(ss []webrtc.ICEServer) []string {
		var out []string
		for _, s := range ss {
			out = append(out, s.URLs...)
		}

		return out
	}
	tests := []struct {
		p    Policy
		in   []webrtc.ICEServer
		want []string
		err  error
	}{
		{PolicyAll, servers, urls(servers), nil},
		{PolicyNoHost, servers, urls(servers), nil},
		{PolicyRelay, servers, []string{"turn:t.example:3478?transport=udp", "turn:t.example:3478?transport=tcp", "turns:t.example:5349"}, nil},
		{PolicyProxy, servers, []string{"turn:t.example:3478?transport=tcp", "turns:t.example:5349"}, nil},
		{PolicyRelay, servers[:1], nil, ErrNoRelayServer},
		{PolicyNoHost, nil, nil, ErrNoICEServer},
		{PolicyProxy, []webrtc.ICEServer{{URLs: []string{"turn:t.example:3478"}}}, nil, ErrNoRelayServer},
		{PolicyAll, []webrtc.ICEServer{{URLs: []string{"http://x"}}}, nil, ErrInvalidConfig},
	}
	for _, tt := range tests {
		got, err := FilterICEServers(tt.p, tt.in)
		if !errors.Is(err, tt.err) {
			t.Fatalf("%s: err = %v, want %v", tt.p, err, tt.err)
		}
		if err == nil && !slices.Equal(urls(got), tt.want) {
			t.Fatalf("%s: got %v, want %v", tt.p, urls(got), tt.want)
		}
		if err == nil && tt.p == PolicyProxy && got[0].Username != "u" {
			t.Fatal("credentials lost")
		}
	}
}

func TestPolicyNames(t *testing.T) {
	if got, want := PolicyNames(), "all, mdns, no-host, relay or proxy"; got != want {
		t.Fatalf("PolicyNames() = %q, want %q", got, want)
	}
	_, err := ParsePolicy("public")
	if err == nil || !strings.Contains(err.Error(), PolicyNames()) {
		t.Fatalf("unknown policy error %v does not list the choices", err)
	}
}

// TestNewCanonicalPolicy: New accepts any spelling ParsePolicy accepts and
// keeps the canonical name, since the session compares policies by value
// (a " Relay " kept as given would not be treated as relay).
func TestNewCanonicalPolicy(t *testing.T) {
	sa, _ := NewPipeSignalers("a", "b")
	turn := []webrtc.ICEServer{{URLs: []string{"turn:127.0.0.1:3478"}, Username: "u", Credential: "p"}}
	s, err := New(Config{LocalID: "a", RemoteID: "b", Signaler: sa, Policy: " Relay ", ICEServers: turn})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close() //nolint:errcheck // never started
	if s.cfg.Policy != PolicyRelay || s.rtcCfg.ICETransportPolicy != webrtc.ICETransportPolicyRelay {
		t.Fatalf("policy %q transport %s", s.cfg.Policy, s.rtcCfg.ICETransportPolicy)
	}
	if _, err := New(Config{LocalID: "a", RemoteID: "b", Signaler: sa, Policy: "public"}); !errors.Is(err, ErrInvalidPolicy) {
		t.Fatalf("unknown policy: %v", err)
	}
}

func TestParseICEServerURL(t *testing.T) {
	tests := []struct {
		url     string
		ok      bool
		problem string // part of the problem when !ok
	}{
		{"stun:127.0.0.1:3478", true, ""},
		{"stun:stun.example.org", true, ""},
		{" STUN:stun.example.org ", true, ""},
		{"turn:127.0.0.1:3478", true, ""},
		{"turn:turn.example.org:3478?transport=tcp", true, ""},
		{"turn:turn.example.org?transport=udp", true, ""},
		{"turns:turn.example.org:5349", true, ""},
		{"turns:turn.example.org:5349?transport=tcp", true, ""},
		{"turns:turn.example.org:5349?transport=udp", false, "TCP only"},
		{"stun:127.0.0.1?transport=tcp", false, "no ?transport"},
		{"stuns:stun.example.org", false, "not supported"},
		{"stun:", false, "not a valid"},
		{"turn:host?transport=sctp", false, "not a valid"},
		{"nope", false, "must start with"},
		{"http://example.org", false, "must start with"},
		{"", false, "must start with"},
	}
	for _, tt := range tests {
		u, err := ParseICEServerURL(tt.url)
		if tt.ok {
			if err != nil || u == nil || u.Host == "" {
				t.Errorf("%q: %v", tt.url, err)
			}
			continue
		}
		var ue *ICEServerURLError
		if !errors.As(err, &ue) || !errors.Is(err, ErrBadICEServerURL) || !strings.Contains(ue.Problem, tt.problem) {
			t.Errorf("%q: err = %v, want a problem with %q", tt.url, err, tt.problem)
		}
	}
}

// TestOnlyIPGathersOneAddress: with OnlyIP a host that has two addresses
// offers host candidates on the pinned one only.
func TestOnlyIPGathersOneAddress(t *testing.T) {
	r, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "10.99.0.0/24", LoggerFactory: NewSlogLoggerFactory(nil)})
	if err != nil {
		t.Fatal(err)
	}
	n, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{"10.99.0.1", "10.99.0.7"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.AddNet(n); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Stop() }()
	for _, c := range []struct {
		only string
		want []string
	}{{"", []string{"10.99.0.1", "10.99.0.7"}}, {"10.99.0.7", []string{"10.99.0.7"}}} {
		se, err := NewSettingEngine(PolicyAll, ICEOptions{Net: n, OnlyIP: net.ParseIP(c.only)})
		if err != nil {
			t.Fatal(err)
		}
		pc, err := webrtc.NewAPI(webrtc.WithSettingEngine(*se)).NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pc.CreateDataChannel("x", nil); err != nil {
			t.Fatal(err)
		}
		done := webrtc.GatheringCompletePromise(pc)
		offer, err := pc.CreateOffer(nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := pc.SetLocalDescription(offer); err != nil {
			t.Fatal(err)
		}
		<-done
		var got []string
		for _, line := range strings.Split(pc.LocalDescription().SDP, "\n") {
			if f := strings.Fields(line); len(f) > 7 && strings.HasPrefix(f[0], "a=candidate:") && f[7] == "host" {
				got = append(got, f[4])
			}
		}
		slices.Sort(got)
		got = slices.Compact(got)
		if !slices.Equal(got, c.want) {
			t.Errorf("OnlyIP %q: host candidates %v, want %v", c.only, got, c.want)
		}
		_ = pc.Close()
	}
}
