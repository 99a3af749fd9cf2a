package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
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

// TestCLIRoomCapacity: the server the command runs holds DefaultRoomCapacity
// (4) peers per room unless --room-capacity or PEERCALL_ROOM_CAPACITY says
// otherwise, and tells every joiner in joined.capacity.
func TestCLIRoomCapacity(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  string
		want int
	}{
		{"default", nil, "", signalserver.DefaultRoomCapacity},
		{"flag", []string{"--room-capacity", "3"}, "", 3},
		{"env", nil, "2", 2},
		{"flag wins", []string{"--room-capacity", "6"}, "2", 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.env != "" {
				t.Setenv("PEERCALL_ROOM_CAPACITY", tt.env)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := ln.Addr().String()
			_ = ln.Close() // run listens on it itself
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				done <- run(ctx, append([]string{"--addr", addr, "--log-level", "warn"}, tt.args...), io.Discard, io.Discard)
			}()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("run: %v", err)
				}
			}()
			var c *signalserver.Client
			deadline := time.Now().Add(10 * time.Second)
			for {
				dctx, dcancel := context.WithTimeout(context.Background(), 2*time.Second)
				c, err = signalserver.Dial(dctx, "ws://"+addr+"/ws", signalserver.ClientOptions{Room: "cap", Name: "n", NoReconnect: true})
				dcancel()
				if err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("dial: %v", err)
				}
				time.Sleep(50 * time.Millisecond)
			}
			defer c.Close()
			if got := c.Capacity(); got != tt.want {
				t.Errorf("joined.capacity = %d, want %d", got, tt.want)
			}
		})
	}
}
