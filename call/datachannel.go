package call

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/pion/webrtc/v4"
)

// ChatMessage is one text message received over the data channel.
type ChatMessage struct {
	From string    // the remote peer id
	Text string    // UTF-8, at most MaxChatBytes
	Time time.Time // sender's clock
}

type chatWire struct {
	From string `json:"from"`
	Time int64  `json:"ts"` // Unix milliseconds
	Text string `json:"text"`
}

// SendChat sends a text message to the peer. Safe from any goroutine.
func (s *Session) SendChat(text string) error {
	if len(text) > MaxChatBytes {
		return ErrChatTooLong
	}
	if !utf8.ValidString(text) {
		return fmt.Errorf("%w: not UTF-8", ErrBadSignal)
	}
	dc := s.dcPtr.Load()
	if dc == nil || dc.ReadyState() != webrtc.DataChannelStateOpen {
		return ErrChatUnavailable
	}
	b, err := json.Marshal(chatWire{From: s.cfg.LocalID, Time: time.Now().UnixMilli(), Text: text})
	if err != nil {
		return fmt.Errorf("encode chat: %w", err)
	}
	if err := dc.SendText(string(b)); err != nil {
		return fmt.Errorf("send chat: %w", err)
	}

	return nil
}

// SetLocalMedia records whether our microphone (audio) and camera (video)
// are on and tells the peer: now if the data channel is open, and again
// each time it opens, so the peer learns it after a reconnect too. It may
// be called before Start. Safe from any goroutine.
func (s *Session) SetLocalMedia(audio, video bool) error {
	if s.ctx.Err() != nil {
		return ErrClosed
	}
	m := MediaState{Audio: audio, Video: video}
	s.mediaMu.Lock()
	defer s.mediaMu.Unlock()
	s.localMedia = &m
	dc := s.dcPtr.Load()
	if dc == nil || dc.ReadyState() != webrtc.DataChannelStateOpen {
		return nil // sent on open
	}

	return s.sendMedia(dc, m)
}

// sendMedia sends m on dc; the caller holds mediaMu.
func (s *Session) sendMedia(dc *webrtc.DataChannel, m MediaState) error {
	b, err := encodeMedia(m)
	if err != nil {
		return err
	}
	if err := dc.SendText(string(b)); err != nil {
		return fmt.Errorf("send media state: %w", err)
	}

	return nil
}

// RemoteMedia returns the peer's latest media state, and false until the
// peer has sent one (an older peer never does).
func (s *Session) RemoteMedia() (MediaState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.remoteMedia == nil {
		return MediaState{}, false
	}

	return *s.remoteMedia, true
}

func (s *Session) bindChat(dc *webrtc.DataChannel) {
	// Known at once, not from OnOpen: pion runs that handler on a
	// goroutine of its own, after the channel is open and possibly after
	// its first messages were handled, whose answers (a file decline, an
	// accept) would then find no channel. Sends check the ready state.
	s.dcPtr.Store(dc)
	dc.OnOpen(func() {
		s.mediaMu.Lock()
		defer s.mediaMu.Unlock()
		if s.localMedia != nil {
			if err := s.sendMedia(dc, *s.localMedia); err != nil {
				s.log.Warn("media state not sent", "err", err)
			}
		}
	})
	dc.OnMessage(func(m webrtc.DataChannelMessage) {
		if !m.IsString {
			s.log.Info("binary data channel message dropped")

			return
		}
		msg, err := decodeDataMessage(m.Data)
		var fe *FileMessageError
		if errors.As(err, &fe) && fe.Type == FileOffer && fe.ID != "" {
			// A bad offer whose id is readable is declined, so the sender
			// does not wait for an answer.
			s.log.Info("bad file offer declined", "err", err)
			if derr := s.SendFileControl(FileControl{Type: FileDecline, ID: fe.ID, Reason: FileReasonBadOffer}); derr != nil {
				s.log.Debug("decline not sent", "err", derr)
			}
			return
		}
		switch {
		case errors.Is(err, ErrUnknownMessage):
			s.log.Debug("data channel message of unknown type ignored")

			return
		case err != nil:
			s.log.Info("bad data channel message dropped", "err", err)

			return
		}
		s.onDataMessage(msg)
	})
}

// onDataMessage runs on the data channel's goroutine; publishing happens on
// the owner goroutine.
func (s *Session) onDataMessage(msg dataMessage) {
	switch msg.kind {
	case dataChat:
		c := &ChatMessage{From: s.cfg.RemoteID, Text: msg.chat.Text, Time: time.UnixMilli(msg.chat.Time)}
		s.q.push(func() { s.publish(Update{Kind: UpdateChat, Chat: c}) })
	case dataMedia:
		m := msg.media
		s.mu.Lock()
		s.remoteMedia = &m
		s.mu.Unlock()
		s.q.push(func() { s.publish(Update{Kind: UpdateRemoteMedia, RemoteMedia: &m}) })
	case dataFile:
		f := msg.file
		s.q.push(func() { s.publish(Update{Kind: UpdateFile, File: &f}) })
	}
}
