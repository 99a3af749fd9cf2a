package signalserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// dialFrom opens a WebSocket from a chosen loopback source address (all of
// 127.0.0.0/8 is loopback on Linux), so tests can play several clients.
func dialFrom(t testing.TB, src, url string, hdr http.Header) (*websocket.Conn, error) {
	t.Helper()
	nd := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second, NetDialContext: nd.DialContext}
	ws, resp, err := d.Dial(url, hdr)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = ws.Close() })
	return ws, nil
}

// joinResult joins and returns the joined message or the error code.
func joinResult(t testing.TB, ws *websocket.Conn, m Message) (Message, ErrorCode) {
	t.Helper()
	m.Type, m.V = TypeJoin, ProtocolVersion
	if m.Name == "" {
		m.Name = "tester"
	}
	sendRaw(t, ws, m)
	got := readMsg(t, ws)
	if got.Type == TypeError {
		return got, got.Code
	}
	return got, ""
}

// TestRoomFloodFromOneAddress: join-then-drop cycles from one address
// leave rooms held in resume grace; they count against that address, so
// the flood stops at its limit and another address still creates a room.
func TestRoomFloodFromOneAddress(t *testing.T) {
	ts := startServer(t, WithMaxRooms(20), WithMaxRoomsPerIP(5), WithResumeGrace(30*time.Second))
	created, refused := 0, 0
	for i := 0; i < 50; i++ {
		ws, err := dialFrom(t, "127.0.0.1", ts.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, code := joinResult(t, ws, Message{Room: fmt.Sprintf("flood-%d", i)})
		switch code {
		case "":
			created++
		case CodeTooManyRooms:
			refused++
		default:
			t.Fatalf("join %d: %s", i, code)
		}
		_ = ws.Close() // drop: the room stays for the resume grace
	}
	t.Logf("one address: %d rooms created, %d refused (limit 5 per address, 20 in all)", created, refused)
	if created != 5 {
		t.Fatalf("one address created %d rooms, want 5", created)
	}
	ws, err := dialFrom(t, "127.0.0.2", ts.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, code := joinResult(t, ws, Message{Room: "victim"}); code != "" {
		t.Fatalf("user from another address got %s", code)
	}
}

// TestPasswordBruteForce: wrong passwords are throttled per address and
// per room with a doubling wait; during the wait a guess is not looked at
// (even the right password gets too-many-attempts), and a user from an
// address that never failed still joins.
func TestPasswordBruteForce(t *testing.T) {
	const window = 2 * time.Second
	for _, tc := range []struct {
		name  string
		addrs []string
		max   int // guesses looked at within the window
	}{
		// 3 free, then 1 s, then 2 s: 4 within 2 s.
		{"one address", []string{"127.0.0.1"}, 4},
		// Each fresh address gets a guess; the room's wait holds back the
		// ones that failed.
		{"ten addresses", []string{"127.0.0.10", "127.0.0.11", "127.0.0.12", "127.0.0.13", "127.0.0.14",
			"127.0.0.15", "127.0.0.16", "127.0.0.17", "127.0.0.18", "127.0.0.19"}, 10 + 3 + 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, WithAttemptThrottle(DefaultAttemptsFree, DefaultAttemptsBackoff, DefaultAttemptsMaxBackoff))
			owner := rawDial(t, ts.url, nil)
			rawJoin(t, owner, Message{Room: "secret", Password: "right"})

			looked, throttled, tries := 0, 0, 0
			start := time.Now()
			for time.Since(start) < window {
				src := tc.addrs[tries%len(tc.addrs)]
				tries++
				ws, err := dialFrom(t, src, ts.url, nil)
				if err != nil {
					t.Fatal(err)
				}
				switch _, code := joinResult(t, ws, Message{Room: "secret", Password: fmt.Sprintf("guess-%d", tries)}); code {
				case CodeWrongPassword:
					looked++
				case CodeTooManyAttempts:
					throttled++
				default:
					t.Fatalf("guess %d: %q", tries, code)
				}
				_ = ws.Close()
			}
			el := time.Since(start)
			t.Logf("%d attempts in %v: %d guesses checked (%.1f/s), %d throttled",
				tries, el.Round(time.Millisecond), looked, float64(looked)/el.Seconds(), throttled)
			if looked > tc.max {
				t.Fatalf("%d guesses checked in %v, want at most %d", looked, el, tc.max)
			}
			// The attacker's right guess during its wait is not checked.
			ws, err := dialFrom(t, tc.addrs[0], ts.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, code := joinResult(t, ws, Message{Room: "secret", Password: "right"}); code != CodeTooManyAttempts {
				t.Fatalf("throttled address with the right password: %q, want too-many-attempts", code)
			}
			// A legitimate user from an address that never failed gets in.
			ws, err = dialFrom(t, "127.0.0.2", ts.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, code := joinResult(t, ws, Message{Room: "secret", Password: "right"}); code != "" {
				t.Fatalf("legitimate user got %s", code)
			}
		})
	}
}

// TestTokenBruteForce: forged join tokens count as wrong attempts too.
func TestTokenBruteForce(t *testing.T) {
	ts := startServer(t, WithSecret(testSecret), WithRequireToken(true), WithAttemptThrottle(2, time.Hour, time.Hour))
	codes := []ErrorCode{}
	for i := 0; i < 4; i++ {
		ws := rawDial(t, ts.url, nil)
		_, code := joinResult(t, ws, Message{Room: "r", Token: "pcj1.cg.9999999999.AAAA"})
		codes = append(codes, code)
	}
	want := []ErrorCode{CodeTokenInvalid, CodeTokenInvalid, CodeTooManyAttempts, CodeTooManyAttempts}
	if fmt.Sprint(codes) != fmt.Sprint(want) {
		t.Fatalf("codes %v, want %v", codes, want)
	}
	tok, _ := MintToken(testSecret, "r", time.Hour)
	ws, err := dialFrom(t, "127.0.0.2", ts.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, code := joinResult(t, ws, Message{Room: "r", Token: tok}); code != "" {
		t.Fatalf("valid token from another address: %s", code)
	}
}

func TestAttemptsBackoff(t *testing.T) {
	a := newAttempts(2, time.Second, 8*time.Second)
	for _, tc := range []struct {
		count int
		want  time.Duration
	}{{1, 0}, {2, time.Second}, {3, 2 * time.Second}, {4, 4 * time.Second}, {5, 8 * time.Second}, {40, 8 * time.Second}} {
		if got := a.wait(tc.count); got != tc.want {
			t.Errorf("wait(%d) = %v, want %v", tc.count, got, tc.want)
		}
	}
	now := time.Unix(1000, 0)
	for i := 0; i < 2; i++ {
		a.failed("x", now)
	}
	if a.allowed("x", now) || !a.allowed("x", now.Add(time.Second)) || !a.allowed("y", now) {
		t.Fatal("per-address wait wrong")
	}
	// Quiet for longer than the longest wait: the record starts over.
	later := now.Add(time.Minute)
	a.failed("x", later)
	if !a.allowed("x", later) {
		t.Fatal("old failures still counted")
	}
}

func TestAddrKey(t *testing.T) {
	for _, tc := range []struct {
		ip     string
		prefix int
		want   string
	}{
		{"192.0.2.7", 64, "192.0.2.7"},
		{"::ffff:192.0.2.7", 64, "192.0.2.7"},
		{"2001:db8:1:2:3:4:5:6", 64, "2001:db8:1:2::/64"},
		{"2001:db8:1:2::ffff", 64, "2001:db8:1:2::/64"},
		{"2001:db8:1:2:3:4:5:6", 48, "2001:db8:1::/48"},
		{"2001:db8:1:2:3:4:5:6", 128, "2001:db8:1:2:3:4:5:6/128"},
		{"fe80::1%eth0", 64, "fe80::/64"},
		{"not-an-ip", 64, "not-an-ip"},
	} {
		if got := addrKey(tc.ip, tc.prefix); got != tc.want {
			t.Errorf("addrKey(%s, %d) = %s, want %s", tc.ip, tc.prefix, got, tc.want)
		}
	}
}

// TestIPv6PrefixLimit: connections from many addresses of one /64 share
// the per-address limit (addresses given by a trusted proxy's X-Real-IP).
func TestIPv6PrefixLimit(t *testing.T) {
	ts := startServer(t, WithTrustProxy(true), WithMaxConnsPerIP(4))
	accepted := 0
	for i := 1; i <= 12; i++ {
		ws := rawDial(t, ts.url, http.Header{"X-Real-Ip": {fmt.Sprintf("2001:db8:0:1::%x", i)}})
		sendRaw(t, ws, Message{Type: TypeJoin, V: ProtocolVersion, Room: fmt.Sprintf("v6-%d", i), Name: "x"})
		if m := readMsg(t, ws); m.Type == TypeJoined {
			accepted++
		} else if m.Code != CodeTooManyConnections {
			t.Fatalf("connection %d: %+v", i, m)
		}
	}
	if accepted != 4 {
		t.Fatalf("%d connections from one /64 accepted, want 4", accepted)
	}
	ws := rawDial(t, ts.url, http.Header{"X-Real-Ip": {"2001:db8:0:2::1"}})
	rawJoin(t, ws, Message{Room: "other-64"})
}

// TestPendingHandshakesPerAddress: connections that send nothing are
// bounded per address; the extra ones are closed at once, other addresses
// are served.
func TestPendingHandshakesPerAddress(t *testing.T) {
	ts := startServer(t, WithMaxPendingPerIP(4))
	var idle []net.Conn
	for i := 0; i < 8; i++ {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.3")}}
		c, err := d.DialContext(context.Background(), "tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		idle = append(idle, c)
	}
	// Read all at once: a read whose deadline has passed reports the
	// timeout even when the peer closed meanwhile.
	deadline := time.Now().Add(2 * time.Second)
	results := make(chan bool, len(idle))
	for _, c := range idle {
		go func() {
			_ = c.SetReadDeadline(deadline)
			_, err := c.Read(make([]byte, 1))
			var ne net.Error
			results <- !(errors.As(err, &ne) && ne.Timeout())
		}()
	}
	closed := 0
	for range idle {
		if <-results {
			closed++
		}
	}
	if closed != 4 {
		t.Fatalf("%d of 8 idle connections closed, want 4 (limit 4)", closed)
	}
	if _, err := dialFrom(t, "127.0.0.4", ts.url, nil); err != nil {
		t.Fatalf("another address: %v", err)
	}
	for _, c := range idle {
		_ = c.Close()
	}
	// Slots come back once the idle connections are gone.
	var err error
	for i := 0; i < 50; i++ {
		var ws *websocket.Conn
		if ws, err = dialFrom(t, "127.0.0.3", ts.url, nil); err == nil {
			_ = ws.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("address still refused after closing its idle connections: %v", err)
}
