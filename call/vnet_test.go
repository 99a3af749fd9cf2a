package call

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/transport/v4/stdnet"
	"github.com/pion/transport/v4/test"
	"github.com/pion/transport/v4/vnet"
	"github.com/pion/turn/v5"
	"github.com/pion/webrtc/v4"
)

// The vnet topology: a public WAN 1.2.3.0/24 with a TURN/STUN server at
// 1.2.3.4, and two private LANs behind NATs.
const (
	turnIP   = "1.2.3.4"
	turnPort = 3478
	natAIP   = "1.2.3.10"
	natBIP   = "1.2.3.20"
	hostAIP  = "192.168.0.2"
	hostBIP  = "192.168.1.2"
	turnUser = "user"
	turnPass = "pass"
	turnRlm  = "peercall.test"
)

var (
	fullCone  = &vnet.NATType{MappingBehavior: vnet.EndpointIndependent, FilteringBehavior: vnet.EndpointIndependent}
	symmetric = &vnet.NATType{MappingBehavior: vnet.EndpointAddrPortDependent, FilteringBehavior: vnet.EndpointAddrPortDependent}
)

type topo struct {
	wan        *vnet.Router
	netA, netB *vnet.Net
	turn       *turn.Server
	cut        atomic.Bool // drop every packet crossing the WAN
}

func turnAuth(ra *turn.RequestAttributes) (string, []byte, bool) {
	if ra.Username != turnUser {
		return "", nil, false
	}

	return ra.Username, turn.GenerateAuthKey(ra.Username, ra.Realm, turnPass), true
}

func newTopo(t *testing.T, natA, natB *vnet.NATType) *topo {
	t.Helper()
	lf := NewSlogLoggerFactory(nil)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	tp := &topo{}
	wan, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "1.2.3.0/24", LoggerFactory: lf})
	must(err)
	tp.wan = wan
	wan.AddChunkFilter(func(vnet.Chunk) bool { return !tp.cut.Load() })
	netT, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{turnIP}})
	must(err)
	must(wan.AddNet(netT))
	lan := func(pub, cidr, host string, nat *vnet.NATType) *vnet.Net {
		r, err := vnet.NewRouter(&vnet.RouterConfig{
			StaticIPs: []string{pub}, CIDR: cidr, NATType: nat, LoggerFactory: lf,
		})
		must(err)
		n, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{host}})
		must(err)
		must(r.AddNet(n))
		must(wan.AddRouter(r))

		return n
	}
	tp.netA = lan(natAIP, "192.168.0.0/24", hostAIP, natA)
	tp.netB = lan(natBIP, "192.168.1.0/24", hostBIP, natB)
	must(wan.Start())
	pc, err := netT.ListenPacket("udp4", fmt.Sprintf("%s:%d", turnIP, turnPort))
	must(err)
	tp.turn, err = turn.NewServer(turn.ServerConfig{
		Realm:         turnRlm,
		AuthHandler:   turnAuth,
		LoggerFactory: lf,
		PacketConnConfigs: []turn.PacketConnConfig{{
			PacketConn: pc,
			RelayAddressGenerator: &turn.RelayAddressGeneratorStatic{
				RelayAddress: net.ParseIP(turnIP), Address: "0.0.0.0", Net: netT,
			},
		}},
	})
	must(err)

	return tp
}

func (tp *topo) close() {
	_ = tp.turn.Close()
	_ = tp.wan.Stop()
}

func vnetServers(urls ...string) []webrtc.ICEServer {
	return []webrtc.ICEServer{{URLs: urls, Username: turnUser, Credential: turnPass}}
}

var defaultVNetServers = vnetServers(
	fmt.Sprintf("stun:%s:%d", turnIP, turnPort),
	fmt.Sprintf("turn:%s:%d?transport=udp", turnIP, turnPort),
	fmt.Sprintf("turn:%s:%d?transport=tcp", turnIP, turnPort),
)

