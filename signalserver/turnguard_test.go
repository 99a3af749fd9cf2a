package signalserver

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/pion/stun/v4"
)

// turnExchange sends one STUN request and returns the response with the
// same transaction id.
func turnExchange(t *testing.T, pc net.PacketConn, server net.Addr, setters ...stun.Setter) *stun.Message {
	t.Helper()
	req, err := stun.Build(append([]stun.Setter{stun.TransactionID}, setters...)...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.WriteTo(req.Raw, server); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	for {
		_ = pc.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("no TURN response: %v", err)
		}
		res := &stun.Message{Raw: append([]byte(nil), buf[:n]...)}
		if res.Decode() == nil && res.TransactionID == req.TransactionID {
			return res
		}
	}
}

// rawTURN is a minimal TURN client on one UDP socket (one 5-tuple), enough
// to send what pion's client does not: chosen LIFETIME and TCP transport.
type rawTURN struct {
	t          *testing.T
	pc         net.PacketConn
	server     net.Addr
	user, pass string
	realm      stun.Realm
	nonce      stun.Nonce
	authed     bool
}

func newRawTURN(t *testing.T, local string, server net.Addr, user, pass string) *rawTURN {
	t.Helper()
	pc, err := net.ListenPacket("udp4", local+":0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	return &rawTURN{t: t, pc: pc, server: server, user: user, pass: pass}
}

// request sends an authenticated request (fetching realm and nonce first)
// and returns the response.
func (c *rawTURN) request(method stun.Method, attrs ...stun.Setter) *stun.Message {
	c.t.Helper()
	typ := stun.NewType(method, stun.ClassRequest)
	if !c.authed {
		res := turnExchange(c.t, c.pc, c.server, append([]stun.Setter{typ}, attrs...)...)
		if c.realm.GetFrom(res) != nil || c.nonce.GetFrom(res) != nil {
			return res // answered before authentication (442)
		}
		c.authed = true
	}
	setters := append([]stun.Setter{typ}, attrs...)
	setters = append(setters, stun.NewUsername(c.user), c.realm, c.nonce,
		stun.NewLongTermIntegrity(c.user, c.realm.String(), c.pass), stun.Fingerprint)
	return turnExchange(c.t, c.pc, c.server, setters...)
}

var udpTransport = stun.RawAttribute{Type: stun.AttrRequestedTransport, Value: []byte{17, 0, 0, 0}}

func lifetimeAttr(d time.Duration) stun.RawAttribute {
	v := uint32(d / time.Second)
	return stun.RawAttribute{Type: stun.AttrLifetime, Value: []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}}
}

func errCode(m *stun.Message) stun.ErrorCode {
	var ec stun.ErrorCodeAttribute
	if ec.GetFrom(m) != nil {
		return 0
	}
	return ec.Code
}

func lifetimeOf(t *testing.T, m *stun.Message) time.Duration {
	t.Helper()
	v, err := m.Get(stun.AttrLifetime)
	if err != nil || len(v) != 4 {
		t.Fatalf("response %v without LIFETIME", m)
	}
	return time.Duration(uint32(v[0])<<24|uint32(v[1])<<16|uint32(v[2])<<8|uint32(v[3])) * time.Second
}

func startTURNServer(t *testing.T, tc TURNConfig) *testServer {
	t.Helper()
	tc.Listen = "127.0.0.1:0"
	tc.AllowPrivate = true
	return startServer(t, WithSecret(testSecret), WithTURN(tc))
}

// TestTURNAllocationFlood: one set of credentials opens allocations from
// many sockets as fast as it can. It gets exactly its quota (486 after),
// and another user still allocates.
func TestTURNAllocationFlood(t *testing.T) {
	for _, tc := range []struct {
		name      string
		cfg       TURNConfig
		attackers int // distinct peer ids (joins) the attacker uses
		want      int
	}{
		{"one user", TURNConfig{MaxAllocationsPerUser: 4, MaxAllocationsPerIP: 100}, 1, 4},
		{"many users one address", TURNConfig{MaxAllocationsPerUser: 4, MaxAllocationsPerIP: 10}, 5, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startTURNServer(t, tc.cfg)
			server := ts.s.TURNAddr()
			got := 0
			for a := 0; a < tc.attackers; a++ {
				c := dialClient(t, ts.url, ClientOptions{Room: "flood" + string(rune('a'+a)), Name: "x"})
				_, user, pass := turnTarget(t, c.ICEServers())
				for i := 0; i < 30; i++ {
					res := newRawTURN(t, "127.0.0.1", server, user, pass).request(stun.MethodAllocate, udpTransport, lifetimeAttr(3599*time.Second))
					switch {
					case res.Type.Class == stun.ClassSuccessResponse:
						got++
					case errCode(res) != stun.CodeAllocQuotaReached:
						t.Fatalf("allocation %d: error %d, want 486", i, errCode(res))
					}
				}
			}
			t.Logf("attacker got %d allocations out of %d attempts (quota %d per user, %d per address)",
				got, 30*tc.attackers, tc.cfg.MaxAllocationsPerUser, tc.cfg.MaxAllocationsPerIP)
			if got != tc.want {
				t.Fatalf("attacker got %d allocations, want %d", got, tc.want)
			}
			// A legitimate user on another address is not affected.
			v := dialClient(t, ts.url, ClientOptions{Room: "victim", Name: "v"})
			_, user, pass := turnTarget(t, v.ICEServers())
			res := newRawTURN(t, "127.0.0.2", server, user, pass).request(stun.MethodAllocate, udpTransport)
			if res.Type.Class != stun.ClassSuccessResponse {
				t.Fatalf("second user could not allocate: error %d", errCode(res))
			}
		})
	}
}

