package app

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/peercall/peercall/call"
)

// The file transfer engine (docs/protocol.md, "File transfer"): one
// fileHub per call holds every transfer, both ways, keyed by transfer id;
// each transfer is with one peer. Control messages and incoming channels
// arrive from the conference's goroutine; sending and receiving bytes run
// on one goroutine per active transfer; all state is under hub.mu.

// Tunables of the engine.
const (
	fileChunk       = 64 << 10 // bytes per data channel message (≤ call.MaxFileChunk)
	fileAckEvery    = 1 << 20  // the receiver acks at least this often
	fileProgressGap = 200 * time.Millisecond
	fileRejoinWait  = 10 * time.Minute // a sender waits this long for a peer to come back
	fileOpenTimeout = 20 * time.Second
	partialDirName  = ".peercall-partial"
)

// fileChunkSize is the bytes per data channel message (≤ call.MaxFileChunk),
// picked by BenchmarkFileTransfer.
var fileChunkSize = 64 << 10

// fileLink is how the hub reaches one peer (*call.Session).
type fileLink interface {
	SendFileControl(call.FileControl) error
	OpenFileChannel(id string) (*call.FileChannel, error)
}

// filePeer is one peer the hub can talk to.
type filePeer struct {
	id, name string
	link     fileLink
}

// fileEvent drives a transfer's state (fileNext).
type fileEvent int

const (
	fileEvAccept  fileEvent = iota + 1 // accepted (either side learns it)
	fileEvDrop                         // the peer or the channel went away
	fileEvReoffer                      // offered again after a drop
	fileEvDone                         // verified and in place
	fileEvFail                         // hash mismatch, disk or read error, bad data
	fileEvCancel                       // either side canceled
	fileEvDecline                      // the receiver declined
)

func (e fileEvent) String() string {
	switch e {
	case fileEvAccept:
		return "accept"
	case fileEvDrop:
		return "drop"
	case fileEvReoffer:
		return "reoffer"
	case fileEvDone:
		return "done"
	case fileEvFail:
		return "fail"
	case fileEvCancel:
		return "cancel"
	case fileEvDecline:
		return "decline"
	}
	return fmt.Sprintf("fileEvent(%d)", int(e))
}

// fileNext is the transfer state machine: the state after ev in cur, or
// an error wrapping ErrFileState.
func fileNext(cur FileState, ev fileEvent) (FileState, error) {
	switch {
	case cur.Terminal():
	case ev == fileEvCancel:
		return FileCanceled, nil
	case ev == fileEvFail:
		return FileFailed, nil
	case cur == FilePending && ev == fileEvAccept:
		return FileActive, nil
	case cur == FilePending && ev == fileEvDecline:
		return FileDeclined, nil
	case (cur == FilePending || cur == FileActive) && ev == fileEvDrop:
		return FilePaused, nil
	case cur == FilePaused && ev == fileEvReoffer:
		return FilePending, nil
	case cur == FilePaused && ev == fileEvAccept: // a resume accepted at once
		return FileActive, nil
	case cur == FileActive && ev == fileEvDone:
		return FileDone, nil
	}
	return cur, fmt.Errorf("%w: %s in %s", ErrFileState, ev, cur)
}

// transfer is one file, one way, with one peer.
type transfer struct {
	id       string
	out      bool
	peer     *filePeer // nil while an outgoing one waits for its peer to return
	peerName string
	name     string // outgoing: as offered; incoming: sanitised
	size     int64
	sha      string // outgoing: "" while hashing
	src      string // outgoing: the file
	dir      string // incoming: the download folder
	path     string // incoming, done: where it is
	state    FileState
	errMsg   string
	hashOK   *bool

	bytes       int64 // the offset reached: sent (outgoing) / written (incoming)
	moved       int64 // bytes this side put on or took off channels, all attempts
	resumedFrom int64 // the offset of the latest accept
	confirmed   int64 // outgoing: the last ack
	offerSent   bool
	accepted    bool      // incoming: its channel may come
	running     bool      // a goroutine moves its bytes
	waitUntil   time.Time // outgoing paused: give up then
	started     time.Time // first byte moment
	activeFor   time.Duration
	activeSince time.Time
	stop        context.CancelFunc

	// incoming, while accepted
	file *os.File
	sum  hash.Hash

	rate     rateMeter
	lastEmit int64
}

// fileHub runs one call's transfers.
type fileHub struct {
	log  *slog.Logger
	emit func(FileView)

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	policy   FilePolicy
	peers    map[string]*filePeer
	xfers    map[string]*transfer
	order    []*transfer
	autoSend []string        // headless --send-file: offered to each peer name once
	sentTo   map[string]bool // peer names autoSend went to
	// early holds file messages from a peer whose path the hub has not
	// been told is up: its chat channel can open, and its offer arrive,
	// before the session's connected state is handled. PeerUp replays
	// them, PeerDown drops them; at most earlyMax per peer.
	early  map[string][]call.FileControl
	closed bool
}

