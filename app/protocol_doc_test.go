package app

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"

	"github.com/peercall/peercall/call"
	"github.com/peercall/peercall/signalserver"
)

// A client written from docs/protocol.md alone (raw gorilla WebSocket and
// pion, none of Peercall's signaling or call code) calls a real
// call.Session behind the app's roomLink, in both roles and both join
// orders, on loopback only.

// docWire is the protocol message as the document describes it.
type docWire struct {
	V         int             `json:"v,omitempty"`
	Type      string          `json:"type"`
	Room      string          `json:"room,omitempty"`
	Name      string          `json:"name,omitempty"`
	Resume    string          `json:"resume,omitempty"`
	PeerID    string          `json:"peer_id,omitempty"`
	Peers     []docPeer       `json:"peers,omitempty"`
	From      string          `json:"from,omitempty"`
	To        string          `json:"to,omitempty"`
	SDP       json.RawMessage `json:"sdp,omitempty"`
	Candidate json.RawMessage `json:"candidate,omitempty"`
	Reason    string          `json:"reason,omitempty"`
	Code      string          `json:"code,omitempty"`
}

type docPeer struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// docPayload covers every peer payload of the document's table.
type docPayload struct {
	SDP       string   `json:"sdp,omitempty"`
	Request   bool     `json:"request,omitempty"`
	Kinds     []string `json:"kinds,omitempty"`
	Restart   bool     `json:"restart,omitempty"`
	Candidate string   `json:"candidate,omitempty"`
	SDPMid    *string  `json:"sdpMid,omitempty"`
	SDPMLine  *uint16  `json:"sdpMLineIndex,omitempty"`
	Reason    string   `json:"reason,omitempty"`
}

// docResumeToken follows the documented resume token format, so the doc
// client can pick its own id (and with it its role) on a fresh server.
func docResumeToken(secret []byte, room, id string) string {
	exp := strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("resume\x00" + room + "\x00" + id + "\x00" + exp))
	b64 := base64.RawURLEncoding
	return "pcr1." + b64.EncodeToString([]byte(room)) + "." + id + "." + exp + "." + b64.EncodeToString(mac.Sum(nil))
}

type docClient struct {
	t      *testing.T
	ws     *websocket.Conn
	wmu    sync.Mutex
	id     string
	remote string
	polite bool
	pc     *webrtc.PeerConnection

	lastOffer, lastRemoteOffer, lastAnswer string
	queued                                 []webrtc.ICECandidateInit

	connected chan struct{}
	chat      chan string
	media     chan string
	once      sync.Once
}

func (d *docClient) send(m docWire) {
	m.V = 1
	b, err := json.Marshal(m)
	if err != nil {
		d.t.Error(err)
		return
	}
	d.wmu.Lock()
	defer d.wmu.Unlock()
	_ = d.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := d.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		d.t.Logf("doc client send: %v", err)
	}
}

func (d *docClient) sendPayload(typ string, p any) {
	b, _ := json.Marshal(p)
	m := docWire{Type: typ, To: d.remote}
	if typ == "candidate" {
		m.Candidate = b
	} else {
		m.SDP = b
	}
	d.send(m)
}

func (d *docClient) read() (docWire, error) {
	_ = d.ws.SetReadDeadline(time.Now().Add(40 * time.Second))
	var m docWire
	_, b, err := d.ws.ReadMessage()
	if err != nil {
		return m, err
	}
	return m, json.Unmarshal(b, &m)
}

