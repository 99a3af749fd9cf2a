package call

import (
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/pion/transport/v4/stdnet"
	"github.com/pion/transport/v4/test"
	"github.com/pion/webrtc/v4"
)

// TestTrackReaderReadsLateRepairs loses one original packet near the end
// of a short stream and checks that its retransmission is read although
// no media packet follows it (pion hands a repair to Read only before it
// blocks on the media stream: with tr.ReadRTP it waits for ever).
func TestTrackReaderReadsLateRepairs(t *testing.T) {
	for _, tc := range []struct {
		name        string
		total, lost int
	}{
		{"the last packet's predecessor", 10, 8},
		{"three before the end (read with the next media packet)", 10, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer test.TimeOut(30 * time.Second).Stop()
			defer test.CheckRoutines(t)()

			base, err := stdnet.NewNet()
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			dropped := false
			wasDropped := func() bool { mu.Lock(); defer mu.Unlock(); return dropped }
			lossy := &lossyNet{Net: base, drop: func(b []byte) bool {
				// The original, not its retransmission: VP8's payload
				// type (the RTP header is not encrypted).
				if !isRTP(b) || b[1]&0x7f != 96 || int(binary.BigEndian.Uint16(b[2:4])) != tc.lost {
					return false
				}
				mu.Lock()
				defer mu.Unlock()
				first := !dropped
				dropped = true
				return first
			}}
			track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", "s")
			if err != nil {
				t.Fatal(err)
			}
			sa, sb := NewPipeSignalers("a", "b")
			got := make(chan uint16, 4*tc.total)
			a, err := New(Config{LocalID: "a", RemoteID: "b", Signaler: sa, ICE: ICEOptions{Loopback: true},
				Tracks: []webrtc.TrackLocal{track}, InterfacePoll: -1})
			if err != nil {
				t.Fatal(err)
			}
			var b *Session
			b, err = New(Config{LocalID: "b", RemoteID: "a", Signaler: sb, ICE: ICEOptions{Loopback: true, Net: lossy},
				InterfacePoll: -1,
				OnTrack: func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
					rd := b.NewTrackReader(tr)
					for {
						p, _, err := rd.ReadRTP()
						if err != nil {
							return
						}
						got <- p.SequenceNumber
					}
				}})
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = a.Close(); _ = b.Close() }()
			connectAndSend(t, a, b, track, tc.total)
			seen := map[uint16]bool{}
			limit := time.After(5 * time.Second)
			for len(seen) < tc.total {
				select {
				case s := <-got:
					seen[s] = true
				case <-limit:
					t.Fatalf("after 5 s, %d of %d packets read; lost one dropped: %v, its repair read: %v",
						len(seen), tc.total, wasDropped(), seen[uint16(tc.lost)])
				}
			}
			if !wasDropped() {
				t.Error("the lossy network dropped nothing: the test tested nothing")
			}
		})
	}
}

// TestRepairRTTWithoutOwnStreams: a side that sends no media gets no
// reception reports to learn its round trip from; it takes ICE's (it
// stayed 0, and its NACKs and waits for repairs assumed 100 ms).
func TestRepairRTTWithoutOwnStreams(t *testing.T) {
	defer test.TimeOut(30 * time.Second).Stop()
	defer test.CheckRoutines(t)()

	p := newPair(t, nil) // neither side sends media
	defer p.close()
	p.start(t)
	p.waitConnected(t)
	deadline := time.Now().Add(10 * time.Second)
	for p.b.RepairRTT() == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if rtt := p.b.RepairRTT(); rtt <= 0 || rtt > time.Second {
		t.Fatalf("round trip on loopback %v, want (0, 1s]", rtt)
	}
	if n := p.b.hooks.requester.Load(); n == nil || n.roundTrip() != p.b.RepairRTT() {
		t.Error("the NACK requester does not use the session's round trip")
	}
}