// earlyMax bounds the file messages held for a peer not yet up: an offer
// per file a sender has queued, at most.
const earlyMax = 16

func newFileHub(log *slog.Logger, policy FilePolicy, autoSend []string, emit func(FileView)) *fileHub {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if emit == nil {
		emit = func(FileView) {}
	}
	h := &fileHub{log: log, emit: emit, policy: policy, peers: map[string]*filePeer{}, xfers: map[string]*transfer{},
		autoSend: autoSend, sentTo: map[string]bool{}, early: map[string][]call.FileControl{}}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	h.wg.Add(1)
	go h.tick()
	return h
}

// Close stops every transfer's goroutine and waits. Incomplete incoming
// files stay as partial files (a later offer resumes them).
func (h *fileHub) Close() {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	h.cancel()
	h.wg.Wait()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, t := range h.order {
		t.closeFile()
	}
}

// SetPolicy changes where the next offers go and how large they may be.
func (h *fileHub) SetPolicy(p FilePolicy) {
	h.mu.Lock()
	h.policy = p
	h.mu.Unlock()
}

// tick emits progress at most every fileProgressGap per transfer, resends
// offers the chat channel was not ready for and expires waits.
func (h *fileHub) tick() {
	defer h.wg.Done()
	t := time.NewTicker(fileProgressGap)
	defer t.Stop()
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		var views []FileView
		var offers []*transfer
		h.mu.Lock()
		for _, x := range h.order {
			switch {
			case x.state == FileActive && x.bytes != x.lastEmit:
				x.rate.add(now, x.bytes)
				views = append(views, x.viewLocked())
			case x.state == FilePaused && x.out && !x.waitUntil.IsZero() && now.After(x.waitUntil):
				x.errMsg = "The other person did not come back."
				if h.setLocked(x, fileEvFail) {
					views = append(views, x.viewLocked())
				}
			case x.out && x.state == FilePending && !x.offerSent && x.sha != "" && x.peer != nil:
				offers = append(offers, x)
			}
		}
		h.mu.Unlock()
		for _, v := range views {
			h.emit(v)
		}
		for _, x := range offers {
			h.offer(x)
		}
	}
}

// setLocked applies ev; false (logged) when the state does not allow it.
func (h *fileHub) setLocked(t *transfer, ev fileEvent) bool {
	nxt, err := fileNext(t.state, ev)
	if err != nil {
		h.log.Debug("file event ignored", "err", err)
		return false
	}
	now := time.Now()
	if t.state == FileActive && nxt != FileActive && !t.activeSince.IsZero() {
		t.activeFor += now.Sub(t.activeSince)
		t.activeSince = time.Time{}
	}
	if nxt == FileActive {
		t.activeSince = now
		if t.started.IsZero() {
			t.started = now
		}
	}
	h.log.Info("file transfer", "id", t.id, "outgoing", t.out, "from", t.state.String(), "to", nxt.String(), "event", ev.String())
	t.state = nxt
	if nxt.Terminal() || nxt == FilePaused {
		if t.stop != nil {
			t.stop()
		}
		t.accepted = false
	}
	if nxt.Terminal() {
		t.waitUntil = time.Time{}
	}
	return true
}

// spawn runs f on a goroutine Close waits for.
func (h *fileHub) spawn(f func()) {
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		f()
	}()
}

// change applies ev to t under the lock and emits the view.
func (h *fileHub) change(t *transfer, f func(), ev fileEvent) {
	h.mu.Lock()
	if f != nil {
		f()
	}
	ok := h.setLocked(t, ev)
	v := t.viewLocked()
	h.mu.Unlock()
	if ok {
		h.emit(v)
	}
}

func (t *transfer) viewLocked() FileView {
	t.lastEmit = t.bytes
	v := FileView{ID: t.id, Outgoing: t.out, PeerName: t.peerName, Name: t.name, Size: t.size, Bytes: t.bytes,
		State: t.state, Error: t.errMsg, Path: t.path}
	if t.peer != nil {
		v.PeerID = t.peer.id
	}
	if t.state == FileActive {
		v.Rate = t.rate.rate()
		if v.Rate > 0 {
			v.ETA = time.Duration(float64(t.size-t.bytes) / v.Rate * float64(time.Second))
		}
	}
	return v
}

// Views lists every transfer (for reports and tests).
func (h *fileHub) Views() []FileView {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]FileView, 0, len(h.order))
	for _, t := range h.order {
		out = append(out, t.viewLocked())
	}
	return out
}

