package call

import (
	"time"

	"github.com/pion/webrtc/v4"
)

// StreamStats describes one direction of one media kind.
type StreamStats struct {
	Bitrate     int    // bits per second over the last interval (payload+header bytes)
	Bytes       uint64 // total
	Packets     uint64 // total
	PacketsLost int64  // total (in: counted locally; out: reported by the peer)
	// LossPct is the loss of the last interval in percent: in = lost /
	// expected locally, out = the peer's last reported fraction lost.
	LossPct float64
	Jitter  time.Duration // in: local estimate; out: reported by the peer
	NACKs   uint32        // in: NACKs we sent; out: NACKs we received
	PLIs    uint32        // in: PLIs we sent; out: PLIs we received

	// Decoded video (VideoIn only), filled by the media layer: call has no
	// decoder view.
	FPS                     float64
	FrameWidth, FrameHeight int
}

// Stats is one snapshot of a session, taken every Config.StatsInterval.
type Stats struct {
	Time time.Time
	RTT  time.Duration // selected candidate pair, else RTCP
	// Selected candidate pair types: "host", "srflx", "prflx", "relay".
	LocalCandidate, RemoteCandidate string
	Relayed                         bool // either end is a TURN relay
	TargetBitrate                   int  // GCC estimate, bits per second

	AudioIn, AudioOut, VideoIn, VideoOut StreamStats
}

type streamPrev struct {
	bytes, packets uint64
	lost           int64
}

type statsPrev struct {
	t       time.Time
	streams map[uint32]streamPrev
}

// collectStats runs on the owner goroutine once per interval.
func (s *Session) collectStats() { //nolint:cyclop
	if s.pc == nil || s.state == StateIdle || s.state == StateJoining {
		return
	}
	now := time.Now()
	st := Stats{Time: now, TargetBitrate: s.TargetBitrate()}
	// Only once connected: pion's GetSelectedCandidatePair reads the ICE
	// transport's gatherer without the lock its start writes it under, a
	// data race while the transport starts (seen under -race).
	connected := s.state == StateConnected || s.state == StateReconnecting
	if it := s.pc.SCTP().Transport().ICETransport(); it != nil && connected {
		if pair, err := it.GetSelectedCandidatePair(); err == nil && pair != nil {
			st.LocalCandidate, st.RemoteCandidate = pair.Local.Typ.String(), pair.Remote.Typ.String()
			st.Relayed = pair.Local.Typ == webrtc.ICECandidateTypeRelay || pair.Remote.Typ == webrtc.ICECandidateTypeRelay
		}
		if ps, ok := it.GetSelectedCandidatePairStats(); ok && ps.CurrentRoundTripTime > 0 {
			st.RTT = time.Duration(ps.CurrentRoundTripTime * float64(time.Second))
			s.hooks.iceRTT.Store(int64(st.RTT))
		}
	}
	dt := now.Sub(s.prev.t).Seconds()
	if s.prev.t.IsZero() || dt <= 0 {
		dt = 0
	}
	cur := map[uint32]streamPrev{}
	g := s.hooks.stats()
	if g == nil {
		return
	}
	rate := func(ssrc uint32, bytes uint64) int {
		p, ok := s.prev.streams[ssrc]
		if !ok || dt == 0 || bytes < p.bytes {
			return 0
		}

		return int(float64(bytes-p.bytes) * 8 / dt)
	}
	for _, snd := range s.pc.GetSenders() {
		t := snd.Track()
		if t == nil {
			continue
		}
		for _, enc := range snd.GetParameters().Encodings {
			ssrc := uint32(enc.SSRC)
			x := g.Get(ssrc)
			if x == nil {
				continue
			}
			out := &st.VideoOut
			if t.Kind() == webrtc.RTPCodecTypeAudio {
				out = &st.AudioOut
			}
			bytes := x.OutboundRTPStreamStats.BytesSent + x.HeaderBytesSent
			out.Bitrate += rate(ssrc, bytes)
			out.Bytes += bytes
			out.Packets += x.OutboundRTPStreamStats.PacketsSent
			out.PacketsLost += x.RemoteInboundRTPStreamStats.PacketsLost
			out.LossPct = max(out.LossPct, x.FractionLost*100)
			out.Jitter = max(out.Jitter, time.Duration(x.RemoteInboundRTPStreamStats.Jitter*float64(time.Second)))
			out.NACKs += x.OutboundRTPStreamStats.NACKCount
			out.PLIs += x.OutboundRTPStreamStats.PLICount
			if st.RTT == 0 && x.RemoteInboundRTPStreamStats.RoundTripTime > 0 {
				st.RTT = x.RemoteInboundRTPStreamStats.RoundTripTime
			}
			cur[ssrc] = streamPrev{bytes: bytes, packets: x.OutboundRTPStreamStats.PacketsSent}
		}
	}
	for _, rcv := range s.pc.GetReceivers() {
		for _, t := range rcv.Tracks() {
			ssrc := uint32(t.SSRC())
			x := g.Get(ssrc)
			if x == nil {
				continue
			}
			in := &st.VideoIn
			if t.Kind() == webrtc.RTPCodecTypeAudio {
				in = &st.AudioIn
			}
			bytes := x.BytesReceived + x.HeaderBytesReceived
			in.Bitrate += rate(ssrc, bytes)
			in.Bytes += bytes
			in.Packets += x.InboundRTPStreamStats.PacketsReceived
			in.PacketsLost += x.InboundRTPStreamStats.PacketsLost
			in.Jitter = max(in.Jitter, time.Duration(x.InboundRTPStreamStats.Jitter*float64(time.Second)))
			in.NACKs += x.InboundRTPStreamStats.NACKCount
			in.PLIs += x.InboundRTPStreamStats.PLICount
			p := s.prev.streams[ssrc]
			got := x.InboundRTPStreamStats.PacketsReceived - p.packets
			lost := x.InboundRTPStreamStats.PacketsLost - p.lost
			if lost > 0 && got+uint64(lost) > 0 {
				in.LossPct = max(in.LossPct, float64(lost)*100/float64(got+uint64(lost)))
			}
			cur[ssrc] = streamPrev{bytes: bytes, packets: x.InboundRTPStreamStats.PacketsReceived, lost: x.InboundRTPStreamStats.PacketsLost}
		}
	}
	s.prev = statsPrev{t: now, streams: cur}
	s.mu.Lock()
	s.stats = st
	s.mu.Unlock()
	c := st
	s.publish(Update{Kind: UpdateStats, Stats: &c})
}
