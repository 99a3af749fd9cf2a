package signalserver

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// These tests hold docs/protocol.md to the server: its transcripts are
// replayed against a live server, its error table is compared with the
// code, and its other statements are checked one by one.

const protocolDoc = "../docs/protocol.md"

// transcript is one ```transcript block of the protocol document.
type transcript struct {
	line   int      // where the block starts, for messages
	server []string // "# server:" flags
	steps  []step
}

type step struct {
	line  int
	who   string
	op    string // "→" send, "←" receive, "✕" connection drops
	json  string // message for → and ←
	close int    // ← close CODE REASON
	text  string // close reason
}

var stepRE = regexp.MustCompile(`^([A-Za-z]+) (→|←|✕)\s*(.*)$`)

func readTranscripts(t *testing.T) []transcript {
	t.Helper()
	f, err := os.Open(protocolDoc)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []transcript
	var cur *transcript
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		switch {
		case cur == nil && strings.TrimSpace(l) == "```transcript":
			cur = &transcript{line: n}
		case cur == nil:
		case strings.TrimSpace(l) == "```":
			out = append(out, *cur)
			cur = nil
		case strings.HasPrefix(l, "# server:"):
			cur.server = strings.Fields(strings.TrimPrefix(l, "# server:"))
		case strings.HasPrefix(l, "#") || strings.TrimSpace(l) == "":
		default:
			m := stepRE.FindStringSubmatch(l)
			if m == nil {
				t.Fatalf("%s:%d: not a transcript step: %q", protocolDoc, n, l)
			}
			s := step{line: n, who: m[1], op: m[2]}
			switch {
			case m[2] == "✕":
			case m[2] == "←" && strings.HasPrefix(m[3], "close "):
				f := strings.Fields(m[3])
				if len(f) != 3 {
					t.Fatalf("%s:%d: want \"close CODE REASON\"", protocolDoc, n)
				}
				if s.close, err = strconv.Atoi(f[1]); err != nil {
					t.Fatalf("%s:%d: %v", protocolDoc, n, err)
				}
				s.text = f[2]
			default:
				s.json = m[3]
			}
			cur.steps = append(cur.steps, s)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur != nil {
		t.Fatalf("%s:%d: unterminated transcript", protocolDoc, cur.line)
	}
	if len(out) < 5 {
		t.Fatalf("found %d transcripts in %s, want at least 5", len(out), protocolDoc)
	}
	return out
}

// serverOptions maps the "# server:" flags a transcript may use.
func serverOptions(t *testing.T, flags []string) []Option {
	t.Helper()
	var opts []Option
	for i := 0; i < len(flags); i += 2 {
		if i+1 >= len(flags) {
			t.Fatalf("server flag %s without value", flags[i])
		}
		v := flags[i+1]
		switch flags[i] {
		case "--stun-url":
			opts = append(opts, WithICEServers(ICEServer{URLs: []string{v}}))
		case "--room-capacity":
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatal(err)
			}
			opts = append(opts, WithRoomCapacity(n))
		default:
			t.Fatalf("transcript uses server flag %s, which this test does not map", flags[i])
		}
	}
	return opts
}

var hex16 = regexp.MustCompile(`^[0-9a-f]{16}$`)

// bindings maps the document's example ids and resume tokens to what the
// live server issued.
type bindings struct {
	val map[string]string // doc → live
	ids map[string]string // live peer id → doc, so two doc ids cannot share one
}

func bindable(s string) bool {
	return hex16.MatchString(s) || strings.HasPrefix(s, resumeTokenPrefix+".")
}

// subst replaces bound doc values in a message a client sends.
func (b *bindings) subst(v any) any {
	switch x := v.(type) {
	case string:
		if r, ok := b.val[x]; ok {
			return r
		}
	case map[string]any:
		for k, e := range x {
			x[k] = b.subst(e)
		}
	case []any:
		for i, e := range x {
			x[i] = b.subst(e)
		}
	}
	return v
}

