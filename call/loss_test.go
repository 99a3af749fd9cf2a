package call

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/pion/rtcp"
)

func TestWantsKeyFrame(t *testing.T) {
	tests := []struct {
		name string
		pkts []rtcp.Packet
		want bool
	}{
		{"empty", nil, false},
		{"receiver report", []rtcp.Packet{&rtcp.ReceiverReport{}}, false},
		{"pli", []rtcp.Packet{&rtcp.ReceiverReport{}, &rtcp.PictureLossIndication{}}, true},
		{"fir", []rtcp.Packet{&rtcp.FullIntraRequest{}}, true},
		{"nack", []rtcp.Packet{&rtcp.TransportLayerNack{}}, false},
	}
	for _, tt := range tests {
		if got := wantsKeyFrame(tt.pkts); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestIsRTP(t *testing.T) {
	rtpPkt := make([]byte, 20)
	rtpPkt[0], rtpPkt[1] = 0x80, 96
	marked := append([]byte(nil), rtpPkt...)
	marked[1] = 0x80 | 96 // marker bit set
	rtcpPkt := append([]byte(nil), rtpPkt...)
	rtcpPkt[1] = 201 // receiver report
	tests := []struct {
		name string
		b    []byte
		want bool
	}{
		{"rtp", rtpPkt, true},
		{"rtp with marker", marked, true},
		{"rtcp", rtcpPkt, false},
		{"stun", append([]byte{0x00, 0x01}, make([]byte, 18)...), false},
		{"dtls", append([]byte{22, 0xfe}, make([]byte, 18)...), false},
		{"short", []byte{0x80, 96}, false},
	}
	for _, tt := range tests {
		if got := isRTP(tt.b); got != tt.want {
			t.Errorf("%s: isRTP = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestLossyNetDropsOnlyRTP sends RTP and STUN-like packets over loopback
// through the lossy network and counts what arrives.
func TestLossyNetDropsOnlyRTP(t *testing.T) {
	n, err := newLossyNet(nil, 0.3)
	if err != nil {
		t.Fatal(err)
	}
	rx, err := n.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	tx, err := net.DialUDP("udp4", nil, rx.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	const total = 2000
	rtpPkt := make([]byte, 100)
	rtpPkt[0], rtpPkt[1] = 0x80, 96
	stun := make([]byte, 100)
	stun[1] = 1
	sent := 0
	got := map[bool]int{}
	buf := make([]byte, 1500)
	for i := range total {
		p := rtpPkt
		if i%10 == 0 {
			p = stun
		}
		if _, err := tx.Write(p); err != nil {
			t.Fatal(err)
		}
		sent++
		// Read back what arrived so the socket buffer never overflows.
		for {
			_ = rx.SetReadDeadline(time.Now().Add(time.Millisecond))
			k, _, err := rx.ReadFrom(buf)
			if err != nil {
				break
			}
			got[isRTP(buf[:k])]++
		}
	}
	if got[false] != total/10 {
		t.Errorf("STUN-like packets received %d of %d: non-RTP must never be dropped", got[false], total/10)
	}
	rtpSent := total - total/10
	if kept := float64(got[true]) / float64(rtpSent); kept < 0.64 || kept > 0.76 {
		t.Errorf("kept %.2f of RTP at 30%% loss", kept)
	}
}

func TestReceiveLossValidated(t *testing.T) {
	a, _ := NewPipeSignalers("a", "b")
	for _, loss := range []float64{-0.1, 1, 2} {
		_, err := New(Config{LocalID: "a", RemoteID: "b", Signaler: a, ReceiveLoss: loss})
		if !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("loss %v: err = %v, want ErrInvalidConfig", loss, err)
		}
	}
}
