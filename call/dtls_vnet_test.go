package call

import (
	"sync"
	"testing"
	"time"

	"github.com/pion/transport/v4/test"
	"github.com/pion/transport/v4/vnet"
)

// dtlsHandshakeType is the handshake message type of a UDP payload that
// is a DTLS handshake record (RFC 6347 4.1, 4.2.2), else -1.
func dtlsHandshakeType(b []byte) int {
	const recordHeader, contentHandshake = 13, 22
	if len(b) <= recordHeader || b[0] != contentHandshake {
		return -1
	}
	return int(b[recordHeader])
}

// TestVNetDTLSHandshake: the handshake skips the HelloVerifyRequest round
// trip (ICE's checks already proved the peer's address), and a lost flight
// is sent again after dtlsFlightInterval, not after the RFC's default
// second: the vnet WAN drops the first ClientHello and records when each
// handshake message crossed.
func TestVNetDTLSHandshake(t *testing.T) {
	const (
		clientHello        = 1
		helloVerifyRequest = 3
		pionDefault        = time.Second
	)
	defer test.TimeOut(40 * time.Second).Stop()
	defer test.CheckRoutines(t)()
	tp := newTopo(t, fullCone, fullCone)
	defer tp.close()
	var (
		mu      sync.Mutex
		hellos  []time.Time // ClientHellos sent, the dropped one first
		verify  int
		dropped bool
	)
	tp.wan.AddChunkFilter(func(c vnet.Chunk) bool {
		typ := dtlsHandshakeType(c.UserData())
		mu.Lock()
		defer mu.Unlock()
		switch typ {
		case clientHello:
			hellos = append(hellos, time.Now())
			if !dropped {
				dropped = true
				return false
			}
		case helloVerifyRequest:
			verify++
		}
		return true
	})
	p := newVNetPair(t, tp, nil)
	defer p.close()
	p.start(t)
	p.waitConnected(t)
	mu.Lock()
	defer mu.Unlock()
	if verify != 0 {
		t.Errorf("%d HelloVerifyRequests crossed, want none", verify)
	}
	if len(hellos) < 2 {
		t.Fatalf("%d ClientHellos crossed, want the dropped one and its retransmission", len(hellos))
	}
	// The times are taken where the hellos cross the WAN, so the first one's
	// trip from the timer's start to the router can shorten the gap a
	// little (CI saw 249.8 ms); the lower bound allows a fifth for it. The
	// upper bound leaves a stall of several hundred milliseconds before it
	// would read as pion's default.
	if gap := hellos[1].Sub(hellos[0]); gap < dtlsFlightInterval*4/5 || gap >= pionDefault*9/10 {
		t.Errorf("ClientHello sent again after %v, want about %v (pion's default %v)", gap, dtlsFlightInterval, pionDefault)
	}
}