// newVNetPair builds alice on LAN A and bob on LAN B.
func newVNetPair(t *testing.T, tp *topo, mod func(a, b *Config)) *pair {
	t.Helper()

	return newPair(t, func(a, b *Config) {
		a.ICE, b.ICE = ICEOptions{Net: tp.netA}, ICEOptions{Net: tp.netB}
		a.ICEServers, b.ICEServers = defaultVNetServers, defaultVNetServers
		a.StatsInterval, b.StatsInterval = 200*time.Millisecond, 200*time.Millisecond
		if mod != nil {
			mod(a, b)
		}
	})
}

func TestVNetNAT(t *testing.T) {
	tests := []struct {
		name       string
		natA, natB *vnet.NATType
		relayed    bool
	}{
		{"full-cone both", fullCone, fullCone, false},
		{"full-cone and symmetric", fullCone, symmetric, false},
		{"symmetric both needs relay", symmetric, symmetric, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer test.TimeOut(40 * time.Second).Stop()
			defer test.CheckRoutines(t)()
			tp := newTopo(t, tt.natA, tt.natB)
			defer tp.close()
			p := newVNetPair(t, tp, nil)
			defer p.close()
			p.start(t)
			p.waitConnected(t)
			u := p.updA.wait(t, "stats with pair", 10*time.Second, func(u Update) bool {
				return u.Kind == UpdateStats && u.Stats.LocalCandidate != ""
			})
			if u.Stats.Relayed != tt.relayed {
				t.Fatalf("relayed = %v (local %s, remote %s), want %v",
					u.Stats.Relayed, u.Stats.LocalCandidate, u.Stats.RemoteCandidate, tt.relayed)
			}
			if tt.relayed && u.Stats.LocalCandidate != "relay" && u.Stats.RemoteCandidate != "relay" {
				t.Fatalf("pair %s/%s", u.Stats.LocalCandidate, u.Stats.RemoteCandidate)
			}
		})
	}
}

// ---- leak tests ----

// sent records every signal a session sends.
type sent struct {
	mu   sync.Mutex
	sigs []Signal
}

func (s *sent) tap(sig Signal) {
	s.mu.Lock()
	s.sigs = append(s.sigs, sig)
	s.mu.Unlock()
}

func (s *sent) all() []Signal {
	s.mu.Lock()
	defer s.mu.Unlock()

	return append([]Signal(nil), s.sigs...)
}

// leakItem is one address found in what a session sent.
type leakItem struct {
	where, addr, typ string // typ: candidate type, "raddr", "c=", "o="
}

// addressesIn lists every address a signal reveals: candidate addresses
// and related addresses (in SDP and trickled), c= and o= lines.
func addressesIn(sig Signal) []leakItem {
	var out []leakItem
	addCand := func(where, v string) {
		c, ok := parseCandidate(v)
		if !ok {
			out = append(out, leakItem{where, v, "unparsable"})

			return
		}
		out = append(out, leakItem{where, c.addr, c.typ})
		for i := 8; i+1 < len(c.fields); i += 2 {
			if strings.EqualFold(c.fields[i], "raddr") {
				out = append(out, leakItem{where, c.fields[i+1], "raddr"})
			}
		}
	}
	switch sig.Kind {
	case SignalCandidate:
		addCand("trickle", sig.Candidate.Candidate)
	case SignalOffer, SignalAnswer:
		for _, line := range strings.Split(sig.SDP, "\r\n") {
			switch {
			case strings.HasPrefix(line, "a=candidate:"):
				addCand(sig.Kind.String(), strings.TrimPrefix(line, "a="))
			case strings.HasPrefix(line, "c="):
				f := strings.Fields(line)
				out = append(out, leakItem{sig.Kind.String(), strings.Split(f[len(f)-1], "/")[0], "c="})
			case strings.HasPrefix(line, "o="):
				f := strings.Fields(line)
				out = append(out, leakItem{sig.Kind.String(), f[len(f)-1], "o="})
			}
		}
	default:
	}

	return out
}

// privateish reports addresses no strict preset may reveal.
func privateish(addr string) bool {
	ip := net.ParseIP(addr)
	if ip == nil {
		return false
	}
	if ip.IsUnspecified() {
		return false
	}

	return ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast()
}

