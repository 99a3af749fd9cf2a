package signalserver

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for a slog handler and a test reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestInProcessHandler hosts the server the way the app does: its Handler
// inside another http.Server (httptest here), stopped with Close. It also
// checks that debug logs carry no SDP or candidate text.
func TestInProcessHandler(t *testing.T) {
	var logs syncBuffer
	s, err := New(WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
		WithSecret(testSecret),
		WithICEServers(ICEServer{URLs: []string{"stun:127.0.0.1:3478"}},
			ICEServer{URLs: []string{"turn:127.0.0.1:3478?transport=udp"}}))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()
	url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws"
	a := dialClient(t, url, ClientOptions{Room: "inproc", Name: "a"})
	b := dialClient(t, url, ClientOptions{Room: "inproc", Name: "b"})

	ice := a.ICEServers()
	if len(ice) != 2 || ice[0].Username != "" || ice[1].Username == "" {
		t.Fatalf("ICE servers = %+v", ice)
	}
	mac := hmac.New(sha1.New, testSecret)
	mac.Write([]byte(ice[1].Username))
	if ice[1].Credential != base64.StdEncoding.EncodeToString(mac.Sum(nil)) ||
		!strings.HasSuffix(ice[1].Username, ":"+a.PeerID()) {
		t.Fatalf("TURN credential not minted for peer: %+v", ice[1])
	}

	const marker = "SECRET-SDP-MARKER"
	if err := a.Send(Message{Type: TypeOffer, SDP: json.RawMessage(`{"sdp":"` + marker + `"}`)}); err != nil {
		t.Fatal(err)
	}
	if err := a.Send(Message{Type: TypeCandidate, Candidate: json.RawMessage(`{"candidate":"` + marker + `"}`)}); err != nil {
		t.Fatal(err)
	}
	waitMsg(t, b, ofType(TypeOffer))
	waitMsg(t, b, ofType(TypeCandidate))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	waitMsg(t, b, ofType(TypeServerShutdown))
	if strings.Contains(logs.String(), marker) {
		t.Fatal("logs contain relayed SDP or candidate")
	}
	if !strings.Contains(logs.String(), "peer joined") {
		t.Fatalf("expected join logs, got:\n%s", logs.String())
	}
}

// TestSlowConsumerDropped: a peer that never reads is dropped once its
// queue overflows; the sender keeps being served.
func TestSlowConsumerDropped(t *testing.T) {
	ts := startServer(t, WithSendQueue(4), WithWriteTimeout(200*time.Millisecond),
		WithRateLimit(10000, 10000), WithResumeGrace(0))
	sender := dialClient(t, ts.url, ClientOptions{Room: "slow", Name: "fast"})
	stuck := rawDial(t, ts.url, nil)
	j := rawJoin(t, stuck, Message{Room: "slow", Name: "stuck"})
	waitMsg(t, sender, ofType(TypePeerJoined))

	payload := json.RawMessage(`"` + strings.Repeat("x", 32<<10) + `"`)
	left := make(chan Message, 1)
	go func() {
		for m := range sender.Messages() {
			if m.Type == TypePeerLeft {
				left <- m
				return
			}
		}
	}()
	deadline := time.After(10 * time.Second)
	for i := 0; ; i++ {
		select {
		case m := <-left:
			if m.PeerID != j.PeerID {
				t.Fatalf("peer-left = %+v", m)
			}
			if sender.State() != StateConnected {
				t.Fatal("sender was dropped too")
			}
			return
		case <-deadline:
			t.Fatal("slow consumer not dropped")
		default:
		}
		if i < 2000 {
			if err := sender.Send(Message{Type: TypeOffer, SDP: payload}); err != nil {
				t.Fatalf("send %d: %v", i, err)
			}
		} else {
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// TestDependencies enforces the layering rule for this package: no
// pion/webrtc, no Fyne, no cgo.
func TestDependencies(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not in PATH")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "list", "-deps", "./...")
	cmd.Env = append(cmd.Environ(), "CGO_ENABLED=0")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "github.com/pion/webrtc") || strings.HasPrefix(dep, "fyne.io/") ||
			strings.HasPrefix(dep, "github.com/peercall/peercall/") && !strings.HasPrefix(dep, "github.com/peercall/peercall/signalserver") {
			t.Errorf("forbidden dependency %s", dep)
		}
	}
}
