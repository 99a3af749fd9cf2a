package signalserver

import (
	"errors"
	"io"
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

// conn is one WebSocket client: a read pump and a write pump (gorilla
// chat example shape). The write pump is the only closer of ws.
type conn struct {
	s       *Server
	ws      *websocket.Conn
	ip      string
	counted bool // holds a per-IP slot

	send     chan outFrame
	readDone chan struct{}
	killed   chan struct{}
	killOnce sync.Once
	closing  atomic.Bool
	limiter  *rate.Limiter

	// Owned by the hub goroutine.
	room   *room
	peerID string
}

func newConn(s *Server, ws *websocket.Conn, ip string) *conn {
	return &conn{
		s:        s,
		ws:       ws,
		ip:       ip,
		send:     make(chan outFrame, s.cfg.sendQueue),
		readDone: make(chan struct{}),
		killed:   make(chan struct{}),
		limiter:  rate.NewLimiter(rate.Limit(s.cfg.rate), s.cfg.burst),
	}
}

// kill drops the connection without a close handshake (slow consumer,
// shutdown deadline).
func (c *conn) kill() { c.killOnce.Do(func() { close(c.killed) }) }

// enqueue queues f without blocking; a full queue marks a slow consumer,
// which is dropped. Frames queued after the connection started closing are
// discarded unless force is set.
func (c *conn) enqueue(f outFrame, force bool) bool {
	if !force && c.closing.Load() {
		return false
	}
	select {
	case c.send <- f:
		return true
	case <-c.killed:
		return false
	default:
		c.s.metrics.reject("slow-consumer")
		c.s.log.Info("dropping slow consumer", "ip", c.ip)
		c.kill()
		return false
	}
}

// sendError queues an error message that does not end the connection.
func (c *conn) sendError(code ErrorCode, text string) {
	c.s.metrics.reject(string(code))
	if b, err := (Message{Type: TypeError, Code: code, Text: text}).Encode(); err == nil {
		c.enqueue(outFrame{data: b}, false)
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
	if err == nil && !c.enqueue(outFrame{data: b}, true) {
		return
	}
	c.enqueue(outFrame{data: []byte(code), close: uint16(cc)}, true)
}

// goAway tells the client the server is shutting down and closes with 1001.
func (c *conn) goAway() {
	if !c.closing.CompareAndSwap(false, true) {
		return
	}
	if b, err := (Message{Type: TypeServerShutdown, Reason: "shutdown"}).Encode(); err == nil {
		c.enqueue(outFrame{data: b}, true)
	}
	c.enqueue(outFrame{data: []byte("server shutdown"), close: CloseGoingAway}, true)
}

func (c *conn) readPump(active bool) {
	defer func() {
		close(c.readDone)
		if active {
			c.s.hub.post(hubEvent{kind: evLeave, c: c})
		}
	}()
	ws := c.ws
	cfg := &c.s.cfg
	_ = ws.SetReadDeadline(time.Now().Add(cfg.pongWait))
	ws.SetPongHandler(func(string) error {
		return ws.SetReadDeadline(time.Now().Add(cfg.pongWait))
	})
	for {
		mt, r, err := ws.NextReader()
		if err != nil {
			var ce *websocket.CloseError
			if !errors.As(err, &ce) && !c.closing.Load() {
				c.s.log.Debug("connection read ended", "ip", c.ip, "err", err)
			}
			return
		}
		if c.closing.Load() {
			continue // NextReader discards the unread rest
		}
		_ = ws.SetReadDeadline(time.Now().Add(cfg.pongWait))
		if !c.limiter.Allow() {
			c.fail(CodeRateLimited, rejectText(CodeRateLimited))
			continue
		}
		// Our own bound rather than SetReadLimit: gorilla would send its
		// close frame before we could send the error message.
		buf, err := io.ReadAll(io.LimitReader(r, int64(cfg.maxMsgSize)+1))
		if err != nil {
			return
		}
		if len(buf) > cfg.maxMsgSize {
			c.fail(CodeMessageTooBig, rejectText(CodeMessageTooBig))
			continue
		}
		if mt != websocket.TextMessage {
			c.sendError(CodeBadJSON, "binary frames are not part of the protocol")
			continue
		}
		start := int64(time.Since(c.s.epoch))
		msg, err := DecodeMessage(buf)
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
			continue
		}
		switch {
		case msg.Type == TypeKeepalive:
			// Only refreshes the read deadline (done above).
		case !msg.Type.fromClient():
			c.sendError(CodeUnexpectedType, rejectText(CodeUnexpectedType))
		default:
			c.s.hub.post(hubEvent{kind: evMessage, c: c, msg: msg, start: start})
		}
	}
}

func (c *conn) writePump() {
	ws := c.ws
	cfg := &c.s.cfg
	ticker := time.NewTicker(cfg.pingInterval)
	defer func() {
		ticker.Stop()
		_ = ws.Close()
		<-c.readDone
		c.s.connDone(c)
	}()
	for {
		select {
		case f := <-c.send:
			deadline := time.Now().Add(cfg.writeTimeout)
			if f.close != 0 {
				_ = ws.WriteControl(websocket.CloseMessage,
					websocket.FormatCloseMessage(int(f.close), string(f.data)), deadline)
				_ = ws.SetReadDeadline(time.Now().Add(closeWait))
				t := time.NewTimer(closeWait)
				select {
				case <-c.readDone:
				case <-c.killed:
				case <-t.C:
				}
				t.Stop()
				return
			}
			_ = ws.SetWriteDeadline(deadline)
			if err := ws.WriteMessage(websocket.TextMessage, f.data); err != nil {
				return
			}
			if f.start != 0 {
				c.s.metrics.relayLatency.Observe(time.Duration(int64(time.Since(c.s.epoch)) - f.start).Seconds())
			}
		case <-ticker.C:
			if err := ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(cfg.writeTimeout)); err != nil {
				return
			}
		case <-c.readDone:
			return
		case <-c.killed:
			return
		}
	}
}
