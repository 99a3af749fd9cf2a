package signalserver

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"os"
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

func TestCLIToken(t *testing.T) {
	var out, errb bytes.Buffer
	err := Main(context.Background(), []string{"token", "--room", "R1", "--ttl", "1h", "--secret", string(testSecret)}, &out, &errb)
	if err != nil {
		t.Fatalf("token: %v (%s)", err, errb.String())
	}
	if err := VerifyToken(testSecret, strings.TrimSpace(out.String()), "R1", time.Now()); err != nil {
		t.Fatalf("minted token invalid: %v", err)
	}
	// The secret can come from the environment.
	t.Setenv("PEERCALL_SECRET", string(testSecret))
	out.Reset()
	if err := Main(context.Background(), []string{"token", "--room", "R2"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if err := VerifyToken(testSecret, strings.TrimSpace(out.String()), "R2", time.Now()); err != nil {
		t.Fatalf("env-secret token invalid: %v", err)
	}
	os.Unsetenv("PEERCALL_SECRET")
	if err := Main(context.Background(), []string{"token", "--room", "R3"}, &out, &errb); !errors.Is(err, ErrConfig) {
		t.Fatalf("token without secret = %v", err)
	}
}

func TestCLIHelpAndServe(t *testing.T) {
	var out, errb bytes.Buffer
	if err := Main(context.Background(), []string{"--help"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"--addr", "PEERCALL_ADDR", "--tls-self-signed", "PEERCALL_TURN_LISTEN", "--turn-allow-private", "token --room"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("help lacks %q", want)
		}
	}
	if err := Main(context.Background(), []string{"--room-capacity", "0"}, &out, &errb); !errors.Is(err, ErrConfig) {
		t.Errorf("bad capacity: %v", err)
	}
	// Serve via env configuration until the context ends.
	t.Setenv("PEERCALL_ADDR", "127.0.0.1:0")
	t.Setenv("PEERCALL_TLS_SELF_SIGNED", "true")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	out.Reset()
	go func() { done <- Main(ctx, []string{"--log-level", "warn"}, &out, &errb) }()
	time.Sleep(300 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Main: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Main did not stop")
	}
	if !strings.HasPrefix(out.String(), "tls-fingerprint-sha256: ") {
		t.Fatalf("stdout %q", out.String())
	}
}
