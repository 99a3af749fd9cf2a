package call

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/pion/webrtc/v4"
)

// File transfer (docs/protocol.md, "File transfer"): control messages ride
// on the chat channel; each transfer's bytes go over their own ordered
// channel labelled "file:ID", opened by the sender once the receiver
// accepted. This file has the wire side; the engine that drives it is the
// app's.

// FileMsgType is the type of one file control message.
type FileMsgType int

// File control message types.
const (
	FileOffer   FileMsgType = iota + 1 // sender → receiver: ID, Name, Size, SHA256
	FileAccept                         // receiver → sender: ID, Offset
	FileDecline                        // receiver → sender: ID, Reason
	FileCancel                         // either side: ID, Reason
	FileAck                            // receiver → sender: ID, Offset written
	FileDone                           // receiver → sender: ID, OK (Reason when not)
)

var fileMsgNames = map[FileMsgType]string{
	FileOffer: "file-offer", FileAccept: "file-accept", FileDecline: "file-decline",
	FileCancel: "file-cancel", FileAck: "file-ack", FileDone: "file-done",
}

func (t FileMsgType) String() string {
	if s, ok := fileMsgNames[t]; ok {
		return s
	}
	return fmt.Sprintf("FileMsgType(%d)", int(t))
}

// Limits and reasons of the file protocol.
const (
	// FileLabelPrefix starts the label of a transfer's data channel.
	FileLabelPrefix = "file:"
	// MaxFileNameBytes bounds an offered name on the wire (UTF-8 bytes).
	MaxFileNameBytes = 255
	// MaxFileSize is the largest size an offer may carry (2^53-1, exact in
	// a JavaScript number).
	MaxFileSize = 1<<53 - 1
	// MaxFileChunk bounds one binary message on a file channel.
	MaxFileChunk = 65536

	FileReasonDeclined     = "declined"
	FileReasonTooLarge     = "too-large"
	FileReasonBadOffer     = "bad-offer"
	FileReasonNoFolder     = "no-folder"
	FileReasonBusy         = "busy"
	FileReasonCanceled     = "canceled"
	FileReasonTooMuchData  = "too-much-data"
	FileReasonWriteError   = "write-error"
	FileReasonReadError    = "read-error"
	FileReasonHashMismatch = "hash-mismatch"

	maxFileReason = 32
)

// FileControl is one decoded file control message; the fields its Type
// does not use are zero.
type FileControl struct {
	Type   FileMsgType
	ID     string // 32 lowercase hex
	Name   string // offer
	Size   int64  // offer
	SHA256 string // offer: 64 lowercase hex
	Offset int64  // accept, ack
	Reason string // decline, cancel, done with OK false
	OK     bool   // done
}

// fileWire is the JSON of every file message (encoding side: the field
// set per type is fixed by fileJSON).
func (m FileControl) fileJSON() any {
	switch m.Type {
	case FileOffer:
		return struct {
			Type   string `json:"type"`
			ID     string `json:"id"`
			Name   string `json:"name"`
			Size   int64  `json:"size"`
			SHA256 string `json:"sha256"`
		}{m.Type.String(), m.ID, m.Name, m.Size, m.SHA256}
	case FileAccept, FileAck:
		return struct {
			Type   string `json:"type"`
			ID     string `json:"id"`
			Offset int64  `json:"offset"`
		}{m.Type.String(), m.ID, m.Offset}
	case FileDecline, FileCancel:
		return struct {
			Type   string `json:"type"`
			ID     string `json:"id"`
			Reason string `json:"reason"`
		}{m.Type.String(), m.ID, m.Reason}
	case FileDone:
		return struct {
			Type   string `json:"type"`
			ID     string `json:"id"`
			OK     bool   `json:"ok"`
			Reason string `json:"reason,omitempty"`
		}{m.Type.String(), m.ID, m.OK, m.Reason}
	}
	return nil
}

