package call

import (
	"fmt"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// AddTrack sends another track; it triggers renegotiation. The session
// negotiates itself rather than waiting for pion's negotiationneeded event,
// which stops firing once pion's own check sticks at true (see
// unnegotiated).
func (s *Session) AddTrack(t webrtc.TrackLocal) error {
	return s.call(func() error {
		if err := s.addTrack(t); err != nil {
			return err
		}
		s.negotiate(false)

		return nil
	})
}

// ReplaceTrack swaps the track sent under id (the id of a track given in
// Config.Tracks or AddTrack) without renegotiation. nil stops sending
// (camera off); a new track of the same kind resumes.
func (s *Session) ReplaceTrack(id string, t webrtc.TrackLocal) error {
	return s.call(func() error {
		snd, ok := s.senders[id]
		if !ok {
			return fmt.Errorf("%w: %q", ErrUnknownTrack, id)
		}
		if err := snd.ReplaceTrack(t); err != nil {
			return fmt.Errorf("replace track: %w", err)
		}

		return nil
	})
}

// RemoveTrack stops sending the track added under id; it renegotiates.
func (s *Session) RemoveTrack(id string) error {
	return s.call(func() error {
		snd, ok := s.senders[id]
		if !ok {
			return fmt.Errorf("%w: %q", ErrUnknownTrack, id)
		}
		delete(s.senders, id)
		if err := s.pc.RemoveTrack(snd); err != nil {
			return fmt.Errorf("remove track: %w", err)
		}
		s.negotiate(false)

		return nil
	})
}

// RequestKeyFrame asks the sender of the remote stream ssrc for a key frame
// (RTCP PLI). Safe from any goroutine.
func (s *Session) RequestKeyFrame(ssrc uint32) error {
	pc := s.pcPtr.Load()
	if pc == nil {
		return ErrNotStarted
	}
	if err := pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}}); err != nil {
		return fmt.Errorf("send pli: %w", err)
	}

	return nil
}

func (s *Session) hasTrackKind(kind webrtc.RTPCodecType) bool {
	for _, t := range s.cfg.Tracks {
		if t != nil && t.Kind() == kind {
			return true
		}
	}

	return false
}

func (s *Session) addTrack(t webrtc.TrackLocal) error {
	if t == nil {
		return fmt.Errorf("%w: nil track", ErrInvalidConfig)
	}
	if _, dup := s.senders[t.ID()]; dup {
		return fmt.Errorf("%w: duplicate track id %q", ErrInvalidConfig, t.ID())
	}
	snd, err := s.pc.AddTrack(t)
	if err != nil {
		return fmt.Errorf("add track: %w", err)
	}
	s.senders[t.ID()] = snd
	var ssrc uint32
	if enc := snd.GetParameters().Encodings; len(enc) > 0 {
		ssrc = uint32(enc[0].SSRC)
	}
	if t.Kind() == webrtc.RTPCodecTypeAudio {
		s.audioSSRC.Store(ssrc)
	}
	if s.join() {
		go s.readSenderRTCP(snd, t.Kind() == webrtc.RTPCodecTypeAudio, ssrc)
	}

	return nil
}

// readSenderRTCP drains RTCP for one sender, which is what lets the NACK
// responder and GCC see feedback, and reports audio loss.
func (s *Session) readSenderRTCP(snd *webrtc.RTPSender, audio bool, ssrc uint32) {
	defer s.wg.Done()
	for {
		pkts, _, err := snd.ReadRTCP()
		if err != nil {
			return
		}
		if !audio {
			if s.cfg.OnKeyFrameRequest != nil && wantsKeyFrame(pkts) {
				s.cfg.OnKeyFrameRequest()
			}
			continue
		}
		if s.cfg.OnAudioLoss == nil {
			continue
		}
		for _, p := range pkts {
			var reports []rtcp.ReceptionReport
			switch r := p.(type) {
			case *rtcp.ReceiverReport:
				reports = r.Reports
			case *rtcp.SenderReport:
				reports = r.Reports
			}
			for _, rr := range reports {
				if rr.SSRC == ssrc {
					s.cfg.OnAudioLoss(int(rr.FractionLost) * 100 / 256)
				}
			}
		}
	}
}

// onTrack runs on a pion goroutine per remote track.
func (s *Session) onTrack(tr *webrtc.TrackRemote, rcv *webrtc.RTPReceiver) {
	// Both joins happen before either goroutine can be waited for: a track
	// that arrives during teardown is not handed out at all.
	s.goMu.Lock()
	if !s.goOpen {
		s.goMu.Unlock()

		return
	}
	s.wg.Add(2)
	s.goMu.Unlock()
	defer s.wg.Done()
	go func() { // receiver RTCP (sender reports) must be read for interceptors
		defer s.wg.Done()
		for {
			if _, _, err := rcv.ReadRTCP(); err != nil {
				return
			}
		}
	}()
	if s.cfg.OnTrack != nil {
		s.cfg.OnTrack(tr, rcv)

		return
	}
	buf := make([]byte, 1500)
	for {
		if _, _, err := tr.Read(buf); err != nil {
			return
		}
	}
}
