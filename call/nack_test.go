package call

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/transport/v4/test"
	"github.com/pion/webrtc/v4"
)

// TestNACKRepairsLoss drops 20 % of received RTP ahead of the interceptors
// and checks that NACK/RTX brings nearly all of it back and is counted, and
// that each retransmission carries a transport-wide sequence number of its
// own (congestion control sees it), not its original's.
func TestNACKRepairsLoss(t *testing.T) {
	defer test.TimeOut(30 * time.Second).Stop()
	defer test.CheckRoutines(t)()

	sa, sb := NewPipeSignalers("a", "b")
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", "s")
	if err != nil {
		t.Fatal(err)
	}
	const total = 400
	type arrival struct {
		seq    uint16
		twcc   int // -1: none
		repair bool
	}
	got := make(chan arrival, 4*total)
	a, err := New(Config{LocalID: "a", RemoteID: "b", Signaler: sa, ICE: ICEOptions{Loopback: true},
		Tracks: []webrtc.TrackLocal{track}, InterfacePoll: -1})
	if err != nil {
		t.Fatal(err)
	}
	var b *Session
	b, err = New(Config{LocalID: "b", RemoteID: "a", Signaler: sb, ICE: ICEOptions{Loopback: true},
		ReceiveLoss: 0.2, InterfacePoll: -1,
		OnTrack: func(tr *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
			var id uint8
			for _, e := range r.GetParameters().HeaderExtensions {
				if e.URI == sdp.TransportCCURI {
					id = uint8(e.ID) //nolint:gosec // extension ids are 1-255
				}
			}
			rd := b.NewTrackReader(tr)
			for {
				p, attr, err := rd.ReadRTP()
				if err != nil {
					return
				}
				a := arrival{seq: p.SequenceNumber, twcc: -1, repair: attr.Get(webrtc.AttributeRtxSequenceNumber) != nil}
				if ext := p.GetExtension(id); id != 0 && len(ext) >= 2 {
					a.twcc = int(binary.BigEndian.Uint16(ext))
				}
				got <- a
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	connectAndSend(t, a, b, track, total)
	time.Sleep(500 * time.Millisecond)
	nacks := b.Stats().VideoIn.NACKs
	_ = a.Close()
	_ = b.Close()
	seen := map[uint16]bool{}
	twcc := map[uint16]int{} // originals' transport-wide numbers by RTP sequence number
	var repairs []arrival
	for len(got) > 0 {
		a := <-got
		if seen[a.seq] || a.twcc < 0 {
			t.Fatalf("packet %d: twice, or without a transport-wide number (%d)", a.seq, a.twcc)
		}
		seen[a.seq] = true
		if a.repair {
			repairs = append(repairs, a)
		} else {
			twcc[a.seq] = a.twcc
		}
	}
	// A packet is NACKed once a later one arrived, so its retransmission
	// leaves after that one and must carry a higher transport-wide number
	// (fewer than 65536 sent: no wrap). A retransmission that kept its
	// lost original's number carries a lower one.
	old := 0
	for _, r := range repairs {
		for s := r.seq + 1; s < total; s++ {
			if n, ok := twcc[s]; ok {
				if r.twcc <= n {
					old++
				}
				break
			}
		}
	}
	t.Logf("%d packets, %d of them retransmissions, %d with an old transport-wide number", len(seen), len(repairs), old)
	if len(repairs) == 0 || old > 0 {
		t.Errorf("%d of %d retransmissions carried an old transport-wide number: each must take its own", old, len(repairs))
	}
	// Without repair ~80 % arrive; NACK retries leave a few double losses.
	// The last packets have no successor to reveal their loss; before them,
	// three NACK rounds leave ~0.2 % of 20 % loss unrepaired (a packet
	// and all its retransmissions lost).
	// Packets lost before the first one that arrived cannot be asked
	// for: the receiver does not know the stream has begun (a CI run lost
	// the first four).
	firstSeen := 0
	for !seen[uint16(firstSeen)] && firstSeen < total {
		firstSeen++
	}
	var miss []int
	for i := firstSeen; i < total-5; i++ {
		if !seen[uint16(i)] {
			miss = append(miss, i)
		}
	}
	if len(miss) > 4 {
		t.Errorf("%d of %d packets never arrived with 20%% loss (NACK/RTX should repair nearly all): %v", len(miss), total, miss)
	}
	if nacks == 0 {
		t.Error("stats counted no NACKs sent")
	}
}

// connectAndSend starts a and b, waits until both are connected, then
// writes n one-packet VP8 frames to track (a's), numbered from 0, 5 ms
// apart.
func connectAndSend(t *testing.T, a, b *Session, track *webrtc.TrackLocalStaticRTP, n int) {
	t.Helper()
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	for a.State() != StateConnected || b.State() != StateConnected {
		time.Sleep(10 * time.Millisecond)
	}
	for i := range n {
		if err := track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(i), Timestamp: uint32(i * 3000), Marker: true},
			Payload: []byte{0x10, 1, 2, 3}}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