// FileReport is one transfer in the headless report.
type FileReport struct {
	ID        string `json:"id"`
	Direction string `json:"direction"` // send | receive
	Peer      string `json:"peer"`      // the peer's display name
	Name      string `json:"name"`      // as offered (send) / as saved (receive)
	Size      int64  `json:"size"`
	// Bytes this side put on (send) or took off (receive) the data
	// channels, over every attempt: for a sender whose first accept was at
	// offset 0, bytes - size were sent twice (a resume sends again what an
	// earlier attempt sent past the receiver's offset). A first accept at
	// a partial file an earlier run left counts from that offset only.
	Bytes       int64   `json:"bytes"`
	ResumedFrom int64   `json:"resumed_from"`
	DurationS   float64 `json:"duration_s"` // time spent active
	MbitS       float64 `json:"mbit_s"`     // bytes over duration_s
	SHA256OK    *bool   `json:"sha256_ok"`  // null until checked
	State       string  `json:"state"`
	Error       string  `json:"error,omitempty"`
}

// Reports lists every transfer for the headless report.
func (h *fileHub) Reports() []FileReport {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]FileReport, 0, len(h.order))
	now := time.Now()
	for _, t := range h.order {
		d := t.activeFor
		if !t.activeSince.IsZero() {
			d += now.Sub(t.activeSince)
		}
		r := FileReport{ID: t.id, Direction: "receive", Peer: t.peerName, Name: t.name, Size: t.size, Bytes: t.moved,
			ResumedFrom: t.resumedFrom, DurationS: round3(d.Seconds()), SHA256OK: t.hashOK, State: t.state.String(), Error: t.errMsg}
		if t.out {
			r.Direction = "send"
		}
		if d > 0 {
			r.MbitS = round3(float64(t.moved) * 8 / d.Seconds() / 1e6)
		}
		out = append(out, r)
	}
	return out
}

func round3(x float64) float64 { return float64(int64(x*1000+0.5)) / 1000 }

// failed lists the transfers a headless run counts as failed: any that
// did not end done, except offers this side declined by its policy.
func (h *fileHub) failed() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, t := range h.order {
		if t.state == FileDone || (!t.out && t.state == FileDeclined) {
			continue
		}
		dir := "receiving"
		if t.out {
			dir = "sending"
		}
		why := t.errMsg
		if why == "" {
			why = "ended " + t.state.String()
		}
		out = append(out, fmt.Sprintf("%s %s: %s", dir, t.id, why))
	}
	return out
}

// busy reports whether a transfer still runs or waits.
func (h *fileHub) busy() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, t := range h.order {
		if !t.state.Terminal() && (t.out || t.accepted || t.state == FilePaused) {
			return true
		}
	}
	return false
}

// waitingForPeer reports whether an outgoing transfer waits for its peer
// to come back (the call should not end yet).
func (h *fileHub) waitingForPeer() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, t := range h.order {
		if t.out && t.state == FilePaused && !t.waitUntil.IsZero() {
			return true
		}
	}
	return false
}

// ---- peers ----

// PeerUp: p's session connected. Transfers waiting for a person of that
// name (or that peer) are offered again; headless files go out once.
func (h *fileHub) PeerUp(p *filePeer) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	if old := h.peers[p.id]; old != nil {
		p = old // a reconnect: the transfers keep their peer
	} else {
		h.peers[p.id] = p
	}
	var views []FileView
	for _, t := range h.order {
		if !t.out || t.state != FilePaused {
			continue
		}
		if (t.peer != nil && t.peer.id == p.id) || (t.peer == nil && t.peerName == p.name) {
			t.peer, t.peerName = p, p.name
			t.offerSent = false
			t.waitUntil = time.Time{}
			if h.setLocked(t, fileEvReoffer) {
				views = append(views, t.viewLocked())
			}
		}
	}
	var auto []string
	if len(h.autoSend) > 0 && !h.sentTo[p.name] {
		h.sentTo[p.name] = true
		auto = h.autoSend
	}
	early := h.early[p.id]
	delete(h.early, p.id)
	h.mu.Unlock()
	for _, v := range views {
		h.emit(v)
	}
	for _, path := range auto {
		if err := h.send(path, []*filePeer{p}); err != nil {
			h.log.Warn("file not offered", "err", err)
		}
	}
	for _, m := range early {
		h.OnControl(p.id, m)
	}
}

// PeerDown: p's session ended. Its transfers pause; outgoing ones wait
// fileRejoinWait for a person of the same name.
func (h *fileHub) PeerDown(id string) {
	h.mu.Lock()
	delete(h.peers, id)
	delete(h.early, id)
	var views []FileView
	for _, t := range h.order {
		if t.peer == nil || t.peer.id != id || t.state.Terminal() {
			continue
		}
		if t.state == FilePaused || h.setLocked(t, fileEvDrop) {
			if t.out {
				t.peer = nil
				t.waitUntil = time.Now().Add(fileRejoinWait)
			}
			views = append(views, t.viewLocked())
		}
	}
	h.mu.Unlock()
	for _, v := range views {
		h.emit(v)
	}
}

func (h *fileHub) livePeers() []*filePeer {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*filePeer, 0, len(h.peers))
	for _, p := range h.peers {
		out = append(out, p)
	}
	return out
}

// ---- sending ----

