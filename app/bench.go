package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// BenchOptions configures `peercall-headless bench`.
type BenchOptions struct {
	Calls       int           // setup calls
	SetupDur    time.Duration // duration of each setup call
	QualityDur  time.Duration // duration of each quality call
	LossDur     time.Duration // duration of each loss-matrix call
	Sizes       []string      // quality sizes, e.g. 640x480
	Losses      []float64     // loss-matrix percentages
	JSONPath    string        // "" none, "-" stdout
	Binary      string        // headless binary for the peers (default: this executable)
	Timeout     time.Duration // bound for each call's processes
	GoBenchFile string        // optional `go test -bench` output to include in the doc
	DocPath     string        // rewrite this markdown file (docs/benchmarks.md)
	// Group is the people in the group-call row (0: no group row; else
	// 3..MaxGroupSize), each a headless process at GroupSize.
	Group     int
	GroupSize string
	// FileMB is the size of the file-transfer row's random file (0: no
	// row): sent between two peers during a 640x480 call.
	FileMB int
	// Network runs the bad-network conditions instead of the scenarios
	// above (bench --network): NetworkDur per call (conditions with an
	// event run longer, see NetworkCondition), the conditions named in
	// NetworkConditions (empty: all), video from NetworkVideo (a
	// FILE.y4m; "" is the synthetic pattern).
	Network           bool
	NetworkDur        time.Duration
	NetworkConditions []string
	NetworkVideo      string
	// NetworkChromium also runs each condition with two Chromium
	// instances (the reference client) on the same emulated link.
	NetworkChromium bool
	// CPUClip runs the CPU comparison instead (bench --cpu-chromium):
	// CPURounds rounds of Chromium calling itself, two headless peers and
	// (with GUIBinary) the desktop app, all sending this Y4M clip; CPU
	// measured over CPUWindow after CPUWarmup.
	CPUClip   string
	CPURounds int
	CPUWarmup time.Duration
	CPUWindow time.Duration
	GUIBinary string // the desktop app's binary ("": no desktop row)
}

// BenchCall is one two-peer call of the bench: the joiner's report (the
// peer that joined second, whose setup times are the user-visible ones) and
// the host's.
type BenchCall struct {
	Scenario string  `json:"scenario"`
	Size     string  `json:"size"`
	Loss     float64 `json:"loss_pct"`
	FEC      bool    `json:"opus_fec"`
	Host     *Report `json:"host"`
	Joiner   *Report `json:"joiner"`
	// Group is every peer of a group call, in join order (Host and
	// Joiner are its first and last).
	Group []*Report `json:"group,omitempty"`
	Err   string    `json:"error,omitempty"`
}

// Spread is a median with its range over repeated calls.
type Spread struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	N      int     `json:"n"`
}

// BenchResult is the JSON the bench prints.
type BenchResult struct {
	Time    time.Time   `json:"time"`
	Machine MachineInfo `json:"machine"`
	Setup   struct {
		ICEConnectedMS Spread `json:"ice_connected_ms"`
		FirstFrameMS   Spread `json:"first_frame_ms"`
	} `json:"setup"`
	Calls []BenchCall `json:"calls"`
	// Network is bench --network's conditions (then Calls is empty).
	Network []NetworkResult `json:"network,omitempty"`
	// NetworkVideo is the video they sent ("" the synthetic pattern).
	NetworkVideo string `json:"network_video,omitempty"`
	// CPU is bench --cpu-chromium's comparison (then Calls is empty).
	CPU *CPUResult `json:"cpu_chromium,omitempty"`
}

// MachineInfo says what the figures were measured on.
type MachineInfo struct {
	Cores        int       `json:"cores"`
	LoadAvgStart []float64 `json:"load_avg_start"`
	LoadAvg      []float64 `json:"load_avg"`
	GoOS         string    `json:"goos"`
	GoArch       string    `json:"goarch"`
	Model        string    `json:"cpu_model,omitempty"`
}