// ready builds the peer connection: loopback-only ICE, receive audio and
// video and the chat channel on the impolite side (protocol.md, Roles).
func (d *docClient) ready() error {
	se := webrtc.SettingEngine{}
	loop := func(ip net.IP) bool { return ip.IsLoopback() }
	se.SetIPFilter(loop)
	se.SetRemoteIPFilter(loop)
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	pc, err := webrtc.NewAPI(webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return err
	}
	d.pc = pc
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			d.sendPayload("candidate", nil) // end of candidates: null
			return
		}
		j := c.ToJSON()
		d.sendPayload("candidate", docPayload{Candidate: j.Candidate, SDPMid: j.SDPMid, SDPMLine: j.SDPMLineIndex})
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			d.once.Do(func() { close(d.connected) })
		}
	})
	bind := func(dc *webrtc.DataChannel) {
		if dc.Label() != "chat" {
			return
		}
		dc.OnOpen(func() {
			b, _ := json.Marshal(map[string]any{"from": d.id, "ts": time.Now().UnixMilli(), "text": "hello from the doc"})
			_ = dc.SendText(string(b))
		})
		dc.OnMessage(func(m webrtc.DataChannelMessage) {
			var w map[string]any
			if json.Unmarshal(m.Data, &w) != nil {
				return
			}
			switch w["type"] {
			case nil, "chat":
				select {
				case d.chat <- fmt.Sprint(w["from"], ":", w["text"]):
				default:
				}
			case "media":
				select {
				case d.media <- fmt.Sprint(w["audio"], ",", w["video"]):
				default:
				}
			}
		})
	}
	if d.polite {
		pc.OnDataChannel(bind)
		d.sendPayload("offer", docPayload{Request: true}) // "I am here"
		return nil
	}
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			return err
		}
	}
	dc, err := pc.CreateDataChannel("chat", nil)
	if err != nil {
		return err
	}
	bind(dc)
	return d.offer()
}

func (d *docClient) offer() error {
	o, err := d.pc.CreateOffer(nil)
	if err != nil {
		return err
	}
	if err := d.pc.SetLocalDescription(o); err != nil {
		return err
	}
	d.lastOffer = o.SDP
	d.sendPayload("offer", docPayload{SDP: o.SDP})
	return nil
}

func (d *docClient) flush() {
	for _, c := range d.queued {
		_ = d.pc.AddICECandidate(c)
	}
	d.queued = nil
}

// handle applies the document's negotiation rules to one relayed message.
func (d *docClient) handle(m docWire) error {
	var p docPayload
	switch m.Type {
	case "offer", "answer":
		if err := json.Unmarshal(m.SDP, &p); err != nil {
			return err
		}
	case "candidate":
		if string(m.Candidate) == "null" {
			return nil
		}
		if err := json.Unmarshal(m.Candidate, &p); err != nil {
			return err
		}
	}
	pc := d.pc
	switch {
	case m.Type == "offer" && p.Request:
		if !d.polite && pc.SignalingState() == webrtc.SignalingStateHaveLocalOffer {
			d.sendPayload("offer", docPayload{SDP: d.lastOffer}) // resend unchanged
		}
	case m.Type == "offer":
		if p.SDP == d.lastRemoteOffer {
			if pc.SignalingState() == webrtc.SignalingStateStable && d.lastAnswer != "" {
				d.sendPayload("answer", docPayload{SDP: d.lastAnswer})
			}
			return nil
		}
		if pc.SignalingState() != webrtc.SignalingStateStable {
			return nil // glare: the impolite side keeps its own
		}
		if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: p.SDP}); err != nil {
			return err
		}
		d.lastRemoteOffer = p.SDP
		d.flush()
		a, err := pc.CreateAnswer(nil)
		if err != nil {
			return err
		}
		if err := pc.SetLocalDescription(a); err != nil {
			return err
		}
		d.lastAnswer = a.SDP
		d.sendPayload("answer", docPayload{SDP: a.SDP})
	case m.Type == "answer":
		if pc.SignalingState() != webrtc.SignalingStateHaveLocalOffer {
			return nil // stale
		}
		if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: p.SDP}); err != nil {
			return err
		}
		d.flush()
	case m.Type == "candidate" && p.Candidate != "":
		c := webrtc.ICECandidateInit{Candidate: p.Candidate, SDPMid: p.SDPMid, SDPMLineIndex: p.SDPMLine}
		if pc.RemoteDescription() == nil {
			d.queued = append(d.queued, c)
			return nil
		}
		_ = pc.AddICECandidate(c)
	}
	return nil
}

