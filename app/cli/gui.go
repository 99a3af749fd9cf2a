package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/peercall/peercall/app"
)

// ParseGUIFlags parses the GUI command line (everything but --headless).
// Errors wrap app.ErrBadFlags; -h returns flag.ErrHelp.
func ParseGUIFlags(args []string, out io.Writer) (app.GUIOptions, error) {
	var o app.GUIOptions
	fs := flag.NewFlagSet("peercall", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.Room, "room", "", "room name to pre-fill")
	fs.StringVar(&o.Name, "name", "", "display name to pre-fill")
	fs.StringVar(&o.Password, "password", "", "room password to pre-fill")
	fs.StringVar(&o.Join, "join", "", "signaling server URL (or join string) to pre-fill")
	fs.BoolVar(&o.Host, "host", false, "with --auto-join: start (host) a call instead of joining")
	fs.BoolVar(&o.AutoJoin, "auto-join", false, "join (or start) the call at once")
	fs.StringVar(&o.Media.Video, "video", "", "video source: camera (default), synthetic, FILE.y4m (a clip as the camera, looped; for benches) or none")
	fs.StringVar(&o.Media.Audio, "audio", "", "audio source: mic (default), synthetic, tone or none")
	fs.BoolVar(&o.Media.LoopbackOnly, "loopback-only", false, "ICE and hosting on loopback only (tests)")
	fs.StringVar(&o.Screenshot, "screenshot", "", "save a PNG of the window to `FILE`")
	fs.DurationVar(&o.ScreenshotAfter, "screenshot-after", 6*time.Second, "when to take the screenshot")
	fs.DurationVar(&o.QuitAfter, "quit-after", 0, "quit after this long (0: never)")
	fs.BoolVar(&o.CPUReport, "cpu-report", false, "print CPU use at exit")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile to `FILE`")
	fs.BoolVar(&o.ToolkitVideo, "toolkit-video", false, "paint remote video with the GUI toolkit (GL) instead of X11 windows of its own")
	fs.IntVar(&o.MaxDisplayFPS, "max-display-fps", 0, "repaint the window at most N times a second (saves CPU with software GL; 0 = follow the video)")
	window := fs.String("window", fmt.Sprintf("%dx%d", app.DefaultWindowW, app.DefaultWindowH), "initial window size `WxH`")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, flag.ErrHelp
		}
		return o, badFlag("%v", err)
	}
	if fs.NArg() > 0 {
		return o, badFlag("unexpected argument %q", fs.Arg(0))
	}
	if err := o.Validate(); err != nil {
		return o, err
	}
	var err error
	if o.WindowW, o.WindowH, err = app.SplitSize(*window); err != nil ||
		o.WindowW < 320 || o.WindowH < 240 || o.WindowW > 16384 || o.WindowH > 16384 {
		return o, badFlag("--window %q: want WxH, from 320x240 to 16384x16384", *window)
	}
	return o, nil
}

// IsHelp reports whether err is the -h request of ParseGUIFlags.
func IsHelp(err error) bool { return errors.Is(err, flag.ErrHelp) }