// Validate checks the bench options as the command line gives them. Errors
// wrap ErrBadFlags and name the offending flag.
func (o *BenchOptions) Validate() error {
	if o.Calls < 1 || o.Calls > 50 {
		return badFlag("--calls must be 1..50")
	}
	for _, d := range []time.Duration{o.SetupDur, o.QualityDur, o.LossDur} {
		if d <= 0 || d > 5*time.Minute {
			return badFlag("durations must be between 0 and 5m")
		}
	}
	for _, s := range o.Sizes {
		if _, _, err := ParseSize(s); err != nil {
			return badFlag("--sizes: %v", err)
		}
	}
	if o.FileMB < 0 || o.FileMB > 4096 {
		return badFlag("--file-mb must be 0 (none) to 4096")
	}
	if o.Group != 0 {
		if o.Group < 3 || o.Group > MaxGroupSize {
			return badFlag("--group must be 0 (none) or 3..%d", MaxGroupSize)
		}
		if _, _, err := ParseSize(o.GroupSize); err != nil {
			return badFlag("--group-size: %v", err)
		}
	}
	for _, v := range o.Losses {
		if v < 0 || v >= 100 {
			return badFlag("--loss %q: want percentages in [0, 100)", strconv.FormatFloat(v, 'g', -1, 64))
		}
	}
	if err := o.validateCPU(); err != nil {
		return err
	}
	return o.validateNetwork()
}

// validateCPU checks the --cpu-chromium options.
func (o *BenchOptions) validateCPU() error {
	if o.CPUClip == "" {
		if o.GUIBinary != "" {
			return badFlag("--gui-binary needs --cpu-chromium")
		}
		return nil
	}
	if o.Network {
		return badFlag("--cpu-chromium and --network are separate runs")
	}
	if o.CPURounds < 1 || o.CPURounds > 20 {
		return badFlag("--cpu-rounds must be 1..20")
	}
	if o.CPUWarmup < 0 || o.CPUWarmup > time.Minute || o.CPUWindow < time.Second || o.CPUWindow > 5*time.Minute {
		return badFlag("--cpu-warmup must be 0..1m and --cpu-window 1s..5m")
	}
	if !strings.HasSuffix(strings.ToLower(o.CPUClip), ".y4m") {
		return badFlag("--cpu-chromium %q: want a FILE.y4m", o.CPUClip)
	}
	if err := checkY4M(o.CPUClip); err != nil {
		return badFlag("--cpu-chromium %s: %v", o.CPUClip, err)
	}
	if o.GUIBinary != "" {
		if _, err := os.Stat(o.GUIBinary); err != nil {
			return badFlag("--gui-binary: %v", err)
		}
	}
	return nil
}

// validateNetwork checks the --network options.
func (o *BenchOptions) validateNetwork() error {
	if !o.Network {
		if len(o.NetworkConditions) > 0 || o.NetworkVideo != "" || o.NetworkChromium {
			return badFlag("--network-conditions, --network-video and --network-chromium need --network")
		}
		return nil
	}
	if o.NetworkDur < 10*time.Second || o.NetworkDur > 5*time.Minute {
		return badFlag("--network-duration must be between 10s and 5m")
	}
	names := NetworkConditionNames()
	for _, c := range o.NetworkConditions {
		if !slices.Contains(names, c) {
			return badFlag("--network-conditions %q: want some of %s", c, strings.Join(names, ","))
		}
	}
	if v := o.NetworkVideo; v != "" {
		if !strings.HasSuffix(strings.ToLower(v), ".y4m") {
			return badFlag("--network-video %q: want a FILE.y4m", v)
		}
		if err := checkY4M(v); err != nil {
			return badFlag("--network-video %s: %v", v, err)
		}
	}
	return nil
}