// SendFile offers the file at path to every connected peer.
func (h *fileHub) SendFile(path string) error {
	peers := h.livePeers()
	if len(peers) == 0 {
		return &UserError{Msg: "Nobody is connected to send the file to.", Err: ErrFileUnavailable}
	}
	return h.send(path, peers)
}

func (h *fileHub) send(path string, peers []*filePeer) error {
	fi, err := os.Stat(path)
	if err != nil {
		return &UserError{Msg: "Cannot send that file: " + diskProblem(err), Err: fmt.Errorf("%w: %w", ErrFileSource, err)}
	}
	if !fi.Mode().IsRegular() {
		return &UserError{Msg: "Only regular files can be sent, not folders or devices.", Err: ErrFileSource}
	}
	if fi.Size() > call.MaxFileSize {
		return &UserError{Msg: "That file is too large to send.", Err: ErrFileSource}
	}
	name := offeredName(filepath.Base(path))
	var ts []*transfer
	h.mu.Lock()
	for _, p := range peers {
		t := &transfer{id: newFileID(), out: true, peer: p, peerName: p.name, name: name, size: fi.Size(), src: path, state: FilePending}
		h.xfers[t.id] = t
		h.order = append(h.order, t)
		ts = append(ts, t)
	}
	h.mu.Unlock()
	for _, t := range ts {
		h.mu.Lock()
		v := t.viewLocked()
		h.mu.Unlock()
		h.emit(v)
	}
	h.spawn(func() {
		sum, err := hashFile(h.ctx, path)
		h.mu.Lock()
		for _, t := range ts {
			if err == nil {
				t.sha = sum
			}
		}
		h.mu.Unlock()
		for _, t := range ts {
			if err != nil {
				h.change(t, func() { t.errMsg = "Cannot read the file: " + diskProblem(err) }, fileEvFail)
				continue
			}
			h.offer(t)
		}
	})
	return nil
}

// offeredName is the base name cut to the wire limit at a rune boundary.
func offeredName(name string) string {
	for len(name) > call.MaxFileNameBytes {
		_, n := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-n]
	}
	return name
}

func newFileID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func hashFile(ctx context.Context, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	buf := make([]byte, 1<<20)
	for {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		n, err := f.Read(buf)
		h.Write(buf[:n])
		if err == io.EOF {
			return hex.EncodeToString(h.Sum(nil)), nil
		}
		if err != nil {
			return "", err
		}
	}
}

// offer sends t's offer; a chat channel not open yet is retried by tick.
func (h *fileHub) offer(t *transfer) {
	h.mu.Lock()
	p := t.peer
	m := call.FileControl{Type: call.FileOffer, ID: t.id, Name: t.name, Size: t.size, SHA256: t.sha}
	ok := p != nil && t.state == FilePending && t.sha != "" && !t.offerSent
	if ok {
		t.offerSent = true
	}
	h.mu.Unlock()
	if !ok {
		return
	}
	if err := p.link.SendFileControl(m); err != nil {
		h.log.Debug("offer not sent yet", "err", err)
		h.mu.Lock()
		t.offerSent = false
		h.mu.Unlock()
	}
}

// onAccept starts sending from the receiver's offset.
func (h *fileHub) onAccept(p *filePeer, t *transfer, off int64) {
	h.mu.Lock()
	if t.peer != p || t.state != FilePending || t.running {
		h.mu.Unlock()
		return
	}
	if off > t.size {
		h.mu.Unlock()
		h.sendCtl(p, call.FileControl{Type: call.FileCancel, ID: t.id, Reason: call.FileReasonBadOffer})
		h.change(t, func() { t.errMsg = "The other side answered with a bad offset." }, fileEvFail)
		return
	}
	ctx, cancel := context.WithCancel(h.ctx)
	t.stop, t.running = cancel, true
	t.bytes, t.confirmed, t.resumedFrom = off, off, off
	t.rate = rateMeter{}
	h.setLocked(t, fileEvAccept)
	v := t.viewLocked()
	h.mu.Unlock()
	h.emit(v)
	h.spawn(func() {
		defer cancel()
		h.sendLoop(ctx, p, t, off)
	})
}

