package call

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pion/transport/v4/test"
	"github.com/pion/webrtc/v4"
)

func TestDecodeDataMessage(t *testing.T) {
	long := strings.Repeat("x", MaxChatBytes+1)
	tests := []struct {
		name string
		in   string
		want dataMessage
		err  error
	}{
		{"chat without type (first version)", `{"from":"alice","ts":1700000000000,"text":"hi"}`,
			dataMessage{kind: dataChat, chat: chatWire{From: "alice", Time: 1700000000000, Text: "hi"}}, nil},
		{"chat with type", `{"type":"chat","text":"hi"}`, dataMessage{kind: dataChat, chat: chatWire{Text: "hi"}}, nil},
		{"chat unknown fields ignored", `{"text":"hi","color":"red"}`, dataMessage{kind: dataChat, chat: chatWire{Text: "hi"}}, nil},
		{"media both on", `{"type":"media","audio":true,"video":true}`, dataMessage{kind: dataMedia, media: MediaState{Audio: true, Video: true}}, nil},
		{"media camera off", `{"type":"media","audio":true,"video":false}`, dataMessage{kind: dataMedia, media: MediaState{Audio: true}}, nil},
		{"media muted", `{"type":"media","audio":false,"video":true}`, dataMessage{kind: dataMedia, media: MediaState{Video: true}}, nil},
		{"media extra field", `{"type":"media","audio":false,"video":false,"screen":true}`, dataMessage{kind: dataMedia}, nil},
		{"media missing video", `{"type":"media","audio":true}`, dataMessage{}, ErrBadMessage},
		{"media missing audio", `{"type":"media","video":true}`, dataMessage{}, ErrBadMessage},
		{"media wrong field type", `{"type":"media","audio":"yes","video":true}`, dataMessage{}, ErrBadMessage},
		{"media null field", `{"type":"media","audio":null,"video":true}`, dataMessage{}, ErrBadMessage},
		{"unknown type", `{"type":"reaction","emoji":"+1"}`, dataMessage{}, ErrUnknownMessage},
		{"type not a string", `{"type":5,"text":"hi"}`, dataMessage{}, ErrBadMessage},
		{"empty chat", `{"text":""}`, dataMessage{}, ErrBadMessage},
		{"empty object", `{}`, dataMessage{}, ErrBadMessage},
		{"null", `null`, dataMessage{}, ErrBadMessage},
		{"array", `[1,2]`, dataMessage{}, ErrBadMessage},
		{"not json", `hello`, dataMessage{}, ErrBadMessage},
		{"empty", ``, dataMessage{}, ErrBadMessage},
		{"truncated", `{"type":"media","audio":tr`, dataMessage{}, ErrBadMessage},
		{"chat too long", `{"text":"` + long + `"}`, dataMessage{}, ErrBadMessage},
		{"message too long", `{"text":"hi","pad":"` + strings.Repeat(" ", maxDataMessage) + `"}`, dataMessage{}, ErrBadMessage},
		{"not utf-8", "{\"text\":\"\xff\"}", dataMessage{}, ErrBadMessage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeDataMessage([]byte(tt.in))
			if !errors.Is(err, tt.err) || (tt.err == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "reaction") {
				t.Fatal("error carries message content")
			}
		})
	}
}

func TestEncodeMediaRoundTrip(t *testing.T) {
	for _, m := range []MediaState{{}, {Audio: true}, {Video: true}, {Audio: true, Video: true}} {
		b, err := encodeMedia(m)
		if err != nil {
			t.Fatal(err)
		}
		// The exact shape other peers (the browser page) parse.
		var raw map[string]any
		if err := json.Unmarshal(b, &raw); err != nil || raw["type"] != "media" || raw["audio"] != m.Audio || raw["video"] != m.Video || len(raw) != 3 {
			t.Fatalf("%+v encodes as %s", m, b)
		}
		got, err := decodeDataMessage(b)
		if err != nil || got.kind != dataMedia || got.media != m {
			t.Fatalf("%+v round trip: %+v, %v", m, got, err)
		}
	}
}

