package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/peercall/peercall/signalserver"
)

var testSecret = []byte("test-secret-0123456789abcdef")

func TestCLIToken(t *testing.T) {
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"token", "--room", "R1", "--ttl", "1h", "--secret", string(testSecret)}, &out, &errb)
	if err != nil {
		t.Fatalf("token: %v (%s)", err, errb.String())
	}
	if err := signalserver.VerifyToken(testSecret, strings.TrimSpace(out.String()), "R1", time.Now()); err != nil {
		t.Fatalf("minted token invalid: %v", err)
	}
	// The secret can come from the environment.
	t.Setenv("PEERCALL_SECRET", string(testSecret))
	out.Reset()
	if err := run(context.Background(), []string{"token", "--room", "R2"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if err := signalserver.VerifyToken(testSecret, strings.TrimSpace(out.String()), "R2", time.Now()); err != nil {
		t.Fatalf("env-secret token invalid: %v", err)
	}
	os.Unsetenv("PEERCALL_SECRET")
	if err := run(context.Background(), []string{"token", "--room", "R3"}, &out, &errb); !errors.Is(err, signalserver.ErrConfig) {
		t.Fatalf("token without secret = %v", err)
	}
}

func TestCLIHelpAndServe(t *testing.T) {
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"--help"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"--addr", "PEERCALL_ADDR", "--tls-self-signed", "PEERCALL_TURN_LISTEN", "--turn-allow-private", "token --room"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("help lacks %q", want)
		}
	}
	if err := run(context.Background(), []string{"--room-capacity", "0"}, &out, &errb); !errors.Is(err, signalserver.ErrConfig) {
		t.Errorf("bad capacity: %v", err)
	}
	// Serve via env configuration until the context ends.
	t.Setenv("PEERCALL_ADDR", "127.0.0.1:0")
	t.Setenv("PEERCALL_TLS_SELF_SIGNED", "true")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	out.Reset()
	go func() { done <- run(ctx, []string{"--log-level", "warn"}, &out, &errb) }()
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

func TestHardeningFlags(t *testing.T) {
	var out, errb strings.Builder
	if err := run(context.Background(), []string{"--help"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"--turn-user-quota", "--turn-ip-quota", "--turn-max-lifetime", "--turn-allow-tcp",
		"--max-rooms-per-ip", "--max-pending-per-ip", "--ipv6-prefix", "--auth-free-attempts", "--auth-backoff",
		"--auth-max-backoff", "--public-host", "--resume-ttl", "PEERCALL_PUBLIC_HOST"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("help lacks %q", want)
		}
	}
	for _, bad := range [][]string{
		{"--ipv6-prefix", "8"}, {"--max-rooms-per-ip", "0"}, {"--auth-backoff", "0s"},
		{"--auth-max-backoff", "1ms"}, {"--max-pending-per-ip", "-1"},
	} {
		if err := run(context.Background(), bad, &out, &errb); !errors.Is(err, signalserver.ErrConfig) {
			t.Errorf("%v: %v, want signalserver.ErrConfig", bad, err)
		}
	}
}