func (h *fileHub) sendLoop(ctx context.Context, p *filePeer, t *transfer, off int64) {
	defer func() {
		h.mu.Lock()
		t.running = false
		h.mu.Unlock()
	}()
	f, err := os.Open(t.src)
	if err != nil {
		h.sendCtl(p, call.FileControl{Type: call.FileCancel, ID: t.id, Reason: call.FileReasonReadError})
		h.change(t, func() { t.errMsg = "Cannot read the file: " + diskProblem(err) }, fileEvFail)
		return
	}
	defer f.Close()
	fc, err := p.link.OpenFileChannel(t.id)
	if err == nil {
		octx, ocancel := context.WithTimeout(ctx, fileOpenTimeout)
		err = fc.WaitOpen(octx)
		ocancel()
		defer fc.Close()
	}
	if err != nil {
		h.dropped(ctx, t, err)
		return
	}
	buf := make([]byte, fileChunkSize)
	for off < t.size {
		n, rerr := f.ReadAt(buf[:min(int64(len(buf)), t.size-off)], off)
		if n > 0 {
			if err := fc.Send(ctx, buf[:n]); err != nil {
				h.dropped(ctx, t, err)
				return
			}
			off += int64(n)
			h.mu.Lock()
			t.bytes = off
			t.moved += int64(n)
			h.mu.Unlock()
		}
		if rerr != nil && !(rerr == io.EOF && off == t.size) {
			if rerr == io.EOF {
				rerr = errors.New("the file got shorter")
			}
			h.sendCtl(p, call.FileControl{Type: call.FileCancel, ID: t.id, Reason: call.FileReasonReadError})
			h.change(t, func() { t.errMsg = "Cannot read the file: " + diskProblem(rerr) }, fileEvFail)
			return
		}
	}
	if err := fc.Flush(ctx); err != nil {
		// Every byte is queued: a receiver that has them all closes the
		// channel itself. Its file-done (or a PeerDown) decides.
		h.log.Debug("file channel closed while flushing", "id", t.id, "err", err)
	}
	// Closed by the defer: the receiver sees the end, checks the hash and
	// answers file-done.
}

// dropped handles a channel that failed under a sender: paused, and
// offered again while the peer is still there.
func (h *fileHub) dropped(ctx context.Context, t *transfer, err error) {
	if ctx.Err() != nil {
		return // canceled, or the peer went (PeerDown paused it)
	}
	h.log.Info("file channel lost", "id", t.id, "err", err)
	h.change(t, func() {}, fileEvDrop)
	h.mu.Lock()
	if t.peer != nil && h.peers[t.peer.id] == t.peer && h.setLocked(t, fileEvReoffer) {
		t.offerSent = false // tick offers it again
	}
	h.mu.Unlock()
}

func (h *fileHub) sendCtl(p *filePeer, m call.FileControl) {
	if p == nil {
		return
	}
	if err := p.link.SendFileControl(m); err != nil {
		h.log.Debug("file message not sent", "type", m.Type.String(), "err", err)
	}
}

// ---- control messages ----

// OnControl handles a file message from peer id.
func (h *fileHub) OnControl(peerID string, m call.FileControl) {
	h.mu.Lock()
	p := h.peers[peerID]
	t := h.xfers[m.ID]
	if p == nil {
		// Not up here yet: held until PeerUp (see early).
		held := !h.closed && len(h.early[peerID]) < earlyMax
		if held {
			h.early[peerID] = append(h.early[peerID], m)
		}
		h.mu.Unlock()
		if !held {
			h.log.Info("file message from a peer not connected dropped", "type", m.Type.String())
		}
		return
	}
	h.mu.Unlock()
	if m.Type == call.FileOffer {
		h.onOffer(p, m)
		return
	}
	if t == nil || t.peer != p {
		h.log.Debug("file message for an unknown transfer", "type", m.Type.String())
		return
	}
	switch {
	case t.out && m.Type == call.FileAccept:
		h.onAccept(p, t, m.Offset)
	case t.out && m.Type == call.FileAck:
		h.mu.Lock()
		if m.Offset <= t.size && m.Offset > t.confirmed {
			t.confirmed = m.Offset
		}
		h.mu.Unlock()
	case t.out && m.Type == call.FileDone && m.OK:
		h.change(t, func() { ok := true; t.hashOK = &ok; t.bytes = t.size }, fileEvDone)
	case t.out && m.Type == call.FileDone:
		h.change(t, func() {
			bad := false
			t.hashOK = &bad
			t.errMsg = "The file arrived damaged (checksum mismatch) and was not saved."
		}, fileEvFail)
	case t.out && m.Type == call.FileDecline:
		h.change(t, func() { t.errMsg = declineText(m.Reason) }, fileEvDecline)
	case m.Type == call.FileCancel:
		if m.Reason == call.FileReasonCanceled {
			h.change(t, func() { t.errMsg = "Canceled by the other person." }, fileEvCancel)
		} else {
			h.change(t, func() { t.errMsg = cancelText(m.Reason) }, fileEvFail)
		}
		if !t.out {
			h.removePartial(t)
		}
	}
}

func declineText(reason string) string {
	switch reason {
	case call.FileReasonDeclined:
		return "Declined."
	case call.FileReasonTooLarge:
		return "Declined: the file is larger than the other side accepts."
	case call.FileReasonNoFolder:
		return "Declined: the other side has no download folder."
	case call.FileReasonBusy:
		return "Declined: the other side is already receiving this file."
	case call.FileReasonBadOffer:
		return "Declined: the other side could not read the offer."
	}
	return "Declined."
}

