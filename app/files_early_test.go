package app

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/peercall/peercall/call"
)

// sentLink is a fileLink that records what the hub sends.
type sentLink struct {
	mu  sync.Mutex
	out []call.FileControl
}

func (l *sentLink) SendFileControl(m call.FileControl) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.out = append(l.out, m)
	return nil
}

func (l *sentLink) OpenFileChannel(string) (*call.FileChannel, error) {
	return nil, call.ErrClosed
}

func (l *sentLink) sent() []call.FileControl {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]call.FileControl(nil), l.out...)
}

// TestFileOfferBeforePeerUp: a sender's chat channel can open, and its
// offer arrive, before this side has handled the session's connected
// state (pion reports that on a goroutine of its own). The offer is held
// and answered once the peer is up, never dropped (the sender would wait
// for an answer that never comes); a peer that goes first takes its
// held messages with it, and a flood is bounded.
func TestFileOfferBeforePeerUp(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	offer := func(i int, size int64) call.FileControl {
		return call.FileControl{Type: call.FileOffer, ID: fmt.Sprintf("%032x", i+1), Name: fmt.Sprintf("f%d.bin", i),
			Size: size, SHA256: fmt.Sprintf("%064x", i+1)}
	}
	tests := []struct {
		name     string
		offers   int
		size     int64
		downUp   bool // the peer goes before it is up, then comes up
		answered int  // answers sent once the peer is up
		want     call.FileMsgType
	}{
		{"an offer over the limit is declined", 1, 2 << 20, false, 1, call.FileDecline},
		{"an offer within it is accepted", 1, 1 << 10, false, 1, call.FileAccept},
		{"two offers, both answered", 2, 2 << 20, false, 2, call.FileDecline},
		{"a flood is held up to the bound", earlyMax + 5, 2 << 20, false, earlyMax, call.FileDecline},
		{"a peer gone before it was up leaves nothing", 1, 2 << 20, true, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newFileHub(nil, FilePolicy{Dir: t.TempDir(), MaxBytes: 1 << 20, AutoAccept: true}, nil, nil)
			defer h.Close()
			link := &sentLink{}
			for i := range tt.offers {
				h.OnControl("bob", offer(i, tt.size))
			}
			if tt.downUp {
				h.PeerDown("bob")
			}
			if got := link.sent(); len(got) != 0 {
				t.Fatalf("answered before the peer was up: %+v", got)
			}
			h.PeerUp(&filePeer{id: "bob", name: "bob", link: link})
			deadline := time.Now().Add(5 * time.Second)
			for len(link.sent()) < tt.answered && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(50 * time.Millisecond) // nothing more arrives
			got := link.sent()
			if len(got) != tt.answered {
				t.Fatalf("%d answers, want %d: %+v", len(got), tt.answered, got)
			}
			for i, m := range got {
				if m.Type != tt.want || m.ID != offer(i, 0).ID {
					t.Errorf("answer %d: %s for %s, want %s for %s", i, m.Type, m.ID, tt.want, offer(i, 0).ID)
				}
			}
		})
	}
}
