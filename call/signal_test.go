package call

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/pion/webrtc/v4"
)

func TestPayloadRoundTrip(t *testing.T) {
	mid, idx := "0", uint16(0)
	sigs := []Signal{
		{Kind: SignalOffer, SDP: "v=0\r\n"},
		{Kind: SignalAnswer, SDP: "v=0\r\n"},
		{Kind: SignalCandidate, Candidate: &webrtc.ICECandidateInit{Candidate: "candidate:1 1 udp 1 1.2.3.4 5 typ relay", SDPMid: &mid, SDPMLineIndex: &idx}},
		{Kind: SignalBye, Reason: "hung up"},
		{Kind: SignalOfferRequest, Kinds: []string{"video"}, Restart: true},
	}
	for _, s := range sigs {
		s.From, s.To = "a", "b"
		data, err := EncodePayload(s)
		if err != nil {
			t.Fatalf("%s: %v", s.Kind, err)
		}
		kind, err := ParseSignalKind(s.Kind.WireType())
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodePayload(kind, "a", "b", data)
		if err != nil {
			t.Fatalf("%s: %v", s.Kind, err)
		}
		if !reflect.DeepEqual(got, s) {
			t.Fatalf("round trip %s:\n got %+v\nwant %+v", s.Kind, got, s)
		}
	}
}

func TestPayloadErrors(t *testing.T) {
	if _, err := ParseSignalKind("hello"); !errors.Is(err, ErrBadSignal) {
		t.Fatal(err)
	}
	bad := []struct {
		kind SignalKind
		data string
	}{
		{SignalOffer, `{}`},
		{SignalAnswer, `not json`},
		{SignalCandidate, `{"sdpMid":"0"}`},
		{SignalOffer, `{"request":true,"kinds":["screen"]}`},
		{SignalKind(42), `{}`},
	}
	for _, b := range bad {
		if _, err := DecodePayload(b.kind, "a", "b", []byte(b.data)); !errors.Is(err, ErrBadSignal) {
			t.Errorf("%s %s: %v", b.kind, b.data, err)
		}
	}
	if SignalKind(42).String() != "SignalKind(42)" || UpdateKind(9).String() != "UpdateKind(9)" {
		t.Fatal("unknown enum strings")
	}
}

func TestPipeSignalers(t *testing.T) {
	a, b := NewPipeSignalers("a", "b")
	var tapped []SignalKind
	a.Tap(func(s Signal) { tapped = append(tapped, s.Kind) })
	if err := a.Send(context.Background(), Signal{Kind: SignalBye}); err != nil {
		t.Fatal(err)
	}
	got := <-b.Signals()
	if got.Kind != SignalBye || got.From != "a" || got.To != "b" || len(tapped) != 1 {
		t.Fatalf("got %+v tapped %v", got, tapped)
	}
	b.Close()
	if err := a.Send(context.Background(), Signal{Kind: SignalBye}); !errors.Is(err, ErrClosed) {
		t.Fatalf("send to closed: %v", err)
	}
}

func FuzzDecodePayload(f *testing.F) {
	f.Add(uint8(1), []byte(`{"sdp":"v=0"}`))
	f.Add(uint8(3), []byte(`{"candidate":"candidate:1 1 udp 1 1.2.3.4 5 typ host","sdpMLineIndex":0}`))
	f.Add(uint8(1), []byte(`{"request":true,"kinds":["audio"]}`))
	f.Fuzz(func(t *testing.T, k uint8, data []byte) {
		s, err := DecodePayload(SignalKind(k), "a", "b", data)
		if err != nil {
			return
		}
		again, err := EncodePayload(s)
		if err != nil {
			t.Fatalf("decoded signal does not encode: %v", err)
		}
		kind, _ := ParseSignalKind(s.Kind.WireType())
		s2, err := DecodePayload(kind, "a", "b", again)
		if err != nil || !reflect.DeepEqual(s, s2) {
			t.Fatalf("not stable: %+v vs %+v (%v)", s, s2, err)
		}
	})
}

// TestByeReasonShown: a peer's bye reason reaches the user as one short
// line of printable text, whatever the peer put in it.
func TestByeReasonShown(t *testing.T) {
	long := strings.Repeat("ab", 200)
	tests := []struct{ in, want string }{
		{`{"reason":"hung up"}`, "hung up"},
		{`{"reason":"line\nbreak\u0000and\u202ebidi"}`, "linebreakandbidi"},
		{`{"reason":"` + long + `"}`, long[:maxReasonRunes] + "…"},
		{`{"reason":" \t "}`, ""},
	}
	for _, tt := range tests {
		s, err := DecodePayload(SignalBye, "b", "a", []byte(tt.in))
		if err != nil {
			t.Fatalf("%s: %v", tt.in, err)
		}
		if s.Reason != tt.want {
			t.Errorf("%s: reason %q, want %q", tt.in, s.Reason, tt.want)
		}
	}
}
