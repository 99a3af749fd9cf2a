package signalserver

import (
	"strings"
	"testing"
	"time"
)

// TestResumeTokenRotation: a resume spends its token (a second use gets a
// fresh id), the new token works once, and bye revokes the token held.
func TestResumeTokenRotation(t *testing.T) {
	ts := startServer(t, WithSecret(testSecret), WithResumeGrace(10*time.Second))
	ws := rawDial(t, ts.url, nil)
	j1 := rawJoin(t, ws, Message{Room: "rot"})
	_ = ws.Close()

	ws = rawDial(t, ts.url, nil)
	j2 := rawJoin(t, ws, Message{Room: "rot", Resume: j1.Resume})
	if j2.PeerID != j1.PeerID || !j2.Resumed {
		t.Fatalf("first resume: id %q resumed %v", j2.PeerID, j2.Resumed)
	}
	if j2.Resume == j1.Resume {
		t.Fatal("resume token not rotated")
	}
	_ = ws.Close()

	// The spent token no longer brings the id back.
	ws = rawDial(t, ts.url, nil)
	if j := rawJoin(t, ws, Message{Room: "rot", Resume: j1.Resume}); j.PeerID == j1.PeerID || j.Resumed {
		t.Fatalf("spent token resumed %q", j.PeerID)
	}
	sendRaw(t, ws, Message{Type: TypeBye})
	_ = ws.Close()

	// The rotated one does, once; after bye it is dead as well.
	ws = rawDial(t, ts.url, nil)
	j3 := rawJoin(t, ws, Message{Room: "rot", Resume: j2.Resume})
	if j3.PeerID != j1.PeerID || !j3.Resumed {
		t.Fatalf("rotated token: id %q resumed %v", j3.PeerID, j3.Resumed)
	}
	sendRaw(t, ws, Message{Type: TypeBye, Reason: "done"})
	// The hub takes one connection's messages in order: a join after the
	// bye is answered only once the bye is done (another connection's
	// join could otherwise reach the hub first and take the slot over).
	// Messages relayed before it (the other peer's bye) are skipped.
	sendRaw(t, ws, Message{Type: TypeJoin, V: ProtocolVersion, Room: "rot-after", Name: "tester"})
	for m := readMsg(t, ws); m.Type != TypeJoined; m = readMsg(t, ws) {
		if m.Type == TypeError {
			t.Fatalf("join after bye: %+v", m)
		}
	}
	ws2 := rawDial(t, ts.url, nil)
	if j := rawJoin(t, ws2, Message{Room: "rot", Resume: j3.Resume}); j.PeerID == j1.PeerID || j.Resumed {
		t.Fatalf("token of a peer that said bye resumed %q", j.PeerID)
	}
}

// TestRefreshMessage: a connected member gets a refresh with a new resume
// token and fresh TURN credentials before the old ones expire; the
// refreshed token resumes.
func TestRefreshMessage(t *testing.T) {
	ts := startServer(t, WithSecret(testSecret), WithResumeTTL(2*time.Second),
		WithICEServers(ICEServer{URLs: []string{"turn:turn.example.org:3478"}}), WithResumeGrace(10*time.Second))
	ws := rawDial(t, ts.url, nil)
	j := rawJoin(t, ws, Message{Room: "fresh"})
	m := readMsg(t, ws) // within 5 s: the interval is 1 s
	if m.Type != TypeRefresh {
		t.Fatalf("got %+v, want refresh", m)
	}
	if m.Resume == "" || m.Resume == j.Resume {
		t.Fatalf("refresh resume %q (joined had %q)", m.Resume, j.Resume)
	}
	if len(m.ICEServers) != 1 || m.ICEServers[0].Username == "" || m.ICEServers[0].Credential == "" {
		t.Fatalf("refresh ice_servers %+v", m.ICEServers)
	}
	_ = ws.Close()
	ws = rawDial(t, ts.url, nil)
	if r := rawJoin(t, ws, Message{Room: "fresh", Resume: m.Resume}); r.PeerID != j.PeerID || !r.Resumed {
		t.Fatalf("refreshed token: id %q resumed %v", r.PeerID, r.Resumed)
	}
}

// TestCanonicalBase64: tokens whose base64 parts are not canonical (line
// breaks, non-zero trailing bits) are refused although they decode to the
// same bytes.
func TestCanonicalBase64(t *testing.T) {
	tok, err := MintToken(testSecret, "room", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyToken(testSecret, tok, "room", time.Now()); err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	mac := parts[3]
	last := strings.IndexByte(b64alphabet, mac[len(mac)-1])
	variants := map[string]string{
		"line break in mac":      parts[0] + "." + parts[1] + "." + parts[2] + "." + mac[:4] + "\n" + mac[4:],
		"CR in room":             parts[0] + "." + parts[1][:2] + "\r" + parts[1][2:] + "." + parts[2] + "." + mac,
		"trailing bits in mac":   parts[0] + "." + parts[1] + "." + parts[2] + "." + mac[:len(mac)-1] + string(b64alphabet[last|1]),
		"padding on the room":    parts[0] + "." + parts[1] + "==" + "." + parts[2] + "." + mac,
		"standard alphabet room": parts[0] + "." + strings.NewReplacer("-", "+", "_", "/").Replace(parts[1]) + "." + parts[2] + "." + mac,
	}
	for name, v := range variants {
		if v == tok {
			continue // e.g. the trailing bits were already set
		}
		if err := VerifyToken(testSecret, v, "room", time.Now()); err == nil {
			t.Errorf("%s: non-canonical token accepted", name)
		}
	}
	r := mintResume(testSecret, "room", "abc", time.Now().Add(time.Hour))
	rp := strings.Split(r, ".")
	bad := rp[0] + "." + rp[1] + "." + rp[2] + "." + rp[3] + "." + rp[4][:3] + "\n" + rp[4][3:]
	if _, err := verifyResume(testSecret, bad, "room", time.Now()); err == nil {
		t.Error("resume token with a line break accepted")
	}
	if _, err := verifyResume(testSecret, r, "room", time.Now()); err != nil {
		t.Errorf("canonical resume token: %v", err)
	}
}

const b64alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

func TestNamesAndReasons(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"Ann", true}, {"Zoë", true}, {"李", true}, {"a b", true}, {"🙂", true},
		{" ", false}, {"   ", false}, {"\u3164", false}, {"\u3164\u3164", false}, {"\u2800", false},
		{"\u200b", false}, {"A\u200bB", false}, {"\u0301\u0301", false}, {"\ufe0f", false},
		{"\u202eevil", false}, {"a\nb", false}, {strings.Repeat("x", 65), false},
	} {
		m := Message{Type: TypeJoin, V: ProtocolVersion, Room: "r", Name: tc.name}
		if err := m.Validate(); (err == nil) != tc.ok {
			t.Errorf("name %q: err %v, want ok %v", tc.name, err, tc.ok)
		}
	}
	for _, tc := range []struct {
		reason string
		ok     bool
	}{
		{"", true}, {"hung up", true}, {"raccroché", true},
		{"line\nbreak", false}, {"\u202eevil", false}, {"zero\u200bwidth", false}, {strings.Repeat("x", 65), false},
	} {
		m := Message{Type: TypeBye, Reason: tc.reason}
		if err := m.Validate(); (err == nil) != tc.ok {
			t.Errorf("reason %q: err %v, want ok %v", tc.reason, err, tc.ok)
		}
	}
}
