package cli

import (
	"errors"
	"io"
	"testing"
	"time"

	"github.com/peercall/peercall/app"
)

func TestParseGUIFlags(t *testing.T) {
	tests := []struct {
		args []string
		ok   bool
	}{
		{nil, true},
		{[]string{"--room", "smoke", "--join", "ws://127.0.0.1:1/ws", "--loopback-only", "--auto-join", "--video", "synthetic"}, true},
		{[]string{"--join", "ws://127.0.0.1:1/ws?room=r", "--auto-join"}, true},
		{[]string{"--host", "--auto-join", "--room", "r"}, true},
		{[]string{"--auto-join", "--room", "r"}, false},
		{[]string{"--join", "ws://127.0.0.1:1/ws", "--auto-join"}, false},
		{[]string{"--join", "http://x"}, false},
		{[]string{"--video", "webcam"}, false},
		{[]string{"--audio", "loud"}, false},
		{[]string{"stray"}, false},
		{[]string{"--nope"}, false},
		{[]string{"--max-display-fps", "20"}, true},
		{[]string{"--max-display-fps", "-1"}, false},
		{[]string{"--window", "1920x1080"}, true},
		{[]string{"--window", "1920"}, false},
		{[]string{"--window", "100x100"}, false},
		{[]string{"--window", "axb"}, false},
		{[]string{"--window", "1280x720x3"}, false}, // the same WxH parser as --size: no trailing junk
		{[]string{"--window", "1280X720"}, true},
		{[]string{"--toolkit-video"}, true},
		{[]string{"--toolkit-video=maybe"}, false},
	}
	for _, tt := range tests {
		_, err := ParseGUIFlags(tt.args, io.Discard)
		if (err == nil) != tt.ok {
			t.Errorf("%v: err=%v, want ok=%v", tt.args, err, tt.ok)
		}
		if err != nil && !errors.Is(err, app.ErrBadFlags) {
			t.Errorf("%v: %v does not wrap app.ErrBadFlags", tt.args, err)
		}
	}
	o, err := ParseGUIFlags([]string{"--screenshot", "build/x.png", "--screenshot-after", "2s", "--quit-after", "9s", "--cpu-report"}, io.Discard)
	if err != nil || o.Screenshot != "build/x.png" || o.ScreenshotAfter != 2*time.Second || o.QuitAfter != 9*time.Second || !o.CPUReport {
		t.Errorf("got %+v %v", o, err)
	}
	if o, err := ParseGUIFlags([]string{"--window", "1280x720"}, io.Discard); err != nil || o.WindowW != 1280 || o.WindowH != 720 {
		t.Errorf("--window 1280x720: got %dx%d %v", o.WindowW, o.WindowH, err)
	}
	if o, err := ParseGUIFlags(nil, io.Discard); err != nil || o.WindowW != 900 || o.WindowH != 580 {
		t.Errorf("default window: got %dx%d %v", o.WindowW, o.WindowH, err)
	}
	if _, err := ParseGUIFlags([]string{"-h"}, io.Discard); !IsHelp(err) {
		t.Errorf("-h: %v", err)
	}
}

// TestToolkitVideoFlag: X11 surfaces for video unless --toolkit-video.
func TestToolkitVideoFlag(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want bool
	}{{nil, false}, {[]string{"--toolkit-video"}, true}} {
		o, err := ParseGUIFlags(tt.args, io.Discard)
		if err != nil || o.ToolkitVideo != tt.want {
			t.Errorf("%v: ToolkitVideo %v err %v, want %v", tt.args, o.ToolkitVideo, err, tt.want)
		}
	}
}