// match compares what the document says arrives with what did, binding
// example ids and tokens on first sight. Key sets must be equal: a field
// the document omits must be absent.
func (b *bindings) match(path string, want, got any) error {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: got %v, want an object", path, got)
		}
		for k := range g {
			if _, ok := w[k]; !ok {
				return fmt.Errorf("%s: field %q is not in the document", path, k)
			}
		}
		for k, e := range w {
			ge, ok := g[k]
			if !ok {
				return fmt.Errorf("%s: field %q missing", path, k)
			}
			if err := b.match(path+"."+k, e, ge); err != nil {
				return err
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Errorf("%s: got %v, want %d elements", path, got, len(w))
		}
		for i := range w {
			if err := b.match(fmt.Sprintf("%s[%d]", path, i), w[i], g[i]); err != nil {
				return err
			}
		}
	case string:
		g, ok := got.(string)
		if !ok {
			return fmt.Errorf("%s: got %v, want a string", path, got)
		}
		if r, ok := b.val[w]; ok {
			if g != r {
				return fmt.Errorf("%s: got %q, want %q (bound from %q)", path, g, r, w)
			}
			return nil
		}
		if !bindable(w) {
			if g != w {
				return fmt.Errorf("%s: got %q, want %q", path, g, w)
			}
			return nil
		}
		if hex16.MatchString(w) {
			if !hex16.MatchString(g) {
				return fmt.Errorf("%s: server issued %q, the document says ids are 16 hex digits", path, g)
			}
			if d, ok := b.ids[g]; ok && d != w {
				return fmt.Errorf("%s: id %q stands for both %q and %q", path, g, d, w)
			}
			b.ids[g] = w
		} else if !strings.HasPrefix(g, resumeTokenPrefix+".") {
			return fmt.Errorf("%s: got %q, want a resume token", path, g)
		}
		b.val[w] = g
	default:
		gb, _ := json.Marshal(got)
		wb, _ := json.Marshal(want)
		if !bytes.Equal(gb, wb) {
			return fmt.Errorf("%s: got %s, want %s", path, gb, wb)
		}
	}
	return nil
}

func decodeAny(s string) (any, error) {
	var v any
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// TestProtocolDocTranscripts replays every transcript of the document
// against a live server: each client sends exactly what it says and must
// receive exactly what it says, in order.
func TestProtocolDocTranscripts(t *testing.T) {
	for _, tr := range readTranscripts(t) {
		t.Run(fmt.Sprintf("line%d", tr.line), func(t *testing.T) {
			ts := startServer(t, serverOptions(t, tr.server)...)
			conns := map[string]*websocket.Conn{}
			b := &bindings{val: map[string]string{}, ids: map[string]string{}}
			for _, s := range tr.steps {
				at := fmt.Sprintf("%s:%d", protocolDoc, s.line)
				switch s.op {
				case "✕":
					ws := conns[s.who]
					if ws == nil {
						t.Fatalf("%s: %s has no connection to drop", at, s.who)
					}
					_ = ws.Close() // no close frame: the connection just ends
					delete(conns, s.who)
				case "→":
					v, err := decodeAny(s.json)
					if err != nil {
						t.Fatalf("%s: example is not JSON: %v", at, err)
					}
					out, err := json.Marshal(b.subst(v))
					if err != nil {
						t.Fatal(err)
					}
					ws := conns[s.who]
					if ws == nil {
						ws = rawDial(t, ts.url, nil)
						conns[s.who] = ws
					}
					sendRaw(t, ws, out)
				case "←":
					ws := conns[s.who]
					if ws == nil {
						t.Fatalf("%s: %s receives before it has a connection", at, s.who)
					}
					_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
					_, got, err := ws.ReadMessage()
					if s.close != 0 {
						var ce *websocket.CloseError
						if !errors.As(err, &ce) || ce.Code != s.close || ce.Text != s.text {
							t.Fatalf("%s: want close %d %s, got message %s / %v", at, s.close, s.text, got, err)
						}
						delete(conns, s.who)
						continue
					}
					if err != nil {
						t.Fatalf("%s: %s reading: %v", at, s.who, err)
					}
					want, err := decodeAny(s.json)
					if err != nil {
						t.Fatalf("%s: example is not JSON: %v", at, err)
					}
					gv, err := decodeAny(string(got))
					if err != nil {
						t.Fatalf("%s: server sent non-JSON %q", at, got)
					}
					if err := b.match(s.who, want, gv); err != nil {
						t.Fatalf("%s: %v\n got: %s\nwant: %s", at, err, got, s.json)
					}
				}
			}
		})
	}
}

// TestProtocolDocErrorTable: the document's error table lists every
// error code the package defines, each with the close code the server
// uses.
func TestProtocolDocErrorTable(t *testing.T) {
	doc, err := os.ReadFile(protocolDoc)
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("protocol.go")
	if err != nil {
		t.Fatal(err)
	}
	defined := map[ErrorCode]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s+Code\w+\s+ErrorCode = "([^"]+)"`).FindAllSubmatch(src, -1) {
		defined[ErrorCode(m[1])] = true
	}
	if len(defined) < 15 {
		t.Fatalf("found only %d error codes in protocol.go", len(defined))
	}
	row := regexp.MustCompile("(?m)^\\| `([a-z-]+)` +\\| ([0-9]{4}|—) +\\|")
	documented := map[ErrorCode]bool{}
	for _, m := range row.FindAllSubmatch(doc, -1) {
		code := ErrorCode(m[1])
		documented[code] = true
		if !defined[code] {
			t.Errorf("document lists %s, which the code does not define", code)
			continue
		}
		want := 0
		if string(m[2]) != "—" {
			want, _ = strconv.Atoi(string(m[2]))
		}
		if got := closeCodeFor(code); got != want {
			t.Errorf("%s: document says close %s, server uses %d", code, m[2], got)
		}
	}
	for code := range defined {
		if !documented[code] {
			t.Errorf("error code %s is not in the document's table", code)
		}
	}
}

