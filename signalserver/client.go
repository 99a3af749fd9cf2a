package signalserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// ClientOptions configures Dial.
type ClientOptions struct {
	// Room, Name, Password and Token go into every join (first and rejoins).
	Room, Name, Password, Token string
	// Header is added to the WebSocket handshake (e.g. Origin for tests).
	Header http.Header
	// TLSConfig for wss:// URLs. PinSHA256, when set, replaces chain
	// verification by a match of the leaf certificate's SHA-256 (hex,
	// colons optional), for servers run with --tls-self-signed.
	TLSConfig *tls.Config
	PinSHA256 string
	// HandshakeTimeout bounds dial plus join (default 10 s).
	HandshakeTimeout time.Duration
	// ReadTimeout: no frame (pings included) from the server for this long
	// means the connection is dead (default 90 s; the server pings every 25 s).
	ReadTimeout time.Duration
	// WriteTimeout bounds one Send (default 10 s).
	WriteTimeout time.Duration
	// MinBackoff and MaxBackoff bound reconnect delays (default 250 ms, 15 s).
	MinBackoff, MaxBackoff time.Duration
	// NoReconnect makes a lost connection final.
	NoReconnect bool
	// Logger (default: discard).
	Logger *slog.Logger
}

// State is the client's connection state.
type State int

// Client states.
const (
	StateConnected State = iota + 1
	StateReconnecting
	StateClosed
)

func (s State) String() string {
	switch s {
	case StateConnected:
		return "connected"
	case StateReconnecting:
		return "reconnecting"
	case StateClosed:
		return "closed"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Event is a state notification. PeerID is our id after a (re)join; it
// changes when the server could not honour the resume token (a restart
// without its secret), and then Resumed is false: peers know us by the
// new id only, and their own ids may have changed too.
type Event struct {
	State   State
	PeerID  string
	Resumed bool
	Err     error
}

// Client is a reconnecting signaling client: it joins one room and, when
// the connection drops, rejoins with its resume token under the same peer id.
type Client struct {
	url  string
	opts ClientOptions
	log  *slog.Logger

	messages chan Message
	events   chan Event
	ctx      context.Context
	cancel   context.CancelFunc
	done     chan struct{}

	mu      sync.Mutex
	ws      *websocket.Conn
	state   State
	joined  Message
	err     error
	writeMu sync.Mutex
}

// Dial connects to url (ws:// or wss://, path /ws), joins opts.Room and
// returns once joined. The joined message is also the first item on
// Messages. A rejection comes back as a *ProtocolError.
func Dial(ctx context.Context, url string, opts ClientOptions) (*Client, error) {
	if opts.HandshakeTimeout <= 0 {
		opts.HandshakeTimeout = 10 * time.Second
	}
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = 90 * time.Second
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 10 * time.Second
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 250 * time.Millisecond
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(15*time.Second, opts.MinBackoff)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	join := Message{V: ProtocolVersion, Type: TypeJoin, Room: opts.Room, Name: opts.Name,
		Password: opts.Password, Token: opts.Token}
	if err := join.Validate(); err != nil {
		return nil, err
	}
	c := &Client{
		url:      url,
		opts:     opts,
		log:      opts.Logger,
		messages: make(chan Message, 64),
		events:   make(chan Event, 16),
		done:     make(chan struct{}),
	}
	ws, joined, err := c.connect(ctx)
	if err != nil {
		return nil, err
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.ws, c.joined, c.state = ws, joined, StateConnected
	c.messages <- joined
	c.events <- Event{State: StateConnected, PeerID: joined.PeerID}
	go c.run(ws)
	return c, nil
}

// Messages delivers every server message (joined, peer-joined, peer-left,
// relayed offer/answer/candidate/bye, error, server-shutdown). It is closed
// when the client closes. Not draining it stalls the client.
func (c *Client) Messages() <-chan Message { return c.messages }

// Events delivers state changes. It is lossy when not drained; State and
// PeerID always hold the current values. Closed when the client closes.
func (c *Client) Events() <-chan Event { return c.events }

// State returns the current connection state.
func (c *Client) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// PeerID is our id in the room (from the latest joined).
func (c *Client) PeerID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.joined.PeerID
}

// Capacity is how many peers the room holds, from the latest joined (0
// from a server that does not say).
func (c *Client) Capacity() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.joined.Capacity
}

// ICEServers are the ICE servers from the latest joined.
func (c *Client) ICEServers() []ICEServer {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]ICEServer(nil), c.joined.ICEServers...)
}