// run joins, waits for the peer, and follows the rules until the
// connection to the server ends.
func (d *docClient) run(url, room, resume string, joined chan<- struct{}) error {
	ws, resp, err := websocket.DefaultDialer.Dial(url, nil)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		return err
	}
	d.ws = ws
	d.send(docWire{Type: "join", Room: room, Name: "Doc", Resume: resume})
	for {
		m, err := d.read()
		if err != nil {
			return err
		}
		switch m.Type {
		case "joined":
			d.id = m.PeerID
			close(joined)
			if len(m.Peers) > 0 {
				d.remote = m.Peers[0].ID
			}
		case "peer-joined":
			if d.remote == "" {
				d.remote = m.PeerID
			}
		case "offer", "answer", "candidate":
			if d.pc != nil && m.From == d.remote {
				if err := d.handle(m); err != nil {
					return err
				}
			}
			continue
		case "error":
			return fmt.Errorf("server error %s", m.Code)
		default:
			continue
		}
		if d.remote != "" && d.pc == nil {
			d.polite = d.id > d.remote
			if err := d.ready(); err != nil {
				return err
			}
		}
	}
}

// syncBuffer is a log sink safe for concurrent writes.
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

func TestDocClientCallsSession(t *testing.T) {
	tests := []struct {
		name     string
		docID    string // chosen through a resume token: sets the roles
		docFirst bool
	}{
		{"doc impolite joins first", "0000000000000000", true},
		{"doc impolite joins second", "0000000000000000", false},
		{"doc polite joins first", "zzzzzzzzzzzzzzzz", true},
		{"doc polite joins second", "zzzzzzzzzzzzzzzz", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			docCallsSession(t, tt.docID, tt.docFirst)
		})
	}
}

