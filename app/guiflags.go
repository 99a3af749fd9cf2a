package app

import (
	"errors"
	"flag"
	"fmt"
	"io"
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
}

// ParseGUIFlags parses the GUI command line (everything but --headless).
// Errors wrap ErrBadFlags; -h returns flag.ErrHelp wrapped.
func ParseGUIFlags(args []string, out io.Writer) (GUIOptions, error) {
	var o GUIOptions
	fs := flag.NewFlagSet("peercall", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.Room, "room", "", "room name to pre-fill")
	fs.StringVar(&o.Name, "name", "", "display name to pre-fill")
	fs.StringVar(&o.Password, "password", "", "room password to pre-fill")
	fs.StringVar(&o.Join, "join", "", "signaling server URL (or join string) to pre-fill")
	fs.BoolVar(&o.Host, "host", false, "with --auto-join: start (host) a call instead of joining")
	fs.BoolVar(&o.AutoJoin, "auto-join", false, "join (or start) the call at once")
	fs.StringVar(&o.Media.Video, "video", "", "video source: camera (default), synthetic or none")
	fs.StringVar(&o.Media.Audio, "audio", "", "audio source: mic (default), synthetic, tone or none")
	fs.BoolVar(&o.Media.LoopbackOnly, "loopback-only", false, "ICE and hosting on loopback only (tests)")
	fs.StringVar(&o.Screenshot, "screenshot", "", "save a PNG of the window to `FILE`")
	fs.DurationVar(&o.ScreenshotAfter, "screenshot-after", 6*time.Second, "when to take the screenshot")
	fs.DurationVar(&o.QuitAfter, "quit-after", 0, "quit after this long (0: never)")
	fs.BoolVar(&o.CPUReport, "cpu-report", false, "print CPU use at exit")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile to `FILE`")
	fs.IntVar(&o.MaxDisplayFPS, "max-display-fps", 0, "repaint the window at most N times a second (saves CPU with software GL; 0 = follow the video)")
	window := fs.String("window", fmt.Sprintf("%dx%d", DefaultWindowW, DefaultWindowH), "initial window size `WxH`")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, errHelp
		}
		return o, badFlag("%v", err)
	}
	if fs.NArg() > 0 {
		return o, badFlag("unexpected argument %q", fs.Arg(0))
	}
	switch o.Media.Video {
	case "", "camera", "synthetic", "none":
	default:
		return o, badFlag("--video %q: want camera, synthetic or none", o.Media.Video)
	}
	switch o.Media.Audio {
	case "", "mic", "synthetic", "tone", "none":
	default:
		return o, badFlag("--audio %q: want mic, synthetic, tone or none", o.Media.Audio)
	}
	if n, err := fmt.Sscanf(*window, "%dx%d", &o.WindowW, &o.WindowH); err != nil || n != 2 ||
		o.WindowW < 320 || o.WindowH < 240 || o.WindowW > 16384 || o.WindowH > 16384 {
		return o, badFlag("--window %q: want WxH, from 320x240 to 16384x16384", *window)
	}
	if o.MaxDisplayFPS < 0 || o.MaxDisplayFPS > 240 {
		return o, badFlag("--max-display-fps must be 0..240")
	}
	if o.AutoJoin && !o.Host && o.Join == "" {
		return o, badFlag("--auto-join needs --join URL or --host")
	}
	if o.AutoJoin && o.Room == "" {
		if _, room, err := ParseJoinString(o.Join); err != nil || room == "" {
			return o, badFlag("--auto-join needs --room")
		}
	}
	if o.Join != "" {
		if _, _, err := ParseJoinString(o.Join); err != nil {
			return o, badFlag("--join must be a ws:// or wss:// URL")
		}
	}
	return o, nil
}

// IsHelp reports whether err is the -h request of ParseGUIFlags.
func IsHelp(err error) bool { return errors.Is(err, errHelp) }
