package signalserver

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"
)

type hubEventKind uint8

const (
	evMessage  hubEventKind = iota + 1 // a validated client message
	evLeave                            // a connection's read pump ended
	evGrace                            // a resume grace period ended
	evShutdown                         // server shutdown began
	evRefresh                          // time to renew a member's credentials
)

type hubEvent struct {
	kind   hubEventKind
	c      *conn
	msg    Message
	start  int64
	room   string
	peerID string
	gen    uint64
}

// member is a room slot. c is nil while the peer is away within its
// resume grace period.
type member struct {
	id    string
	name  string
	c     *conn
	gen   uint64 // invalidates stale grace timers
	timer *time.Timer
	// resume is the member's newest resume token; tokens lists every one
	// issued to it that has not expired, all revoked on resume and bye.
	resume string
	tokens []issued
	// refresh renews the resume token and TURN credentials of a connected
	// member before they expire.
	refresh *time.Timer
}

type room struct {
	name    string
	pw      *roomPassword
	members []*member // join order
	// creator is the address key of the client that created the room; the
	// room counts against it until the room is gone (grace included).
	creator string
	// fails throttles wrong passwords against this room, per address.
	fails roomFails
}

func (r *room) find(id string) *member {
	for _, m := range r.members {
		if m.id == id {
			return m
		}
	}
	return nil
}

// hub owns all room state; only its goroutine touches rooms and the
// hub-owned fields of conn, so no locks are needed for them.
type hub struct {
	s      *Server
	in     chan hubEvent
	ctx    context.Context
	cancel context.CancelFunc
	exited chan struct{}
	once   sync.Once

	rooms        map[string]*room
	roomsByAddr  map[string]int
	revoked      *revocations
	attempts     *attempts
	shuttingDown bool
}

func newHub(s *Server) *hub {
	ctx, cancel := context.WithCancel(context.Background())
	return &hub{
		s:      s,
		in:     make(chan hubEvent, 256),
		ctx:    ctx,
		cancel: cancel,
		exited: make(chan struct{}),
		rooms:  make(map[string]*room),

		roomsByAddr: make(map[string]int),
		revoked:     newRevocations(),
		attempts:    newAttempts(s.cfg.attemptsFree, s.cfg.attemptsBackoff, s.cfg.attemptsMax),
	}
}

// post hands an event to the hub; it gives up once the hub has stopped.
func (h *hub) post(ev hubEvent) {
	select {
	case h.in <- ev:
	case <-h.ctx.Done():
	}
}

func (h *hub) stop() {
	h.once.Do(h.cancel)
	<-h.exited
}

func (h *hub) run(ctx context.Context) {
	defer close(h.exited)
	defer func() {
		for _, r := range h.rooms {
			for _, m := range r.members {
				if m.timer != nil {
					m.timer.Stop()
				}
				if m.refresh != nil {
					m.refresh.Stop()
				}
			}
		}
	}()
	for {
		select {
		case ev := <-h.in:
			h.handle(ev)
		case <-ctx.Done():
			return
		}
	}
}

func (h *hub) handle(ev hubEvent) {
	switch ev.kind {
	case evMessage:
		if ev.c.closing.Load() {
			return
		}
		switch ev.msg.Type {
		case TypeJoin:
			h.join(ev.c, ev.msg)
		case TypeBye:
			// A bye to one peer ends that pair's call only (a group call
			// goes on with the others); one without to leaves the room.
			h.relay(ev.c, ev.msg, ev.start)
			if ev.msg.To == "" {
				h.bye(ev.c)
			}
		default:
			h.relay(ev.c, ev.msg, ev.start)
		}
	case evLeave:
		h.leave(ev.c)
	case evGrace:
		h.graceEnded(ev.room, ev.peerID, ev.gen)
	case evRefresh:
		h.refresh(ev.c)
	case evShutdown:
		h.shutdown()
	}
}

