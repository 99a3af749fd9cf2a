package call

import (
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/transport/v4/test"
	"github.com/pion/webrtc/v4"
)

// TestNACKRepairsLoss drops 20 % of received RTP ahead of the interceptors
// and checks that NACK/RTX brings nearly all of it back and is counted.
func TestNACKRepairsLoss(t *testing.T) {
	defer test.TimeOut(30 * time.Second).Stop()
	defer test.CheckRoutines(t)()

	sa, sb := NewPipeSignalers("a", "b")
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", "s")
	if err != nil {
		t.Fatal(err)
	}
	const total = 400
	got := make(chan uint16, 4*total)
	a, err := New(Config{LocalID: "a", RemoteID: "b", Signaler: sa, ICE: ICEOptions{Loopback: true},
		Tracks: []webrtc.TrackLocal{track}, InterfacePoll: -1})
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(Config{LocalID: "b", RemoteID: "a", Signaler: sb, ICE: ICEOptions{Loopback: true},
		ReceiveLoss: 0.2, InterfacePoll: -1,
		OnTrack: func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
			for {
				p, _, err := tr.ReadRTP()
				if err != nil {
					return
				}
				got <- p.SequenceNumber
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	for a.State() != StateConnected || b.State() != StateConnected {
		time.Sleep(10 * time.Millisecond)
	}
	for i := range total {
		if err := track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(i), Timestamp: uint32(i * 3000), Marker: true},
			Payload: []byte{0x10, 1, 2, 3}}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	nacks := b.Stats().VideoIn.NACKs
	_ = a.Close()
	_ = b.Close()
	seen := map[uint16]bool{}
	for len(got) > 0 {
		seen[<-got] = true
	}
	// Without repair ~80 % arrive; NACK retries leave a few double losses.
	// The last packets have no successor to reveal their loss; before them,
	// three NACK rounds leave ~0.2 % of 20 % loss unrepaired (a packet
	// and all its retransmissions lost).
	var miss []int
	for i := range total - 5 {
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