// RunBench runs every scenario in turn; progress goes to log.
func RunBench(ctx context.Context, o BenchOptions, log io.Writer) (*BenchResult, error) {
	res := &BenchResult{Time: time.Now().UTC(), Machine: machineInfo()}
	if o.CPUClip != "" {
		var err error
		res.CPU, err = RunCPUBench(ctx, o, log)
		res.Machine.LoadAvg = loadAvg()
		return res, err
	}
	if o.Network {
		var err error
		res.NetworkVideo = o.NetworkVideo
		res.Network, err = RunNetworkBench(ctx, o, log)
		res.Machine.LoadAvg = loadAvg()
		return res, err
	}
	url, stop, err := serveSignaling(ctx, "127.0.0.1:0", slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	defer stop()
	url = "ws://" + url + "/ws"
	tmp, err := os.MkdirTemp("", "peercall-bench")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)

	n := 0
	var peerArgs func(i int) []string // per-peer flags of the next call
	run := func(c BenchCall, dur time.Duration, extra ...string) BenchCall {
		n++
		fmt.Fprintf(log, "bench: %s %s loss=%.0f%% fec=%v\n", c.Scenario, c.Size, c.Loss, c.FEC)
		args := append([]string{"--size", c.Size, "--duration", dur.String(), "--simulate-loss", fmt.Sprint(c.Loss),
			"--opus-fec=" + strconv.FormatBool(c.FEC)}, extra...)
		peers := 2
		if c.Scenario == "group" {
			peers = o.Group
			args = append(args, "--peers", fmt.Sprint(peers))
		}
		var reps []*Report
		reps, err = benchGroup(ctx, o, url, fmt.Sprintf("bench-%d-%d", os.Getpid(), n), tmp, args, peers, peerArgs)
		c.Host, c.Joiner = reps[0], reps[len(reps)-1]
		if peers > 2 {
			c.Group = reps
		}
		if err != nil {
			c.Err = err.Error()
			fmt.Fprintf(log, "bench: call failed: %v\n", err)
		}
		return c
	}

	var ice, first []float64
	for range o.Calls {
		c := run(BenchCall{Scenario: "setup", Size: "640x480", FEC: true}, o.SetupDur)
		res.Calls = append(res.Calls, c)
		if c.Joiner != nil && c.Joiner.SetupMS.FirstVideoFrame > 0 {
			ice = append(ice, c.Joiner.SetupMS.ICEConnected)
			first = append(first, c.Joiner.SetupMS.FirstVideoFrame)
		}
	}
	res.Setup.ICEConnectedMS = spread(ice)
	res.Setup.FirstFrameMS = spread(first)
	for _, size := range o.Sizes {
		res.Calls = append(res.Calls, run(BenchCall{Scenario: "quality", Size: size, FEC: true}, o.QualityDur))
	}
	if o.Group > 0 {
		res.Calls = append(res.Calls, run(BenchCall{Scenario: "group", Size: o.GroupSize, FEC: true}, o.QualityDur))
	}
	if o.FileMB > 0 {
		c, err := benchFiles(tmp, o.FileMB, &peerArgs, func() BenchCall {
			return run(BenchCall{Scenario: "files", Size: "640x480", FEC: true}, o.QualityDur)
		})
		if err != nil {
			return res, err
		}
		res.Calls = append(res.Calls, c)
	}
	for _, loss := range o.Losses {
		for _, fec := range []bool{true, false} {
			res.Calls = append(res.Calls, run(BenchCall{Scenario: "loss", Size: "640x480", Loss: loss, FEC: fec}, o.LossDur))
		}
	}
	res.Machine.LoadAvg = loadAvg()
	return res, ctx.Err()
}