func docCallsSession(t *testing.T, docID string, docFirst bool) {
	secret := []byte("doc-client-secret-0123456789abcd")
	srv, err := signalserver.New(signalserver.WithSecret(secret))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer func() { hs.Close(); _ = srv.Close() }()
	url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws"
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()

	d := &docClient{t: t, connected: make(chan struct{}), chat: make(chan string, 4), media: make(chan string, 4)}
	docJoined := make(chan struct{})
	docDone := make(chan error, 1)
	startDoc := func() {
		go func() { docDone <- d.run(url, "doc", docResumeToken(secret, "doc", docID), docJoined) }()
		select {
		case <-docJoined:
		case err := <-docDone:
			t.Fatalf("doc client: %v", err)
		}
	}
	if docFirst {
		startDoc()
	}

	// The Peercall side: signalserver.Client, the app's roomLink, call.Session.
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	client, err := signalserver.Dial(ctx, url, signalserver.ClientOptions{Room: "doc", Name: "Peercall", NoReconnect: true})
	if err != nil {
		t.Fatal(err)
	}
	link := newRoomLink(client, log)
	defer func() { _ = client.Close(); link.Wait() }()
	if !docFirst {
		startDoc()
	}
	remote := ""
	for remote == "" {
		select {
		case ev := <-link.Events():
			switch {
			case ev.Kind == RoomJoined && len(ev.Peers) > 0:
				remote = ev.Peers[0].ID
			case ev.Kind == RoomPeerJoined:
				remote = ev.PeerID
			}
		case <-ctx.Done():
			t.Fatal("the doc client never showed up")
		}
	}
	if remote != docID {
		t.Fatalf("doc client has id %q, want %q from its resume token", remote, docID)
	}
	peer := link.Peer(remote, "")
	sess, err := call.New(call.Config{
		LocalID: client.PeerID(), RemoteID: remote, Signaler: peer,
		ICE: call.ICEOptions{Loopback: true}, InterfacePoll: -1, Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sess.Close() }()
	if err := sess.SetLocalMedia(true, false); err != nil {
		t.Fatal(err)
	}
	if err := sess.Start(); err != nil {
		t.Fatal(err)
	}
	if sess.Polite() == (docID > client.PeerID()) {
		t.Fatalf("both sides think they are polite=%v", sess.Polite())
	}

	// Connected on both ends, then chat both ways and the media state.
	gotChat := false
	for sess.State() != call.StateConnected || !gotChat {
		select {
		case u, ok := <-sess.Updates():
			if !ok {
				t.Fatalf("session ended: %s", sess.State())
			}
			if u.Kind == call.UpdateState && u.State.Terminal() {
				t.Fatalf("session ended: %s (%v)", u.Reason, u.Err)
			}
			if u.Kind == call.UpdateChat && u.Chat.Text == "hello from the doc" && u.Chat.From == docID {
				gotChat = true
			}
		case err := <-docDone:
			t.Fatalf("doc client: %v", err)
		case <-ctx.Done():
			t.Fatalf("no call: session %s, chat %v", sess.State(), gotChat)
		}
	}
	select {
	case <-d.connected:
	case <-ctx.Done():
		t.Fatal("doc client never connected")
	}
	// The polite session may see the channel's first message before its
	// own open event: wait for the channel rather than for a time.
	for {
		err := sess.SendChat("hello from Peercall")
		if err == nil {
			break
		}
		if !errors.Is(err, call.ErrChatUnavailable) || ctx.Err() != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, want := range []struct {
		ch   chan string
		text string
	}{{d.media, "true,false"}, {d.chat, client.PeerID() + ":hello from Peercall"}} {
		select {
		case got := <-want.ch:
			if got != want.text {
				t.Errorf("doc client got %q, want %q", got, want.text)
			}
		case <-ctx.Done():
			t.Fatalf("doc client never got %q", want.text)
		}
	}

	// Hang up as documented: bye with the reason in payload and message.
	d.send(docWire{Type: "bye", To: client.PeerID(), SDP: json.RawMessage(`{"reason":"hung up"}`), Reason: "hung up"})
	for !sess.State().Terminal() {
		select {
		case u, ok := <-sess.Updates():
			if ok && u.Kind == call.UpdateState && u.State.Terminal() && !errors.Is(u.Err, call.ErrRemoteHangup) {
				t.Errorf("session ended with %v, want the remote hang-up", u.Err)
			}
			if !ok && !sess.State().Terminal() {
				t.Fatal("updates closed before the end")
			}
		case <-ctx.Done():
			t.Fatal("bye did not end the session")
		}
	}
	_ = d.ws.Close()
	<-docDone
	_ = d.pc.Close()
	if strings.Contains(logs.String(), "malformed") {
		t.Errorf("the Peercall side rejected a documented message:\n%s", logs.String())
	}
}

// TestEndOfCandidatesQuiet: candidate null (and an empty candidate) from
// the peer is end-of-candidates, not a malformed signal.
func TestEndOfCandidatesQuiet(t *testing.T) {
	for _, raw := range []string{`null`, `{"candidate":"","sdpMid":"0","sdpMLineIndex":0}`} {
		s, err := messageToSignal(signalserver.Message{Type: signalserver.TypeCandidate, From: "a", Candidate: json.RawMessage(raw)})
		if err != nil {
			t.Errorf("%s: %v", raw, err)
			continue
		}
		if s.Kind != call.SignalCandidate || s.Candidate != nil {
			t.Errorf("%s: got %+v", raw, s)
		}
		m, err := signalToMessage(s)
		if err != nil || string(m.Candidate) != "null" {
			t.Errorf("%s: back on the wire as %s (%v), want null", raw, m.Candidate, err)
		}
	}
}
