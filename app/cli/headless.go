package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/peercall/peercall/app"
	"github.com/peercall/peercall/call"
)

// HeadlessMain is the whole headless program: parse args, run, write the
// report, print errors in plain words. It returns the process exit code.
func HeadlessMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	// The log handler and this function's own messages share stderr, and
	// some libraries' goroutines log a last line after they were closed
	// (pion/turn's read loop): every write goes through one lock.
	stderr = &lockedWriter{w: stderr}
	var cpuProfile string
	level := slog.LevelWarn
	o, err := parseHeadlessFlags(args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&cpuProfile, "cpuprofile", "", "write a pprof CPU profile of the run to `FILE`")
		fs.TextVar(&level, "log-level", slog.LevelWarn, "what to log on stderr: `LEVEL` debug, info, warn or error (no SDP, candidates or addresses at any level)")
	})
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "peercall-headless: %v\n", err)
		return ExitBadFlags
	}
	if cpuProfile != "" {
		stop, err := startCPUProfile(cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "peercall-headless: --cpuprofile %s: %v\n", cpuProfile, err)
			return ExitBadFlags
		}
		defer stop()
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	// A signal ends the call like the end of --duration does (bye sent,
	// report written), so the run itself must not see it as a failure.
	rep, err := app.RunHeadless(ctx, o, log)
	if rep != nil && o.ReportPath != "" {
		if werr := app.WriteReport(rep, o.ReportPath, stdout); werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "peercall-headless: %v\n", err)
	}
	return ExitCode(err)
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// headlessUsageTail ends --help: what the exit codes and signals mean
// (docs/headless-report.md has the long form).
const headlessUsageTail = `
Exit codes:
  0  the call connected and ended (duration, peer hang-up or signal) with every expectation met
  1  other error (media source, I/O)
  2  bad flags, or a path that cannot be written (checked before joining)
  3  expectation unmet: an --expect-* check, or media the peer said it sends
     (mic/camera on) arrived more than 3 s after connecting or stopped more
     than 2 s before the end
  4  could not connect (signaling, ICE, or nobody joined within --peer-wait)
  5  interrupted by SIGINT/SIGTERM before the call connected
  6  a file transfer failed: a --send-file that did not end done (declined,
     canceled, hash mismatch, still incomplete), or an accepted offer that
     did not arrive verified

With --send-file or --receive-dir, a transfer still running when
--duration ends keeps the call up until it finishes, at most another
--duration.

SIGINT/SIGTERM during a call hangs up (bye sent) and writes the report.
`

// ParseHeadlessFlags parses the headless command line. Errors wrap app.ErrBadFlags.
// Usage text goes to out when -h is given (flag.ErrHelp is returned).
func ParseHeadlessFlags(args []string, out io.Writer) (app.HeadlessOptions, error) {
	return parseHeadlessFlags(args, out, nil)
}

// startCPUProfile profiles the whole process into path until stop.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); _ = f.Close() }, nil
}