// EncodeFileControl validates m and returns its JSON text.
func EncodeFileControl(m FileControl) ([]byte, error) {
	if err := m.validate(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(m.fileJSON())
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", m.Type, err)
	}
	return b, nil
}

// validate applies the protocol's bounds; errors wrap ErrBadMessage and
// carry no part of the message.
func (m FileControl) validate() error {
	bad := func(why string) error { return fmt.Errorf("%w: %s %s", ErrBadMessage, m.Type, why) }
	if _, ok := fileMsgNames[m.Type]; !ok {
		return fmt.Errorf("%w: unknown file message type", ErrBadMessage)
	}
	if !ValidFileID(m.ID) {
		return bad("without a valid id")
	}
	switch m.Type {
	case FileOffer:
		switch {
		case !utf8.ValidString(m.Name) || len(m.Name) > MaxFileNameBytes:
			return bad("name not UTF-8 or too long")
		case m.Size < 0 || m.Size > MaxFileSize:
			return bad("size out of range")
		case !isLowerHex(m.SHA256, 64):
			return bad("sha256 not 64 lowercase hex")
		}
	case FileAccept, FileAck:
		if m.Offset < 0 || m.Offset > MaxFileSize {
			return bad("offset out of range")
		}
	case FileDecline, FileCancel:
		if !validReason(m.Reason) {
			return bad("reason missing or malformed")
		}
	case FileDone:
		if !m.OK && !validReason(m.Reason) {
			return bad("not ok without a reason")
		}
		if m.OK && m.Reason != "" && !validReason(m.Reason) {
			return bad("reason malformed")
		}
	}
	return nil
}

// ValidFileID reports whether id is a transfer id: 32 lowercase hex.
func ValidFileID(id string) bool { return isLowerHex(id, 32) }

func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// validReason accepts the protocol's reason words and unknown ones of the
// same shape (a newer peer's): lowercase letters and '-', bounded.
func validReason(r string) bool {
	if r == "" || len(r) > maxFileReason {
		return false
	}
	return strings.Trim(r, "abcdefghijklmnopqrstuvwxyz-") == ""
}

// fileFields are the file messages' fields in the data message union.
type fileFields struct {
	ID     string  `json:"id,omitempty"`
	Name   *string `json:"name,omitempty"`
	Size   *int64  `json:"size,omitempty"`
	SHA256 string  `json:"sha256,omitempty"`
	Offset *int64  `json:"offset,omitempty"`
	Reason string  `json:"reason,omitempty"`
	OK     *bool   `json:"ok,omitempty"`
}

// decodeFile builds a FileControl from the union; typ is known to be a
// file message type.
func decodeFile(typ FileMsgType, w *dataWire) (FileControl, error) {
	m := FileControl{Type: typ, ID: w.ID, SHA256: w.SHA256, Reason: w.Reason}
	missing := func(what string) error {
		return &FileMessageError{Type: typ, ID: readableID(w.ID), Problem: what + " missing"}
	}
	switch typ {
	case FileOffer:
		if w.Name == nil || w.Size == nil {
			return m, missing("name or size")
		}
		m.Name, m.Size = *w.Name, *w.Size
	case FileAccept, FileAck:
		if w.Offset == nil {
			return m, missing("offset")
		}
		m.Offset = *w.Offset
	case FileDone:
		if w.OK == nil {
			return m, missing("ok")
		}
		m.OK = *w.OK
	}
	if err := m.validate(); err != nil {
		return m, &FileMessageError{Type: typ, ID: readableID(w.ID), Problem: "out of bounds"}
	}
	return m, nil
}

func readableID(id string) string {
	if ValidFileID(id) {
		return id
	}
	return ""
}

// FileMessageError is a malformed file control message. It says what was
// wrong without any of the message's content; ID is the transfer id when
// it was readable (a bad offer is then declined with bad-offer).
type FileMessageError struct {
	Type    FileMsgType
	ID      string
	Problem string
}

func (e *FileMessageError) Error() string {
	return fmt.Sprintf("%v: %s %s", ErrBadMessage, e.Type, e.Problem)
}

