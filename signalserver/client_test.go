package signalserver

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// TestReconnectAcrossRestart: the server is stopped and a new one (same
// secret, same address, no state) started; both clients rejoin under their
// old peer ids and the call's signaling continues.
func TestReconnectAcrossRestart(t *testing.T) {
	ts := startServer(t, WithSecret(testSecret))
	addr := ts.addr
	a := dialClient(t, ts.url, ClientOptions{Room: "call", Name: "Ann", Password: "pw"})
	b := dialClient(t, ts.url, ClientOptions{Room: "call", Name: "Bob", Password: "pw"})
	idA, idB := a.PeerID(), b.PeerID()
	waitMsg(t, a, ofType(TypePeerJoined))

	if err := ts.stop(); err != nil {
		t.Fatal(err)
	}
	waitMsg(t, a, ofType(TypeServerShutdown))
	waitMsg(t, b, ofType(TypeServerShutdown))

	ln := relisten(t, addr)
	serveOn(t, ln, WithSecret(testSecret))

	ja := waitMsg(t, a, ofType(TypeJoined))
	jb := waitMsg(t, b, ofType(TypeJoined))
	// Events: connected (Dial), reconnecting, connected again, same id.
	var states []State
	for len(states) < 3 {
		select {
		case ev := <-a.Events():
			states = append(states, ev.State)
			if ev.State == StateConnected && (ev.PeerID != idA || (len(states) > 1 && !ev.Resumed)) {
				t.Fatalf("event %+v, want peer %s resumed", ev, idA)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("events so far %v", states)
		}
	}
	if states[0] != StateConnected || states[1] != StateReconnecting || states[2] != StateConnected {
		t.Fatalf("events %v", states)
	}
	if ja.PeerID != idA || jb.PeerID != idB || !ja.Resumed || !jb.Resumed {
		t.Fatalf("ids after restart: a %s→%s b %s→%s", idA, ja.PeerID, idB, jb.PeerID)
	}
	waitFor(t, func() bool { return a.State() == StateConnected && b.State() == StateConnected })
	if err := a.Send(Message{Type: TypeOffer, To: idB, SDP: json.RawMessage(`{"type":"offer","sdp":"v=0"}`)}); err != nil {
		t.Fatal(err)
	}
	if m := waitMsg(t, b, ofType(TypeOffer)); m.From != idA {
		t.Fatalf("offer after restart = %+v", m)
	}
}

// Without a configured secret, a restarted server cannot verify old resume
// tokens: the client rejoins under a new id (documented behaviour).
func TestReconnectWithoutSecretGetsNewID(t *testing.T) {
	ts := startServer(t)
	addr := ts.addr
	a := dialClient(t, ts.url, ClientOptions{Room: "eph", Name: "Ann"})
	old := a.PeerID()
	if err := ts.stop(); err != nil {
		t.Fatal(err)
	}
	waitMsg(t, a, ofType(TypeServerShutdown))
	ln := relisten(t, addr)
	serveOn(t, ln)
	j := waitMsg(t, a, ofType(TypeJoined))
	if j.PeerID == old || j.Resumed {
		t.Fatalf("rejoin = %+v, old id %s", j, old)
	}
	// The client's own view follows: PeerID and the state event carry the
	// new id and say it was not resumed.
	if got := a.PeerID(); got != j.PeerID {
		t.Errorf("PeerID() = %s after rejoining as %s", got, j.PeerID)
	}
	for {
		select {
		case ev := <-a.Events():
			if ev.State != StateConnected || ev.PeerID == old {
				continue
			}
			if ev.PeerID != j.PeerID || ev.Resumed {
				t.Errorf("rejoin event %+v, want peer %s not resumed", ev, j.PeerID)
			}
			return
		case <-time.After(5 * time.Second):
			t.Fatal("no connected event after the rejoin")
		}
	}
}

func TestClientFatalRejection(t *testing.T) {
	ts := startServer(t)
	_ = dialClient(t, ts.url, ClientOptions{Room: "pw", Name: "a", Password: "right"})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, ts.url, ClientOptions{Room: "pw", Name: "b", Password: "wrong"})
	if err == nil {
		_ = c.Close()
		t.Fatal("joined with the wrong password")
	}
	var pe *ProtocolError
	if !errors.As(err, &pe) || pe.Code != CodeWrongPassword || !errors.Is(err, ErrRejected) {
		t.Fatalf("Dial error = %v", err)
	}
	if pe.UserMessage() == "" {
		t.Error("no user message")
	}
}

