package call

import (
	"fmt"
	"net"

	"github.com/pion/transport/v4"
	"github.com/pion/transport/v4/stdnet"
)

// udpBuffer is the socket buffer each ICE UDP socket asks for (the kernel
// caps it at net.core.rmem_max / wmem_max). The default, about 208 KiB,
// holds 2 ms of a file transfer at 800 Mbit/s: the kernel drops what
// overflows and SCTP backs off, which held transfers to about 90 Mbit/s
// on loopback with "receive buffer errors" counting up.
const udpBuffer = 4 << 20

// bufferedNet is the OS network with larger UDP socket buffers for the
// sockets ICE gathers on.
type bufferedNet struct{ transport.Net }

// newBufferedNet wraps the OS network.
func newBufferedNet() (transport.Net, error) {
	n, err := stdnet.NewNet()
	if err != nil {
		return nil, fmt.Errorf("os network: %w", err)
	}
	return bufferedNet{n}, nil
}

// ListenUDP opens the socket and asks for the larger buffers (best
// effort: a refused size leaves the default).
func (n bufferedNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err //nolint:wrapcheck // the OS error as pion expects it
	}
	_ = c.SetReadBuffer(udpBuffer)
	_ = c.SetWriteBuffer(udpBuffer)
	return c, nil
}
