package call

import (
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
		case snd != nil && sending && !sendsDirection(tr.Direction()):
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