// Err is why the client closed itself (nil after Close or while running).
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Send sends offer, answer, candidate, bye or keepalive. The server stamps
// from. It fails with ErrNotConnected while reconnecting.
func (c *Client) Send(m Message) error {
	if !m.Type.fromClient() || m.Type == TypeJoin {
		return invalid(CodeUnexpectedType, "client cannot send %q", m.Type)
	}
	m.V = ProtocolVersion
	m.From = ""
	if err := m.Validate(); err != nil {
		return err
	}
	b, err := m.Encode()
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	c.mu.Lock()
	ws, st := c.ws, c.state
	c.mu.Unlock()
	if st == StateClosed {
		return ErrClosed
	}
	if ws == nil {
		return ErrNotConnected
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	_ = ws.SetWriteDeadline(time.Now().Add(c.opts.WriteTimeout))
	if err := ws.WriteMessage(websocket.TextMessage, b); err != nil {
		return fmt.Errorf("%w: %w", ErrNotConnected, err)
	}
	return nil
}

// Close says bye, closes the connection and waits for the client's
// goroutine. Safe to call more than once.
func (c *Client) Close() error {
	c.mu.Lock()
	ws, st := c.ws, c.state
	c.mu.Unlock()
	if ws != nil && st == StateConnected {
		_ = c.Send(Message{Type: TypeBye, Reason: "hangup"})
		c.writeMu.Lock()
		_ = ws.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		c.writeMu.Unlock()
	}
	c.cancel()
	if ws != nil {
		_ = ws.Close()
	}
	<-c.done
	return nil
}

func (c *Client) dialer() (*websocket.Dialer, error) {
	d := &websocket.Dialer{
		HandshakeTimeout: c.opts.HandshakeTimeout,
		ReadBufferSize:   1024,
		WriteBufferSize:  1024,
		TLSClientConfig:  c.opts.TLSConfig,
	}
	if c.opts.PinSHA256 != "" {
		pin, err := parseFingerprint(c.opts.PinSHA256)
		if err != nil {
			return nil, err
		}
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if c.opts.TLSConfig != nil {
			tc = c.opts.TLSConfig.Clone()
		}
		// The pin replaces CA verification: self-signed servers have no chain.
		tc.InsecureSkipVerify = true
		tc.VerifyConnection = func(cs tls.ConnectionState) error { return verifyPin(cs, pin) }
		d.TLSClientConfig = tc
	}
	return d, nil
}

// connect dials and joins, resuming when a resume token is held.
func (c *Client) connect(ctx context.Context) (*websocket.Conn, Message, error) {
	d, err := c.dialer()
	if err != nil {
		return nil, Message{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.HandshakeTimeout)
	defer cancel()
	ws, resp, err := d.DialContext(ctx, c.url, c.opts.Header)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		return nil, Message{}, fmt.Errorf("dial %s: %w", c.url, err)
	}
	// A blocked read does not see ctx; closing the conn unblocks it.
	stop := context.AfterFunc(ctx, func() { _ = ws.Close() })
	defer stop()

	c.mu.Lock()
	resume := c.joined.Resume
	c.mu.Unlock()
	join := Message{Type: TypeJoin, Room: c.opts.Room, Name: c.opts.Name,
		Password: c.opts.Password, Token: c.opts.Token, Resume: resume}
	b, err := join.Encode()
	if err != nil {
		_ = ws.Close()
		return nil, Message{}, fmt.Errorf("encode join: %w", err)
	}
	_ = ws.SetWriteDeadline(time.Now().Add(c.opts.HandshakeTimeout))
	if err := ws.WriteMessage(websocket.TextMessage, b); err != nil {
		_ = ws.Close()
		return nil, Message{}, fmt.Errorf("send join: %w", err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(c.opts.HandshakeTimeout))
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			_ = ws.Close()
			if ctx.Err() != nil {
				return nil, Message{}, fmt.Errorf("join: %w", ctx.Err())
			}
			return nil, Message{}, fmt.Errorf("join: %w", err)
		}
		m, err := DecodeMessage(data)
		if err != nil {
			continue // a newer server may send types we do not know
		}
		switch m.Type {
		case TypeJoined:
			_ = ws.SetReadDeadline(time.Now().Add(c.opts.ReadTimeout))
			return ws, m, nil
		case TypeError:
			c.drainClose(ws)
			return nil, Message{}, &ProtocolError{Code: m.Code, Text: m.Text, Err: ErrRejected}
		case TypeServerShutdown:
			_ = ws.Close()
			return nil, Message{}, &ProtocolError{Code: CodeShuttingDown, Text: rejectText(CodeShuttingDown), Err: ErrRejected}
		}
	}
}

// drainClose reads until the server's close frame so gorilla answers it.
func (c *Client) drainClose(ws *websocket.Conn) {
	_ = ws.SetReadDeadline(time.Now().Add(time.Second))
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			break
		}
	}
	_ = ws.Close()
}

