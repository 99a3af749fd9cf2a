package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/peercall/peercall/app"
)

func TestParseHeadlessFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr bool
		check   func(t *testing.T, o app.HeadlessOptions)
	}{
		{"minimal serve", []string{"--serve", "127.0.0.1:0", "--room", "r"}, false, func(t *testing.T, o app.HeadlessOptions) {
			if o.Width != 640 || o.Height != 480 || o.FPS != 30 || o.Duration != 10*time.Second || o.ICEPolicy != "no-host" || !o.OpusFEC ||
				o.PeerWait != app.DefaultPeerWait || o.AudioMarkers || o.Peers != 2 {
				t.Errorf("defaults wrong: %+v", o)
			}
		}},
		{"full", []string{"--server", "wss://h:443/ws", "--room", "r", "--size", "1280x720", "--fps", "25",
			"--port-range", "16384-32768", "--stun", "stun:127.0.0.1:3478", "--turn", "turn:127.0.0.1:3478?transport=tcp",
			"--turn-user", "u", "--turn-pass", "p", "--simulate-loss", "10", "--expect-fps", "25", "--ice-policy", "relay"}, false,
			func(t *testing.T, o app.HeadlessOptions) {
				if o.Width != 1280 || o.Height != 720 || o.PortMin != 16384 || o.PortMax != 32768 || len(o.STUN) != 1 || len(o.TURN) != 1 || o.SimulateLoss != 10 {
					t.Errorf("parsed wrong: %+v", o)
				}
			}},
		{"no room", []string{"--serve", ":0"}, true, nil},
		{"no server", []string{"--room", "r"}, true, nil},
		{"http url", []string{"--server", "http://h/ws", "--room", "r"}, true, nil},
		{"bad size", []string{"--serve", ":0", "--room", "r", "--size", "640"}, true, nil},
		{"odd size", []string{"--serve", ":0", "--room", "r", "--size", "641x480"}, true, nil},
		{"bad port range", []string{"--serve", ":0", "--room", "r", "--port-range", "5000-4000"}, true, nil},
		{"low port", []string{"--serve", ":0", "--room", "r", "--port-range", "80-90"}, true, nil},
		{"bad policy", []string{"--serve", ":0", "--room", "r", "--ice-policy", "leaky"}, true, nil},
		{"loss 100", []string{"--serve", ":0", "--room", "r", "--simulate-loss", "100"}, true, nil},
		{"password and token", []string{"--serve", ":0", "--room", "r", "--password", "a", "--token", "b"}, true, nil},
		{"turn user alone", []string{"--serve", ":0", "--room", "r", "--turn-user", "u"}, true, nil},
		{"bad stun", []string{"--serve", ":0", "--room", "r", "--stun", "http://x"}, true, nil},
		{"unknown flag", []string{"--serve", ":0", "--room", "r", "--bogus"}, true, nil},
		{"extra arg", []string{"--serve", ":0", "--room", "r", "extra"}, true, nil},
		{"zero fps", []string{"--serve", ":0", "--room", "r", "--fps", "0"}, true, nil},
		{"room with space", []string{"--serve", ":0", "--room", "my room"}, true, nil},
		{"room too long", []string{"--serve", ":0", "--room", strings.Repeat("r", 65)}, true, nil},
		{"room slash", []string{"--serve", ":0", "--room", "a/b"}, true, nil},
		{"mdns on loopback", []string{"--serve", ":0", "--room", "r", "--ice-policy", "mdns", "--loopback-only"}, true, nil},
		{"mdns on ice ip", []string{"--serve", ":0", "--room", "r", "--ice-policy", "mdns", "--ice-ip", "10.99.0.1"}, true, nil},
		{"ice ip not ipv4", []string{"--serve", ":0", "--room", "r", "--ice-ip", "eth0"}, true, nil},
		{"ice ip", []string{"--serve", ":0", "--room", "r", "--ice-policy", "all", "--ice-ip", "10.99.0.1"}, false, func(t *testing.T, o app.HeadlessOptions) {
			if o.ICEIP != "10.99.0.1" {
				t.Errorf("ICEIP = %q", o.ICEIP)
			}
		}},
		{"turn without credentials", []string{"--serve", ":0", "--room", "r", "--turn", "turn:127.0.0.1:3478"}, true, nil},
		{"bad turn url", []string{"--serve", ":0", "--room", "r", "--turn", "turn:", "--turn-user", "u", "--turn-pass", "p"}, true, nil},
		{"loopback-only with remote stun", []string{"--serve", ":0", "--room", "r", "--loopback-only", "--stun", "stun:192.0.2.1:3478"}, true, nil},
		{"report in missing dir", []string{"--serve", ":0", "--room", "r", "--report", "/nonexistent-dir/r.json"}, true, nil},
		{"report is a dir", []string{"--serve", ":0", "--room", "r", "--report", os.TempDir()}, true, nil},
		{"ready file in missing dir", []string{"--serve", ":0", "--room", "r", "--ready-file", "/nonexistent-dir/ready"}, true, nil},
		{"zero peer wait", []string{"--serve", ":0", "--room", "r", "--peer-wait", "0s"}, true, nil},
		{"markers on synthetic", []string{"--serve", ":0", "--room", "r", "--audio-markers"}, true, nil},
		{"peer wait, markers, report", []string{"--serve", ":0", "--room", "r.1_x-Y", "--peer-wait", "5s", "--audio", "a.wav", "--audio-markers",
			"--report", filepath.Join(os.TempDir(), "peercall-flags-test.json")}, false, func(t *testing.T, o app.HeadlessOptions) {
			if o.PeerWait != 5*time.Second || !o.AudioMarkers {
				t.Errorf("parsed wrong: %+v", o)
			}
			if _, err := os.Stat(o.ReportPath); !os.IsNotExist(err) {
				t.Errorf("the writability check left %s behind", o.ReportPath)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := ParseHeadlessFlags(tt.args, io.Discard)
			if tt.wantErr {
				if !errors.Is(err, app.ErrBadFlags) {
					t.Fatalf("err = %v, want app.ErrBadFlags", err)
				}
				if ExitCode(err) != ExitBadFlags {
					t.Fatalf("exit code %d", ExitCode(err))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, o)
		})
	}
}

// TestParseHeadlessFlagsSaysWhy: a refused command line names the flag
// and what to give instead; accepted ones come back in canonical form.
func TestParseHeadlessFlagsSaysWhy(t *testing.T) {
	base := []string{"--serve", "127.0.0.1:0", "--room", "r"}
	tests := []struct {
		name string
		args []string
		want string // part of the error; "" means accepted
	}{
		{"peers 3", []string{"--peers", "3"}, ""},
		{"peers 4", []string{"--peers", "4"}, ""},
		{"peers 5", []string{"--peers", "5"}, "--peers 5: a room holds at most 4 people"},
		{"peers 1", []string{"--peers", "1"}, "--peers 1: a call needs at least 2 people"},
		{"peers -2", []string{"--peers", "-2"}, "--peers -2: a call needs at least 2 people"},
		{"peers not a number", []string{"--peers", "two"}, "-peers"},
		{"policy in capitals", []string{"--ice-policy", "Relay", "--turn", "turn:127.0.0.1:3478", "--turn-user", "u", "--turn-pass", "p"}, ""},
		{"unknown policy", []string{"--ice-policy", "leaky"}, `--ice-policy "leaky": want all, mdns, no-host, relay or proxy`},
		{"turn url as stun", []string{"--stun", "turn:127.0.0.1:3478"}, "want a stun: URL"},
		{"stun url as turn", []string{"--turn", "stun:127.0.0.1:3478", "--turn-user", "u", "--turn-pass", "p"}, "want a turn: or turns: URL"},
		{"stuns", []string{"--stun", "stuns:127.0.0.1:5349"}, "stuns: is not supported"},
		{"stun with transport", []string{"--stun", "stun:127.0.0.1?transport=tcp"}, "no ?transport"},
		{"turns over udp", []string{"--turn", "turns:127.0.0.1:5349?transport=udp", "--turn-user", "u", "--turn-pass", "p"}, "turns: runs over TCP only"},
		{"size with spaces", []string{"--size", " 320x240 "}, ""},
		{"size zero", []string{"--size", "0x0"}, "is not WxH"},
		{"voice processing off", []string{"--aec", "off", "--ns", "false", "--agc", "0"}, ""},
		{"aec maybe", []string{"--aec", "maybe"}, "want on or off"},
		{"speaker with a line break", []string{"--speaker", "sink\nrm -rf"}, "--speaker: want a device id, default or none"},
		{"share a region", []string{"--share", "screen::1:640x480+0+0", "--share-toggle", "2s"}, ""},
		{"share a window", []string{"--share", "window:0x2a00007"}, ""},
		{"share a file", []string{"--share", "movie.mp4"}, `--share "movie.mp4": want synthetic, screen[:DISPLAY[:WxH+X+Y]], window:ID or portal`},
		{"share a tiny region", []string{"--share", "screen::1:8x8+0+0"}, "want synthetic, screen"},
		{"toggle without share", []string{"--share-toggle", "2s"}, "--share-toggle needs --share"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseHeadlessFlags(append(append([]string{}, base...), tt.args...), io.Discard)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, app.ErrBadFlags) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrBadFlags saying %q", err, tt.want)
			}
		})
	}
	o, err := ParseHeadlessFlags(append(base, "--peers", "3", "--ice-policy", " MDNS "), io.Discard)
	if err != nil || o.Peers != 3 || o.ICEPolicy != "mdns" {
		t.Fatalf("peers %d policy %q, %v; want 3, mdns", o.Peers, o.ICEPolicy, err)
	}
}

// TestHeadlessUsage: --help documents --peers and every ICE policy.
func TestHeadlessUsage(t *testing.T) {
	var b strings.Builder
	if _, err := ParseHeadlessFlags([]string{"-h"}, &b); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	for _, want := range []string{"-peers", "2..4", "all, mdns, no-host, relay or proxy"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("usage lacks %q", want)
		}
	}
}

func TestExitCode(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errors.New("x"), 1},
		{badFlag("x"), 2},
		{app.ErrExpectationUnmet, 3},
		{&app.UserError{Msg: "no", Err: app.ErrConnect}, 4},
		{fmt.Errorf("%w before the call connected", app.ErrInterrupted), 5},
		{fmt.Errorf("%w: sending 1f: Declined.", app.ErrFileTransfer), 6},
	}
	for _, tt := range tests {
		if got := ExitCode(tt.err); got != tt.want {
			t.Errorf("ExitCode(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}