func (h *hub) join(c *conn, msg Message) {
	s := h.s
	if h.shuttingDown {
		c.fail(CodeShuttingDown, rejectText(CodeShuttingDown))
		return
	}
	if c.room != nil {
		c.sendError(CodeAlreadyJoined, rejectText(CodeAlreadyJoined))
		return
	}
	now := time.Now()
	resumeID := ""
	if msg.Resume != "" {
		// An unverifiable resume token (other secret, expired) is not an
		// error: the peer simply joins under a new id.
		// A token rotated away or given up with bye is dead too.
		if id, err := verifyResume(s.cfg.secret, msg.Resume, msg.Room, now); err == nil && !h.revoked.has(msg.Resume, now) {
			resumeID = id
		}
	}
	if resumeID == "" && (msg.Token != "" || s.cfg.requireToken) {
		if msg.Token == "" {
			c.fail(CodeTokenRequired, rejectText(CodeTokenRequired))
			return
		}
		// Throttled before the token is looked at, so a waiting address
		// learns nothing from its guess.
		if !h.attempts.allowed(c.ip, now) {
			c.fail(CodeTooManyAttempts, rejectText(CodeTooManyAttempts))
			return
		}
		if err := VerifyToken(s.cfg.secret, msg.Token, msg.Room, now); err != nil {
			code := CodeTokenInvalid
			if errors.Is(err, ErrTokenExpired) {
				code = CodeTokenExpired
			} else {
				h.attempts.failed(c.ip, now)
			}
			c.fail(code, rejectText(code))
			return
		}
	}
	r := h.rooms[msg.Room]
	if r == nil {
		if len(h.rooms) >= s.cfg.maxRooms {
			c.fail(CodeTooManyRooms, rejectText(CodeTooManyRooms))
			return
		}
		if h.roomsByAddr[c.ip] >= s.cfg.maxRoomsPerIP {
			s.log.Info("room limit per address reached", "ip", c.ip)
			c.fail(CodeTooManyRooms, rejectText(CodeTooManyRooms))
			return
		}
	} else if r.pw != nil {
		// The per-room throttle only holds back addresses that failed
		// against this room, so guessing from some addresses does not lock
		// the room's legitimate users out.
		if !h.attempts.allowed(c.ip, now) || !r.fails.allowed(c.ip, now) {
			c.fail(CodeTooManyAttempts, rejectText(CodeTooManyAttempts))
			return
		}
		if !r.pw.matches(msg.Password) {
			h.attempts.failed(c.ip, now)
			r.fails.failed(c.ip, now, h.attempts)
			c.fail(CodeWrongPassword, rejectText(CodeWrongPassword))
			return
		}
	}
	var m *member
	resumed := false
	if r != nil && resumeID != "" {
		m = r.find(resumeID)
	}
	if m != nil {
		resumed = true
		if old := m.c; old != nil && old != c {
			// The old connection is a stale half of the same client.
			old.room = nil
			old.fail(CodeSessionReplaced, rejectText(CodeSessionReplaced))
		}
		if m.timer != nil {
			m.timer.Stop()
			m.timer = nil
		}
		m.gen++
		m.name = msg.Name
	} else {
		if r != nil && len(r.members) >= s.cfg.roomCapacity {
			c.fail(CodeRoomFull, rejectText(CodeRoomFull))
			return
		}
		if r == nil {
			r = &room{name: msg.Room, creator: c.ip}
			h.roomsByAddr[c.ip]++
			if msg.Password != "" {
				pw, err := hashPassword(msg.Password)
				if err != nil {
					c.fail(CodeInternal, rejectText(CodeInternal))
					return
				}
				r.pw = pw
			}
			h.rooms[msg.Room] = r
			s.metrics.rooms.Set(float64(len(h.rooms)))
		}
		id := resumeID
		if id == "" || r.find(id) != nil {
			id = randomID(8)
		}
		// A peer resuming into a room the server forgot (restart) keeps its id.
		resumed = resumeID != "" && id == resumeID
		m = &member{id: id, name: msg.Name}
		r.members = append(r.members, m)
		if g := s.turnGuard; g != nil {
			g.peerJoined(id)
		}
	}
	m.c = c
	c.room = r
	c.peerID = m.id
	if resumeID != "" {
		// Single use: the token that brought the peer back is spent
		// (revoked below with every other token the peer held).
		m.tokens = append(m.tokens, issued{token: msg.Resume, exp: resumeExpiry(msg.Resume)})
	}
	h.issueResume(r, m, now, resumeID != "")
	h.scheduleRefresh(m)

	joined := Message{
		Type:       TypeJoined,
		Room:       r.name,
		PeerID:     m.id,
		Peers:      []Peer{},
		Capacity:   s.cfg.roomCapacity,
		ICEServers: s.iceServersFor(m.id),
		Resume:     m.resume,
		Resumed:    resumed,
	}
	for _, o := range r.members {
		if o != m {
			joined.Peers = append(joined.Peers, Peer{ID: o.id, Name: o.name, Away: o.c == nil})
		}
	}
	h.sendTo(c, joined)
	h.broadcast(r, m, Message{Type: TypePeerJoined, PeerID: m.id, Name: m.name, Resumed: resumed})
	s.log.Info("peer joined", "room", r.name, "peer", m.id, "resumed", resumed, "members", len(r.members))
}