// checkLeaks returns a description of every address p forbids.
func checkLeaks(p Policy, items []leakItem, ownPublic string) []string {
	var bad []string
	for _, it := range items {
		ip := net.ParseIP(it.addr)
		isMDNS := strings.HasSuffix(it.addr, ".local")
		reason := ""
		switch {
		case it.typ == "unparsable":
			reason = "unparsable candidate"
		case !p.Strict():
			continue
		case ip == nil && !isMDNS:
			reason = "not an address"
		case privateish(it.addr):
			reason = "private/loopback/link-local/ULA"
		case it.typ == "host" && !(p == PolicyMDNS && isMDNS):
			reason = "host candidate"
		case it.typ == "prflx":
			reason = "prflx candidate"
		case (p == PolicyRelay || p == PolicyProxy) && ip != nil && !ip.IsUnspecified() && it.addr != turnIP:
			reason = "non-relay address"
		case (p == PolicyRelay || p == PolicyProxy) && it.typ == "srflx":
			reason = "srflx candidate"
		case it.typ == "raddr" && it.addr != zeroAddr:
			reason = "raddr not scrubbed"
		case it.addr == ownPublic && (p == PolicyRelay || p == PolicyProxy):
			reason = "own public address"
		}
		if reason != "" {
			bad = append(bad, fmt.Sprintf("%s %s %s: %s", it.where, it.typ, it.addr, reason))
		}
	}

	return bad
}

func TestCheckLeaksCatches(t *testing.T) {
	items := []leakItem{
		{"offer", hostAIP, "host"}, {"trickle", natAIP, "srflx"}, {"trickle", hostAIP, "raddr"},
		{"offer", "fd00::1", "c="}, {"offer", "fe80::1", "host"}, {"trickle", "x.local", "host"},
	}
	if got := checkLeaks(PolicyRelay, items, natAIP); len(got) != 6 {
		t.Fatalf("relay flagged %d of 6: %v", len(got), got)
	}
	if got := checkLeaks(PolicyMDNS, items, natAIP); len(got) != 4 {
		t.Fatalf("mdns flagged %d of 4: %v", len(got), got)
	}
	if got := checkLeaks(PolicyAll, items, natAIP); len(got) != 0 {
		t.Fatalf("all flagged %v", got)
	}
}

