package signalserver

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestDecodeMessage(t *testing.T) {
	tests := []struct {
		name string
		in   string
		code ErrorCode // "" = valid
	}{
		{"join", `{"v":1,"type":"join","room":"r1","name":"Ann"}`, ""},
		{"join with all", `{"v":1,"type":"join","room":"a.b-c_d","name":"Zoë","password":"x","token":"t","resume":"r"}`, ""},
		{"join no version", `{"type":"join","room":"r1","name":"Ann"}`, CodeUnsupportedVersion},
		{"join future version", `{"v":2,"type":"join","room":"r1","name":"Ann"}`, CodeUnsupportedVersion},
		{"offer v2", `{"v":2,"type":"offer","sdp":{}}`, CodeUnsupportedVersion},
		{"join bad room", `{"v":1,"type":"join","room":"a/b","name":"Ann"}`, CodeBadMessage},
		{"join empty room", `{"v":1,"type":"join","room":"","name":"Ann"}`, CodeBadMessage},
		{"join long room", `{"v":1,"type":"join","room":"` + strings.Repeat("a", 65) + `","name":"Ann"}`, CodeBadMessage},
		{"join no name", `{"v":1,"type":"join","room":"r"}`, CodeBadMessage},
		{"join control name", `{"v":1,"type":"join","room":"r","name":"a\u0007"}`, CodeBadMessage},
		{"offer", `{"type":"offer","to":"p1","sdp":{"type":"offer","sdp":"v=0"}}`, ""},
		{"offer string sdp", `{"type":"offer","sdp":"v=0"}`, ""},
		{"offer no sdp", `{"type":"offer"}`, CodeBadMessage},
		{"offer null sdp", `{"type":"offer","sdp":null}`, CodeBadMessage},
		{"answer", `{"type":"answer","sdp":{"sdp":"v=0"}}`, ""},
		{"candidate", `{"type":"candidate","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host"}}`, ""},
		{"end of candidates", `{"type":"candidate","candidate":null}`, ""},
		{"candidate missing", `{"type":"candidate"}`, CodeBadMessage},
		{"bad to", `{"type":"offer","to":"a b","sdp":{}}`, CodeBadMessage},
		{"bye", `{"type":"bye","reason":"hangup"}`, ""},
		{"keepalive", `{"type":"keepalive"}`, ""},
		{"error", `{"type":"error","code":"room-full","message":"full"}`, ""},
		{"error no code", `{"type":"error"}`, CodeBadMessage},
		{"joined", `{"v":1,"type":"joined","peer_id":"abc","peers":[{"id":"x","name":"X"}],"ice_servers":[{"urls":["stun:127.0.0.1:3478"]}]}`, ""},
		{"joined with capacity", `{"v":1,"type":"joined","peer_id":"abc","capacity":4}`, ""},
		{"joined negative capacity", `{"v":1,"type":"joined","peer_id":"abc","capacity":-1}`, CodeBadMessage},
		{"joined fractional capacity", `{"v":1,"type":"joined","peer_id":"abc","capacity":2.5}`, CodeBadJSON},
		{"peer-left", `{"type":"peer-left","peer_id":"abc","reason":"timeout"}`, ""},
		{"peer-left no id", `{"type":"peer-left"}`, CodeBadMessage},
		{"server-shutdown", `{"type":"server-shutdown"}`, ""},
		{"unknown type", `{"type":"dance"}`, CodeUnknownType},
		{"no type", `{"room":"x"}`, CodeBadMessage},
		{"not json", `{not json`, CodeBadJSON},
		{"array", `[1,2]`, CodeBadJSON},
		{"empty", ``, CodeBadJSON},
		{"wrong field type", `{"type":"join","v":"1"}`, CodeBadJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := DecodeMessage([]byte(tt.in))
			if tt.code == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			var pe *ProtocolError
			if !errors.As(err, &pe) {
				t.Fatalf("got %v (%+v), want code %s", err, m, tt.code)
			}
			if pe.Code != tt.code {
				t.Fatalf("code = %s, want %s", pe.Code, tt.code)
			}
			if !errors.Is(err, ErrInvalidMessage) {
				t.Errorf("error does not wrap ErrInvalidMessage")
			}
		})
	}
}