// benchGroup runs n headless peers as separate processes in one room,
// each starting once the one before it is in the room (the last one's
// setup times are those of a person joining people who wait). reps has
// n entries, nil where a peer left no report.
func benchGroup(ctx context.Context, o BenchOptions, url, room, dir string, args []string, n int, peerArgs func(i int) []string) (reps []*Report, err error) {
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	type result struct {
		rep *Report
		err error
	}
	reps = make([]*Report, n)
	chans := make([]chan result, 0, n)
	collect := func() error {
		var errs []error
		for i, ch := range chans {
			r := <-ch
			reps[i] = r.rep
			errs = append(errs, r.err)
		}
		return errors.Join(errs...)
	}
	for i := range n {
		name := "host"
		switch {
		case i == n-1:
			name = "joiner"
		case i > 0:
			name = fmt.Sprintf("peer%d", i+1)
		}
		report := filepath.Join(dir, room+"-"+name+".json")
		ready := filepath.Join(dir, room+"-"+name+".ready")
		a := append([]string{"--server", url, "--room", room, "--name", name, "--loopback-only",
			"--ice-policy", "all", "--audio", "synthetic", "--video", "synthetic", "--report", report, "--ready-file", ready}, args...)
		if peerArgs != nil {
			a = append(a, peerArgs(i)...)
		}
		cmd := exec.CommandContext(ctx, o.Binary, a...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			cancel()
			return reps, errors.Join(err, collect())
		}
		ch := make(chan result, 1)
		chans = append(chans, ch)
		done := make(chan struct{})
		go func() {
			defer close(done)
			err := cmd.Wait()
			rep, rerr := readReport(report)
			if err != nil {
				err = fmt.Errorf("%s: %w: %s", name, err, strings.TrimSpace(stderr.String()))
			} else if rerr != nil {
				err = rerr
			}
			ch <- result{rep, err}
		}()
		if i == n-1 {
			break
		}
		// The next peer starts once this one is in the room.
		if err := waitForFile(ctx, ready, done); err != nil {
			cancel()
			return reps, errors.Join(err, collect())
		}
	}
	return reps, collect()
}

// waitForFile waits until the host has created its ready file (joined).
func waitForFile(ctx context.Context, path string, hostDone <-chan struct{}) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: host never joined: %w", ErrConnect, ctx.Err())
		case <-hostDone:
			return fmt.Errorf("%w: host exited before joining", ErrConnect)
		case <-t.C:
		}
	}
}

func readReport(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read report: %w", err)
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("parse report %s: %w", filepath.Base(path), err)
	}
	return &r, nil
}