func FuzzDecodeDataMessage(f *testing.F) {
	f.Add([]byte(`{"from":"a","ts":1,"text":"hi"}`))
	f.Add([]byte(`{"type":"media","audio":true,"video":false}`))
	f.Add([]byte(`{"type":"x"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := decodeDataMessage(in)
		if err != nil {
			if !errors.Is(err, ErrBadMessage) && !errors.Is(err, ErrUnknownMessage) {
				t.Fatalf("error without sentinel: %v", err)
			}
			if m != (dataMessage{}) {
				t.Fatalf("error with a message: %+v", m)
			}

			return
		}
		switch m.kind {
		case dataChat:
			if m.chat.Text == "" || len(m.chat.Text) > MaxChatBytes {
				t.Fatalf("chat text of %d bytes accepted", len(m.chat.Text))
			}
		case dataMedia:
			// Re-encoding a decoded state gives the same state.
			b, err := encodeMedia(m.media)
			if err != nil {
				t.Fatal(err)
			}
			if again, err := decodeDataMessage(b); err != nil || again != m {
				t.Fatalf("media %+v does not round trip: %+v, %v", m.media, again, err)
			}
		default:
			t.Fatalf("kind %d", m.kind)
		}
	})
}

func isRemoteMedia(want MediaState) func(Update) bool {
	return func(u Update) bool { return u.Kind == UpdateRemoteMedia && *u.RemoteMedia == want }
}

// TestSessionMediaState: the state set before Start reaches the peer when
// the channel opens, changes follow at once, and garbage on the channel
// is dropped without harming the call or the chat.
func TestSessionMediaState(t *testing.T) {
	defer test.TimeOut(30 * time.Second).Stop()
	defer test.CheckRoutines(t)()

	p := newPair(t, nil)
	defer p.close()
	if err := p.a.SetLocalMedia(true, false); err != nil {
		t.Fatal(err)
	}
	if _, ok := p.b.RemoteMedia(); ok {
		t.Fatal("remote media known before any message")
	}
	p.start(t)
	p.waitConnected(t)

	p.updB.wait(t, "bob learns alice's camera is off", 10*time.Second, isRemoteMedia(MediaState{Audio: true}))
	if got, ok := p.b.RemoteMedia(); !ok || got != (MediaState{Audio: true}) {
		t.Fatalf("RemoteMedia() = %+v, %v", got, ok)
	}
	if err := p.a.SetLocalMedia(false, true); err != nil {
		t.Fatal(err)
	}
	p.updB.wait(t, "bob learns alice muted and turned the camera on", 5*time.Second, isRemoteMedia(MediaState{Video: true}))
	// Bob never said anything: alice knows nothing of his state.
	if _, ok := p.a.RemoteMedia(); ok {
		t.Fatal("alice has a remote media state bob never sent")
	}
	if err := p.b.SetLocalMedia(false, false); err != nil {
		t.Fatal(err)
	}
	p.updA.wait(t, "alice learns bob's state", 5*time.Second, isRemoteMedia(MediaState{}))

	dc := p.a.dcPtr.Load()
	for _, junk := range []string{"garbage", `{"type":"reaction"}`, `{"type":"media","audio":1}`, `null`} {
		if err := dc.SendText(junk); err != nil {
			t.Fatal(err)
		}
	}
	if err := dc.Send([]byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if err := p.a.SendChat("still here"); err != nil {
		t.Fatal(err)
	}
	p.updB.wait(t, "chat after junk", 5*time.Second, func(u Update) bool { return u.Kind == UpdateChat && u.Chat.Text == "still here" })
	if n := p.updB.count(func(u Update) bool { return u.Kind == UpdateRemoteMedia }); n != 2 {
		t.Fatalf("bob got %d media updates, want 2 (junk must not count)", n)
	}
	if p.a.State() != StateConnected || p.b.State() != StateConnected {
		t.Fatalf("states after junk: %s %s", p.a.State(), p.b.State())
	}
	if dc.ReadyState() != webrtc.DataChannelStateOpen {
		t.Fatal("data channel closed by junk")
	}

	_ = p.a.Close()
	if err := p.a.SetLocalMedia(true, true); !errors.Is(err, ErrClosed) {
		t.Fatalf("SetLocalMedia after close: %v", err)
	}
}
