package call

import (
	"fmt"
	"math/rand/v2"
	"net"

	"github.com/pion/rtcp"
	"github.com/pion/transport/v4"
	"github.com/pion/transport/v4/stdnet"
)

// lossyNet wraps the network ICE uses so that received RTP is dropped at
// random, as a lossy path would: below SRTP, so a dropped packet leaves no
// trace in the replay window and a retransmission of it still gets through,
// and below every interceptor (NACK, reports, TWCC). STUN, DTLS and RTCP
// pass untouched: the call must stay up, only media suffers.
type lossyNet struct {
	transport.Net
	drop func(b []byte) bool // whether to drop a received datagram
}

func newLossyNet(base transport.Net, rate float64) (transport.Net, error) {
	if base == nil {
		n, err := stdnet.NewNet()
		if err != nil {
			return nil, fmt.Errorf("network: %w", err)
		}
		base = n
	}
	return &lossyNet{Net: base, drop: func(b []byte) bool { return dropRTP(b, rate) }}, nil
}

func (n *lossyNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	return &lossyUDPConn{UDPConn: c, drop: n.drop}, nil
}

func (n *lossyNet) ListenPacket(network, address string) (net.PacketConn, error) {
	c, err := n.Net.ListenPacket(network, address)
	if err != nil {
		return nil, err
	}
	return &lossyPacketConn{PacketConn: c, drop: n.drop}, nil
}

type lossyUDPConn struct {
	transport.UDPConn
	drop func(b []byte) bool
}

func (c *lossyUDPConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.UDPConn.ReadFrom(b)
		if err != nil || !c.drop(b[:n]) {
			return n, addr, err
		}
	}
}

func (c *lossyUDPConn) ReadFromUDP(b []byte) (int, *net.UDPAddr, error) {
	for {
		n, addr, err := c.UDPConn.ReadFromUDP(b)
		if err != nil || !c.drop(b[:n]) {
			return n, addr, err
		}
	}
}

type lossyPacketConn struct {
	net.PacketConn
	drop func(b []byte) bool
}

func (c *lossyPacketConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(b)
		if err != nil || !c.drop(b[:n]) {
			return n, addr, err
		}
	}
}

// isRTP tells (S)RTP from STUN, DTLS and (S)RTCP on a muxed socket
// (RFC 7983: first byte 128..191; RFC 5761: RTCP packet types 192..223).
func isRTP(b []byte) bool {
	if len(b) < 12 || b[0] < 128 || b[0] > 191 {
		return false
	}
	return b[1] < 192 || b[1] > 223
}

func dropRTP(b []byte, rate float64) bool {
	return isRTP(b) && rand.Float64() < rate //nolint:gosec // simulation, not security
}

// wantsKeyFrame reports whether an RTCP compound asks for a keyframe.
func wantsKeyFrame(pkts []rtcp.Packet) bool {
	for _, p := range pkts {
		switch p.(type) {
		case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
			return true
		}
	}
	return false
}
