package signalserver

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestJoinTokens(t *testing.T) {
	now := time.Now()
	good, err := MintToken(testSecret, "room", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")
	tampered := strings.Join([]string{parts[0], parts[1], strconv.FormatInt(now.Add(100*time.Hour).Unix(), 10), parts[3]}, ".")
	tests := []struct {
		name  string
		token string
		room  string
		at    time.Time
		want  error
	}{
		{"valid", good, "room", now, nil},
		{"expired", good, "room", now.Add(2 * time.Hour), ErrTokenExpired},
		{"other room", good, "other", now, ErrInvalidToken},
		{"extended expiry", tampered, "room", now, ErrInvalidToken},
		{"garbage", "hello", "room", now, ErrInvalidToken},
		{"bad base64", "pcj1.!!.1.!!", "room", now, ErrInvalidToken},
		{"resume token as join token", mintResume(testSecret, "room", "p1", now.Add(time.Hour)), "room", now, ErrInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifyToken(testSecret, tt.token, tt.room, tt.at)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("VerifyToken = %v, want %v", err, tt.want)
			}
		})
	}
	if err := VerifyToken([]byte("different-secret-xxxxxxxx"), good, "room", now); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("other secret: %v", err)
	}
	for _, bad := range []struct {
		secret []byte
		room   string
		ttl    time.Duration
	}{{nil, "r", time.Hour}, {testSecret, "a/b", time.Hour}, {testSecret, "r", 0}} {
		if _, err := MintToken(bad.secret, bad.room, bad.ttl); !errors.Is(err, ErrConfig) {
			t.Errorf("MintToken(%q,%q,%v) = %v", bad.secret, bad.room, bad.ttl, err)
		}
	}
}

func TestResumeTokens(t *testing.T) {
	now := time.Now()
	tok := mintResume(testSecret, "room", "peer1", now.Add(time.Minute))
	if id, err := verifyResume(testSecret, tok, "room", now); err != nil || id != "peer1" {
		t.Fatalf("verifyResume = %q, %v", id, err)
	}
	if _, err := verifyResume(testSecret, tok, "room", now.Add(time.Hour)); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("expired: %v", err)
	}
	if _, err := verifyResume(testSecret, tok, "room2", now); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("other room: %v", err)
	}
	swapped := strings.Replace(tok, ".peer1.", ".peer2.", 1)
	if _, err := verifyResume(testSecret, swapped, "room", now); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("other peer id: %v", err)
	}
}

func TestTURNCredentials(t *testing.T) {
	before := time.Now()
	user, pass, err := TURNCredentials(testSecret, "peer1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ts, id, ok := strings.Cut(user, ":")
	exp, perr := strconv.ParseInt(ts, 10, 64)
	if !ok || id != "peer1" || perr != nil || exp < before.Add(time.Hour).Unix() || exp > time.Now().Add(time.Hour).Unix() {
		t.Fatalf("username %q", user)
	}
	// coturn use-auth-secret: base64(HMAC-SHA1(secret, username)).
	mac := hmac.New(sha1.New, testSecret)
	mac.Write([]byte(user))
	if want := base64.StdEncoding.EncodeToString(mac.Sum(nil)); pass != want {
		t.Fatalf("password %q, want %q", pass, want)
	}
}

func TestPasswordHash(t *testing.T) {
	p, err := hashPassword("secret")
	if err != nil {
		t.Fatal(err)
	}
	if !p.matches("secret") || p.matches("Secret") || p.matches("") {
		t.Fatal("password matching wrong")
	}
	q, _ := hashPassword("secret")
	if p.sum == q.sum {
		t.Fatal("same hash for two salts")
	}
}