// TestTURNLifetimeCap: a requested lifetime above the cap is granted as
// the cap, on Allocate and on Refresh; a short one is kept.
func TestTURNLifetimeCap(t *testing.T) {
	ts := startTURNServer(t, TURNConfig{MaxLifetime: 2 * time.Minute})
	c := dialClient(t, ts.url, ClientOptions{Room: "life", Name: "a"})
	_, user, pass := turnTarget(t, c.ICEServers())
	rc := newRawTURN(t, "127.0.0.1", ts.s.TURNAddr(), user, pass)
	res := rc.request(stun.MethodAllocate, udpTransport, lifetimeAttr(3599*time.Second))
	if res.Type.Class != stun.ClassSuccessResponse {
		t.Fatalf("allocate: error %d", errCode(res))
	}
	if got := lifetimeOf(t, res); got != 2*time.Minute {
		t.Fatalf("allocate asked 3599s, granted %v, want the 2m cap", got)
	}
	for _, tc := range []struct {
		ask, want time.Duration
	}{{3599 * time.Second, 2 * time.Minute}, {time.Hour, 2 * time.Minute}, {90 * time.Second, 90 * time.Second}} {
		res := rc.request(stun.MethodRefresh, lifetimeAttr(tc.ask))
		if res.Type.Class != stun.ClassSuccessResponse {
			t.Fatalf("refresh %v: error %d", tc.ask, errCode(res))
		}
		if got := lifetimeOf(t, res); got != tc.want {
			t.Fatalf("refresh asked %v, granted %v, want %v", tc.ask, got, tc.want)
		}
	}
	// A request whose integrity is wrong is not re-signed into a valid one.
	bad := newRawTURN(t, "127.0.0.1", ts.s.TURNAddr(), user, "wrong")
	if res := bad.request(stun.MethodAllocate, udpTransport, lifetimeAttr(3599*time.Second)); res.Type.Class == stun.ClassSuccessResponse {
		t.Fatal("allocation with a wrong password succeeded")
	}
}

// TestTURNRefusesTCP: RFC 6062 TCP allocations get 442 unless enabled.
func TestTURNRefusesTCP(t *testing.T) {
	tcp := stun.RawAttribute{Type: stun.AttrRequestedTransport, Value: []byte{6, 0, 0, 0}}
	for _, tc := range []struct {
		name     string
		allowTCP bool
		want     stun.ErrorCode
	}{{"default", false, stun.CodeUnsupportedTransProto}, {"enabled", true, 0}} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startTURNServer(t, TURNConfig{AllowTCP: tc.allowTCP})
			c := dialClient(t, ts.url, ClientOptions{Room: "tcp", Name: "a"})
			_, user, pass := turnTarget(t, c.ICEServers())
			res := newRawTURN(t, "127.0.0.1", ts.s.TURNAddr(), user, pass).request(stun.MethodAllocate, tcp)
			if tc.allowTCP {
				if errCode(res) == stun.CodeUnsupportedTransProto {
					t.Fatal("TCP allocation refused although enabled")
				}
			} else if res.Type.Class != stun.ClassErrorResponse || errCode(res) != tc.want {
				t.Fatalf("TCP allocate: class %v code %d, want %d", res.Type.Class, errCode(res), tc.want)
			}
			// UDP still works for the same user.
			res = newRawTURN(t, "127.0.0.1", ts.s.TURNAddr(), user, pass).request(stun.MethodAllocate, udpTransport)
			if res.Type.Class != stun.ClassSuccessResponse {
				t.Fatalf("UDP allocate: error %d", errCode(res))
			}
		})
	}
}