func cancelText(reason string) string {
	switch reason {
	case call.FileReasonTooMuchData:
		return "Stopped: more data arrived than the file's size."
	case call.FileReasonWriteError:
		return "Stopped: the other side could not write the file."
	case call.FileReasonReadError:
		return "Stopped: the sender could not read the file."
	case call.FileReasonBadOffer:
		return "Stopped: the transfer was malformed."
	}
	return "Stopped by the other side."
}

// ---- receiving ----

// partialPath is where an incomplete file with this hash and size lives.
func partialPath(dir, sha string, size int64) string {
	return filepath.Join(dir, partialDirName, sha+"-"+strconv.FormatInt(size, 10)+".part")
}

func (h *fileHub) onOffer(p *filePeer, m call.FileControl) {
	decline := func(reason string) {
		h.sendCtl(p, call.FileControl{Type: call.FileDecline, ID: m.ID, Reason: reason})
	}
	h.mu.Lock()
	pol := h.policy
	if old := h.xfers[m.ID]; old != nil {
		// The same id again: a re-offer after a drop resumes it.
		if old.out || old.sha != m.SHA256 || old.size != m.Size || (old.state != FilePaused && old.state != FilePending) {
			h.mu.Unlock()
			decline(call.FileReasonBusy)
			return
		}
		old.peer, old.peerName = p, p.name
		h.mu.Unlock()
		h.resumeOrAsk(old)
		return
	}
	t := &transfer{id: m.ID, peer: p, peerName: p.name, name: SanitizeFileName(m.Name), size: m.Size, sha: m.SHA256,
		dir: pol.Dir, state: FilePending}
	var reason string
	switch {
	case pol.Dir == "":
		reason, t.errMsg = call.FileReasonNoFolder, "Declined: no download folder is set."
	case pol.MaxBytes > 0 && m.Size > pol.MaxBytes:
		reason, t.errMsg = call.FileReasonTooLarge, "Declined: larger than the limit of "+limitText(pol.MaxBytes)+"."
	case h.partialInUseLocked(pol.Dir, m.SHA256, m.Size):
		reason, t.errMsg = call.FileReasonBusy, "Declined: this file is already being received."
	}
	h.xfers[t.id] = t
	h.order = append(h.order, t)
	if reason != "" {
		t.state = FileDeclined
	}
	v := t.viewLocked()
	h.mu.Unlock()
	if reason != "" {
		h.log.Info("file offer declined", "id", t.id, "reason", reason)
		decline(reason)
		h.emit(v)
		return
	}
	h.emit(v)
	h.resumeOrAsk(t)
}

// limitText is a size limit exactly, in the largest binary unit that
// divides it (--max-file-size takes K and M too): "4096 MB", "512 KB".
func limitText(n int64) string {
	switch {
	case n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MB"
	case n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

func (h *fileHub) partialInUseLocked(dir, sha string, size int64) bool {
	for _, t := range h.order {
		if !t.out && !t.state.Terminal() && t.dir == dir && t.sha == sha && t.size == size {
			return true
		}
	}
	return false
}

// resumeOrAsk accepts at once when a partial file of this content is
// there (the user accepted it before) or the policy says so; else the
// offer waits for AcceptFile.
func (h *fileHub) resumeOrAsk(t *transfer) {
	h.mu.Lock()
	_, err := os.Stat(partialPath(t.dir, t.sha, t.size))
	auto := h.policy.AutoAccept || err == nil
	if t.state == FilePaused {
		h.setLocked(t, fileEvReoffer)
	}
	v := t.viewLocked()
	h.mu.Unlock()
	if auto {
		h.accept(t)
		return
	}
	h.emit(v)
}

// AcceptFile accepts a pending incoming offer.
func (h *fileHub) AcceptFile(id string) error {
	t, err := h.find(id)
	if err != nil {
		return err
	}
	h.mu.Lock()
	ok := !t.out && t.state == FilePending && !t.accepted
	h.mu.Unlock()
	if !ok {
		return &UserError{Msg: "That file can no longer be accepted.", Err: ErrFileState}
	}
	h.accept(t)
	return nil
}

// accept opens (or resumes) the partial file and tells the sender the
// offset, on a goroutine: re-hashing a large partial file takes a while.
func (h *fileHub) accept(t *transfer) {
	h.mu.Lock()
	if t.accepted || t.running {
		h.mu.Unlock()
		return
	}
	t.accepted = true
	h.mu.Unlock()
	h.spawn(func() {
		f, sum, off, err := openPartial(h.ctx, t.dir, t.sha, t.size)
		h.mu.Lock()
		p := t.peer
		if err != nil || t.state.Terminal() || !t.accepted {
			t.accepted = false
			h.mu.Unlock()
			if f != nil {
				_ = f.Close()
			}
			if err != nil && h.ctx.Err() == nil {
				h.sendCtl(p, call.FileControl{Type: call.FileCancel, ID: t.id, Reason: call.FileReasonWriteError})
				h.change(t, func() { t.errMsg = "Cannot save the file: " + diskProblem(err) }, fileEvFail)
			}
			return
		}
		t.closeFile()
		t.file, t.sum = f, sum
		t.bytes, t.resumedFrom = off, off
		t.rate = rateMeter{}
		ok := h.setLocked(t, fileEvAccept)
		v := t.viewLocked()
		h.mu.Unlock()
		if ok {
			h.emit(v)
		}
		h.sendCtl(p, call.FileControl{Type: call.FileAccept, ID: t.id, Offset: off})
	})
}

// openPartial opens the partial file of this content under dir, creating
// the folder, and hashes what it holds.
func openPartial(ctx context.Context, dir, sha string, size int64) (*os.File, hash.Hash, int64, error) {
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		if err == nil {
			err = errors.New("not a folder")
		}
		return nil, nil, 0, err
	}
	if err := os.MkdirAll(filepath.Join(dir, partialDirName), 0o700); err != nil {
		return nil, nil, 0, err
	}
	f, err := os.OpenFile(partialPath(dir, sha, size), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, 0, err
	}
	sum := sha256.New()
	n, err := io.Copy(sum, io.NewSectionReader(f, 0, size+1))
	if err == nil && n > size {
		// Longer than the file: not ours to trust; start over.
		sum.Reset()
		if err = f.Truncate(0); err == nil {
			n = 0
		}
	}
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		_ = f.Close()
		return nil, nil, 0, err
	}
	return f, sum, n, nil
}

