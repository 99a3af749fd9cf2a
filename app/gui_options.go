package app

import (
	"time"
)

// DefaultWindowW and DefaultWindowH are the window's initial size: a
// 640x480 stream shows about pixel for pixel between the call screen's top
// and bottom bars.
const DefaultWindowW, DefaultWindowH = 900, 580

// GUIOptions are the desktop app's command-line flags: pre-filled fields,
// automatic join and the knobs of the Xvfb smoke run.
type GUIOptions struct {
	Room, Name, Password string
	Join                 string // server URL (or join string) to pre-fill
	Host                 bool   // with AutoJoin: "Start a call" instead of "Join"
	AutoJoin             bool

	Media MediaOptions

	Screenshot      string        // save the window here after ScreenshotAfter
	ScreenshotAfter time.Duration // from start
	QuitAfter       time.Duration // 0 = run until closed
	CPUReport       bool          // print process CPU use at exit
	CPUProfile      string        // write a pprof CPU profile
	MaxDisplayFPS   int           // cap window repaints (0: follow the video)
	WindowW         int           // initial window size in device-independent pixels
	WindowH         int
	// ToolkitVideo paints every picture with the GUI toolkit, never in a
	// window of its own (X11 surfaces; see docs/desktop.md).
	ToolkitVideo bool
}

// Validate checks the desktop app's command-line options (the window size
// is checked where --window is parsed). Errors wrap ErrBadFlags.
func (o *GUIOptions) Validate() error {
	switch v := o.Media.Video; {
	case v == "", v == "camera", v == "synthetic", v == "none":
	case isY4MPath(v):
		// A clip as the camera (CPU benches beside Chromium's fake capture
		// file): the camera's pipeline, frames read from the file.
		if err := checkY4M(v); err != nil {
			return badFlag("--video %s: %v", v, err)
		}
	default:
		return badFlag("--video %q: want camera, synthetic, FILE.y4m or none", o.Media.Video)
	}
	switch o.Media.Audio {
	case "", "mic", "synthetic", "tone", "none":
	default:
		return badFlag("--audio %q: want mic, synthetic, tone or none", o.Media.Audio)
	}
	if o.MaxDisplayFPS < 0 || o.MaxDisplayFPS > 240 {
		return badFlag("--max-display-fps must be 0..240")
	}
	if o.AutoJoin && !o.Host && o.Join == "" {
		return badFlag("--auto-join needs --join URL or --host")
	}
	if o.AutoJoin && o.Room == "" {
		if _, room, err := ParseJoinString(o.Join); err != nil || room == "" {
			return badFlag("--auto-join needs --room")
		}
	}
	if o.Join != "" {
		if _, _, err := ParseJoinString(o.Join); err != nil {
			return badFlag("--join must be a ws:// or wss:// URL")
		}
	}
	return nil
}
