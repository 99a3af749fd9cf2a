package signalserver

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pion/turn/v5"
)

// Token prefixes carry the scheme version and keep join and resume tokens
// apart; the MAC input also starts with a distinct label for the same reason.
const (
	joinTokenPrefix   = "pcj1"
	resumeTokenPrefix = "pcr1"
)

var b64 = base64.RawURLEncoding

// decodeB64 accepts only the canonical unpadded base64url form: Go's
// decoder skips CR and LF and ignores non-zero trailing bits, so several
// strings would otherwise decode to one token.
func decodeB64(s string) ([]byte, error) {
	b, err := b64.Strict().DecodeString(s)
	if err != nil {
		return nil, err
	}
	if b64.EncodeToString(b) != s {
		return nil, errNonCanonical
	}
	return b, nil
}

// MintToken returns a join token for room, valid for ttl, signed with secret
// (HMAC-SHA256). Format: pcj1.<base64url(room)>.<unix expiry>.<base64url(mac)>.
func MintToken(secret []byte, room string, ttl time.Duration) (string, error) {
	if len(secret) == 0 {
		return "", configErr("token secret is empty")
	}
	if !validRoom(room) {
		return "", configErr("room %q is not a valid room name", room)
	}
	if ttl <= 0 {
		return "", configErr("token ttl must be positive")
	}
	exp := strconv.FormatInt(time.Now().Add(ttl).Unix(), 10)
	mac := tokenMAC(secret, "join", room, exp)
	return joinTokenPrefix + "." + b64.EncodeToString([]byte(room)) + "." + exp + "." + b64.EncodeToString(mac), nil
}

// VerifyToken checks a join token for room at time now. It returns nil,
// ErrInvalidToken (malformed, forged, other room) or ErrTokenExpired.
func VerifyToken(secret []byte, token, room string, now time.Time) error {
	parts := strings.Split(token, ".")
	if len(parts) != 4 || parts[0] != joinTokenPrefix {
		return fmt.Errorf("%w: malformed", ErrInvalidToken)
	}
	roomRaw, err := decodeB64(parts[1])
	if err != nil {
		return fmt.Errorf("%w: malformed room", ErrInvalidToken)
	}
	mac, err := decodeB64(parts[3])
	if err != nil {
		return fmt.Errorf("%w: malformed mac", ErrInvalidToken)
	}
	// MAC first, so a forged token never learns whether its room or expiry
	// would have been acceptable.
	if !hmac.Equal(mac, tokenMAC(secret, "join", string(roomRaw), parts[2])) {
		return fmt.Errorf("%w: bad signature", ErrInvalidToken)
	}
	if subtle.ConstantTimeCompare(roomRaw, []byte(room)) != 1 {
		return fmt.Errorf("%w: token is for another room", ErrInvalidToken)
	}
	exp, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil {
		return fmt.Errorf("%w: malformed expiry", ErrInvalidToken)
	}
	if now.Unix() >= exp {
		return ErrTokenExpired
	}
	return nil
}

// mintResume signs (room, peerID, expiry) so a reconnecting client can
// reclaim its peer id even from a restarted server holding no state.
func mintResume(secret []byte, room, peerID string, exp time.Time) string {
	e := strconv.FormatInt(exp.Unix(), 10)
	mac := tokenMAC(secret, "resume", room, peerID, e)
	return resumeTokenPrefix + "." + b64.EncodeToString([]byte(room)) + "." + peerID + "." + e + "." + b64.EncodeToString(mac)
}