func (t *transfer) closeFile() {
	if t.file != nil {
		_ = t.file.Close()
		t.file = nil
	}
}

// OnChannel takes a "file:" channel the peer opened: only for a transfer
// this side accepted from that peer, else closed at once.
func (h *fileHub) OnChannel(peerID string, fc *call.FileChannel) {
	h.mu.Lock()
	t := h.xfers[fc.ID()]
	ok := t != nil && !t.out && t.accepted && !t.running && t.file != nil && t.peer != nil && t.peer.id == peerID && t.state == FileActive
	var ctx context.Context
	if ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(h.ctx)
		t.stop, t.running = cancel, true
	}
	h.mu.Unlock()
	if !ok {
		h.log.Info("file channel not accepted here: closed")
		_ = fc.Close()
		return
	}
	h.spawn(func() {
		defer fc.Close()
		h.recvLoop(ctx, t, fc)
		h.mu.Lock()
		t.running = false
		h.mu.Unlock()
	})
}

func (h *fileHub) recvLoop(ctx context.Context, t *transfer, fc *call.FileChannel) {
	h.mu.Lock()
	f, sum, off, p := t.file, t.sum, t.bytes, t.peer
	h.mu.Unlock()
	acked := off
	fail := func(reason, msg string, err error) {
		h.log.Info("file transfer failed", "id", t.id, "reason", reason, "err", err)
		h.sendCtl(p, call.FileControl{Type: call.FileCancel, ID: t.id, Reason: reason})
		h.change(t, func() { t.errMsg = msg }, fileEvFail)
		h.removePartial(t)
	}
	for off < t.size {
		b, err := fc.Recv(ctx)
		if err != nil {
			if ctx.Err() == nil {
				// Closed before the end: kept as a partial file.
				h.change(t, func() { t.closeFile() }, fileEvDrop)
			}
			return
		}
		if int64(len(b)) > t.size-off {
			fail(call.FileReasonTooMuchData, "Stopped: the sender sent more than the file's size.", nil)
			return
		}
		if _, err := f.WriteAt(b, off); err != nil {
			fail(call.FileReasonWriteError, "Cannot save the file: "+diskProblem(err), err)
			return
		}
		sum.Write(b)
		off += int64(len(b))
		h.mu.Lock()
		t.bytes = off
		t.moved += int64(len(b))
		h.mu.Unlock()
		if off-acked >= fileAckEvery && off < t.size {
			acked = off
			h.sendCtl(p, call.FileControl{Type: call.FileAck, ID: t.id, Offset: off})
		}
	}
	h.sendCtl(p, call.FileControl{Type: call.FileAck, ID: t.id, Offset: off})
	h.finish(t, p, f, sum)
}

// finish checks the hash and moves the file into place.
func (h *fileHub) finish(t *transfer, p *filePeer, f *os.File, sum hash.Hash) {
	got := hex.EncodeToString(sum.Sum(nil))
	h.mu.Lock()
	t.file = nil
	h.mu.Unlock()
	cerr := f.Close()
	if got != t.sha {
		h.removePartial(t)
		h.sendCtl(p, call.FileControl{Type: call.FileDone, ID: t.id, Reason: call.FileReasonHashMismatch})
		h.change(t, func() {
			bad := false
			t.hashOK = &bad
			t.errMsg = "The file arrived damaged (checksum mismatch) and was not saved."
		}, fileEvFail)
		return
	}
	final, err := placeFile(partialPath(t.dir, t.sha, t.size), t.dir, t.name)
	if err == nil {
		err = cerr
	}
	if err != nil {
		h.removePartial(t)
		h.sendCtl(p, call.FileControl{Type: call.FileCancel, ID: t.id, Reason: call.FileReasonWriteError})
		h.change(t, func() { t.errMsg = "Cannot save the file: " + diskProblem(err) }, fileEvFail)
		return
	}
	h.sendCtl(p, call.FileControl{Type: call.FileDone, ID: t.id, OK: true})
	h.change(t, func() { ok := true; t.hashOK = &ok; t.path = final }, fileEvDone)
}

