package signalserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

var testSecret = []byte("test-secret-0123456789abcdef")

func TestRelayBetweenClients(t *testing.T) {
	ts := startServer(t)
	a := dialClient(t, ts.url, ClientOptions{Room: "call", Name: "Ann"})
	ja := waitMsg(t, a, ofType(TypeJoined))
	if len(ja.Peers) != 0 || ja.PeerID == "" || ja.Resume == "" {
		t.Fatalf("first joined = %+v", ja)
	}
	b := dialClient(t, ts.url, ClientOptions{Room: "call", Name: "Bob"})
	jb := waitMsg(t, b, ofType(TypeJoined))
	if len(jb.Peers) != 1 || jb.Peers[0] != (Peer{ID: ja.PeerID, Name: "Ann"}) {
		t.Fatalf("second joined peers = %+v", jb.Peers)
	}
	pj := waitMsg(t, a, ofType(TypePeerJoined))
	if pj.PeerID != jb.PeerID || pj.Name != "Bob" {
		t.Fatalf("peer-joined = %+v", pj)
	}

	steps := []struct {
		from, to *Client
		msg      Message
	}{
		{a, b, Message{Type: TypeOffer, To: jb.PeerID, SDP: json.RawMessage(`{"type":"offer","sdp":"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n"}`)}},
		{b, a, Message{Type: TypeAnswer, SDP: json.RawMessage(`{"type":"answer","sdp":"v=0\r\n"}`)}},
		{a, b, Message{Type: TypeCandidate, Candidate: json.RawMessage(`{"candidate":"candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host","sdpMid":"0"}`)}},
		{b, a, Message{Type: TypeCandidate, Candidate: json.RawMessage(`null`)}},
	}
	for _, st := range steps {
		if err := st.from.Send(st.msg); err != nil {
			t.Fatalf("send %s: %v", st.msg.Type, err)
		}
		got := waitMsg(t, st.to, ofType(st.msg.Type))
		if got.From != st.from.PeerID() {
			t.Errorf("%s from = %q, want %q", st.msg.Type, got.From, st.from.PeerID())
		}
		if string(got.SDP) != string(st.msg.SDP) || string(got.Candidate) != string(st.msg.Candidate) {
			t.Errorf("%s payload changed: %s %s", st.msg.Type, got.SDP, got.Candidate)
		}
	}
	// Addressing a peer that is not in the room is an error, not a close.
	if err := a.Send(Message{Type: TypeOffer, To: "nobody", SDP: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if e := waitMsg(t, a, ofType(TypeError)); e.Code != CodeUnknownPeer {
		t.Fatalf("error = %+v", e)
	}
	// Client-side validation refuses server-only types.
	if err := a.Send(Message{Type: TypeJoined, PeerID: "x"}); err == nil {
		t.Fatal("Send(joined) succeeded")
	}
	// bye tells the other peer at once.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if m := waitMsg(t, a, ofType(TypeBye)); m.From != jb.PeerID {
		t.Fatalf("bye = %+v", m)
	}
	if m := waitMsg(t, a, ofType(TypePeerLeft)); m.PeerID != jb.PeerID || m.Reason != "bye" {
		t.Fatalf("peer-left = %+v", m)
	}
}

func TestRelayStaysInRoom(t *testing.T) {
	ts := startServer(t, WithRoomCapacity(3))
	a := rawDial(t, ts.url, nil)
	rawJoin(t, a, Message{Room: "one"})
	b := rawDial(t, ts.url, nil)
	rawJoin(t, b, Message{Room: "one"})
	readMsg(t, a) // peer-joined
	c := rawDial(t, ts.url, nil)
	rawJoin(t, c, Message{Room: "two"})
	sendRaw(t, c, Message{Type: TypeOffer, SDP: json.RawMessage(`{"x":1}`)})
	sendRaw(t, a, Message{Type: TypeOffer, SDP: json.RawMessage(`{"x":2}`)})
	if m := readMsg(t, b); m.Type != TypeOffer || string(m.SDP) != `{"x":2}` {
		t.Fatalf("b got %+v", m)
	}
	// c's offer went nowhere: the next thing b sees is a's second message.
	sendRaw(t, a, Message{Type: TypeCandidate, Candidate: json.RawMessage(`{"y":1}`)})
	if m := readMsg(t, b); m.Type != TypeCandidate {
		t.Fatalf("b got %+v", m)
	}
}

// TestRejections checks each limit or auth failure yields its documented
// code and close code, and that an unrelated call keeps working.
func TestRejections(t *testing.T) {
	ts := startServer(t,
		WithSecret(testSecret),
		WithRoomCapacity(2),
		WithMaxMessageSize(1024),
		WithRateLimit(5, 20),
		WithAllowedOrigins("https://app.example"),
		// Every case below comes from one address; the throttle has its own tests.
		WithAttemptThrottle(100, time.Second, time.Second),
	)
	ctrlA := rawDial(t, ts.url, nil)
	rawJoin(t, ctrlA, Message{Room: "control"})
	ctrlB := rawDial(t, ts.url, nil)
	rawJoin(t, ctrlB, Message{Room: "control"})
	readMsg(t, ctrlA) // peer-joined
	controlWorks := func(t *testing.T) {
		t.Helper()
		sendRaw(t, ctrlB, Message{Type: TypeOffer, SDP: json.RawMessage(`{"ok":true}`)})
		if m := readMsg(t, ctrlA); m.Type != TypeOffer {
			t.Fatalf("control room got %+v", m)
		}
	}

	expired := func() string {
		exp := time.Now().Add(-time.Minute).Unix()
		e := itoa(exp)
		return joinTokenPrefix + "." + b64.EncodeToString([]byte("tok")) + "." + e + "." +
			b64.EncodeToString(tokenMAC(testSecret, "join", "tok", e))
	}()
	forged, _ := MintToken([]byte("another-secret-0123456789"), "tok", time.Hour)
	otherRoom, _ := MintToken(testSecret, "elsewhere", time.Hour)

	tests := []struct {
		name      string
		header    http.Header
		setup     func(t *testing.T) // runs before the connection under test
		act       func(t *testing.T, ws *websocket.Conn)
		code      ErrorCode
		closeCode int
	}{
		{
			name: "room full",
			setup: func(t *testing.T) {
				for range 2 {
					ws := rawDial(t, ts.url, nil)
					rawJoin(t, ws, Message{Room: "full"})
				}
			},
			act: func(t *testing.T, ws *websocket.Conn) {
				sendRaw(t, ws, Message{Type: TypeJoin, Room: "full", Name: "c"})
			},
			code: CodeRoomFull, closeCode: CloseTryAgainLater,
		},
		{
			name: "wrong password",
			setup: func(t *testing.T) {
				ws := rawDial(t, ts.url, nil)
				rawJoin(t, ws, Message{Room: "locked", Password: "right"})
			},
			act: func(t *testing.T, ws *websocket.Conn) {
				sendRaw(t, ws, Message{Type: TypeJoin, Room: "locked", Name: "c", Password: "wrong"})
			},
			code: CodeWrongPassword, closeCode: ClosePolicy,
		},
		{
			name: "expired token",
			act: func(t *testing.T, ws *websocket.Conn) {
				sendRaw(t, ws, Message{Type: TypeJoin, Room: "tok", Name: "c", Token: expired})
			},
			code: CodeTokenExpired, closeCode: ClosePolicy,
		},
		{
			name: "forged token",
			act: func(t *testing.T, ws *websocket.Conn) {
				sendRaw(t, ws, Message{Type: TypeJoin, Room: "tok", Name: "c", Token: forged})
			},
			code: CodeTokenInvalid, closeCode: ClosePolicy,
		},
		{
			name: "token for another room",
			act: func(t *testing.T, ws *websocket.Conn) {
				sendRaw(t, ws, Message{Type: TypeJoin, Room: "tok", Name: "c", Token: otherRoom})
			},
			code: CodeTokenInvalid, closeCode: ClosePolicy,
		},
		{
			name:   "disallowed origin",
			header: http.Header{"Origin": {"https://evil.example"}},
			act:    func(t *testing.T, ws *websocket.Conn) {},
			code:   CodeOriginNotAllowed, closeCode: ClosePolicy,
		},
		{
			name: "oversize message",
			act: func(t *testing.T, ws *websocket.Conn) {
				rawJoin(t, ws, Message{Room: "big"})
				sendRaw(t, ws, Message{Type: TypeOffer, SDP: json.RawMessage(`"` + strings.Repeat("a", 4096) + `"`)})
			},
			code: CodeMessageTooBig, closeCode: CloseTooBig,
		},
		{
			name: "invalid JSON keeps the connection",
			act: func(t *testing.T, ws *websocket.Conn) {
				sendRaw(t, ws, "{not json")
				expectError(t, ws, CodeBadJSON, 0)
				rawJoin(t, ws, Message{Room: "after-bad-json"})
				sendRaw(t, ws, `{"type":"bye"}`)
				sendRaw(t, ws, Message{Type: TypeJoined, PeerID: "x"})
			},
			code: CodeUnexpectedType,
		},
		{
			name: "unknown type keeps the connection",
			act: func(t *testing.T, ws *websocket.Conn) {
				sendRaw(t, ws, `{"v":1,"type":"dance"}`)
				expectError(t, ws, CodeUnknownType, 0)
				sendRaw(t, ws, Message{Type: TypeOffer, SDP: json.RawMessage(`{}`)})
			},
			code: CodeNotJoined,
		},
		{
			name: "second join",
			act: func(t *testing.T, ws *websocket.Conn) {
				rawJoin(t, ws, Message{Room: "twice"})
				sendRaw(t, ws, Message{Type: TypeJoin, Room: "twice-again", Name: "n"})
			},
			code: CodeAlreadyJoined,
		},
		{
			name: "bye then unknown peer",
			act: func(t *testing.T, ws *websocket.Conn) {
				rawJoin(t, ws, Message{Room: "byes"})
				sendRaw(t, ws, Message{Type: TypeBye})
				sendRaw(t, ws, Message{Type: TypeOffer, SDP: json.RawMessage(`{}`)})
				expectError(t, ws, CodeNotJoined, 0)
				rawJoin(t, ws, Message{Room: "byes"}) // the connection may join again
				sendRaw(t, ws, Message{Type: TypeOffer, To: "nobody", SDP: json.RawMessage(`{}`)})
			},
			code: CodeUnknownPeer,
		},
		{
			name: "join without version",
			act:  func(t *testing.T, ws *websocket.Conn) { sendRaw(t, ws, `{"type":"join","room":"r","name":"n"}`) },
			code: CodeUnsupportedVersion, closeCode: ClosePolicy,
		},
		{
			name: "message flood",
			act: func(t *testing.T, ws *websocket.Conn) {
				for range 100 {
					_ = ws.SetWriteDeadline(time.Now().Add(time.Second))
					if ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"keepalive"}`)) != nil {
						break
					}
				}
			},
			code: CodeRateLimited, closeCode: ClosePolicy,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.setup != nil {
				tt.setup(t)
			}
			ws := rawDial(t, ts.url, tt.header)
			tt.act(t, ws)
			expectError(t, ws, tt.code, tt.closeCode)
			controlWorks(t)
		})
	}

	t.Run("allowed origin", func(t *testing.T) {
		ws := rawDial(t, ts.url, http.Header{"Origin": {"https://app.example"}})
		rawJoin(t, ws, Message{Room: "web"})
	})
	t.Run("valid token", func(t *testing.T) {
		tok, err := MintToken(testSecret, "tok", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		ws := rawDial(t, ts.url, nil)
		rawJoin(t, ws, Message{Room: "tok", Token: tok})
	})
	mfs, err := ts.s.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	counted := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "peercall_signal_rejects_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			counted[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
		}
	}
	for _, code := range []ErrorCode{CodeRoomFull, CodeRateLimited, CodeMessageTooBig, CodeOriginNotAllowed,
		CodeWrongPassword, CodeTokenExpired, CodeTokenInvalid, CodeBadJSON, CodeUnknownType} {
		if counted[string(code)] < 1 {
			t.Errorf("rejects metric for %s = %v", code, counted[string(code)])
		}
	}
}

func TestRequireTokenAndLimits(t *testing.T) {
	ts := startServer(t, WithSecret(testSecret), WithRequireToken(true), WithMaxRooms(1), WithMaxConnsPerIP(3))
	ws := rawDial(t, ts.url, nil)
	sendRaw(t, ws, Message{Type: TypeJoin, Room: "r", Name: "n"})
	expectError(t, ws, CodeTokenRequired, ClosePolicy)

	tok1, _ := MintToken(testSecret, "r1", time.Minute)
	tok2, _ := MintToken(testSecret, "r2", time.Minute)
	a := rawDial(t, ts.url, nil)
	rawJoin(t, a, Message{Room: "r1", Token: tok1})
	b := rawDial(t, ts.url, nil)
	sendRaw(t, b, Message{Type: TypeJoin, Room: "r2", Name: "n", Token: tok2})
	expectError(t, b, CodeTooManyRooms, CloseTryAgainLater)

	// Three connections from 127.0.0.1 are open or closing; wait for the
	// closed ones to be released, then fill the per-IP quota.
	waitFor(t, func() bool { ts.s.mu.Lock(); defer ts.s.mu.Unlock(); return ts.s.perIP["127.0.0.1"] == 1 })
	rawDial(t, ts.url, nil)
	rawDial(t, ts.url, nil)
	over := rawDial(t, ts.url, nil)
	expectError(t, over, CodeTooManyConnections, CloseTryAgainLater)
}

// A burst of handshakes from one address gets exactly the address's quota:
// the slot is taken before the 101, not after.
func TestConnsPerIPUnderBurst(t *testing.T) {
	const quota, dials = 3, 12
	ts := startServer(t, WithMaxConnsPerIP(quota))
	type result struct {
		joined   bool
		rejected bool
		err      error
	}
	results := make(chan result, dials)
	var conns sync.WaitGroup
	release := make(chan struct{})
	for i := range dials {
		conns.Add(1)
		go func() {
			defer conns.Done()
			d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
			ws, resp, err := d.Dial(ts.url, nil)
			if resp != nil && resp.Body != nil {
				_ = resp.Body.Close()
			}
			if err != nil {
				results <- result{err: err}
				return
			}
			defer ws.Close()
			b, _ := Message{Type: TypeJoin, Room: fmt.Sprintf("burst-%d", i), Name: "n"}.Encode()
			_ = ws.WriteMessage(websocket.TextMessage, b)
			_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, raw, err := ws.ReadMessage()
			if err != nil {
				results <- result{err: err}
				return
			}
			m, err := DecodeMessage(raw)
			switch {
			case err != nil:
				results <- result{err: err}
			case m.Type == TypeJoined:
				results <- result{joined: true}
			case m.Type == TypeError && m.Code == CodeTooManyConnections:
				results <- result{rejected: true}
			default:
				results <- result{err: fmt.Errorf("unexpected %s %s", m.Type, m.Code)}
			}
			<-release // keep the accepted ones open until all have answered
		}()
	}
	joined, rejected := 0, 0
	for range dials {
		r := <-results
		switch {
		case r.err != nil:
			t.Error(r.err)
		case r.joined:
			joined++
		case r.rejected:
			rejected++
		}
	}
	close(release)
	conns.Wait()
	if joined != quota || rejected != dials-quota {
		t.Errorf("%d joined and %d rejected, want %d and %d", joined, rejected, quota, dials-quota)
	}
}

func TestHeartbeatDropsDeadPeer(t *testing.T) {
	ts := startServer(t, WithHeartbeat(30*time.Millisecond, 150*time.Millisecond), WithResumeGrace(100*time.Millisecond))
	live := dialClient(t, ts.url, ClientOptions{Room: "hb", Name: "live"})
	// A raw gorilla connection answers pings only while reading; this one
	// never reads again after joining, so it looks dead to the server.
	dead := rawDial(t, ts.url, nil)
	j := rawJoin(t, dead, Message{Room: "hb", Name: "dead"})
	left := waitMsg(t, live, ofType(TypePeerLeft))
	if left.PeerID != j.PeerID || left.Reason != "timeout" {
		t.Fatalf("peer-left = %+v", left)
	}
	if live.State() != StateConnected {
		t.Fatalf("live client state = %v", live.State())
	}
}

func TestResumeWithinGrace(t *testing.T) {
	ts := startServer(t, WithResumeGrace(5*time.Second))
	other := rawDial(t, ts.url, nil)
	rawJoin(t, other, Message{Room: "g"})
	first := rawDial(t, ts.url, nil)
	j := rawJoin(t, first, Message{Room: "g", Name: "roamer"})
	readMsg(t, other) // peer-joined
	_ = first.Close() // abrupt: no bye

	again := rawDial(t, ts.url, nil)
	j2 := rawJoin(t, again, Message{Room: "g", Name: "roamer", Resume: j.Resume})
	if j2.PeerID != j.PeerID || !j2.Resumed || len(j2.Peers) != 1 {
		t.Fatalf("resume joined = %+v, first id %s", j2, j.PeerID)
	}
	m := readMsg(t, other)
	if m.Type != TypePeerJoined || !m.Resumed || m.PeerID != j.PeerID {
		t.Fatalf("other saw %+v, want resumed peer-joined (no peer-left)", m)
	}
	// A resume token from another room does not take the slot.
	third := rawDial(t, ts.url, nil)
	j3 := rawJoin(t, third, Message{Room: "h", Resume: j.Resume})
	if j3.PeerID == j.PeerID || j3.Resumed {
		t.Fatalf("foreign resume honoured: %+v", j3)
	}
}

// TestJoinedMarksAwayMembers: a member whose connection dropped (no bye)
// is listed away to the next joiner while the server holds its slot; live
// members are not.
func TestJoinedMarksAwayMembers(t *testing.T) {
	ts := startServer(t, WithResumeGrace(5*time.Second))
	live := rawDial(t, ts.url, nil)
	jl := rawJoin(t, live, Message{Room: "g", Name: "stays"})
	gone := rawDial(t, ts.url, nil)
	jg := rawJoin(t, gone, Message{Room: "g", Name: "drops"})
	readMsg(t, live) // peer-joined
	_ = gone.Close() // abrupt: no bye
	deadline := time.Now().Add(5 * time.Second)
	for {
		c := rawDial(t, ts.url, nil)
		j := rawJoin(t, c, Message{Room: "g", Name: "new"})
		away := map[string]bool{}
		for _, p := range j.Peers {
			away[p.ID] = p.Away
		}
		if len(away) != 2 || away[jl.PeerID] {
			t.Fatalf("joined lists %+v, want %s live and %s", j.Peers, jl.PeerID, jg.PeerID)
		}
		if away[jg.PeerID] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the dropped member is still listed live: %+v", j.Peers)
		}
		// The server has not seen the drop yet: leave and look again.
		sendRaw(t, c, Message{Type: TypeBye, V: ProtocolVersion})
		_ = c.Close()
		time.Sleep(10 * time.Millisecond)
	}
}

func TestGracefulShutdown(t *testing.T) {
	ts := startServer(t)
	a := dialClient(t, ts.url, ClientOptions{Room: "s", Name: "a", NoReconnect: true})
	raw := rawDial(t, ts.url, nil)
	rawJoin(t, raw, Message{Room: "s", Name: "raw"})
	start := time.Now()
	if err := ts.stop(); err != nil {
		t.Fatalf("Serve returned %v", err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("shutdown took %v", d)
	}
	waitMsg(t, a, ofType(TypeServerShutdown))
	for {
		_ = raw.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, b, err := raw.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != CloseGoingAway {
				t.Fatalf("raw close = %v, want 1001", err)
			}
			break
		}
		if m, _ := DecodeMessage(b); m.Type == TypeServerShutdown {
			continue
		}
	}
	waitFor(t, func() bool { return a.State() == StateClosed })
	if _, err := net.DialTimeout("tcp", ts.addr, time.Second); err == nil {
		t.Error("listener still accepting after shutdown")
	}
}

func TestHealthAndMetrics(t *testing.T) {
	ts := startServer(t)
	c := dialClient(t, ts.url, ClientOptions{Room: "m", Name: "a"})
	_ = c
	hc := &http.Client{Timeout: 5 * time.Second}
	defer hc.CloseIdleConnections()
	get := func(path string) (int, string) {
		resp, err := hc.Get("http://" + ts.addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("healthz = %d %q", code, body)
	}
	code, body := get("/metrics")
	if code != 200 {
		t.Fatalf("metrics = %d", code)
	}
	for _, want := range []string{"peercall_signal_connections 1", "peercall_signal_rooms 1",
		"peercall_signal_relay_latency_seconds_bucket", "peercall_signal_messages_relayed_total",
		"peercall_signal_rejects_total"} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	// The handler also works hosted in-process without Serve.
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Addr() != nil {
		t.Error("Addr before Serve should be nil")
	}
}

func TestServerOptionsValidate(t *testing.T) {
	bad := []Option{
		WithSecret([]byte("short")), WithRoomCapacity(0), WithRateLimit(0, 1), WithHeartbeat(time.Second, time.Second),
		WithICEServers(ICEServer{URLs: []string{"http://x"}}), WithTURN(TURNConfig{}),
		WithTURN(TURNConfig{Listen: "0.0.0.0:0"}), // no relay IP
	}
	for i, o := range bad {
		s, err := New(o)
		if err == nil {
			_ = s.Close()
			t.Errorf("option %d accepted", i)
		} else if !errors.Is(err, ErrConfig) {
			t.Errorf("option %d: error %v does not wrap ErrConfig", i, err)
		}
	}
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestRoomCapacity: a room holds the configured number of peers (4 by
// default, for group calls), every joined says how many, the Go client
// exposes it, and the next joiner gets room-full.
func TestRoomCapacity(t *testing.T) {
	tests := []struct {
		name string
		opts []Option
		want int
	}{
		{"default", nil, DefaultRoomCapacity},
		{"two", []Option{WithRoomCapacity(2)}, 2},
		{"six", []Option{WithRoomCapacity(6)}, 6},
	}
	if DefaultRoomCapacity != 4 {
		t.Fatalf("DefaultRoomCapacity = %d, want 4 (group calls of up to 4)", DefaultRoomCapacity)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, tt.opts...)
			c := dialClient(t, ts.url, ClientOptions{Room: "group", Name: "Go"})
			if got := c.Capacity(); got != tt.want {
				t.Fatalf("Client.Capacity() = %d, want %d", got, tt.want)
			}
			for i := 1; i < tt.want; i++ {
				ws := rawDial(t, ts.url, nil)
				j := rawJoin(t, ws, Message{Room: "group", Name: "n" + itoa(int64(i))})
				if j.Capacity != tt.want || len(j.Peers) != i {
					t.Fatalf("joiner %d: capacity %d with %d peers listed, want %d and %d", i+1, j.Capacity, len(j.Peers), tt.want, i)
				}
			}
			ws := rawDial(t, ts.url, nil)
			sendRaw(t, ws, Message{Type: TypeJoin, Room: "group", Name: "late"})
			expectError(t, ws, CodeRoomFull, CloseTryAgainLater)
		})
	}
}

// TestByeToOnePeer: in a room of three, a bye with `to` ends only that
// pair's call (the sender stays and can still reach the third); a bye
// without `to` leaves the room, and everyone gets peer-left.
func TestByeToOnePeer(t *testing.T) {
	ts := startServer(t)
	ann, bob, cat := rawDial(t, ts.url, nil), rawDial(t, ts.url, nil), rawDial(t, ts.url, nil)
	ja := rawJoin(t, ann, Message{Room: "trio", Name: "Ann"})
	jb := rawJoin(t, bob, Message{Room: "trio", Name: "Bob"})
	if m := readMsg(t, ann); m.Type != TypePeerJoined || m.PeerID != jb.PeerID {
		t.Fatalf("ann got %+v, want Bob's peer-joined", m)
	}
	jc := rawJoin(t, cat, Message{Room: "trio", Name: "Cat"})
	for _, ws := range []*websocket.Conn{ann, bob} {
		if m := readMsg(t, ws); m.Type != TypePeerJoined || m.PeerID != jc.PeerID {
			t.Fatalf("got %+v, want Cat's peer-joined", m)
		}
	}

	sendRaw(t, ann, Message{Type: TypeBye, To: jb.PeerID, Reason: "connect timeout"})
	if m := readMsg(t, bob); m.Type != TypeBye || m.From != ja.PeerID || m.Reason != "connect timeout" {
		t.Fatalf("bob got %+v, want Ann's bye", m)
	}
	// Ann is still in the room: Cat gets her next offer, and nothing
	// (no bye, no peer-left) came before it.
	sendRaw(t, ann, Message{Type: TypeOffer, To: jc.PeerID, SDP: []byte(`{"request":true}`)})
	if m := readMsg(t, cat); m.Type != TypeOffer || m.From != ja.PeerID {
		t.Fatalf("cat got %+v, want Ann's offer", m)
	}
	// Bob can still reach Ann too.
	sendRaw(t, bob, Message{Type: TypeOffer, To: ja.PeerID, SDP: []byte(`{"request":true}`)})
	if m := readMsg(t, ann); m.Type != TypeOffer || m.From != jb.PeerID {
		t.Fatalf("ann got %+v, want Bob's offer", m)
	}

	sendRaw(t, ann, Message{Type: TypeBye, Reason: "hung up"})
	for name, ws := range map[string]*websocket.Conn{"bob": bob, "cat": cat} {
		if m := readMsg(t, ws); m.Type != TypeBye || m.From != ja.PeerID {
			t.Fatalf("%s got %+v, want Ann's bye", name, m)
		}
		if m := readMsg(t, ws); m.Type != TypePeerLeft || m.PeerID != ja.PeerID || m.Reason != "bye" {
			t.Fatalf("%s got %+v, want Ann's peer-left", name, m)
		}
	}
}