func TestTLSSelfSignedPinning(t *testing.T) {
	cert, fp, err := SelfSignedCertificate([]string{"127.0.0.1", "localhost"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, WithTLSConfig(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}))
	url := strings.Replace(ts.url, "ws://", "wss://", 1)
	c := dialClient(t, url, ClientOptions{Room: "tls", Name: "a", PinSHA256: strings.ToLower(fp)})
	if c.PeerID() == "" {
		t.Fatal("no peer id")
	}

	_, otherFP, err := SelfSignedCertificate([]string{"127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, tc := range []struct {
		name string
		opts ClientOptions
	}{
		{"wrong pin", ClientOptions{Room: "tls", Name: "b", PinSHA256: otherFP}},
		{"no pin, untrusted", ClientOptions{Room: "tls", Name: "b"}},
	} {
		c2, err := Dial(ctx, url, tc.opts)
		if err == nil {
			_ = c2.Close()
			t.Fatalf("%s: connected", tc.name)
		}
		if tc.name == "wrong pin" && !errors.Is(err, ErrPinMismatch) {
			t.Errorf("%s: error %v does not wrap ErrPinMismatch", tc.name, err)
		}
	}
}

func TestClientCloseWhileReconnecting(t *testing.T) {
	ts := startServer(t)
	c := dialClient(t, ts.url, ClientOptions{Room: "x", Name: "a", MinBackoff: 50 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	if err := ts.stop(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return c.State() == StateReconnecting })
	done := make(chan struct{})
	go func() { _ = c.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close hung while reconnecting")
	}
	if err := c.Send(Message{Type: TypeKeepalive}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after Close = %v", err)
	}
	if st := c.State(); st != StateClosed || st.String() != "closed" {
		t.Fatalf("state = %v", st)
	}
}

// relisten listens again on the address a stopped server used.
func relisten(t *testing.T, addr string) net.Listener {
	t.Helper()
	var ln net.Listener
	waitFor(t, func() bool {
		var err error
		ln, err = net.Listen("tcp", addr)
		return err == nil
	})
	return ln
}

// TestClientResumesWithRefreshedToken: the client keeps the resume token a
// refresh brings, so it resumes its id after the token it joined with has
// expired (resume tokens are short-lived and single use).
func TestClientResumesWithRefreshedToken(t *testing.T) {
	ts := startServer(t, WithSecret(testSecret), WithResumeTTL(4*time.Second))
	addr := ts.addr
	a := dialClient(t, ts.url, ClientOptions{Room: "fresh", Name: "Ann"})
	id := a.PeerID()
	joined := time.Now()
	waitMsg(t, a, ofType(TypeRefresh))
	time.Sleep(time.Until(joined.Add(4500 * time.Millisecond))) // the join's token has expired
	if err := ts.stop(); err != nil {
		t.Fatal(err)
	}
	waitMsg(t, a, ofType(TypeServerShutdown))
	serveOn(t, relisten(t, addr), WithSecret(testSecret), WithResumeTTL(4*time.Second))
	if j := waitMsg(t, a, ofType(TypeJoined)); j.PeerID != id || !j.Resumed {
		t.Fatalf("rejoined as %s (resumed %v), want %s resumed with the refreshed token", j.PeerID, j.Resumed, id)
	}
}
