package signalserver

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(benchChildEnv) != "" {
		os.Exit(benchChildMain())
	}
	goleak.VerifyTestMain(m)
}

type testServer struct {
	s      *Server
	url    string
	addr   string
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

func startServer(t testing.TB, opts ...Option) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveOn(t, ln, opts...)
}

func serveOn(t testing.TB, ln net.Listener, opts ...Option) *testServer {
	t.Helper()
	s, err := New(opts...)
	if err != nil {
		_ = ln.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts := &testServer{s: s, cancel: cancel, done: make(chan error, 1),
		addr: ln.Addr().String(), url: "ws://" + ln.Addr().String() + "/ws"}
	go func() { ts.done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() { _ = ts.stop() })
	return ts
}

func (ts *testServer) stop() error {
	ts.once.Do(func() {
		ts.cancel()
		select {
		case ts.err = <-ts.done:
		case <-time.After(15 * time.Second):
			ts.err = errors.New("Serve did not return")
		}
	})
	return ts.err
}

func rawDial(t testing.TB, url string, hdr http.Header) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	ws, resp, err := d.Dial(url, hdr)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { _ = ws.Close() })
	return ws
}

func sendRaw(t testing.TB, ws *websocket.Conn, v any) {
	t.Helper()
	var b []byte
	switch x := v.(type) {
	case string:
		b = []byte(x)
	case []byte:
		b = x
	case Message:
		var err error
		if b, err = x.Encode(); err != nil {
			t.Fatal(err)
		}
	default:
		var err error
		if b, err = json.Marshal(x); err != nil {
			t.Fatal(err)
		}
	}
	_ = ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := ws.WriteMessage(websocket.TextMessage, b); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// readMsg reads one protocol message or fails.
func readMsg(t testing.TB, ws *websocket.Conn) Message {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, b, err := ws.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	m, err := DecodeMessage(b)
	if err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return m
}

func rawJoin(t testing.TB, ws *websocket.Conn, m Message) Message {
	t.Helper()
	m.Type, m.V = TypeJoin, ProtocolVersion
	if m.Name == "" {
		m.Name = "tester"
	}
	sendRaw(t, ws, m)
	got := readMsg(t, ws)
	if got.Type != TypeJoined {
		t.Fatalf("join %s: got %+v", m.Room, got)
	}
	return got
}

// expectError reads until an error message arrives and checks its code;
// when closeCode is non-zero it then expects that WebSocket close code.
func expectError(t testing.TB, ws *websocket.Conn, code ErrorCode, closeCode int) {
	t.Helper()
	for {
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, b, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("want error %s, read failed: %v", code, err)
		}
		m, err := DecodeMessage(b)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		if m.Type != TypeError {
			continue
		}
		if m.Code != code {
			t.Fatalf("error code = %s (%s), want %s", m.Code, m.Text, code)
		}
		if m.Text == "" {
			t.Errorf("error %s without text", code)
		}
		break
	}
	if closeCode == 0 {
		return
	}
	for {
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _, err := ws.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) {
			t.Fatalf("want close %d, got %v", closeCode, err)
		}
		if ce.Code != closeCode {
			t.Fatalf("close code = %d, want %d", ce.Code, closeCode)
		}
		return
	}
}

func dialClient(t testing.TB, url string, o ClientOptions) *Client {
	t.Helper()
	if o.MinBackoff == 0 {
		o.MinBackoff = 20 * time.Millisecond
		o.MaxBackoff = 200 * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, url, o)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// waitMsg returns the first message matching pred, skipping others.
func waitMsg(t testing.TB, c *Client, pred func(Message) bool) Message {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case m, ok := <-c.Messages():
			if !ok {
				t.Fatalf("client closed while waiting (err %v)", c.Err())
			}
			if pred(m) {
				return m
			}
		case <-timeout:
			t.Fatal("timed out waiting for message")
		}
	}
}

func ofType(tp Type) func(Message) bool { return func(m Message) bool { return m.Type == tp } }
