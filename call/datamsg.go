package call

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// MediaState is what a peer says about its own media: whether its
// microphone (Audio) and camera (Video) are on. A peer with the camera off
// sends no video at all, so the receiver shows a placeholder instead of a
// frozen last frame.
type MediaState struct {
	Audio bool
	Video bool
}

// Data channel message types ("type" field). A message without a type is
// chat: the first version of the channel carried only {from, ts, text}.
const (
	msgTypeChat  = "chat"
	msgTypeMedia = "media"
	// maxDataMessage bounds any message on the channel; a chat message is
	// the largest (text plus the JSON around it).
	maxDataMessage = MaxChatBytes + 256
)

// dataKind says which part of a dataMessage is set.
type dataKind int

const (
	dataChat dataKind = iota + 1
	dataMedia
	dataFile
)

// dataMessage is one decoded data channel message.
type dataMessage struct {
	kind  dataKind
	chat  chatWire
	media MediaState
	file  FileControl
}

// dataWire is the union of all message shapes. Pointers tell a missing
// field from false.
type dataWire struct {
	Type  string `json:"type,omitempty"`
	From  string `json:"from,omitempty"`
	Time  int64  `json:"ts,omitempty"`
	Text  string `json:"text,omitempty"`
	Audio *bool  `json:"audio,omitempty"`
	Video *bool  `json:"video,omitempty"`
	fileFields
}

// mediaWire is what SetLocalMedia sends.
type mediaWire struct {
	Type  string `json:"type"`
	Audio bool   `json:"audio"`
	Video bool   `json:"video"`
}

// decodeDataMessage parses one data channel message. Its errors wrap
// ErrBadMessage and carry no part of the message, so they can be logged.
func decodeDataMessage(b []byte) (dataMessage, error) {
	if len(b) > maxDataMessage {
		return dataMessage{}, fmt.Errorf("%w: too long", ErrBadMessage)
	}
	if !utf8.Valid(b) {
		return dataMessage{}, fmt.Errorf("%w: not UTF-8", ErrBadMessage)
	}
	var w *dataWire
	if err := json.Unmarshal(b, &w); err != nil {
		return dataMessage{}, fmt.Errorf("%w: not a JSON object of the known shape", ErrBadMessage)
	}
	if w == nil {
		return dataMessage{}, fmt.Errorf("%w: null", ErrBadMessage)
	}
	switch w.Type {
	case "", msgTypeChat:
		if w.Text == "" || len(w.Text) > MaxChatBytes {
			return dataMessage{}, fmt.Errorf("%w: chat text empty or too long", ErrBadMessage)
		}

		return dataMessage{kind: dataChat, chat: chatWire{From: w.From, Time: w.Time, Text: w.Text}}, nil
	case msgTypeMedia:
		if w.Audio == nil || w.Video == nil {
			return dataMessage{}, fmt.Errorf("%w: media state without audio or video", ErrBadMessage)
		}

		return dataMessage{kind: dataMedia, media: MediaState{Audio: *w.Audio, Video: *w.Video}}, nil
	case FileOffer.String(), FileAccept.String(), FileDecline.String(), FileCancel.String(), FileAck.String(), FileDone.String():
		var typ FileMsgType
		for t, n := range fileMsgNames {
			if n == w.Type {
				typ = t
			}
		}
		m, err := decodeFile(typ, w)
		if err != nil {
			return dataMessage{}, err
		}
		return dataMessage{kind: dataFile, file: m}, nil
	default:
		// Newer peers may send types we do not know: not an error of theirs.
		return dataMessage{}, fmt.Errorf("%w: unknown type", ErrUnknownMessage)
	}
}

func encodeMedia(m MediaState) ([]byte, error) {
	b, err := json.Marshal(mediaWire{Type: msgTypeMedia, Audio: m.Audio, Video: m.Video})
	if err != nil {
		return nil, fmt.Errorf("encode media state: %w", err)
	}

	return b, nil
}
