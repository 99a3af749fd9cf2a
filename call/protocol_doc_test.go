package call

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
)

// The peer payloads in docs/protocol.md must be exactly what EncodePayload
// writes: a client written from the document then sends what Peercall
// peers send and reads what they send.

const protocolDoc = "../docs/protocol.md"

// docPeerMessages returns the messages clients send (→) in the document's
// transcripts marked "# peers: payloads exactly as Peercall sends them".
func docPeerMessages(t *testing.T) []string {
	t.Helper()
	doc, err := os.ReadFile(protocolDoc)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	in, exact := false, false
	for _, l := range strings.Split(string(doc), "\n") {
		switch {
		case !in && strings.TrimSpace(l) == "```transcript":
			in, exact = true, false
		case in && strings.TrimSpace(l) == "```":
			in = false
		case in && strings.HasPrefix(l, "# peers: payloads exactly as Peercall sends them"):
			exact = true
		case in && exact:
			if _, msg, ok := strings.Cut(l, " → "); ok {
				out = append(out, msg)
			}
		}
	}
	if len(out) < 8 {
		t.Fatalf("found %d peer messages in %s, want at least 8", len(out), protocolDoc)
	}
	return out
}

func compact(t *testing.T, raw []byte) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	return b.String()
}

// TestProtocolDocPeerPayloads decodes every documented peer payload and
// encodes it again: the bytes must not change.
func TestProtocolDocPeerPayloads(t *testing.T) {
	seen := map[SignalKind]bool{}
	for _, line := range docPeerMessages(t) {
		var m struct {
			Type      string          `json:"type"`
			To        string          `json:"to"`
			SDP       json.RawMessage `json:"sdp"`
			Candidate json.RawMessage `json:"candidate"`
			Reason    string          `json:"reason"`
		}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if m.Type == "join" {
			continue
		}
		if m.Type == "bye" && m.To == "" && len(m.SDP) == 0 {
			// The client leaving the room (signalserver.Client.Close):
			// no peer payload, the server's peer-left follows.
			continue
		}
		kind, err := ParseSignalKind(m.Type)
		if err != nil {
			t.Errorf("%s: %v", line, err)
			continue
		}
		data := m.SDP
		if kind == SignalCandidate {
			data = m.Candidate
		}
		sig, err := DecodePayload(kind, "from", m.To, data)
		if err != nil {
			t.Errorf("%s: the peer cannot decode it: %v", line, err)
			continue
		}
		seen[sig.Kind] = true
		again, err := EncodePayload(sig)
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if got, want := string(again), compact(t, data); got != want {
			t.Errorf("payload differs from what Peercall sends:\n doc: %s\nsent: %s", want, got)
		}
		if sig.Kind == SignalBye && m.Reason != sig.Reason {
			t.Errorf("%s: bye reason %q, payload reason %q: Peercall sends the same text in both", line, m.Reason, sig.Reason)
		}
	}
	for _, k := range []SignalKind{SignalOffer, SignalAnswer, SignalCandidate, SignalBye, SignalOfferRequest} {
		if !seen[k] {
			t.Errorf("the document's transcripts show no %s", k)
		}
	}
}

// TestProtocolDocPayloadTable checks the JSON examples in the "Peer
// payloads" table the same way.
func TestProtocolDocPayloadTable(t *testing.T) {
	doc, err := os.ReadFile(protocolDoc)
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "### Peer payloads")
	if !ok {
		t.Fatal("no Peer payloads section")
	}
	section, _, _ = strings.Cut(section, "\n### ")
	kinds := map[string]SignalKind{
		"offer": SignalOffer, "answer": SignalAnswer, "offer request": SignalOfferRequest,
		"candidate": SignalCandidate, "end of candidates": SignalCandidate, "bye": SignalBye,
	}
	span := regexp.MustCompile("`([^`]+)`")
	rows := 0
	for _, l := range strings.Split(section, "\n") {
		cells := strings.Split(l, "|")
		if len(cells) < 4 {
			continue
		}
		want, ok := kinds[strings.TrimSpace(cells[1])]
		if !ok {
			continue
		}
		rows++
		for _, sm := range span.FindAllStringSubmatch(cells[2], -1) {
			ex := sm[1]
			if !strings.HasPrefix(ex, "{") && ex != "null" {
				continue
			}
			wire := SignalOffer
			if want != SignalOfferRequest {
				wire = want
			}
			sig, err := DecodePayload(wire, "a", "b", []byte(ex))
			if err != nil {
				t.Errorf("%s: %v", ex, err)
				continue
			}
			if sig.Kind != want {
				t.Errorf("%s decodes as %s, the table says %s", ex, sig.Kind, want)
			}
			again, err := EncodePayload(sig)
			if err != nil {
				t.Fatal(err)
			}
			if string(again) != ex {
				t.Errorf("table example %s, Peercall sends %s", ex, again)
			}
		}
	}
	if rows != len(kinds) {
		t.Fatalf("found %d payload rows, want %d", rows, len(kinds))
	}
}

// TestEndOfCandidates: null and an empty candidate string are the peer's
// end of candidates, decoded quietly (they used to be ErrBadSignal, which
// the app logged as a malformed signal).
func TestEndOfCandidates(t *testing.T) {
	for _, data := range []string{`null`, ` null `, `{"candidate":""}`, `{"candidate":"","sdpMid":"0","sdpMLineIndex":0}`} {
		sig, err := DecodePayload(SignalCandidate, "a", "b", []byte(data))
		if err != nil {
			t.Errorf("%s: %v", data, err)
			continue
		}
		if sig.Kind != SignalCandidate || sig.Candidate != nil {
			t.Errorf("%s: got %+v, want an end-of-candidates signal", data, sig)
		}
		again, err := EncodePayload(sig)
		if err != nil || string(again) != "null" {
			t.Errorf("%s: re-encoded as %s (%v), want null", data, again, err)
		}
	}
	// A payload with no candidate field at all is still malformed.
	if _, err := DecodePayload(SignalCandidate, "a", "b", []byte(`{"sdpMid":"0"}`)); err == nil {
		t.Error("a candidate payload without candidate decoded")
	}
}
