package app

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// HeadlessOptions configures one headless run (see docs/headless-report.md).
type HeadlessOptions struct {
	Server   string // ws:// or wss:// URL of the signaling endpoint
	Serve    string // if set, host the signaling server in-process on this address
	Room     string
	Name     string
	Password string
	Token    string

	Duration time.Duration

	Video  string // synthetic | camera | FILE.ivf | none
	Audio  string // synthetic | tone | mic | FILE.ogg | FILE.wav | none
	Width  int
	Height int
	FPS    int

	ICEPolicy    string
	STUN         []string
	TURN         []string
	TURNUser     string
	TURNPass     string
	PortMin      uint16
	PortMax      uint16
	LoopbackOnly bool

	RecordDir    string
	SimulateLoss float64 // percent of received RTP dropped at random
	OpusFEC      bool
	ReportPath   string // "-" for stdout, "" for none
	ReadyFile    string // created once joined (scripts wait for it)

	ExpectFPS       float64
	ExpectMinFrames int
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// ParseHeadlessFlags parses the headless command line. Errors wrap ErrBadFlags.
// Usage text goes to out when -h is given (flag.ErrHelp is returned).
func ParseHeadlessFlags(args []string, out io.Writer) (HeadlessOptions, error) {
	var o HeadlessOptions
	fs := flag.NewFlagSet("peercall-headless", flag.ContinueOnError)
	fs.SetOutput(out)
	var size, portRange string
	var stun, turn stringList
	fs.StringVar(&o.Server, "server", "", "signaling server URL, e.g. ws://127.0.0.1:8080/ws")
	fs.StringVar(&o.Serve, "serve", "", "also host the signaling server in-process on `ADDR` (e.g. 127.0.0.1:0)")
	fs.StringVar(&o.Room, "room", "", "room to join (required)")
	fs.StringVar(&o.Name, "name", "headless", "display name")
	fs.StringVar(&o.Password, "password", "", "room password")
	fs.StringVar(&o.Token, "token", "", "signed join token")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "how long to stay in the call once connected")
	fs.StringVar(&o.Video, "video", "synthetic", "video source: synthetic, camera, FILE.ivf or none")
	fs.StringVar(&o.Audio, "audio", "synthetic", "audio source: synthetic (speech-like), tone, mic, FILE.ogg, FILE.wav or none")
	fs.StringVar(&size, "size", "640x480", "synthetic/camera video size WxH")
	fs.IntVar(&o.FPS, "fps", 30, "synthetic/camera frame rate")
	fs.StringVar(&o.ICEPolicy, "ice-policy", "no-host", "ICE policy: all, mdns, no-host, relay, proxy")
	fs.Var(&stun, "stun", "STUN server URL (repeatable)")
	fs.Var(&turn, "turn", "TURN server URL (repeatable)")
	fs.StringVar(&o.TURNUser, "turn-user", "", "TURN username")
	fs.StringVar(&o.TURNPass, "turn-pass", "", "TURN password")
	fs.StringVar(&portRange, "port-range", "", "UDP port range A-B for ICE")
	fs.BoolVar(&o.LoopbackOnly, "loopback-only", false, "gather and accept only loopback candidates (tests)")
	fs.StringVar(&o.RecordDir, "record", "", "write received video (IVF) and audio (Ogg) to `DIR`")
	fs.Float64Var(&o.SimulateLoss, "simulate-loss", 0, "drop this percentage of received RTP at random")
	fs.BoolVar(&o.OpusFEC, "opus-fec", true, "enable Opus in-band FEC on the sent audio")
	fs.StringVar(&o.ReportPath, "report", "", "write the JSON report to `FILE` (- for stdout)")
	fs.StringVar(&o.ReadyFile, "ready-file", "", "create `FILE` once joined to the room (for scripts)")
	fs.Float64Var(&o.ExpectFPS, "expect-fps", 0, "exit 3 unless received video reaches N fps")
	fs.IntVar(&o.ExpectMinFrames, "expect-min-frames", 0, "exit 3 unless at least N video frames were decoded")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, badFlag("%v", err)
	}
	if fs.NArg() > 0 {
		return o, badFlag("unexpected argument %q", fs.Arg(0))
	}
	o.STUN, o.TURN = stun, turn
	var err error
	if o.Width, o.Height, err = ParseSize(size); err != nil {
		return o, badFlag("--size: %v", err)
	}
	if portRange != "" {
		if o.PortMin, o.PortMax, err = ParsePortRange(portRange); err != nil {
			return o, badFlag("--port-range: %v", err)
		}
	}
	return o, o.validate()
}

