package call

import (
	"net"
	"slices"
	"strings"
	"time"

	"github.com/pion/webrtc/v4"
)

// ---- connectivity ----

func (s *Session) onConnectionState(st webrtc.PeerConnectionState) {
	s.log.Debug("peer connection state", "state", st.String())
	switch st {
	case webrtc.PeerConnectionStateConnected:
		s.transition(EventConnected, "connected", nil)
	case webrtc.PeerConnectionStateDisconnected, webrtc.PeerConnectionStateFailed:
		if s.state == StateConnected || s.state == StateConnecting {
			s.transition(EventDisconnected, "connection lost, reconnecting", nil)
		}
		// The impolite side drives ICE restarts; "failed" will not heal
		// on its own, "disconnected" might, so it waits a little first.
		if !s.polite && s.state == StateReconnecting {
			delay := restartBackoff0
			if st == webrtc.PeerConnectionStateFailed {
				delay = 0
			}
			s.scheduleRestart(delay)
		}
	default:
	}
}

func (s *Session) scheduleRestart(d time.Duration) {
	s.restartTimer.Stop()
	s.restartTimer.Reset(d)
}

func (s *Session) restartICE() {
	s.restartAttempt++
	s.log.Info("ice restart", "attempt", s.restartAttempt)
	s.negotiate(true)
	// Try again with exponential backoff while still reconnecting.
	backoff := min(restartBackoff0<<min(s.restartAttempt, 6), restartBackoffN)
	s.scheduleRestart(backoff)
}

func (s *Session) localAddrs() string {
	var addrs []string
	if n := s.cfg.ICE.Net; n != nil {
		ifs, err := n.Interfaces()
		if err != nil {
			return s.ifaces
		}
		for _, ifc := range ifs {
			as, err := ifc.Addrs()
			if err != nil {
				continue
			}
			for _, a := range as {
				addrs = append(addrs, a.String())
			}
		}
	} else {
		as, err := net.InterfaceAddrs()
		if err != nil {
			return s.ifaces
		}
		for _, a := range as {
			addrs = append(addrs, a.String())
		}
	}
	slices.Sort(addrs)

	return strings.Join(addrs, ",")
}

// checkInterfaces restarts ICE when local addresses changed (Wi-Fi to
// cable, VPN up): the old candidate pair may be dead without ICE noticing
// for seconds.
func (s *Session) checkInterfaces() {
	now := s.localAddrs()
	if now == s.ifaces {
		return
	}
	s.ifaces = now
	if s.state == StateConnected || s.state == StateReconnecting {
		s.log.Info("local interfaces changed, restarting ice")
		s.negotiate(true)
	}
}