func spread(xs []float64) Spread {
	if len(xs) == 0 {
		return Spread{}
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Spread{Median: round1(med), Min: round1(s[0]), Max: round1(s[len(s)-1]), N: len(s)}
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

func machineInfo() MachineInfo {
	m := MachineInfo{Cores: runtime.NumCPU(), GoOS: runtime.GOOS, GoArch: runtime.GOARCH, LoadAvgStart: loadAvg()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.Model = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

func loadAvg() []float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return nil
	}
	f := strings.Fields(string(b))
	var out []float64
	for i := 0; i < 3 && i < len(f); i++ {
		v, _ := strconv.ParseFloat(f[i], 64)
		out = append(out, v)
	}
	return out
}

// Markdown renders the result as the tables of docs/benchmarks.md.
func (r *BenchResult) Markdown() string {
	if r.CPU != nil && len(r.Calls) == 0 {
		return cpuMarkdown(r.Machine, r.CPU)
	}
	if len(r.Network) > 0 && len(r.Calls) == 0 {
		return r.networkMarkdown()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Machine: %d cores (%s), %s/%s, load average %v at the start, %v at the end.\n\n",
		r.Machine.Cores, r.Machine.Model, r.Machine.GoOS, r.Machine.GoArch, r.Machine.LoadAvgStart, r.Machine.LoadAvg)
	fmt.Fprintf(&b, "### Call setup (joiner, %d calls, 640x480)\n\n", r.Setup.FirstFrameMS.N)
	b.WriteString("| figure | median | min | max | goal |\n|---|---|---|---|---|\n")
	fmt.Fprintf(&b, "| join → ICE connected (ms) | %.1f | %.1f | %.1f | |\n", r.Setup.ICEConnectedMS.Median, r.Setup.ICEConnectedMS.Min, r.Setup.ICEConnectedMS.Max)
	fmt.Fprintf(&b, "| join → first decoded frame (ms) | %.1f | %.1f | %.1f | ≤ 100 (Chromium 129) |\n\n", r.Setup.FirstFrameMS.Median, r.Setup.FirstFrameMS.Min, r.Setup.FirstFrameMS.Max)

	b.WriteString("### Two-way video + audio at 30 fps\n\n")
	b.WriteString("| size | peer | fps in | freezes | latency p50 / p95 (ms) | CPU % of a core | encode ms/frame |\n|---|---|---|---|---|---|---|\n")
	for _, c := range r.Calls {
		if c.Scenario != "quality" {
			continue
		}
		for _, p := range []struct {
			name string
			rep  *Report
		}{{"host", c.Host}, {"joiner", c.Joiner}} {
			if p.rep == nil {
				fmt.Fprintf(&b, "| %s | %s | failed: %s | | | | |\n", c.Size, p.name, c.Err)
				continue
			}
			fmt.Fprintf(&b, "| %s | %s | %.1f | %d | %.1f / %.1f | %.0f | %.2f |\n", c.Size, p.name, p.rep.VideoIn.FPS, p.rep.VideoIn.Freezes,
				p.rep.Latency.VideoP50, p.rep.Latency.VideoP95, p.rep.CPU.PercentOfCore, p.rep.VideoOut.EncodeMSAvg)
		}
	}
	b.WriteString("\nGoals: ≥ 29 fps at 1280x720, latency ≤ 20 / 35 ms (Chromium 28.5 / 41.5), ≤ 30 % of a core at 640x480 (Chromium 43 %).\n\n")

	for _, c := range r.Calls {
		if c.Scenario != "group" {
			continue
		}
		fmt.Fprintf(&b, "### Group call (%d peers, %s at 30 fps, each sending to and receiving from every other)\n\n", len(c.Group), c.Size)
		b.WriteString("| peer | fps in, lowest of its peers | freezes | join → first frame (ms) | latency p95 (ms) | CPU % of a core | encode ms/frame |\n|---|---|---|---|---|---|---|\n")
		if len(c.Group) == 0 {
			fmt.Fprintf(&b, "| | failed: %s | | | | | |\n", c.Err)
		}
		for i, p := range c.Group {
			if p == nil {
				fmt.Fprintf(&b, "| %d | failed: %s | | | | | |\n", i+1, c.Err)
				continue
			}
			freezes, p95 := 0, 0.0
			for _, q := range p.Peers {
				freezes += q.VideoIn.Freezes
				p95 = max(p95, q.Latency.VideoP95)
			}
			fmt.Fprintf(&b, "| %d | %.1f | %d | %.1f | %.1f | %.0f | %.2f |\n", i+1, p.Totals.MinFPS, freezes,
				p.SetupMS.FirstVideoFrame, p95, p.CPU.PercentOfCore, p.VideoOut.EncodeMSAvg)
		}
		b.WriteString("\nGoal: every peer ≥ 25 fps from every other with 3 peers at 640x480 on 2 cores. First frame counts from the peer's own join (the last one joins people who wait).\n\n")
	}

	b.WriteString(filesMarkdown(r.Calls))
	b.WriteString("### Loss matrix (640x480, speech-like audio, random loss on received media, both peers)\n\n")
	b.WriteString("| loss | Opus FEC | audio concealed | FEC-recovered packets | video fps | freezes | NACKs | PLIs |\n|---|---|---|---|---|---|---|---|\n")
	for _, c := range r.Calls {
		if c.Scenario != "loss" {
			continue
		}
		if c.Host == nil || c.Joiner == nil {
			fmt.Fprintf(&b, "| %.0f %% | %v | failed: %s | | | | | |\n", c.Loss, onOff(c.FEC), c.Err)
			continue
		}
		h, j := c.Host, c.Joiner
		fmt.Fprintf(&b, "| %.0f %% | %s | %.2f %% | %d | %.1f | %d | %d | %d |\n", c.Loss, onOff(c.FEC),
			100*(h.AudioIn.ConcealedRatio+j.AudioIn.ConcealedRatio)/2, h.AudioIn.FECRecovered+j.AudioIn.FECRecovered,
			(h.VideoIn.FPS+j.VideoIn.FPS)/2, h.VideoIn.Freezes+j.VideoIn.Freezes, h.VideoIn.NACKsSent+j.VideoIn.NACKsSent,
			h.VideoIn.PLIsSent+j.VideoIn.PLIsSent)
	}
	b.WriteString("\nGoals: concealed ≤ 1 % at 10 % loss and ≤ 5 % at 20 % (Chromium with FEC 1.1 % / 6.5 %, without 11.3 % / 18 %).\n")
	return b.String()
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// networkMarkdown is the "Bad networks" section of r.
func (r *BenchResult) networkMarkdown() string {
	video := "synthetic pattern 640x480@30"
	if r.NetworkVideo != "" {
		video = "video from " + filepath.Base(r.NetworkVideo)
	}
	return networkMarkdown(r.Machine, r.Network, video)
}

// networkSection is the title of the section bench --network owns.
const networkSection = "Bad networks"

// WriteBenchDoc rewrites o.DocPath (docs/benchmarks.md) with the bench's
// markdown md and, with o.GoBenchFile, the component benchmarks. The
// "Bad networks" section is bench --network's: that run replaces only it,
// and the other runs keep it as it was.
func WriteBenchDoc(o BenchOptions, r *BenchResult, md string) error {
	old, err := os.ReadFile(o.DocPath)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("--doc: %w", err)
	}
	if o.Network || o.CPUClip != "" {
		title := networkSection
		if o.CPUClip != "" {
			title = cpuSection
		}
		doc := replaceSection(string(old), title, md, "Component benchmarks")
		return os.WriteFile(o.DocPath, []byte(doc), 0o644)
	}
	keep, keepCPU := section(string(old), networkSection), section(string(old), cpuSection)
	var b strings.Builder
	b.WriteString("# Peercall benchmarks\n\nRewritten by `make bench`; do not edit by hand.\n\n")
	fmt.Fprintf(&b, "Measured %s.\n\n", r.Time.Format("2006-01-02 15:04 MST"))
	b.WriteString("## Call quality\n\nCommand: `peercall-headless bench` (two headless peers as separate processes, signaling on 127.0.0.1, ICE on loopback).\n\n")
	b.WriteString(md)
	if o.GoBenchFile != "" {
		gb, err := os.ReadFile(o.GoBenchFile)
		if err != nil {
			return fmt.Errorf("--go-bench: %w", err)
		}
		b.WriteString("\n## Component benchmarks\n\nCommand: `go test -run '^$' -bench . -benchmem ./signalserver/... ./codec/... ./capture/... ./call/...`\n\n```\n")
		for _, line := range strings.Split(string(gb), "\n") {
			if strings.HasPrefix(line, "Benchmark") || strings.HasPrefix(line, "pkg:") || strings.HasPrefix(line, "cpu:") {
				b.WriteString(line + "\n")
			}
		}
		b.WriteString("```\n")
	}
	doc := b.String()
	if keep != "" {
		doc = replaceSection(doc, networkSection, keep, "Component benchmarks")
	}
	if keepCPU != "" {
		doc = replaceSection(doc, cpuSection, keepCPU, "Component benchmarks")
	}
	return os.WriteFile(o.DocPath, []byte(doc), 0o644)
}
