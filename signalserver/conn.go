package signalserver

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"
)

// closeWait is how long the server waits for the client's close reply
// after sending a close frame. Closing TCP with unread input turns the FIN
// into a RST, which can destroy the error message the client has not read.
const closeWait = 2 * time.Second

// outFrame is one queued write.
type outFrame struct {
	data []byte
	// start is when the relayed message was read (ns since Server.epoch);
	// zero for server-originated messages.
	start int64
	// close, when non-zero, makes this a close frame with data as reason.
	close uint16
}

// conn is one WebSocket client. It follows the read pump / write pump
// shape of gorilla's chat example with two changes that keep an idle
// connection small (see BenchmarkIdleConnections):
//
//   - the write pump runs only while there is something to send, and pings
//     come from a runtime timer, so an idle connection has one goroutine;
//   - the read pump waits for input in a shallow call on a bufio.Reader we
//     own (and swallows client pongs there), so its stack shrinks back to
//     the minimum while the connection is quiet.
//
// The read pump owns teardown: it closes ws and waits for the writer.
type conn struct {
	s       *Server
	ws      *websocket.Conn
	br      *bufio.Reader // ws reads through it; nil if the handshake could not use ours
	ip      string
	counted bool // holds a per-IP slot
	closing atomic.Bool
	limiter *rate.Limiter
	ping    *time.Timer

	mu      sync.Mutex
	queue   []*outFrame
	writing bool
	dead    bool
	writers sync.WaitGroup

	// Owned by the hub goroutine.
	room   *room
	peerID string
}

func newConn(s *Server, ws *websocket.Conn, br *bufio.Reader, ip string) *conn {
	c := &conn{
		s:       s,
		ws:      ws,
		br:      br,
		ip:      ip,
		limiter: rate.NewLimiter(rate.Limit(s.cfg.rate), s.cfg.burst),
	}
	c.ping = time.AfterFunc(s.cfg.pingInterval, c.sendPing)
	return c
}

// sendPing runs on a timer goroutine; gorilla allows WriteControl
// concurrently with the writer.
func (c *conn) sendPing() {
	if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.s.cfg.writeTimeout)); err != nil {
		c.kill()
		return
	}
	c.mu.Lock()
	if !c.dead {
		c.ping.Reset(c.s.cfg.pingInterval)
	}
	c.mu.Unlock()
}

// kill drops the connection without a close handshake (slow consumer,
// failed write, shutdown deadline); the read pump then tears down.
func (c *conn) kill() { _ = c.ws.Close() }

// enqueue queues f and starts the writer if none runs. A full queue marks
// a slow consumer, which is dropped. Frames queued after the connection
// started closing are discarded unless force is set.
func (c *conn) enqueue(f *outFrame, force bool) bool {
	if !force && c.closing.Load() {
		return false
	}
	c.mu.Lock()
	if c.dead {
		c.mu.Unlock()
		return false
	}
	if len(c.queue) >= c.s.cfg.sendQueue {
		c.mu.Unlock()
		c.s.metrics.reject("slow-consumer")
		c.s.log.Info("dropping slow consumer", "ip", c.ip)
		c.kill()
		return false
	}
	c.queue = append(c.queue, f)
	if !c.writing {
		c.writing = true
		c.writers.Add(1)
		go c.writePump()
	}
	c.mu.Unlock()
	return true
}

// writePump drains the queue and exits when it is empty.
func (c *conn) writePump() {
	defer c.writers.Done()
	ws := c.ws
	cfg := &c.s.cfg
	for {
		c.mu.Lock()
		if c.dead || len(c.queue) == 0 {
			c.writing = false
			c.queue = nil // an idle connection keeps no queue array
			c.mu.Unlock()
			return
		}
		f := c.queue[0]
		c.queue[0] = nil
		c.queue = c.queue[1:]
		c.mu.Unlock()

		deadline := time.Now().Add(cfg.writeTimeout)
		if f.close != 0 {
			_ = ws.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(int(f.close), string(f.data)), deadline)
			// The read pump drains until the client's close reply or this.
			_ = ws.SetReadDeadline(time.Now().Add(closeWait))
			continue
		}
		_ = ws.SetWriteDeadline(deadline)
		if err := ws.WriteMessage(websocket.TextMessage, f.data); err != nil {
			c.kill()
			continue
		}
		if f.start != 0 {
			c.s.metrics.relayLatency.Observe(time.Duration(int64(time.Since(c.s.epoch)) - f.start).Seconds())
		}
	}
}

// sendError queues an error message that does not end the connection.
func (c *conn) sendError(code ErrorCode, text string) {
	c.s.metrics.reject(string(code))
	if b, err := (Message{Type: TypeError, Code: code, Text: text}).Encode(); err == nil {
		c.enqueue(&outFrame{data: b}, false)
	}
}

// fail queues an error message followed by the close code the error
// implies, then ignores further input.
func (c *conn) fail(code ErrorCode, text string) {
	if !c.closing.CompareAndSwap(false, true) {
		return
	}
	c.s.metrics.reject(string(code))
	cc := closeCodeFor(code)
	if cc == 0 {
		cc = ClosePolicy
	}
	b, err := (Message{Type: TypeError, Code: code, Text: text}).Encode()
	if err == nil && !c.enqueue(&outFrame{data: b}, true) {
		return
	}
	c.enqueue(&outFrame{data: []byte(code), close: uint16(cc)}, true)
}