// parseHeadlessFlags is ParseHeadlessFlags with flags of the process
// rather than of the run (--cpuprofile) added by extra.
func parseHeadlessFlags(args []string, out io.Writer, extra func(*flag.FlagSet)) (app.HeadlessOptions, error) {
	var o app.HeadlessOptions
	fs := flag.NewFlagSet("peercall-headless", flag.ContinueOnError)
	fs.SetOutput(out)
	var size, portRange string
	var stun, turn, sendFiles stringList
	var maxFile string
	fs.StringVar(&o.Server, "server", "", "signaling server URL, e.g. ws://127.0.0.1:8080/ws")
	fs.StringVar(&o.Serve, "serve", "", "also host the signaling server in-process on `ADDR` (e.g. 127.0.0.1:0)")
	fs.StringVar(&o.Room, "room", "", "room to join (required)")
	fs.StringVar(&o.Name, "name", "headless", "display name")
	fs.StringVar(&o.Password, "password", "", "room password")
	fs.StringVar(&o.Token, "token", "", "signed join token")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "how long to stay in the call once connected")
	fs.DurationVar(&o.PeerWait, "peer-wait", app.DefaultPeerWait, "give up (exit 4) when nobody else joins the room within this time")
	fs.IntVar(&o.Peers, "peers", app.DefaultPeers, fmt.Sprintf("people in the call, this run included (2..%d): wait for N-1 others", app.MaxPeers))
	fs.StringVar(&o.Video, "video", "synthetic", "video source: synthetic, camera, screen[:DISPLAY[:WxH+X+Y]], window:ID, portal, FILE.y4m (raw 4:2:0 frames, encoded at the clip's size and rate, looped), FILE.ivf (VP8 sent as it is) or none")
	fs.StringVar(&o.Audio, "audio", "synthetic", "audio source: synthetic (speech-like), tone, mic, FILE.ogg, FILE.wav or none")
	fs.BoolVar(&o.AudioMarkers, "audio-markers", false, "mix latency markers into a FILE.wav every 500 ms (files are sent unchanged by default)")
	fs.StringVar(&size, "size", "640x480", "synthetic/camera video size WxH")
	fs.IntVar(&o.FPS, "fps", 30, "synthetic/camera frame rate")
	fs.StringVar(&o.ICEPolicy, "ice-policy", "no-host", "ICE policy: "+call.PolicyNames())
	fs.Var(&stun, "stun", "STUN server URL (repeatable)")
	fs.Var(&turn, "turn", "TURN server URL (repeatable)")
	fs.StringVar(&o.TURNUser, "turn-user", "", "TURN username")
	fs.StringVar(&o.TURNPass, "turn-pass", "", "TURN password")
	fs.StringVar(&portRange, "port-range", "", "UDP port range A-B for ICE")
	fs.BoolVar(&o.LoopbackOnly, "loopback-only", false, "gather and accept only loopback candidates (tests)")
	fs.StringVar(&o.ICEIP, "ice-ip", "", "gather ICE candidates on this one local IPv4 `ADDR` only (an emulated link, tests)")
	fs.StringVar(&o.RecordDir, "record", "", "write received video (IVF) and audio (Ogg) to `DIR`")
	fs.Float64Var(&o.SimulateLoss, "simulate-loss", 0, "drop this percentage of received RTP at random")
	fs.BoolVar(&o.OpusFEC, "opus-fec", true, "enable Opus in-band FEC on the sent audio")
	aec, ns, agc := onOff{on: true}, onOff{on: true}, onOff{on: true}
	fs.Var(&aec, "aec", "echo cancellation on the microphone: on or off (--audio mic only)")
	fs.Var(&ns, "ns", "noise suppression on the microphone: on or off (--audio mic only)")
	fs.Var(&agc, "agc", "automatic gain control on the microphone: on or off (--audio mic only)")
	fs.StringVar(&o.Share, "share", "", "also share a screen once everyone is connected: synthetic, screen[:DISPLAY[:WxH+X+Y]], window:ID or portal (the desktop portal's picker, Wayland)")
	fs.StringVar(&o.ShareSnapshot, "share-snapshot", "", "write the last frame of a peer's screen share to `FILE.png` at the end (its luma, gray)")
	fs.DurationVar(&o.ShareToggle, "share-toggle", 0, "stop and restart the share every `D` (0: share to the end)")
	fs.StringVar(&o.Speaker, "speaker", "none", "play what the peers send: `DEVICE` id, default or none")
	fs.Var(&sendFiles, "send-file", "offer `PATH` to every peer once connected (repeatable)")
	fs.StringVar(&o.ReceiveDir, "receive-dir", "", "accept every file offer into `DIR` (without it offers are declined)")
	fs.StringVar(&maxFile, "max-file-size", "", "decline offers larger than `SIZE` (BYTES, NK, NM or NG; default 4096M)")
	fs.StringVar(&o.ReportPath, "report", "", "write the JSON report to `FILE` (- for stdout)")
	fs.StringVar(&o.ReadyFile, "ready-file", "", "create `FILE` once joined to the room (for scripts)")
	fs.Float64Var(&o.ExpectFPS, "expect-fps", 0, "exit 3 unless received video reaches N fps (exit 3 also when media the peer said it sends never arrived or stopped)")
	fs.IntVar(&o.ExpectMinFrames, "expect-min-frames", 0, "exit 3 unless at least N video frames were decoded")
	if extra != nil {
		extra(fs)
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: peercall-headless --room R (--server URL | --serve ADDR) [flags]\n\n")
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), headlessUsageTail)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, badFlag("%v", err)
	}
	if fs.NArg() > 0 {
		return o, badFlag("unexpected argument %q", fs.Arg(0))
	}
	o.STUN, o.TURN, o.SendFiles = stun, turn, sendFiles
	if maxFile != "" {
		n, err := app.ParseByteSize(maxFile)
		if err != nil || n == 0 {
			return o, badFlag("--max-file-size %q: want BYTES, NK, NM or NG, above 0", maxFile)
		}
		o.MaxFileSize = n
	}
	o.Voice = app.VoiceProcessing{EchoCancel: aec.on, NoiseSuppress: ns.on, GainControl: agc.on}
	var err error
	if o.Width, o.Height, err = app.ParseSize(size); err != nil {
		return o, badFlag("--size: %v", err)
	}
	if portRange != "" {
		if o.PortMin, o.PortMax, err = app.ParsePortRange(portRange); err != nil {
			return o, badFlag("--port-range: %v", err)
		}
	}
	return o, o.Validate()
}

// onOff is a flag that takes on or off (also true/false, 1/0).
type onOff struct{ on bool }

func (f *onOff) String() string {
	if f == nil || f.on {
		return "on"
	}
	return "off"
}

func (f *onOff) Set(v string) error {
	switch strings.ToLower(v) {
	case "on", "true", "1":
		f.on = true
	case "off", "false", "0":
		f.on = false
	default:
		return fmt.Errorf("want on or off, not %q", v)
	}
	return nil
}