// Unwrap makes errors.Is(err, ErrBadMessage) hold.
func (e *FileMessageError) Unwrap() error { return ErrBadMessage }

// SendFileControl sends a file control message on the chat channel. Safe
// from any goroutine.
func (s *Session) SendFileControl(m FileControl) error {
	b, err := EncodeFileControl(m)
	if err != nil {
		return err
	}
	dc := s.dcPtr.Load()
	if dc == nil || dc.ReadyState() != webrtc.DataChannelStateOpen {
		return ErrChatUnavailable
	}
	if err := dc.SendText(string(b)); err != nil {
		return fmt.Errorf("send %s: %w", m.Type, err)
	}
	return nil
}

// OpenFileChannel opens the data channel of transfer id (ordered,
// reliable). Wait for it with WaitOpen before sending.
func (s *Session) OpenFileChannel(id string) (*FileChannel, error) {
	if !ValidFileID(id) {
		return nil, fmt.Errorf("%w: bad transfer id", ErrInvalidConfig)
	}
	var fc *FileChannel
	err := s.call(func() error {
		if s.pc == nil || s.state.Terminal() {
			return ErrClosed
		}
		ordered := true
		dc, err := s.pc.CreateDataChannel(FileLabelPrefix+id, &webrtc.DataChannelInit{Ordered: &ordered})
		if err != nil {
			return fmt.Errorf("%w: %w", ErrFileChannel, err)
		}
		fc = newFileChannel(dc, id)
		return nil
	})
	return fc, err
}

// onFileChannel takes a "file:" channel the peer opened: bound at once
// (pion drops messages that arrive before a handler is set) and published
// for the engine, which closes it unless it accepted that id.
func (s *Session) onFileChannel(dc *webrtc.DataChannel) {
	id := strings.TrimPrefix(dc.Label(), FileLabelPrefix)
	if !ValidFileID(id) {
		s.log.Info("file channel with a malformed label closed")
		_ = dc.Close()
		return
	}
	fc := newFileChannel(dc, id)
	s.q.push(func() { s.publish(Update{Kind: UpdateFileChannel, FileChannel: fc}) })
}

// Flow control of file channels: Send waits while more than fileHighWater
// bytes are queued, until the queue drains to fileLowWater (measured:
// BenchmarkFileTransfer in app).
var (
	fileHighWater uint64 = 4 << 20
	fileLowWater  uint64 = 1 << 20
)

// SetFileWatermarks sets the flow control of file channels opened from now
// on (benchmarks) and returns the previous values.
func SetFileWatermarks(high, low uint64) (oldHigh, oldLow uint64) {
	fileFlowMu.Lock()
	defer fileFlowMu.Unlock()
	oldHigh, oldLow = fileHighWater, fileLowWater
	fileHighWater, fileLowWater = high, low
	return oldHigh, oldLow
}

var fileFlowMu sync.Mutex

func fileWatermarks() (high, low uint64) {
	fileFlowMu.Lock()
	defer fileFlowMu.Unlock()
	return fileHighWater, fileLowWater
}

// fileRecvQueue is how many received chunks a FileChannel holds before
// its reader takes them; past it, SCTP's receive window fills.
const fileRecvQueue = 16

// FileInFlightMax is the most bytes of one file channel that can have left
// the sender's Send and not yet come out of the receiver's Recv: the
// sender's queue up to the high watermark plus one chunk, the SCTP
// receive window (udpBuffer), and the receiving channel's queue plus the
// chunk a blocked delivery holds. A receiver that dies loses at most this
// much; a resumed transfer sends it again.
func FileInFlightMax() int64 {
	high, _ := fileWatermarks()
	return int64(high) + MaxFileChunk + udpBuffer + (fileRecvQueue+1)*MaxFileChunk
}

