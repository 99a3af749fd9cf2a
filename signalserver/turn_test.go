package signalserver

import (
	"bytes"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pion/turn/v5"
)

// turnTarget extracts host:port from the first turn: URL handed out.
func turnTarget(t *testing.T, servers []ICEServer) (addr, user, pass string) {
	t.Helper()
	for _, s := range servers {
		for _, u := range s.URLs {
			if rest, ok := strings.CutPrefix(u, "turn:"); ok {
				addr, _, _ = strings.Cut(rest, "?")
				return addr, s.Username, s.Credential
			}
		}
	}
	t.Fatalf("no turn: URL in %+v", servers)
	return "", "", ""
}

func turnClient(t *testing.T, addr, user, pass string) *turn.Client {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	c, err := turn.NewClient(&turn.ClientConfig{
		STUNServerAddr: addr,
		TURNServerAddr: addr,
		Conn:           pc,
		Username:       user,
		Password:       pass,
		Realm:          "peercall",
		LoggerFactory:  slogLoggerFactory{l: slog.New(slog.DiscardHandler)},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestBuiltinTURNAllocation(t *testing.T) {
	for _, tc := range []struct {
		name         string
		allowPrivate bool
	}{{"allow private", true}, {"refuse loopback peer", false}} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, WithSecret(testSecret), WithTURN(TURNConfig{
				Listen: "127.0.0.1:0", MinPort: 42000, MaxPort: 42999, AllowPrivate: tc.allowPrivate,
			}))
			if ts.s.TURNAddr() == nil {
				t.Fatal("TURN not running")
			}
			c := dialClient(t, ts.url, ClientOptions{Room: "turn", Name: "a"})
			addr, user, pass := turnTarget(t, c.ICEServers())
			if !strings.HasSuffix(user, ":"+c.PeerID()) {
				t.Fatalf("TURN username %q not bound to peer %s", user, c.PeerID())
			}

			tc2 := turnClient(t, addr, user, pass)
			mapped, err := tc2.SendBindingRequest()
			if err != nil {
				t.Fatalf("STUN binding: %v", err)
			}
			if !strings.HasPrefix(mapped.String(), "127.0.0.1:") {
				t.Fatalf("mapped address %v", mapped)
			}
			relay, err := tc2.Allocate()
			if err != nil {
				t.Fatalf("allocate: %v", err)
			}
			defer relay.Close()
			ra := relay.LocalAddr().(*net.UDPAddr)
			if ra.Port < 42000 || ra.Port > 42999 || !ra.IP.Equal(net.IPv4(127, 0, 0, 1)) {
				t.Fatalf("relay address %v outside configuration", ra)
			}

			peer, err := net.ListenPacket("udp4", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer peer.Close()
			_, werr := relay.WriteTo([]byte("hello"), peer.LocalAddr())
			buf := make([]byte, 64)
			_ = peer.SetReadDeadline(time.Now().Add(700 * time.Millisecond))
			n, from, rerr := peer.ReadFrom(buf)
			if !tc.allowPrivate {
				if werr == nil && rerr == nil {
					t.Fatalf("relayed to a loopback peer although private peers are refused")
				}
				return
			}
			if werr != nil || rerr != nil {
				t.Fatalf("relay write %v, peer read %v", werr, rerr)
			}
			if !bytes.Equal(buf[:n], []byte("hello")) || from.(*net.UDPAddr).Port != ra.Port {
				t.Fatalf("peer got %q from %v", buf[:n], from)
			}
			// And back through the relay.
			if _, err := peer.WriteTo([]byte("pong"), from); err != nil {
				t.Fatal(err)
			}
			_ = relay.SetReadDeadline(time.Now().Add(2 * time.Second))
			n, _, err = relay.ReadFrom(buf)
			if err != nil || string(buf[:n]) != "pong" {
				t.Fatalf("relay read %q, %v", buf[:n], err)
			}
		})
	}
}

func TestBuiltinTURNRejectsBadCredentials(t *testing.T) {
	ts := startServer(t, WithSecret(testSecret), WithTURN(TURNConfig{
		Listen: "127.0.0.1:0", MinPort: 43000, MaxPort: 43099, AllowPrivate: true,
	}))
	addr := ts.s.TURNAddr().String()
	user, _, err := TURNCredentials(testSecret, "peer", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	expiredUser, expiredPass, _ := TURNCredentials(testSecret, "peer", -time.Hour)
	for _, cred := range [][2]string{{user, "wrong"}, {expiredUser, expiredPass}} {
		c := turnClient(t, addr, cred[0], cred[1])
		if relay, err := c.Allocate(); err == nil {
			_ = relay.Close()
			t.Fatalf("allocation with %q succeeded", cred[0])
		}
	}
}

func TestRelayablePeer(t *testing.T) {
	for _, tc := range []struct {
		ip   string
		want bool
	}{
		{"127.0.0.1", false}, {"10.1.2.3", false}, {"192.168.1.1", false}, {"172.16.0.1", false},
		{"169.254.1.1", false}, {"::1", false}, {"fe80::1", false}, {"fd00::1", false}, {"0.0.0.0", false},
		{"224.0.0.1", false}, {"8.8.8.8", true}, {"2001:4860::1", true},
	} {
		if got := relayablePeer(net.ParseIP(tc.ip)); got != tc.want {
			t.Errorf("relayablePeer(%s) = %v", tc.ip, got)
		}
	}
}

// The TURN server is silenced as Shutdown closes it: pion/turn's read loop
// outlives its Close and logged its exit at debug level, sometimes after
// Serve had returned, which raced with a headless run printing its result
// to the same stderr. With no client, it logs nothing once serving.
func TestTURNLogsNothingAfterShutdown(t *testing.T) {
	for i := range 3 {
		var buf bytes.Buffer
		ts := startServer(t, WithSecret(testSecret),
			WithLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))),
			WithTURN(TURNConfig{Listen: "127.0.0.1:0", MinPort: 42000, MaxPort: 42999}))
		if err := ts.stop(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond) // time for the read loop to exit
		out := buf.String()
		// No client and no traffic: from the server's last start-up line
		// on, the TURN server has nothing to say but its read loop's exit.
		at := strings.Index(out, "signal server listening")
		if at < 0 || !strings.Contains(out, "signal server stopped") {
			t.Fatalf("run %d: the log lacks the server's start and stop lines:\n%s", i, out)
		}
		if strings.Contains(out[at:], "scope=turn") {
			t.Errorf("run %d: the TURN server logged while serving nobody or after shutdown:\n%s", i, out[at:])
		}
	}
}