func TestVNetLeaks(t *testing.T) {
	tests := []struct {
		p        Policy
		connects bool // vnet has no TCP, so TURN over TCP cannot work here
	}{
		{PolicyAll, true},
		{PolicyMDNS, true},
		{PolicyNoHost, true},
		{PolicyRelay, true},
		{PolicyProxy, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.p), func(t *testing.T) {
			defer test.TimeOut(40 * time.Second).Stop()
			defer test.CheckRoutines(t)()
			tp := newTopo(t, fullCone, fullCone)
			defer tp.close()
			var sa, sb sent
			p := newVNetPair(t, tp, func(a, b *Config) {
				a.Policy, b.Policy = tt.p, tt.p
				a.Tracks = []webrtc.TrackLocal{newVP8Track(t, "cam-a")}
				b.Tracks = []webrtc.TrackLocal{newVP8Track(t, "cam-b")}
			})
			defer p.close()
			p.sa.Tap(sa.tap)
			p.sb.Tap(sb.tap)
			p.start(t)
			if tt.connects {
				p.waitConnected(t)
				u := p.updA.wait(t, "stats with pair", 10*time.Second, func(u Update) bool {
					return u.Kind == UpdateStats && u.Stats.LocalCandidate != ""
				})
				if (tt.p == PolicyRelay) != u.Stats.Relayed {
					t.Fatalf("relayed = %v under %s", u.Stats.Relayed, tt.p)
				}
				// Let trickle finish (srflx/relay arrive after host).
				time.Sleep(time.Second)
			} else {
				p.updA.wait(t, "connecting", 10*time.Second, isState(StateConnecting))
				time.Sleep(3 * time.Second)
			}
			for _, side := range []struct {
				name, public string
				sigs         []Signal
			}{{"alice", natAIP, sa.all()}, {"bob", natBIP, sb.all()}} {
				var items []leakItem
				for _, sig := range side.sigs {
					items = append(items, addressesIn(sig)...)
				}
				if len(side.sigs) == 0 {
					t.Fatalf("%s sent nothing", side.name)
				}
				if bad := checkLeaks(tt.p, items, side.public); len(bad) > 0 {
					t.Errorf("%s leaks under %s:\n  %s", side.name, tt.p, strings.Join(bad, "\n  "))
				}
				// Each preset must still offer what it promises.
				want := map[Policy]func(leakItem) bool{
					// vnet has no multicast, so pion cannot register mDNS
					// names here and its raw host candidates must have been
					// dropped by the scrubber; srflx still flows.
					PolicyMDNS:   func(it leakItem) bool { return it.typ == "srflx" && it.addr == side.public },
					PolicyNoHost: func(it leakItem) bool { return it.typ == "srflx" && it.addr == side.public },
					PolicyRelay:  func(it leakItem) bool { return it.typ == "relay" && it.addr == turnIP },
				}[tt.p]
				if want != nil && !slices.ContainsFunc(items, want) {
					t.Errorf("%s: %s sent none of its expected candidates", side.name, tt.p)
				}
				if tt.p == PolicyAll {
					// The inspection itself must see private addresses.
					found := false
					for _, it := range items {
						found = found || privateish(it.addr)
					}
					if !found {
						t.Errorf("%s: policy all sent no private address; leak check is blind", side.name)
					}
				}
			}
		})
	}
}

// TestVNetICERestart cuts the WAN for 5 s: both sides must notice, the
// impolite side restarts ICE, and the call comes back. A media state change
// made during the cut reaches the peer once it is back.
func TestVNetICERestart(t *testing.T) {
	defer test.TimeOut(60 * time.Second).Stop()
	defer test.CheckRoutines(t)()
	tp := newTopo(t, fullCone, fullCone)
	defer tp.close()
	video := newVP8Track(t, "cam")
	p := newVNetPair(t, tp, func(a, b *Config) {
		ice := func(n *vnet.Net) ICEOptions {
			return ICEOptions{Net: n, DisconnectedTimeout: time.Second, FailedTimeout: 2 * time.Second, KeepAliveInterval: 250 * time.Millisecond}
		}
		a.ICE, b.ICE = ice(tp.netA), ice(tp.netB)
		a.Tracks = []webrtc.TrackLocal{video}
	})
	defer p.close()
	var sa sent
	p.sa.Tap(sa.tap)
	if err := p.a.SetLocalMedia(true, true); err != nil {
		t.Fatal(err)
	}
	p.start(t)
	p.waitConnected(t)
	defer streamSamples(video)()
	p.updB.wait(t, "bob knows alice's media", 10*time.Second, isRemoteMedia(MediaState{Audio: true, Video: true}))

	tp.cut.Store(true)
	p.updA.wait(t, "alice reconnecting", 10*time.Second, isState(StateReconnecting))
	p.updB.wait(t, "bob reconnecting", 10*time.Second, isState(StateReconnecting))
	if err := p.a.SetLocalMedia(true, false); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Second)
	tp.cut.Store(false)
	before := p.received.Load()
	again := func(u Update) bool {
		return u.Kind == UpdateState && u.State == StateConnected && u.From == StateReconnecting
	}
	p.updA.wait(t, "alice connected again", 30*time.Second, again)
	p.updB.wait(t, "bob connected again", 30*time.Second, again)
	deadline := time.Now().Add(10 * time.Second)
	for p.received.Load() < before+10 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if p.received.Load() < before+10 {
		t.Fatalf("media did not resume: %d -> %d", before, p.received.Load())
	}
	p.updB.wait(t, "camera off sent during the cut reaches bob", 30*time.Second, isRemoteMedia(MediaState{Audio: true}))
	if n := len(offerUfrags(sa.all())); n < 2 {
		t.Fatalf("alice never restarted ICE (%d ufrags)", n)
	}
}