// FileChannel is one transfer's data channel: binary chunks in order,
// flow-controlled on the sending side.
type FileChannel struct {
	dc          *webrtc.DataChannel
	id          string
	highW, lowW uint64

	in     chan []byte
	open   chan struct{}
	closed chan struct{} // the channel closed (peer, path or us)
	gone   chan struct{} // we closed it: stop queueing
	low    chan struct{}

	openOnce, closedOnce, goneOnce sync.Once
}

func newFileChannel(dc *webrtc.DataChannel, id string) *FileChannel {
	f := &FileChannel{
		dc: dc, id: id,
		in:     make(chan []byte, fileRecvQueue),
		open:   make(chan struct{}),
		closed: make(chan struct{}),
		gone:   make(chan struct{}),
		low:    make(chan struct{}, 1),
	}
	f.highW, f.lowW = fileWatermarks()
	dc.SetBufferedAmountLowThreshold(f.lowW)
	dc.OnBufferedAmountLow(func() {
		select {
		case f.low <- struct{}{}:
		default:
		}
	})
	dc.OnOpen(func() { f.openOnce.Do(func() { close(f.open) }) })
	// Messages and the close come from one pion goroutine, in order: when
	// closed is closed, every message is already in f.in. Blocking here
	// is the back-pressure (the SCTP window fills).
	dc.OnMessage(func(m webrtc.DataChannelMessage) {
		if m.IsString || len(m.Data) == 0 {
			return // binary chunks only
		}
		select {
		case f.in <- m.Data:
		case <-f.gone:
		}
	})
	dc.OnClose(func() { f.closedOnce.Do(func() { close(f.closed) }) })
	if dc.ReadyState() == webrtc.DataChannelStateOpen {
		f.openOnce.Do(func() { close(f.open) })
	}
	return f
}

// ID is the transfer id from the channel's label.
func (f *FileChannel) ID() string { return f.id }

// WaitOpen waits until the channel is open.
func (f *FileChannel) WaitOpen(ctx context.Context) error {
	select {
	case <-f.open:
		return nil
	case <-f.closed:
		return fmt.Errorf("%w: closed before it opened", ErrFileChannel)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Recv returns the next chunk; io.EOF once the channel closed and every
// chunk that came before was returned.
func (f *FileChannel) Recv(ctx context.Context) ([]byte, error) {
	select {
	case b := <-f.in:
		return b, nil
	default:
	}
	select {
	case b := <-f.in:
		return b, nil
	case <-f.closed:
		select {
		case b := <-f.in:
			return b, nil
		default:
			return nil, io.EOF
		}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Send queues one chunk (1..MaxFileChunk bytes), first waiting while too
// much is queued already.
func (f *FileChannel) Send(ctx context.Context, b []byte) error {
	if len(b) == 0 || len(b) > MaxFileChunk {
		return fmt.Errorf("%w: chunk of %d bytes", ErrFileChannel, len(b))
	}
	for f.dc.BufferedAmount() > f.highW {
		if err := f.waitLow(ctx); err != nil {
			return err
		}
	}
	if err := f.dc.Send(b); err != nil {
		return fmt.Errorf("%w: %w", ErrFileChannel, err)
	}
	return nil
}

func (f *FileChannel) waitLow(ctx context.Context) error {
	select {
	case <-f.low:
		return nil
	case <-f.closed:
		return fmt.Errorf("%w: closed", ErrFileChannel)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Flush waits until everything queued has left (the last byte is sent
// before the channel closes).
func (f *FileChannel) Flush(ctx context.Context) error {
	for f.dc.BufferedAmount() > 0 {
		select {
		case <-f.closed:
			return fmt.Errorf("%w: closed", ErrFileChannel)
		case <-ctx.Done():
			return ctx.Err()
		case <-f.low:
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// Close closes the channel (both ways) and stops queueing what arrives.
func (f *FileChannel) Close() error {
	f.goneOnce.Do(func() { close(f.gone) })
	if err := f.dc.Close(); err != nil {
		return fmt.Errorf("%w: %w", ErrFileChannel, err)
	}
	return nil
}

// Closed is closed once the channel has closed.
func (f *FileChannel) Closed() <-chan struct{} { return f.closed }
