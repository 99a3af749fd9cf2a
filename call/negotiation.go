package call

import (
	"context"
	"fmt"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// unnegotiated reports whether the peer connection holds a local change
// that the current local description does not carry yet: a transceiver
// with no m-line, a track whose msid its m-line lacks, a removed track
// whose m-line still sends, or a data channel without an application
// m-line.
//
// pion's negotiationneeded check is not used for this because it never
// settles for a receive slot pion creates itself when a remote offer
// brings an m-line we have no track for (a recvonly audio m-line to a peer
// without a microphone): such a transceiver has no sender, and pion asks
// for negotiation after every round, forever. Offers are only worth making
// for what this function finds, or for an ICE restart.
func unnegotiated(pc *webrtc.PeerConnection, hasChannel bool) bool {
	cur := pc.CurrentLocalDescription()
	if cur == nil {
		return true
	}
	parsed, err := cur.Unmarshal()
	if err != nil {
		return true
	}
	sections := make(map[string]*sdp.MediaDescription, len(parsed.MediaDescriptions))
	application := false
	for _, m := range parsed.MediaDescriptions {
		if mid, ok := m.Attribute(sdp.AttrKeyMID); ok {
			sections[mid] = m
		}
		if m.MediaName.Media == "application" {
			application = true
		}
	}
	if hasChannel && !application {
		return true
	}
	for _, tr := range pc.GetTransceivers() {
		snd := tr.Sender()
		var track webrtc.TrackLocal
		if snd != nil {
			track = snd.Track()
		}
		mid := tr.Mid()
		if mid == "" {
			if track != nil || tr.Direction() == webrtc.RTPTransceiverDirectionRecvonly {
				return true // a track or receive slot added since
			}

			continue
		}
		m, ok := sections[mid]
		if !ok {
			return true
		}
		sending := hasAttr(m, "sendrecv") || hasAttr(m, "sendonly")
		switch {
		case track != nil:
			msid, _ := m.Attribute(sdp.AttrKeyMsid)
			if !sending || msid != track.StreamID()+" "+track.ID() {
				return true
			}
		case sending && !sendsDirection(tr.Direction()):
			return true // removed: the m-line must stop sending
		}
	}

	return false
}

func hasAttr(m *sdp.MediaDescription, key string) bool {
	_, ok := m.Attribute(key)

	return ok
}

func sendsDirection(d webrtc.RTPTransceiverDirection) bool {
	return d == webrtc.RTPTransceiverDirectionSendrecv || d == webrtc.RTPTransceiverDirectionSendonly
}

// ---- negotiation ----
//
// Perfect negotiation (W3C WebRTC 10.7) without rollback, which pion lacks:
// the impolite side is the only offerer and ignores colliding remote offers
// (from a peer that can roll back); the polite side never has a local offer
// pending, so it can always answer, and asks for offers with
// SignalOfferRequest. Candidates that arrive before the description are
// queued.

func (s *Session) negotiate(restart bool) {
	if s.state.Terminal() || s.pc == nil {
		return
	}
	if s.polite {
		// The impolite side opens the call; later needs go as a request,
		// and only for a real change (see unnegotiated).
		if s.remoteSet && (restart || unnegotiated(s.pc, s.dcPtr.Load() != nil)) {
			s.requestOffer(restart)
		}

		return
	}
	if s.pc.SignalingState() != webrtc.SignalingStateStable {
		// Offer again once the answer is in (pion also re-fires
		// negotiationneeded then, but a requested restart would be lost).
		s.offerPending = true
		s.restartPending = s.restartPending || restart

		return
	}
	restart = restart || s.restartPending
	s.offerPending, s.restartPending = false, false
	requested := s.offerRequested
	s.offerRequested = false
	if !restart && !requested && s.remoteSet && !unnegotiated(s.pc, true) {
		return // nothing new since the last answer
	}
	offer, err := s.pc.CreateOffer(&webrtc.OfferOptions{ICERestart: restart})
	if err != nil {
		s.log.Warn("create offer failed", "err", err)

		return
	}
	if err := s.pc.SetLocalDescription(offer); err != nil {
		s.log.Warn("set local offer failed", "err", err)

		return
	}
	s.sendDescription(SignalOffer, offer.SDP)
}

// requestOffer (polite side) names the media kinds whose local tracks have
// no m-line yet, so the impolite side can add receive slots for them.
func (s *Session) requestOffer(restart bool) {
	var kinds []string
	for _, tr := range s.pc.GetTransceivers() {
		if tr.Mid() == "" && tr.Sender() != nil && tr.Sender().Track() != nil {
			kinds = append(kinds, tr.Kind().String())
		}
	}
	s.send(Signal{Kind: SignalOfferRequest, Kinds: kinds, Restart: restart})
}

// onOfferRequest (impolite side) adds a receive-only transceiver per kind
// the polite side wants to send and offers.
func (s *Session) onOfferRequest(sig Signal) {
	if s.polite {
		s.log.Debug("offer request to the polite side ignored")

		return
	}
	if s.pc.SignalingState() == webrtc.SignalingStateHaveLocalOffer && s.lastOffer != "" {
		// The peer asks for an offer while ours is unanswered: it never got
		// it (sent before the peer listened, or lost in a signaling
		// restart), or our copy of its answer was lost. pion cannot replace
		// a pending offer, so resend it unchanged: the peer applies it, or
		// answers a duplicate again. What the request asks for follows in
		// the next offer once this one is answered.
		s.send(Signal{Kind: SignalOffer, SDP: s.lastOffer})
		if len(sig.Kinds) == 0 && !sig.Restart {
			return
		}
	}
	// The peer knows of a change of its own we cannot see (a track on an
	// m-line it already has): offer even if nothing changed here.
	s.offerRequested = s.remoteSet
	for _, k := range sig.Kinds {
		kind := webrtc.NewRTPCodecType(k)
		if kind == 0 {
			continue
		}
		if _, err := s.pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{
			Direction: webrtc.RTPTransceiverDirectionRecvonly,
		}); err != nil {
			s.log.Warn("add receive slot failed", "kind", k, "err", err)
		}
	}
	s.negotiate(sig.Restart)
}