// relay forwards offer/answer/candidate/bye inside the sender's room.
func (h *hub) relay(c *conn, msg Message, start int64) {
	r := c.room
	if r == nil {
		c.sendError(CodeNotJoined, rejectText(CodeNotJoined))
		return
	}
	out := Message{
		Type:      msg.Type,
		From:      c.peerID,
		To:        msg.To,
		SDP:       msg.SDP,
		Candidate: msg.Candidate,
		Reason:    msg.Reason,
	}
	b, err := out.Encode()
	if err != nil {
		c.sendError(CodeInternal, rejectText(CodeInternal))
		return
	}
	if msg.To != "" {
		t := r.find(msg.To)
		if t == nil || t.c == c {
			c.sendError(CodeUnknownPeer, rejectText(CodeUnknownPeer))
			return
		}
		if t.c == nil {
			// Away in its grace period; it renegotiates after resuming.
			h.s.metrics.reject("peer-away")
			return
		}
		if t.c.enqueue(&outFrame{data: b, start: start}, false) {
			h.s.metrics.relayed.WithLabelValues(string(msg.Type)).Inc()
		}
		return
	}
	for _, t := range r.members {
		if t.c == nil || t.c == c {
			continue
		}
		if t.c.enqueue(&outFrame{data: b, start: start}, false) {
			h.s.metrics.relayed.WithLabelValues(string(msg.Type)).Inc()
		}
	}
}

type issued struct {
	token string
	exp   time.Time
}

// issueResume gives m a new resume token. With revoke, every token issued
// before is revoked (a resume spent one of them; the rest are copies of a
// session that moved on). A periodic refresh does not revoke: the client
// may not have seen the refresh when it reconnects.
func (h *hub) issueResume(r *room, m *member, now time.Time, revoke bool) {
	// Tokens are revoked by value: each new one must differ from those
	// before it, so its expiry (whole seconds) moves past theirs.
	exp := now.Add(h.s.cfg.resumeTTL).Truncate(time.Second)
	for _, t := range m.tokens {
		if !exp.After(t.exp) {
			exp = t.exp.Add(time.Second)
		}
	}
	next := mintResume(h.s.cfg.secret, r.name, m.id, exp)
	keep := m.tokens[:0]
	for _, t := range m.tokens {
		switch {
		case t.token == next || now.After(t.exp):
		case revoke:
			h.revoked.add(t.token, now, t.exp.Sub(now))
		default:
			keep = append(keep, t)
		}
	}
	m.tokens = append(keep, issued{token: next, exp: exp})
	m.resume = next
}

// revokeAll kills every resume token m holds (bye).
func (h *hub) revokeAll(m *member, now time.Time) {
	for _, t := range m.tokens {
		if now.Before(t.exp) {
			h.revoked.add(t.token, now, t.exp.Sub(now))
		}
	}
	m.tokens, m.resume = nil, ""
}

// refreshInterval is how often a connected member gets fresh credentials:
// at half the shorter lifetime of its resume token and TURN credentials.
func (s *Server) refreshInterval() time.Duration {
	d := s.cfg.resumeTTL
	if s.mintsTURN() && s.cfg.turnCredTTL < d {
		d = s.cfg.turnCredTTL
	}
	return max(d/2, time.Second)
}

func (h *hub) scheduleRefresh(m *member) {
	if m.refresh != nil {
		m.refresh.Stop()
	}
	ev := hubEvent{kind: evRefresh, c: m.c}
	m.refresh = time.AfterFunc(h.s.refreshInterval(), func() { h.post(ev) })
}

// refresh sends a still-connected member a new resume token and new TURN
// credentials (the `refresh` message), then schedules the next one.
func (h *hub) refresh(c *conn) {
	r := c.room
	if r == nil || c.closing.Load() {
		return
	}
	m := r.find(c.peerID)
	if m == nil || m.c != c {
		return
	}
	h.issueResume(r, m, time.Now(), false)
	h.scheduleRefresh(m)
	h.sendTo(c, Message{Type: TypeRefresh, Resume: m.resume, ICEServers: h.s.iceServersFor(m.id)})
}

// bye removes the sender from its room at once (no grace) and revokes its
// resume token: a peer that hung up cannot be brought back with it.
func (h *hub) bye(c *conn) {
	r := c.room
	if r == nil {
		return
	}
	if m := r.find(c.peerID); m != nil && m.c == c {
		h.revokeAll(m, time.Now())
		h.remove(r, m, "bye")
	}
	c.room = nil
	c.peerID = ""
}