func (o *HeadlessOptions) validate() error {
	switch {
	case o.Room == "":
		return badFlag("--room is required")
	case o.Server == "" && o.Serve == "":
		return badFlag("give --server URL or --serve ADDR")
	case o.Duration <= 0 || o.Duration > 24*time.Hour:
		return badFlag("--duration must be between 0 and 24h")
	case o.FPS < 1 || o.FPS > 120:
		return badFlag("--fps must be 1..120")
	case o.SimulateLoss < 0 || o.SimulateLoss >= 100:
		return badFlag("--simulate-loss must be in [0, 100)")
	case o.ExpectFPS < 0 || o.ExpectMinFrames < 0:
		return badFlag("--expect-* must not be negative")
	case o.Password != "" && o.Token != "":
		return badFlag("give --password or --token, not both")
	}
	if o.Server != "" {
		u, err := url.Parse(o.Server)
		if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
			return badFlag("--server must be a ws:// or wss:// URL")
		}
	}
	switch o.ICEPolicy {
	case "all", "mdns", "no-host", "relay", "proxy":
	default:
		return badFlag("--ice-policy %q: want all, mdns, no-host, relay or proxy", o.ICEPolicy)
	}
	if (o.TURNUser == "") != (o.TURNPass == "") {
		return badFlag("--turn-user and --turn-pass go together")
	}
	for _, s := range o.STUN {
		if !strings.HasPrefix(s, "stun:") && !strings.HasPrefix(s, "stuns:") {
			return badFlag("--stun %q: want a stun: URL", s)
		}
	}
	for _, s := range o.TURN {
		if !strings.HasPrefix(s, "turn:") && !strings.HasPrefix(s, "turns:") {
			return badFlag("--turn %q: want a turn: or turns: URL", s)
		}
	}
	return nil
}

// ParseSize parses "WxH" with even dimensions between 16 and 4096.
func ParseSize(s string) (w, h int, err error) {
	a, b, ok := strings.Cut(strings.ToLower(s), "x")
	if !ok {
		return 0, 0, fmt.Errorf("%q is not WxH", s)
	}
	if w, err = strconv.Atoi(a); err != nil {
		return 0, 0, fmt.Errorf("%q is not WxH", s)
	}
	if h, err = strconv.Atoi(b); err != nil {
		return 0, 0, fmt.Errorf("%q is not WxH", s)
	}
	if w < 16 || h < 16 || w > 4096 || h > 4096 || w%2 != 0 || h%2 != 0 {
		return 0, 0, fmt.Errorf("%dx%d: sides must be even and between 16 and 4096", w, h)
	}
	return w, h, nil
}

// ParsePortRange parses "A-B" with 1024 <= A <= B <= 65535.
func ParsePortRange(s string) (lo, hi uint16, err error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, fmt.Errorf("%q is not A-B", s)
	}
	x, err1 := strconv.ParseUint(strings.TrimSpace(a), 10, 16)
	y, err2 := strconv.ParseUint(strings.TrimSpace(b), 10, 16)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("%q is not A-B", s)
	}
	if x < 1024 || x > y {
		return 0, 0, fmt.Errorf("%q: need 1024 <= A <= B <= 65535", s)
	}
	return uint16(x), uint16(y), nil
}

// errHelp is returned by ParseHeadlessFlags for -h/--help.
var errHelp = flag.ErrHelp
