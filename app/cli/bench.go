package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/peercall/peercall/app"
)

// BenchMain runs the call-quality bench and returns an exit code.
func BenchMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseBenchFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "peercall-headless bench: %v\n", err)
		return ExitBadFlags
	}
	res, err := app.RunBench(ctx, o, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "peercall-headless bench: %v\n", err)
		return ExitCode(err)
	}
	md := res.Markdown()
	fmt.Fprint(stdout, md)
	if o.JSONPath != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		b = append(b, '\n')
		if o.JSONPath == "-" {
			_, _ = stdout.Write(b)
		} else if err := os.WriteFile(o.JSONPath, b, 0o644); err != nil {
			fmt.Fprintf(stderr, "peercall-headless bench: %v\n", err)
			return ExitError
		}
	}
	if o.DocPath != "" {
		if err := app.WriteBenchDoc(o, res, md); err != nil {
			fmt.Fprintf(stderr, "peercall-headless bench: %v\n", err)
			return ExitError
		}
	}
	return ExitOK
}

func parseBenchFlags(args []string, out io.Writer) (app.BenchOptions, error) {
	o := app.BenchOptions{}
	fs := flag.NewFlagSet("peercall-headless bench", flag.ContinueOnError)
	fs.SetOutput(out)
	var sizes, losses, conds string
	fs.IntVar(&o.Calls, "calls", 5, "number of calls for the setup-time figures")
	fs.DurationVar(&o.SetupDur, "setup-duration", 2*time.Second, "length of each setup call")
	fs.DurationVar(&o.QualityDur, "duration", 10*time.Second, "length of each quality call")
	fs.DurationVar(&o.LossDur, "loss-duration", 8*time.Second, "length of each loss-matrix call")
	fs.StringVar(&sizes, "sizes", "640x480,1280x720", "video sizes for the quality calls")
	fs.StringVar(&losses, "loss", "0,10,20", "loss percentages for the loss matrix")
	fs.IntVar(&o.Group, "group", 3, "people in the group-call row, 3..4 (0: no group row)")
	fs.StringVar(&o.GroupSize, "group-size", "640x480", "video size of the group call")
	fs.IntVar(&o.FileMB, "file-mb", 100, "MB of random data in the file-transfer row (0: no row)")
	fs.StringVar(&o.JSONPath, "json", "", "also write the JSON result to `FILE` (- for stdout)")
	fs.StringVar(&o.Binary, "peer-binary", "", "headless binary to run the peers with (default: this program)")
	fs.DurationVar(&o.Timeout, "call-timeout", 60*time.Second, "bound for each call")
	fs.StringVar(&o.GoBenchFile, "go-bench", "", "go test -bench output to include in --doc")
	fs.BoolVar(&o.Network, "network", false, "run the bad-network conditions instead (two peers in network namespaces joined by app/netem; needs root, /dev/net/tun and ip)")
	fs.DurationVar(&o.NetworkDur, "network-duration", 30*time.Second, "length of each --network call (a capacity drop or an outage runs until 12s after it)")
	fs.StringVar(&conds, "network-conditions", "", "comma-separated --network conditions to run (default all: "+strings.Join(app.NetworkConditionNames(), ",")+")")
	fs.StringVar(&o.NetworkVideo, "network-video", "", "--network peers send this `FILE.y4m` (default the synthetic pattern, 640x480@30)")
	fs.BoolVar(&o.NetworkChromium, "network-chromium", false, "with --network, also run each condition with two Chromium instances (/usr/bin/chromium) on the same link")
	fs.StringVar(&o.CPUClip, "cpu-chromium", "", "run the CPU comparison instead: Chromium calling itself, two headless peers and (with --gui-binary) the desktop app, all sending this `FILE.y4m` at 640x480@30 on 127.0.0.1")
	fs.IntVar(&o.CPURounds, "cpu-rounds", 3, "--cpu-chromium rounds (each runs every client once)")
	fs.DurationVar(&o.CPUWarmup, "cpu-warmup", 5*time.Second, "--cpu-chromium: time from the first frame to the measured window")
	fs.DurationVar(&o.CPUWindow, "cpu-window", 10*time.Second, "--cpu-chromium: length of the measured window")
	fs.StringVar(&o.GUIBinary, "gui-binary", "", "with --cpu-chromium: the desktop app's binary (run under its own Xvfb; default: no desktop row)")
	fs.StringVar(&o.DocPath, "doc", "", "rewrite this markdown file with the results (docs/benchmarks.md)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, badFlag("%v", err)
	}
	if fs.NArg() > 0 {
		return o, badFlag("unexpected argument %q", fs.Arg(0))
	}
	for _, s := range strings.Split(sizes, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		o.Sizes = append(o.Sizes, s)
	}
	for _, s := range strings.Split(losses, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return o, badFlag("--loss %q: want percentages in [0, 100)", s)
		}
		o.Losses = append(o.Losses, v)
	}
	for _, s := range strings.Split(conds, ",") {
		if s = strings.TrimSpace(s); s != "" {
			o.NetworkConditions = append(o.NetworkConditions, s)
		}
	}
	if o.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return o, fmt.Errorf("find own executable: %w", err)
		}
		o.Binary = exe
	}
	return o, o.Validate()
}