// TestServerOnlyTypesGetUnexpectedType: a client sending any server-only
// type gets unexpected-type whatever fields it carries (it used to get
// bad-message when a required field was missing), and stays connected.
func TestServerOnlyTypesGetUnexpectedType(t *testing.T) {
	ts := startServer(t)
	ws := rawDial(t, ts.url, nil)
	msgs := []string{
		`{"v":1,"type":"joined"}`,
		`{"v":1,"type":"joined","peer_id":"abc"}`,
		`{"type":"peer-joined"}`,
		`{"type":"peer-left","peer_id":"abc","reason":"bye"}`,
		`{"type":"error"}`,
		`{"type":"error","code":"room-full"}`,
		`{"type":"server-shutdown"}`,
		`{"type":"joined","peer_id":"not an id!"}`,
	}
	for _, m := range msgs {
		sendRaw(t, ws, m)
		got := readMsg(t, ws)
		if got.Type != TypeError || got.Code != CodeUnexpectedType {
			t.Errorf("%s: got %+v, want unexpected-type", m, got)
		}
	}
	rawJoin(t, ws, Message{Room: "still-open"})
}

// TestProtocolDocOrigin checks the Origin rule as documented: public host
// names as configured, the request's Host only when it is an address or
// localhost (a DNS-rebinding page sends its own name in both headers),
// scheme ignored, ports as written, the allow-list exact.
func TestProtocolDocOrigin(t *testing.T) {
	ts := startServer(t, WithAllowedOrigins("https://App.Example/", "http://127.0.0.1:1"),
		WithPublicHosts("Peercall.Example", "peercall.example:8443"))
	_, port, _ := strings.Cut(ts.addr, ":")
	tests := []struct {
		name, origin, host string
		ok                 bool
	}{
		{"no origin (desktop)", "", "", true},
		{"own address and port", "http://" + ts.addr, "", true},
		{"scheme not compared", "https://" + ts.addr, "", true},
		{"case-insensitive", "HTTP://" + strings.ToUpper(ts.addr), "", true},
		{"other port", "http://127.0.0.1:1" + port, "", false},
		{"other name for the same address", "http://localhost:" + port, "", false},
		{"localhost as Host", "http://localhost:" + port, "localhost:" + port, true},
		{"host without port", "http://127.0.0.1", "", false},
		{"DNS rebinding: a name in Host is not trusted", "http://evil.example:" + port, "evil.example:" + port, false},
		{"public host", "https://peercall.example", "", true},
		{"public host, any Host header", "https://peercall.example", "elsewhere.example", true},
		{"public host with its port", "https://peercall.example:8443", "", true},
		{"public host, another port", "https://peercall.example:9443", "peercall.example:9443", false},
		{"default port written out", "https://peercall.example:443", "peercall.example", false},
		{"listed, case and slash normalized", "https://app.example", "", true},
		{"listed origin needs its exact port", "https://app.example:8443", "", false},
		{"listed by exact origin", "http://127.0.0.1:1", "", true},
		{"null", "null", "", false},
		{"other site", "https://evil.example", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.origin != "" {
				h.Set("Origin", tt.origin)
			}
			if tt.host != "" {
				h.Set("Host", tt.host)
			}
			ws := rawDial(t, ts.url, h)
			if tt.ok {
				rawJoin(t, ws, Message{Room: "origin"})
				sendRaw(t, ws, Message{Type: TypeBye})
			} else {
				expectError(t, ws, CodeOriginNotAllowed, ClosePolicy)
			}
		})
	}
}