// placeFile moves the verified partial file into dir under name, or
// "name (1).ext", … when taken; never outside dir.
func placeFile(partial, dir, name string) (string, error) {
	dir = filepath.Clean(dir)
	for i := 0; i < 1000; i++ {
		n := name
		if i > 0 {
			n = numberedName(name, i)
		}
		final := filepath.Join(dir, n)
		if filepath.Dir(final) != dir || filepath.Base(final) != n {
			return "", fmt.Errorf("%w: name escapes the folder", ErrFileWrite)
		}
		// A hard link fails when the name is taken: no clobbering, no race.
		err := os.Link(partial, final)
		if err == nil {
			_ = os.Remove(partial)
			return final, nil
		}
		if errors.Is(err, os.ErrExist) {
			continue
		}
		// No hard links here: rename when the name is free.
		if _, serr := os.Lstat(final); errors.Is(serr, os.ErrNotExist) {
			if rerr := os.Rename(partial, final); rerr != nil {
				return "", rerr
			}
			return final, nil
		}
	}
	return "", fmt.Errorf("%w: too many files of that name", ErrFileWrite)
}

func (h *fileHub) removePartial(t *transfer) {
	h.mu.Lock()
	t.closeFile()
	dir := t.dir
	h.mu.Unlock()
	if dir == "" || t.sha == "" {
		return
	}
	if err := os.Remove(partialPath(dir, t.sha, t.size)); err != nil && !errors.Is(err, os.ErrNotExist) {
		h.log.Warn("partial file not removed", "err", err)
	}
}

// ---- user commands ----

func (h *fileHub) find(id string) (*transfer, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.xfers[id]
	if t == nil {
		return nil, &UserError{Msg: "No such file transfer.", Err: ErrUnknownFile}
	}
	return t, nil
}

// DeclineFile declines a pending incoming offer.
func (h *fileHub) DeclineFile(id string) error {
	t, err := h.find(id)
	if err != nil {
		return err
	}
	h.mu.Lock()
	ok := !t.out && t.state == FilePending && !t.accepted
	p := t.peer
	h.mu.Unlock()
	if !ok {
		return &UserError{Msg: "That file can no longer be declined.", Err: ErrFileState}
	}
	h.sendCtl(p, call.FileControl{Type: call.FileDecline, ID: t.id, Reason: call.FileReasonDeclined})
	h.change(t, func() { t.errMsg = "Declined." }, fileEvDecline)
	return nil
}

// CancelFile cancels a transfer either way; the peer is told.
func (h *fileHub) CancelFile(id string) error {
	t, err := h.find(id)
	if err != nil {
		return err
	}
	h.mu.Lock()
	p := t.peer
	done := t.state.Terminal()
	h.mu.Unlock()
	if done {
		return &UserError{Msg: "That transfer is already over.", Err: ErrFileState}
	}
	h.sendCtl(p, call.FileControl{Type: call.FileCancel, ID: t.id, Reason: call.FileReasonCanceled})
	h.change(t, func() { t.errMsg = "" }, fileEvCancel)
	if !t.out {
		h.removePartial(t)
	}
	return nil
}

// diskProblem says in plain words what went wrong with a file.
func diskProblem(err error) string {
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return "the disk is full."
	case errors.Is(err, os.ErrPermission), errors.Is(err, syscall.EROFS):
		return "permission denied."
	case errors.Is(err, os.ErrNotExist):
		return "it does not exist."
	case errors.Is(err, syscall.EISDIR):
		return "it is a folder."
	}
	return "an input/output error."
}

// rateMeter is bytes per second over the last few seconds.
type rateMeter struct {
	t []time.Time
	b []int64
}

const rateWindow = 3 * time.Second

func (r *rateMeter) add(now time.Time, bytes int64) {
	r.t = append(r.t, now)
	r.b = append(r.b, bytes)
	i := 0
	for i < len(r.t)-2 && now.Sub(r.t[i]) > rateWindow {
		i++
	}
	r.t, r.b = r.t[i:], r.b[i:]
}

func (r *rateMeter) rate() float64 {
	n := len(r.t)
	if n < 2 {
		return 0
	}
	dt := r.t[n-1].Sub(r.t[0]).Seconds()
	if dt <= 0 {
		return 0
	}
	return float64(r.b[n-1]-r.b[0]) / dt
}
