package signalserver

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // TURN REST passwords are HMAC-SHA1 by definition (coturn use-auth-secret)
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pion/stun/v4"
	"github.com/pion/turn/v5"
)

// Built-in TURN defaults.
const (
	// DefaultTURNUserQuota: a peer needs one allocation per TURN URL and
	// local interface, two for a moment during an ICE restart.
	DefaultTURNUserQuota = 8
	// DefaultTURNIPQuota leaves room for a few dozen users behind one NAT.
	DefaultTURNIPQuota = 32
	// DefaultTURNMaxLifetime is RFC 8656's default allocation lifetime;
	// clients refresh well before it ends.
	DefaultTURNMaxLifetime = 10 * time.Minute
)

var errTCPRelayDisabled = errors.New("signalserver: TCP relay allocations are disabled")

// turnGuard holds what the built-in TURN server needs beyond pion/turn's
// defaults: allocation quotas per TURN user and per client address, a cap
// on the lifetime a client may ask for, no TCP relays unless enabled, and
// the link between allocations and room membership (a peer that left the
// room loses its relays).
type turnGuard struct {
	secret      []byte
	userQuota   int
	ipQuota     int
	maxLifetime time.Duration
	allowTCP    bool
	key         func(net.Addr) string
	onQuota     func()

	mu      sync.Mutex
	perUser map[string]int
	perIP   map[string]int
	relays  map[string]map[*guardedRelay]struct{} // by TURN user id (peer id)
	present map[string]int                        // peer ids in a room (grace included)
}

func newTURNGuard(secret []byte, t *TURNConfig, key func(net.Addr) string) *turnGuard {
	g := &turnGuard{
		secret:      secret,
		userQuota:   t.MaxAllocationsPerUser,
		ipQuota:     t.MaxAllocationsPerIP,
		maxLifetime: t.MaxLifetime,
		allowTCP:    t.AllowTCP,
		key:         key,
		onQuota:     func() {},
		perUser:     make(map[string]int),
		perIP:       make(map[string]int),
		relays:      make(map[string]map[*guardedRelay]struct{}),
		present:     make(map[string]int),
	}
	if g.userQuota <= 0 {
		g.userQuota = DefaultTURNUserQuota
	}
	if g.ipQuota <= 0 {
		g.ipQuota = DefaultTURNIPQuota
	}
	if g.maxLifetime <= 0 {
		g.maxLifetime = DefaultTURNMaxLifetime
	}
	return g
}

// auth checks TURN REST credentials ("<unix expiry>:<peer id>", password
// base64(HMAC-SHA1(secret, username))). Expired credentials still serve a
// peer that is in a room, so a call outlives the short credential
// lifetime; once the peer has left they stop working at their expiry.
func (g *turnGuard) auth(ra *turn.RequestAttributes) (string, []byte, bool) {
	expStr, user, ok := strings.Cut(ra.Username, ":")
	if !ok || user == "" {
		return "", nil, false
	}
	exp, err := strconv.ParseInt(expStr, 10, 64)
	if err != nil {
		return "", nil, false
	}
	if time.Now().Unix() >= exp && !g.isPresent(user) {
		return "", nil, false
	}
	mac := hmac.New(sha1.New, g.secret)
	mac.Write([]byte(ra.Username))
	pw := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	return user, turn.GenerateAuthKey(ra.Username, ra.Realm, pw), true
}

// quota is pion's QuotaHandler: it runs on the server's read loop before
// each allocation, serialized with the creations it counts.
func (g *turnGuard) quota(userID, _ string, src net.Addr) bool {
	g.mu.Lock()
	ok := g.perUser[userID] < g.userQuota && g.perIP[g.key(src)] < g.ipQuota
	g.mu.Unlock()
	if !ok {
		g.onQuota()
	}
	return ok
}

func (g *turnGuard) events() turn.EventHandler {
	return turn.EventHandler{
		OnAllocationCreated: func(src, _ net.Addr, _, userID, _ string, _ net.Addr, _ int) {
			g.mu.Lock()
			g.perUser[userID]++
			g.perIP[g.key(src)]++
			g.mu.Unlock()
		},
		OnAllocationDeleted: func(src, _ net.Addr, _, userID, _ string) {
			g.mu.Lock()
			decr(g.perUser, userID)
			decr(g.perIP, g.key(src))
			g.mu.Unlock()
		},
	}
}

func decr(m map[string]int, k string) {
	if m[k]--; m[k] <= 0 {
		delete(m, k)
	}
}

// allocations reports live allocations (for tests and metrics).
func (g *turnGuard) allocations(userID string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.perUser[userID]
}

func (g *turnGuard) isPresent(user string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.present[user] > 0
}

// peerJoined and peerGone are called by the hub as members come and go.
func (g *turnGuard) peerJoined(id string) {
	g.mu.Lock()
	g.present[id]++
	g.mu.Unlock()
}

// peerGone closes the relays of a peer that left its room: pion deletes an
// allocation whose relay socket fails, which frees its quota and port.
func (g *turnGuard) peerGone(id string) {
	g.mu.Lock()
	decr(g.present, id)
	var rs []*guardedRelay
	if g.present[id] == 0 {
		for r := range g.relays[id] {
			rs = append(rs, r)
		}
	}
	g.mu.Unlock()
	for _, r := range rs {
		_ = r.Close()
	}
}

// guardedRelays wraps the relay address generator to track relay sockets
// per user and to refuse TCP relays.
type guardedRelays struct {
	turn.RelayAddressGenerator
	g *turnGuard
}