// verifyResume returns the peer id a resume token grants in room.
func verifyResume(secret []byte, token, room string, now time.Time) (string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 5 || parts[0] != resumeTokenPrefix {
		return "", fmt.Errorf("%w: malformed resume token", ErrInvalidToken)
	}
	roomRaw, err1 := decodeB64(parts[1])
	mac, err2 := decodeB64(parts[4])
	if err1 != nil || err2 != nil || !validID(parts[2]) || parts[2] == "" {
		return "", fmt.Errorf("%w: malformed resume token", ErrInvalidToken)
	}
	if !hmac.Equal(mac, tokenMAC(secret, "resume", string(roomRaw), parts[2], parts[3])) {
		return "", fmt.Errorf("%w: bad resume signature", ErrInvalidToken)
	}
	if subtle.ConstantTimeCompare(roomRaw, []byte(room)) != 1 {
		return "", fmt.Errorf("%w: resume token is for another room", ErrInvalidToken)
	}
	exp, err := strconv.ParseInt(parts[3], 10, 64)
	if err != nil {
		return "", fmt.Errorf("%w: malformed resume expiry", ErrInvalidToken)
	}
	if now.Unix() >= exp {
		return "", ErrTokenExpired
	}
	return parts[2], nil
}

// resumeExpiry is the expiry written in a verified resume token.
func resumeExpiry(token string) time.Time {
	parts := strings.Split(token, ".")
	if len(parts) != 5 {
		return time.Time{}
	}
	exp, err := strconv.ParseInt(parts[3], 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.Unix(exp, 0)
}

func tokenMAC(secret []byte, label string, fields ...string) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(label))
	for _, f := range fields {
		// NUL separators: room names and ids cannot contain NUL, so field
		// boundaries are unambiguous.
		h.Write([]byte{0})
		h.Write([]byte(f))
	}
	return h.Sum(nil)
}

// TURNCredentials mints TURN REST API credentials (coturn use-auth-secret):
// username "<unix expiry>:<user>", password base64(HMAC-SHA1(secret, username)).
func TURNCredentials(secret []byte, user string, ttl time.Duration) (username, password string, err error) {
	if len(secret) == 0 {
		return "", "", configErr("TURN secret is empty")
	}
	username, password, err = turn.GenerateLongTermTURNRESTCredentials(string(secret), user, ttl)
	if err != nil {
		return "", "", fmt.Errorf("turn credentials: %w", err)
	}
	return username, password, nil
}

// roomPassword is a salted SHA-256 of a room password; the plain password
// is never stored.
type roomPassword struct {
	salt [16]byte
	sum  [32]byte
}

func hashPassword(pw string) (*roomPassword, error) {
	p := &roomPassword{}
	if _, err := rand.Read(p.salt[:]); err != nil {
		return nil, fmt.Errorf("password salt: %w", err)
	}
	p.sum = saltedSum(p.salt[:], pw)
	return p, nil
}

func (p *roomPassword) matches(pw string) bool {
	sum := saltedSum(p.salt[:], pw)
	return subtle.ConstantTimeCompare(sum[:], p.sum[:]) == 1
}

func saltedSum(salt []byte, pw string) [32]byte {
	h := sha256.New()
	h.Write(salt)
	h.Write([]byte(pw))
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// randomID returns n random bytes hex-encoded.
func randomID(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		// crypto/rand does not fail on supported platforms (Go 1.24+ panics
		// internally instead); keep a defined result anyway.
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return hex.EncodeToString(b)
}

// maxRevoked bounds the revoked resume token table. Past it, expired
// entries are swept; if it is still full the oldest entries go (their
// tokens then work again until they expire, which only helps whoever held
// them).
const maxRevoked = 100000

// revocations holds resume tokens that were rotated away or given up with
// bye, until they would have expired anyway. Owned by the hub goroutine.
type revocations struct {
	until map[string]time.Time
	order []string // insertion order, for eviction when full
}

func newRevocations() *revocations { return &revocations{until: make(map[string]time.Time)} }

func (r *revocations) add(token string, now time.Time, ttl time.Duration) {
	if _, ok := r.until[token]; ok {
		return
	}
	if len(r.until) >= maxRevoked {
		keep := r.order[:0]
		for _, t := range r.order {
			if now.After(r.until[t]) {
				delete(r.until, t)
			} else {
				keep = append(keep, t)
			}
		}
		r.order = keep
		for len(r.until) >= maxRevoked {
			delete(r.until, r.order[0])
			r.order = r.order[1:]
		}
	}
	r.until[token] = now.Add(ttl)
	r.order = append(r.order, token)
}

func (r *revocations) has(token string, now time.Time) bool {
	u, ok := r.until[token]
	return ok && !now.After(u)
}