// goAway tells the client the server is shutting down and closes with 1001.
func (c *conn) goAway() {
	if !c.closing.CompareAndSwap(false, true) {
		return
	}
	if b, err := (Message{Type: TypeServerShutdown, Reason: "shutdown"}).Encode(); err == nil {
		c.enqueue(&outFrame{data: b}, true)
	}
	c.enqueue(&outFrame{data: []byte("server shutdown"), close: CloseGoingAway}, true)
}

// teardown runs once, when the read pump ends.
func (c *conn) teardown(active bool) {
	c.mu.Lock()
	c.dead = true
	c.queue = nil
	c.ping.Stop()
	c.mu.Unlock()
	_ = c.ws.Close()
	c.writers.Wait()
	if active {
		c.s.hub.post(hubEvent{kind: evLeave, c: c})
	}
	c.s.connDone(c)
}

// awaitFrame blocks, in a shallow call, until a frame other than a plain
// client pong is buffered. Pongs are consumed here, between messages,
// where gorilla's reader is at a frame boundary; anything else (pings,
// close, data, fragments) is left for NextReader.
func (c *conn) awaitFrame() error {
	for {
		b, err := c.br.Peek(2)
		if err != nil {
			return err
		}
		// 0x8A: FIN + pong opcode, no RSV bits; client frames are masked.
		if b[0] != 0x8A || b[1]&0x80 == 0 || b[1]&0x7f > 125 {
			return nil
		}
		n := 2 + 4 + int(b[1]&0x7f)
		if _, err := c.br.Peek(n); err != nil {
			return err
		}
		_, _ = c.br.Discard(n)
		_ = c.ws.SetReadDeadline(time.Now().Add(c.s.cfg.pongWait))
	}
}

func (c *conn) readPump(active bool) {
	defer c.teardown(active)
	ws := c.ws
	_ = ws.SetReadDeadline(time.Now().Add(c.s.cfg.pongWait))
	ws.SetPongHandler(c.onPong)
	for {
		// Idle connections park in awaitFrame; readMessage's large frame
		// is only on the stack while a message is being handled, so the
		// GC can shrink the stack of a quiet connection.
		if c.br != nil && !c.closing.Load() {
			if err := c.awaitFrame(); err != nil {
				return
			}
		}
		if !c.readMessage() {
			return
		}
	}
}

func (c *conn) onPong(string) error {
	if c.closing.Load() {
		return nil // keep the close deadline
	}
	return c.ws.SetReadDeadline(time.Now().Add(c.s.cfg.pongWait))
}

// readMessage reads and dispatches one message; false ends the pump.
//
//go:noinline
func (c *conn) readMessage() bool {
	ws := c.ws
	cfg := &c.s.cfg
	mt, r, err := ws.NextReader()
	if err != nil {
		var ce *websocket.CloseError
		if !errors.As(err, &ce) && !c.closing.Load() {
			c.s.log.Debug("connection read ended", "ip", c.ip, "err", err)
		}
		return false
	}
	if c.closing.Load() {
		return true // the next NextReader discards the unread rest
	}
	_ = ws.SetReadDeadline(time.Now().Add(cfg.pongWait))
	if !c.limiter.Allow() {
		c.fail(CodeRateLimited, rejectText(CodeRateLimited))
		return true
	}
	// Our own bound rather than SetReadLimit: gorilla would send its
	// close frame before we could send the error message.
	buf, err := io.ReadAll(io.LimitReader(r, int64(cfg.maxMsgSize)+1))
	if err != nil {
		return false
	}
	if len(buf) > cfg.maxMsgSize {
		c.fail(CodeMessageTooBig, rejectText(CodeMessageTooBig))
		return true
	}
	if mt != websocket.TextMessage {
		c.sendError(CodeBadJSON, "binary frames are not part of the protocol")
		return true
	}
	start := int64(time.Since(c.s.epoch))
	msg, err := decodeClientMessage(buf)
	if err != nil {
		var pe *ProtocolError
		if !errors.As(err, &pe) {
			pe = &ProtocolError{Code: CodeBadJSON, Text: err.Error()}
		}
		if closeCodeFor(pe.Code) != 0 {
			c.fail(pe.Code, pe.Text)
		} else {
			c.sendError(pe.Code, pe.Text)
		}
		return true
	}
	if msg.Type == TypeKeepalive {
		return true // only refreshes the read deadline (done above)
	}
	c.s.hub.post(hubEvent{kind: evMessage, c: c, msg: msg, start: start})
	return true
}

// ownReader hands gorilla a bufio.Reader we keep, so the read pump can
// wait on it (awaitFrame). gorilla adopts the hijacked reader when the
// Upgrader's ReadBufferSize is 0 and the reader is larger than 256 bytes.
type ownReader struct {
	http.ResponseWriter
	size int
	br   *bufio.Reader
}

func (o *ownReader) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := o.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("response writer cannot hijack")
	}
	nc, brw, err := h.Hijack()
	if err != nil || brw.Reader.Buffered() > 0 {
		return nc, brw, err // gorilla rejects early data itself
	}
	o.br = bufio.NewReaderSize(nc, o.size)
	return nc, bufio.NewReadWriter(o.br, brw.Writer), nil
}