func (s *Session) sendDescription(kind SignalKind, sdpText string) {
	scrubbed, err := ScrubSDPWith(s.cfg.Policy, s.cfg.ICE, sdpText)
	if err != nil {
		// Fail closed: an SDP we cannot scrub is not sent.
		s.log.Error("scrub sdp failed", "kind", kind.String(), "err", err)
		s.transition(EventError, "internal error", err)

		return
	}
	switch kind {
	case SignalOffer:
		s.lastOffer = scrubbed
	case SignalAnswer:
		s.lastAnswer = scrubbed
	}
	s.send(Signal{Kind: kind, SDP: scrubbed})
}

func (s *Session) sendCandidate(c webrtc.ICECandidateInit) {
	v, ok := ScrubCandidateWith(s.cfg.Policy, s.cfg.ICE, c.Candidate)
	if !ok {
		return
	}
	c.Candidate = v
	s.send(Signal{Kind: SignalCandidate, Candidate: &c})
}

func (s *Session) send(sig Signal) {
	if s.state.Terminal() {
		return
	}
	sig.From, sig.To = s.cfg.LocalID, s.cfg.RemoteID
	ctx, cancel := context.WithTimeout(s.ctx, sendTimeout)
	defer cancel()
	if err := s.cfg.Signaler.Send(ctx, sig); err != nil {
		s.log.Warn("signal send failed", "kind", sig.Kind.String(), "err", err)
	}
}

func (s *Session) sendBye(reason string) {
	if s.state.Terminal() || s.state == StateIdle {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), byeTimeout)
	defer cancel()
	sig := Signal{Kind: SignalBye, From: s.cfg.LocalID, To: s.cfg.RemoteID, Reason: reason}
	if err := s.cfg.Signaler.Send(ctx, sig); err != nil {
		s.log.Debug("bye not sent", "err", err)
	}
}