// TestTURNFreedWhenPeerLeaves: a peer's allocations are closed when it
// leaves its room, freeing quota and ports at once.
func TestTURNFreedWhenPeerLeaves(t *testing.T) {
	ts := startTURNServer(t, TURNConfig{})
	c := dialClient(t, ts.url, ClientOptions{Room: "leave", Name: "a"})
	id := c.PeerID()
	_, user, pass := turnTarget(t, c.ICEServers())
	for i := 0; i < 3; i++ {
		if res := newRawTURN(t, "127.0.0.1", ts.s.TURNAddr(), user, pass).request(stun.MethodAllocate, udpTransport); res.Type.Class != stun.ClassSuccessResponse {
			t.Fatalf("allocate: error %d", errCode(res))
		}
	}
	if n := ts.s.turnGuard.allocations(id); n != 3 {
		t.Fatalf("%d allocations before leaving, want 3", n)
	}
	if err := c.Send(Message{Type: TypeBye, Reason: "done"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for ts.s.turnGuard.allocations(id) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d allocations still live after bye", ts.s.turnGuard.allocations(id))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestTURNExpiredCredentials: expired credentials work only while their
// peer is in a room.
func TestTURNExpiredCredentials(t *testing.T) {
	ts := startTURNServer(t, TURNConfig{})
	c := dialClient(t, ts.url, ClientOptions{Room: "exp", Name: "a"})
	inRoom, inPass, err := TURNCredentials(testSecret, c.PeerID(), -time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	gone, gonePass, _ := TURNCredentials(testSecret, "nobody", -time.Minute)
	if res := newRawTURN(t, "127.0.0.1", ts.s.TURNAddr(), inRoom, inPass).request(stun.MethodAllocate, udpTransport); res.Type.Class != stun.ClassSuccessResponse {
		t.Fatalf("peer in the call: error %d", errCode(res))
	}
	if res := newRawTURN(t, "127.0.0.1", ts.s.TURNAddr(), gone, gonePass).request(stun.MethodAllocate, udpTransport); res.Type.Class == stun.ClassSuccessResponse {
		t.Fatal("expired credentials of a peer in no room allocated")
	}
}

func TestRelayablePeerRanges(t *testing.T) {
	for _, tc := range []struct {
		ip   string
		want bool
	}{
		{"0.1.2.3", false}, {"10.1.2.3", false}, {"100.64.0.1", false}, {"100.127.255.254", false},
		{"127.0.0.1", false}, {"169.254.1.1", false}, {"172.16.0.1", false}, {"172.31.255.1", false},
		{"192.0.0.8", false}, {"192.0.2.1", false}, {"192.88.99.1", false}, {"192.168.1.1", false},
		{"198.18.5.5", false}, {"198.19.255.1", false}, {"198.51.100.7", false}, {"203.0.113.9", false},
		{"224.0.0.1", false}, {"239.1.1.1", false}, {"240.0.0.1", false}, {"255.255.255.255", false},
		{"::", false}, {"::1", false}, {"::ffff:10.0.0.1", false}, {"64:ff9b::a00:1", false},
		{"64:ff9b:1::1", false}, {"100::1", false}, {"2001::1", false}, {"2001:2::1", false},
		{"2001:db8::1", false}, {"2002:a00:1::1", false}, {"3fff::1", false}, {"5f00::1", false},
		{"fd00::1", false}, {"fe80::1", false}, {"fec0::1", false}, {"ff02::1", false},
		// Globally reachable.
		{"8.8.8.8", true}, {"100.63.255.255", true}, {"100.128.0.1", true}, {"172.32.0.1", true},
		{"198.20.0.1", true}, {"223.255.255.1", true}, {"::ffff:8.8.8.8", true}, {"64:ff9b::808:808", true},
		{"2001:4860::1", true}, {"2a00:1450::1", true},
	} {
		if got := relayablePeer(net.ParseIP(tc.ip)); got != tc.want {
			t.Errorf("relayablePeer(%s) = %v, want %v", tc.ip, got, tc.want)
		}
	}
}

func TestOwnAddrs(t *testing.T) {
	o := newOwnAddrs(net.ParseIP("203.0.113.5"))
	o.listAll = func() ([]net.Addr, error) {
		return []net.Addr{&net.IPNet{IP: net.ParseIP("198.51.100.1"), Mask: net.CIDRMask(24, 32)}}, nil
	}
	for _, tc := range []struct {
		ip   string
		want bool
	}{{"203.0.113.5", true}, {"198.51.100.1", true}, {"::ffff:198.51.100.1", true}, {"198.51.100.2", false}} {
		if got := o.contains(net.ParseIP(tc.ip)); got != tc.want {
			t.Errorf("own(%s) = %v, want %v", tc.ip, got, tc.want)
		}
	}
	o.listAll = func() ([]net.Addr, error) { return nil, errors.New("no interfaces") }
	if !o.contains(net.ParseIP("203.0.113.5")) {
		t.Error("relay address forgotten")
	}
}