// leave handles a closed connection: its slot waits for a resume.
func (h *hub) leave(c *conn) {
	r := c.room
	if r == nil || h.shuttingDown {
		return
	}
	c.room = nil
	m := r.find(c.peerID)
	if m == nil || m.c != c {
		return
	}
	grace := h.s.cfg.resumeGrace
	if grace == 0 {
		h.remove(r, m, "disconnected")
		return
	}
	m.c = nil
	m.gen++
	if m.refresh != nil {
		m.refresh.Stop()
		m.refresh = nil
	}
	ev := hubEvent{kind: evGrace, room: r.name, peerID: m.id, gen: m.gen}
	m.timer = time.AfterFunc(grace, func() { h.post(ev) })
	h.s.log.Info("peer away, holding slot", "room", r.name, "peer", m.id, "grace", grace)
}

func (h *hub) graceEnded(roomName, peerID string, gen uint64) {
	r := h.rooms[roomName]
	if r == nil {
		return
	}
	m := r.find(peerID)
	if m == nil || m.gen != gen || m.c != nil {
		return
	}
	h.remove(r, m, "timeout")
}

func (h *hub) remove(r *room, m *member, reason string) {
	if m.timer != nil {
		m.timer.Stop()
		m.timer = nil
	}
	if m.refresh != nil {
		m.refresh.Stop()
		m.refresh = nil
	}
	for i, o := range r.members {
		if o == m {
			r.members = append(r.members[:i], r.members[i+1:]...)
			break
		}
	}
	if g := h.s.turnGuard; g != nil {
		g.peerGone(m.id)
	}
	h.broadcast(r, nil, Message{Type: TypePeerLeft, PeerID: m.id, Reason: reason})
	h.s.log.Info("peer left", "room", r.name, "peer", m.id, "reason", reason)
	if len(r.members) == 0 {
		if h.rooms[r.name] == r {
			decr(h.roomsByAddr, r.creator)
		}
		delete(h.rooms, r.name)
		h.s.metrics.rooms.Set(float64(len(h.rooms)))
	}
}

func (h *hub) shutdown() {
	h.shuttingDown = true
	s := h.s
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.goAway()
	}
	s.log.Info("shutdown: told clients to leave", "count", len(conns))
}

func (h *hub) sendTo(c *conn, m Message) {
	if b, err := m.Encode(); err == nil {
		c.enqueue(&outFrame{data: b}, false)
	}
}

// broadcast sends m to every connected member except skip.
func (h *hub) broadcast(r *room, skip *member, m Message) {
	b, err := m.Encode()
	if err != nil {
		return
	}
	for _, o := range r.members {
		if o != skip && o.c != nil {
			o.c.enqueue(&outFrame{data: b}, false)
		}
	}
}

// iceServersFor returns the ICE servers for one join, with freshly minted
// TURN REST credentials where the server holds the TURN secret.
func (s *Server) iceServersFor(peerID string) []ICEServer {
	out := make([]ICEServer, 0, len(s.cfg.iceServers)+1)
	for _, is := range s.cfg.iceServers {
		is.URLs = append([]string(nil), is.URLs...)
		if is.Username == "" && hasTURNURL(is.URLs) {
			u, p, err := TURNCredentials(s.cfg.secret, peerID, s.cfg.turnCredTTL)
			if err != nil {
				s.log.Error("minting TURN credentials failed", "err", err)
				continue
			}
			is.Username, is.Credential = u, p
		}
		out = append(out, is)
	}
	if len(s.turnURLs) > 0 {
		u, p, err := TURNCredentials(s.cfg.secret, peerID, s.cfg.turnCredTTL)
		if err == nil {
			out = append(out, ICEServer{URLs: append([]string(nil), s.turnURLs...), Username: u, Credential: p})
		}
	}
	return out
}

// mintsTURN reports whether joins carry minted TURN credentials.
func (s *Server) mintsTURN() bool {
	if len(s.turnURLs) > 0 {
		return true
	}
	for _, is := range s.cfg.iceServers {
		if is.Username == "" && hasTURNURL(is.URLs) {
			return true
		}
	}
	return false
}

func hasTURNURL(urls []string) bool {
	for _, u := range urls {
		if strings.HasPrefix(u, "turn:") || strings.HasPrefix(u, "turns:") {
			return true
		}
	}
	return false
}