// docResumeToken builds a resume token from the format in the document,
// not from the package's minting code.
func docResumeToken(secret []byte, room, id string, exp time.Time) string {
	e := strconv.FormatInt(exp.Unix(), 10)
	return "pcr1." + b64.EncodeToString([]byte(room)) + "." + id + "." + e + "." +
		b64.EncodeToString(tokenMAC(secret, "resume", room, id, e))
}

// TestProtocolDocResumeTokens: a token built from the documented format
// brings its id into a fresh server with the same secret (the room is
// recreated); every token that does not verify is ignored without an
// error and the join gets a new id; with --require-token a bad resume
// token does not stand in for a join token.
func TestProtocolDocResumeTokens(t *testing.T) {
	secret := []byte("protocol-doc-secret-0123456789ab")
	ts := startServer(t, WithSecret(secret))
	const id = "00000000000000aa"
	now := time.Now()
	good := docResumeToken(secret, "den", id, now.Add(time.Hour))

	ws := rawDial(t, ts.url, nil)
	j := rawJoin(t, ws, Message{Room: "den", Resume: good})
	if j.PeerID != id || !j.Resumed {
		t.Fatalf("documented token: got id %q resumed %v, want %q resumed", j.PeerID, j.Resumed, id)
	}

	bad := []struct{ name, token string }{
		{"expired", docResumeToken(secret, "den2", id, now.Add(-time.Minute))},
		{"other secret", docResumeToken([]byte("another-secret"), "den2", id, now.Add(time.Hour))},
		{"other room", docResumeToken(secret, "elsewhere", id, now.Add(time.Hour))},
		{"malformed", "pcr1.x"},
		{"join token instead", func() string { s, _ := MintToken(secret, "den2", time.Hour); return s }()},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			ws := rawDial(t, ts.url, nil)
			j := rawJoin(t, ws, Message{Room: "den2", Resume: tt.token})
			if j.PeerID == id || j.Resumed || !hex16.MatchString(j.PeerID) {
				t.Fatalf("got id %q resumed %v, want a fresh id", j.PeerID, j.Resumed)
			}
			sendRaw(t, ws, Message{Type: TypeBye})
		})
	}

	t.Run("require-token", func(t *testing.T) {
		ts := startServer(t, WithSecret(secret), WithRequireToken(true))
		ws := rawDial(t, ts.url, nil)
		sendRaw(t, ws, Message{Type: TypeJoin, Room: "den", Name: "n",
			Resume: docResumeToken(secret, "den", id, now.Add(-time.Minute))})
		expectError(t, ws, CodeTokenRequired, ClosePolicy)
		ws = rawDial(t, ts.url, nil)
		if j := rawJoin(t, ws, Message{Room: "den", Resume: good}); j.PeerID != id {
			t.Fatalf("a valid resume token should stand in for the join token, got id %q", j.PeerID)
		}
	})
}

// TestProtocolDocJoinedFields: peers and ice_servers are absent from
// joined exactly when empty, resume and capacity are always there.
func TestProtocolDocJoinedFields(t *testing.T) {
	for _, withICE := range []bool{false, true} {
		t.Run(fmt.Sprintf("ice=%v", withICE), func(t *testing.T) {
			var opts []Option
			if withICE {
				opts = append(opts, WithICEServers(ICEServer{URLs: []string{"stun:stun.example.com:3478"}}))
			}
			ts := startServer(t, opts...)
			raw := func(ws *websocket.Conn) map[string]json.RawMessage {
				_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
				_, b, err := ws.ReadMessage()
				if err != nil {
					t.Fatal(err)
				}
				var m map[string]json.RawMessage
				if err := json.Unmarshal(b, &m); err != nil {
					t.Fatal(err)
				}
				return m
			}
			for i, wantPeers := range []bool{false, true} {
				ws := rawDial(t, ts.url, nil)
				sendRaw(t, ws, Message{Type: TypeJoin, Room: "fields", Name: "n" + strconv.Itoa(i)})
				m := raw(ws)
				_, peers := m["peers"]
				_, ice := m["ice_servers"]
				_, resume := m["resume"]
				_, resumed := m["resumed"]
				capacity := string(m["capacity"])
				if peers != wantPeers || ice != withICE || !resume || resumed || capacity != strconv.Itoa(DefaultRoomCapacity) {
					t.Errorf("joined #%d has peers=%v ice_servers=%v resume=%v resumed=%v capacity=%q", i+1, peers, ice, resume, resumed, capacity)
				}
			}
		})
	}
}