func (s *Session) handleSignal(sig Signal) {
	if sig.From != "" && sig.From != s.cfg.RemoteID {
		s.log.Debug("signal from another peer ignored", "kind", sig.Kind.String())

		return
	}
	switch sig.Kind {
	case SignalOffer, SignalAnswer:
		s.onDescription(sig)
	case SignalCandidate:
		s.onRemoteCandidate(sig.Candidate)
	case SignalOfferRequest:
		s.onOfferRequest(sig)
	case SignalBye:
		reason := "peer hung up"
		if sig.Reason != "" {
			reason = "peer: " + sig.Reason
		}
		s.transition(EventBye, reason, ErrRemoteHangup)
	case SignalPeerLeft:
		s.transition(EventPeerLeft, "peer left", ErrPeerLeft)
	default:
		s.log.Debug("unknown signal ignored", "kind", sig.Kind.String())
	}
}

func (s *Session) onDescription(sig Signal) {
	typ := webrtc.SDPTypeOffer
	if sig.Kind == SignalAnswer {
		typ = webrtc.SDPTypeAnswer
	}
	if typ == webrtc.SDPTypeOffer && sig.SDP == s.lastRemoteOffer {
		// A resent offer we already answered: our answer may have been
		// lost (signaling restart), and the peer cannot offer anew until it
		// has one. Answer again with the same answer.
		if s.pc.SignalingState() == webrtc.SignalingStateStable && s.lastAnswer != "" {
			s.log.Debug("duplicate offer: answer resent")
			s.send(Signal{Kind: SignalAnswer, SDP: s.lastAnswer})
		}

		return
	}
	desc := webrtc.SessionDescription{Type: typ, SDP: sig.SDP}
	collision := typ == webrtc.SDPTypeOffer && s.pc.SignalingState() != webrtc.SignalingStateStable
	s.ignoreOffer = collision
	if collision {
		// Impolite: keep ours, the peer rolls back. Polite: cannot happen
		// (we never offer); ignoring is the safe answer.
		s.log.Info("offer glare: remote offer ignored")

		return
	}
	if typ == webrtc.SDPTypeAnswer && s.pc.SignalingState() != webrtc.SignalingStateHaveLocalOffer {
		s.log.Debug("stale answer ignored")

		return
	}
	if err := s.pc.SetRemoteDescription(desc); err != nil {
		s.log.Warn("set remote description failed", "type", typ.String(), "err", err)
		if !s.remoteSet {
			s.transition(EventError, "peer sent an unusable description", fmt.Errorf("%w: %w", ErrBadSignal, err))
		}

		return
	}
	first := !s.remoteSet
	s.remoteSet = true
	if typ == webrtc.SDPTypeOffer {
		s.lastRemoteOffer = sig.SDP
	}
	for _, c := range s.pendingCands {
		if err := s.pc.AddICECandidate(c); err != nil {
			s.log.Debug("queued candidate rejected", "err", err)
		}
	}
	s.pendingCands = nil
	if typ == webrtc.SDPTypeOffer {
		answer, err := s.pc.CreateAnswer(nil)
		if err != nil {
			s.log.Warn("create answer failed", "err", err)

			return
		}
		if err := s.pc.SetLocalDescription(answer); err != nil {
			s.log.Warn("set local answer failed", "err", err)

			return
		}
		s.sendDescription(SignalAnswer, answer.SDP)
	}
	if first {
		s.transition(EventRemoteDescription, "connecting", nil)
	}
	if s.state == StateConnected {
		s.updateSAS()
	}
	if s.offerPending {
		s.negotiate(false)
	}
}

func (s *Session) onRemoteCandidate(c *webrtc.ICECandidateInit) {
	if c == nil {
		return
	}
	if !s.remoteSet || s.pc.RemoteDescription() == nil {
		// Late-arriving description: keep candidates until it is set.
		s.pendingCands = append(s.pendingCands, *c)

		return
	}
	if err := s.pc.AddICECandidate(*c); err != nil && !s.ignoreOffer {
		s.log.Debug("remote candidate rejected", "err", err)
	}
}