// run owns the connection lifecycle: read until it breaks, then rejoin
// with backoff until success, a fatal rejection or Close.
func (c *Client) run(ws *websocket.Conn) {
	defer close(c.done)
	var final error
	defer func() {
		c.mu.Lock()
		c.state, c.ws, c.err = StateClosed, nil, final
		c.mu.Unlock()
		c.notify(Event{State: StateClosed, Err: final})
		close(c.messages)
		close(c.events)
	}()
	for {
		// Close may race with a reconnect; whichever ws is current when the
		// context ends gets closed, which ends readLoop.
		cur := ws
		stop := context.AfterFunc(c.ctx, func() { _ = cur.Close() })
		err := c.readLoop(ws)
		stop()
		_ = ws.Close()
		c.mu.Lock()
		c.ws = nil
		c.mu.Unlock()
		if c.ctx.Err() != nil {
			return
		}
		if isFatal(err) || c.opts.NoReconnect {
			final = err
			return
		}
		c.setState(StateReconnecting)
		c.notify(Event{State: StateReconnecting, Err: err})
		c.log.Info("signaling connection lost, reconnecting", "err", err)
		var joined Message
		ws, joined, err = c.reconnect()
		if err != nil {
			if c.ctx.Err() == nil {
				final = err
			}
			return
		}
		c.mu.Lock()
		c.ws, c.joined, c.state = ws, joined, StateConnected
		c.mu.Unlock()
		if !c.deliver(joined) {
			_ = ws.Close()
			return
		}
		if !joined.Resumed {
			c.log.Info("rejoined under a new peer id", "peer", joined.PeerID)
		}
		c.notify(Event{State: StateConnected, PeerID: joined.PeerID, Resumed: joined.Resumed})
	}
}

func (c *Client) reconnect() (*websocket.Conn, Message, error) {
	delay := c.opts.MinBackoff
	for {
		// ±20 % jitter so clients of a restarted server do not stampede.
		j := time.Duration(float64(delay) * (0.8 + 0.4*rand.Float64()))
		t := time.NewTimer(j)
		select {
		case <-c.ctx.Done():
			t.Stop()
			return nil, Message{}, c.ctx.Err()
		case <-t.C:
		}
		ws, joined, err := c.connect(c.ctx)
		if err == nil {
			return ws, joined, nil
		}
		if isFatal(err) {
			return nil, Message{}, err
		}
		c.log.Debug("rejoin failed", "err", err, "next_delay", delay)
		delay = min(delay*2, c.opts.MaxBackoff)
	}
}

// readLoop delivers messages until the connection fails. It returns the
// last error message the server sent before closing, if any.
func (c *Client) readLoop(ws *websocket.Conn) error {
	rt := c.opts.ReadTimeout
	ws.SetPingHandler(func(data string) error {
		_ = ws.SetReadDeadline(time.Now().Add(rt))
		err := ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(c.opts.WriteTimeout))
		if errors.Is(err, websocket.ErrCloseSent) {
			return nil
		}
		return err
	})
	var lastErr *ProtocolError
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			if lastErr != nil {
				return lastErr
			}
			return err
		}
		_ = ws.SetReadDeadline(time.Now().Add(rt))
		m, err := DecodeMessage(data)
		if err != nil {
			continue
		}
		if m.Type == TypeError && closeCodeFor(m.Code) != 0 {
			// The server closes after this one; remember why.
			lastErr = &ProtocolError{Code: m.Code, Text: m.Text, Err: ErrRejected}
		}
		if m.Type == TypeRefresh {
			// Resume tokens are single use and short-lived, TURN
			// credentials too: the next rejoin and ICEServers use these.
			c.mu.Lock()
			if m.Resume != "" {
				c.joined.Resume = m.Resume
			}
			if len(m.ICEServers) > 0 {
				c.joined.ICEServers = m.ICEServers
			}
			c.mu.Unlock()
		}
		if !c.deliver(m) {
			return ErrClosed
		}
	}
}

func (c *Client) deliver(m Message) bool {
	select {
	case c.messages <- m:
		return true
	case <-c.ctx.Done():
		return false
	}
}

func (c *Client) notify(ev Event) {
	select {
	case c.events <- ev:
	default:
	}
}

func (c *Client) setState(s State) {
	c.mu.Lock()
	c.state = s
	c.mu.Unlock()
}

// isFatal: rejections that retrying cannot fix end the client.
func isFatal(err error) bool {
	var pe *ProtocolError
	if !errors.As(err, &pe) {
		return false
	}
	switch closeCodeFor(pe.Code) {
	case ClosePolicy, CloseTooBig:
		return true
	}
	return false
}