// TestLoopbackProxyTURNTCP runs the proxy preset for real: TURN over TCP to
// a server on 127.0.0.1 (vnet has no TCP).
func TestLoopbackProxyTURNTCP(t *testing.T) {
	defer test.TimeOut(30 * time.Second).Stop()
	defer test.CheckRoutines(t)()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sn, err := stdnet.NewNet()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := turn.NewServer(turn.ServerConfig{
		Realm: turnRlm, AuthHandler: turnAuth, LoggerFactory: NewSlogLoggerFactory(nil),
		ListenerConfigs: []turn.ListenerConfig{{
			Listener: ln,
			RelayAddressGenerator: &turn.RelayAddressGeneratorStatic{
				RelayAddress: net.ParseIP("127.0.0.1"), Address: "127.0.0.1", Net: sn,
			},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close() //nolint:errcheck
	servers := vnetServers(
		"stun:127.0.0.1:9", // dropped by the proxy filter
		fmt.Sprintf("turn:%s?transport=tcp", ln.Addr().String()),
	)
	var sa sent
	p := newPair(t, func(a, b *Config) {
		a.Policy, b.Policy = PolicyProxy, PolicyProxy
		a.ICEServers, b.ICEServers = servers, servers
		a.StatsInterval = 200 * time.Millisecond
	})
	defer p.close()
	p.sa.Tap(sa.tap)
	p.start(t)
	p.waitConnected(t)
	u := p.updA.wait(t, "stats with pair", 10*time.Second, func(u Update) bool {
		return u.Kind == UpdateStats && u.Stats.LocalCandidate != ""
	})
	if !u.Stats.Relayed || u.Stats.LocalCandidate != "relay" {
		t.Fatalf("pair %s/%s relayed=%v", u.Stats.LocalCandidate, u.Stats.RemoteCandidate, u.Stats.Relayed)
	}
	for _, sig := range sa.all() {
		for _, it := range addressesIn(sig) {
			if it.typ != "relay" && it.typ != "c=" && it.typ != "o=" && !(it.typ == "raddr" && it.addr == zeroAddr) {
				t.Errorf("proxy sent %+v", it)
			}
		}
	}
}

// TestVNetInterfaceChange: a new local address makes the session restart
// ICE (a new ufrag in the next offer) and the call stays up.
func TestVNetInterfaceChange(t *testing.T) {
	defer test.TimeOut(40 * time.Second).Stop()
	defer test.CheckRoutines(t)()
	tp := newTopo(t, fullCone, fullCone)
	defer tp.close()
	p := newVNetPair(t, tp, func(a, _ *Config) { a.InterfacePoll = 100 * time.Millisecond })
	defer p.close()
	var sa sent
	p.sa.Tap(sa.tap)
	p.start(t)
	p.waitConnected(t)
	ufrags := func() []string { return offerUfrags(sa.all()) }
	if n := len(ufrags()); n != 1 {
		t.Fatalf("%d ufrags before the change", n)
	}
	if err := tp.netA.AddAddress("eth0", &net.IPNet{IP: net.ParseIP("192.168.0.77"), Mask: net.CIDRMask(24, 32)}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(ufrags()) < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := len(ufrags()); n < 2 {
		t.Fatalf("no ICE restart offer after the address change (%d ufrags)", n)
	}
	time.Sleep(time.Second)
	if st := p.a.State(); st != StateConnected {
		t.Fatalf("state after restart %s", st)
	}
}

// offerUfrags lists the distinct ICE ufrags of the offers among sigs; a new
// one means an ICE restart.
func offerUfrags(sigs []Signal) []string {
	var out []string
	for _, sig := range sigs {
		if sig.Kind != SignalOffer {
			continue
		}
		for _, line := range strings.Split(sig.SDP, "\r\n") {
			if v, ok := strings.CutPrefix(line, "a=ice-ufrag:"); ok && !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
	}

	return out
}