func TestMessageRoundTrip(t *testing.T) {
	msgs := []Message{
		{Type: TypeJoin, Room: "room-1", Name: "Ann", Password: "pw", Token: "tok", Resume: "res"},
		{Type: TypeJoined, Room: "room-1", PeerID: "p1", Peers: []Peer{{ID: "p2", Name: "Bob"}},
			ICEServers: []ICEServer{{URLs: []string{"turn:127.0.0.1:3478?transport=udp"}, Username: "1:p1", Credential: "c"}},
			Resume:     "res", Resumed: true, Capacity: 4},
		{Type: TypePeerJoined, PeerID: "p2", Name: "Bob"},
		{Type: TypePeerLeft, PeerID: "p2", Reason: "bye"},
		{Type: TypeOffer, From: "p1", To: "p2", SDP: json.RawMessage(`{"type":"offer","sdp":"v=0\r\n"}`)},
		{Type: TypeAnswer, From: "p2", SDP: json.RawMessage(`{"type":"answer","sdp":"v=0\r\n"}`)},
		{Type: TypeCandidate, From: "p1", Candidate: json.RawMessage(`{"candidate":"c","sdpMid":"0"}`)},
		{Type: TypeCandidate, From: "p1", Candidate: json.RawMessage(`null`)},
		{Type: TypeBye, From: "p1", Reason: "hangup"},
		{Type: TypeError, Code: CodeRoomFull, Text: "The room is full."},
		{Type: TypeKeepalive},
		{Type: TypeServerShutdown, Reason: "shutdown"},
	}
	for _, m := range msgs {
		t.Run(string(m.Type), func(t *testing.T) {
			b, err := m.Encode()
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeMessage(b)
			if err != nil {
				t.Fatalf("decode %s: %v", b, err)
			}
			want := m
			want.V = ProtocolVersion
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestCloseCodes(t *testing.T) {
	tests := []struct {
		code ErrorCode
		want int
	}{
		{CodeRoomFull, CloseTryAgainLater},
		{CodeTooManyRooms, CloseTryAgainLater},
		{CodeTooManyConnections, CloseTryAgainLater},
		{CodeWrongPassword, ClosePolicy},
		{CodeTokenExpired, ClosePolicy},
		{CodeTokenInvalid, ClosePolicy},
		{CodeOriginNotAllowed, ClosePolicy},
		{CodeRateLimited, ClosePolicy},
		{CodeMessageTooBig, CloseTooBig},
		{CodeShuttingDown, CloseGoingAway},
		{CodeBadJSON, 0},
		{CodeUnknownType, 0},
		{CodeNotJoined, 0},
	}
	for _, tt := range tests {
		if got := closeCodeFor(tt.code); got != tt.want {
			t.Errorf("closeCodeFor(%s) = %d, want %d", tt.code, got, tt.want)
		}
	}
}

func FuzzDecodeMessage(f *testing.F) {
	seeds := []string{
		`{"v":1,"type":"join","room":"r1","name":"Ann","password":"x"}`,
		`{"type":"offer","to":"p1","sdp":{"type":"offer","sdp":"v=0"}}`,
		`{"type":"candidate","candidate":null}`,
		`{"type":"error","code":"room-full","message":"full"}`,
		`{"v":1,"type":"joined","peer_id":"abc","peers":[{"id":"x","name":"X"}]}`,
		`{"type":"bye"}`, `{not json`, `[]`, `{"type":"\u0000"}`, ``,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeMessage(data)
		if err != nil {
			var pe *ProtocolError
			if !errors.As(err, &pe) || pe.Code == "" {
				t.Fatalf("error without protocol code: %v", err)
			}
			return
		}
		// Whatever decodes must re-encode and decode to the same message.
		b, err := m.Encode()
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		m2, err := DecodeMessage(b)
		if err != nil {
			t.Fatalf("re-decode %s: %v", b, err)
		}
		m.V = ProtocolVersion
		b2, _ := m2.Encode()
		if string(b) != string(b2) {
			t.Fatalf("unstable encoding:\n%s\n%s", b, b2)
		}
	})
}