func (r guardedRelays) AllocatePacketConn(c turn.AllocateListenerConfig) (net.PacketConn, net.Addr, error) {
	pc, addr, err := r.RelayAddressGenerator.AllocatePacketConn(c)
	if err != nil {
		return nil, nil, err
	}
	gr := &guardedRelay{PacketConn: pc, g: r.g, user: c.UserID}
	r.g.mu.Lock()
	set := r.g.relays[c.UserID]
	if set == nil {
		set = make(map[*guardedRelay]struct{})
		r.g.relays[c.UserID] = set
	}
	set[gr] = struct{}{}
	r.g.mu.Unlock()
	return gr, addr, nil
}

func (r guardedRelays) AllocateListener(c turn.AllocateListenerConfig) (net.Listener, net.Addr, error) {
	if !r.g.allowTCP {
		return nil, nil, errTCPRelayDisabled
	}
	return r.RelayAddressGenerator.AllocateListener(c)
}

func (r guardedRelays) AllocateConn(c turn.AllocateConnConfig) (net.Conn, error) {
	if !r.g.allowTCP {
		return nil, errTCPRelayDisabled
	}
	return r.RelayAddressGenerator.AllocateConn(c)
}

type guardedRelay struct {
	net.PacketConn
	g    *turnGuard
	user string
	once sync.Once
	err  error
}

// Close is idempotent: peerGone and pion's own teardown both close it.
func (r *guardedRelay) Close() error {
	r.once.Do(func() {
		r.g.mu.Lock()
		if set := r.g.relays[r.user]; set != nil {
			delete(set, r)
			if len(set) == 0 {
				delete(r.g.relays, r.user)
			}
		}
		r.g.mu.Unlock()
		r.err = r.PacketConn.Close()
	})
	return r.err
}

// turnGate sits under pion's read loop on the TURN listening socket. It
// answers TCP Allocate requests with 442 when TCP relays are disabled and
// clamps the LIFETIME a client asks for in Allocate and Refresh to the
// cap. pion grants any lifetime below an hour and has no hook for it, so
// the request is re-signed with the user's key after its own integrity
// was verified: the client then learns the capped lifetime from the
// response and refreshes in time.
type turnGate struct {
	net.PacketConn
	g *turnGuard
}

func (c *turnGate) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(p)
		if err != nil {
			return n, addr, err
		}
		n, keep := c.g.filter(c.PacketConn, p, n, addr)
		if keep {
			return n, addr, nil
		}
	}
}

// filter inspects one datagram; keep false means it was answered here.
func (g *turnGuard) filter(pc net.PacketConn, p []byte, n int, addr net.Addr) (int, bool) {
	if !stun.IsMessage(p[:n]) {
		return n, true
	}
	m := &stun.Message{Raw: append([]byte(nil), p[:n]...)}
	if err := m.Decode(); err != nil || m.Type.Class != stun.ClassRequest {
		return n, true
	}
	if m.Type.Method != stun.MethodAllocate && m.Type.Method != stun.MethodRefresh {
		return n, true
	}
	if m.Type.Method == stun.MethodAllocate && !g.allowTCP {
		if v, err := m.Get(stun.AttrRequestedTransport); err == nil && len(v) >= 1 && v[0] == 6 { // 6: TCP
			g.reply(pc, addr, m, stun.CodeUnsupportedTransProto)
			return 0, false
		}
	}
	lt, err := m.Get(stun.AttrLifetime)
	if err != nil || len(lt) != 4 {
		return n, true // pion's default lifetime is the cap
	}
	if time.Duration(binary.BigEndian.Uint32(lt))*time.Second <= g.maxLifetime {
		return n, true
	}
	out, ok := g.clampLifetime(m)
	if !ok || len(out) > len(p) {
		return n, true // pion rejects or uses it as sent; nothing to gain by re-signing
	}
	return copy(p, out), true
}

func (g *turnGuard) clampLifetime(m *stun.Message) ([]byte, bool) {
	var user stun.Username
	var rlm stun.Realm
	if user.GetFrom(m) != nil || rlm.GetFrom(m) != nil {
		return nil, false
	}
	_, key, ok := g.auth(&turn.RequestAttributes{Username: user.String(), Realm: rlm.String(), Method: m.Type.Method})
	if !ok {
		return nil, false
	}
	integrity := stun.MessageIntegrity(key)
	if integrity.Check(m) != nil {
		return nil, false // not signed by the key holder: never re-sign
	}
	out := new(stun.Message)
	out.Type = m.Type
	out.TransactionID = m.TransactionID
	out.WriteHeader()
	var capped [4]byte
	binary.BigEndian.PutUint32(capped[:], uint32(g.maxLifetime/time.Second))
	for _, a := range m.Attributes {
		if a.Type == stun.AttrMessageIntegrity {
			break
		}
		if a.Type == stun.AttrLifetime {
			out.Add(a.Type, capped[:])
			continue
		}
		out.Add(a.Type, a.Value)
	}
	if integrity.AddTo(out) != nil {
		return nil, false
	}
	if m.Contains(stun.AttrFingerprint) && stun.Fingerprint.AddTo(out) != nil {
		return nil, false
	}
	return out.Raw, true
}

// reply sends an unauthenticated error response (RFC 8489 allows it for
// errors found before authentication).
func (g *turnGuard) reply(pc net.PacketConn, addr net.Addr, req *stun.Message, code stun.ErrorCode) {
	res, err := stun.Build(stun.NewTransactionIDSetter(req.TransactionID),
		stun.NewType(req.Type.Method, stun.ClassErrorResponse),
		stun.ErrorCodeAttribute{Code: code}, stun.Fingerprint)
	if err == nil {
		_, _ = pc.WriteTo(res.Raw, addr)
	}
}
