package app

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// bench --cpu-chromium: the CPU of a call beside Chromium's on the same
// clip, the same machine and the same run. Each round runs, one after the
// other, Chromium calling itself (one browser, two pages of the bundled web
// page: two peer connections, both rendering the other's video), two
// headless peers and the desktop app (under its own Xvfb) calling a
// headless peer, every one sending the clip at 640x480@30 over 127.0.0.1.
// CPU is utime+stime from /proc over the same window of each call: every
// process of the browser (browser, renderers, GPU, utilities) for
// Chromium, each peer's process for ours.

// cpuSection is the title of the section bench --cpu-chromium owns in
// docs/benchmarks.md.
const cpuSection = "CPU beside Chromium"

// Clients of the CPU comparison.
const (
	cpuChromium = "chromium"
	// cpuChromiumTab is Chromium with both peer connections in one page
	// (the set-up of issue 16's first figures): the browser and its
	// page's renderer shared by both peers.
	cpuChromiumTab = "chromium-1-page"
	cpuHeadless    = "headless"
	cpuDesktop     = "desktop"
	// cpuDesktopToolkit is the desktop app with --toolkit-video: every
	// picture painted by Fyne's GL driver, as where the X11 surfaces are
	// unavailable (the in-run reference for what they save).
	cpuDesktopToolkit = "desktop-toolkit-video"
)

// clockTicks is Linux's USER_HZ, the unit of utime and stime in
// /proc/PID/stat (100 on every architecture Go builds for).
const clockTicks = 100

// CPUSample is one client's call in one round.
type CPUSample struct {
	Client string `json:"client"`
	Round  int    `json:"round"`
	// PerPeer is the CPU of one peer in % of one core: Chromium's whole
	// process tree over its two pages, each headless process, the
	// desktop app's process.
	PerPeer []float64 `json:"per_peer_pct"`
	// Parts splits the CPU by process kind (Chromium: browser,
	// renderer, gpu-process, utility, zygote; desktop: app, xvfb).
	Parts map[string]float64 `json:"parts_pct,omitempty"`
	// FPSIn is the video frame rate each peer received (mean of the
	// peers); SentKbps the video bitrate each sent.
	FPSIn    float64 `json:"fps_in"`
	SentKbps float64 `json:"sent_kbps"`
	Codec    string  `json:"codec,omitempty"`
	Err      string  `json:"error,omitempty"`
}

// CPUResult is bench --cpu-chromium's outcome.
type CPUResult struct {
	Clip     string        `json:"clip"`
	Chromium string        `json:"chromium_version,omitempty"`
	Rounds   int           `json:"rounds"`
	Warmup   time.Duration `json:"warmup_ns"`
	Window   time.Duration `json:"window_ns"`
	Samples  []CPUSample   `json:"samples"`
}

// RunCPUBench runs o.CPURounds rounds of the three clients on o.CPUClip;
// progress goes to log. The desktop client runs when o.GUIBinary is set.
func RunCPUBench(ctx context.Context, o BenchOptions, log io.Writer) (*CPUResult, error) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		return nil, fmt.Errorf("%w: --cpu-chromium reads /proc: %w", ErrUnsupportedMedia, err)
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrUnsupportedMedia, chromiumPath, err)
	}
	clip, err := filepath.Abs(o.CPUClip)
	if err != nil {
		return nil, err
	}
	res := &CPUResult{Clip: clip, Chromium: chromiumVersion(), Rounds: o.CPURounds, Warmup: o.CPUWarmup, Window: o.CPUWindow}
	url, stop, err := serveSignaling(ctx, "127.0.0.1:0", slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	defer stop()
	tmp, err := os.MkdirTemp("", "peercall-cpu")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	clients := []string{cpuChromium, cpuChromiumTab, cpuHeadless}
	if o.GUIBinary != "" {
		clients = append(clients, cpuDesktop, cpuDesktopToolkit)
	}
	n := 0
	for round := 1; round <= o.CPURounds; round++ {
		for _, c := range clients {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			n++
			fmt.Fprintf(log, "bench: cpu round %d %s\n", round, c)
			r := cpuRound{o: o, clip: clip, url: url, room: fmt.Sprintf("cpu-%d-%d", os.Getpid(), n), dir: filepath.Join(tmp, strconv.Itoa(n))}
			if err := os.MkdirAll(r.dir, 0o700); err != nil {
				return res, err
			}
			var s CPUSample
			switch c {
			case cpuChromium:
				s, err = r.chromium(ctx, false)
			case cpuChromiumTab:
				s, err = r.chromium(ctx, true)
			case cpuHeadless:
				s, err = r.headless(ctx)
			case cpuDesktop:
				s, err = r.desktop(ctx)
			case cpuDesktopToolkit:
				s, err = r.desktop(ctx, "--toolkit-video")
			}
			s.Client, s.Round = c, round
			if err != nil {
				s.Err = err.Error()
				fmt.Fprintf(log, "bench: cpu %s failed: %v\n", c, err)
			} else {
				fmt.Fprintf(log, "bench: cpu %s per peer %v%% of a core, %.1f fps in, %.0f kbit/s sent\n", c, s.PerPeer, s.FPSIn, s.SentKbps)
			}
			res.Samples = append(res.Samples, s)
		}
	}
	return res, nil
}

// cpuRound is one client's call.
type cpuRound struct {
	o         BenchOptions
	clip      string
	url, room string // signaling host:port, room name
	dir       string // scratch files of this call
}

// procStat is what /proc/PID/stat says of a process: its parent and its
// CPU time so far (utime+stime, clock ticks).
func procStat(pid int) (ppid int, ticks int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	ppid, ticks, err = parseProcStat(string(b))
	if err != nil {
		return 0, 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return ppid, ticks, nil
}

// parseProcStat reads the parent and utime+stime of a /proc/PID/stat line.
func parseProcStat(line string) (ppid int, ticks int64, err error) {
	// The command name (field 2) is in parentheses and may hold spaces
	// and parentheses of its own.
	i := strings.LastIndexByte(line, ')')
	if i < 0 {
		return 0, 0, errors.New("no command name")
	}
	f := strings.Fields(line[i+1:])
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("%d fields after the command name", len(f))
	}
	// f[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
	ppid, err1 := strconv.Atoi(f[1])
	u, err2 := strconv.ParseInt(f[11], 10, 64)
	s, err3 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return 0, 0, err
	}
	return ppid, u + s, nil
}

// treeTicks is the CPU time so far of root and of every process below it.
func treeTicks(root int) map[int]int64 {
	parent := map[int]int{}
	ticks := map[int]int64{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		pp, t, err := procStat(pid)
		if err != nil {
			continue // gone meanwhile
		}
		parent[pid], ticks[pid] = pp, t
	}
	out := map[int]int64{}
	for pid, t := range ticks {
		for p := pid; p > 1; p = parent[p] {
			if p == root {
				out[pid] = t
				break
			}
		}
	}
	return out
}

// cpuDelta is the CPU each process used between two treeTicks snapshots,
// in % of one core over wall (a process that started meanwhile counts
// from zero; one that ended is lost, which chromium's long-lived
// processes never are).
func cpuDelta(before, after map[int]int64, wall time.Duration) map[int]float64 {
	out := map[int]float64{}
	for pid, t := range after {
		out[pid] = 100 * float64(t-before[pid]) / clockTicks / wall.Seconds()
	}
	return out
}

// chromiumKind names a Chromium process by its --type (the browser has
// none).
func chromiumKind(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return "gone"
	}
	return cmdlineKind(string(b))
}

// cmdlineKind is the --type of a Chromium command line ("browser" without).
func cmdlineKind(cmdline string) string {
	// Chromium rewrites its command line as one string: split on
	// spaces as well as NULs.
	for _, a := range strings.Fields(strings.ReplaceAll(cmdline, "\x00", " ")) {
		if t, ok := strings.CutPrefix(a, "--type="); ok {
			return t
		}
	}
	return "browser"
}

// peerProc is a headless peer started by the CPU bench.
type peerProc struct {
	cmd    *exec.Cmd
	report string
	done   chan struct{}
	err    error
}

// startPeer starts a headless peer in the round's room (its report in
// r.dir) and, with ready, waits until it is in the room.
func (r cpuRound) startPeer(ctx context.Context, name string, dur time.Duration, ready bool) (*peerProc, error) {
	p := &peerProc{report: filepath.Join(r.dir, name+".json"), done: make(chan struct{})}
	readyFile := filepath.Join(r.dir, name+".ready")
	args := []string{"--server", "ws://" + r.url + "/ws", "--room", r.room, "--name", name, "--loopback-only",
		"--ice-policy", "all", "--audio", "synthetic", "--video", r.clip, "--duration", dur.String(),
		"--report", p.report, "--ready-file", readyFile}
	p.cmd = exec.CommandContext(ctx, r.o.Binary, args...)
	var stderr strings.Builder
	p.cmd.Stderr = &stderr
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		defer close(p.done)
		if err := p.cmd.Wait(); err != nil {
			p.err = fmt.Errorf("%s: %w: %s", name, err, lastLines(stderr.String(), 3))
		}
	}()
	if ready {
		if err := waitForFile(ctx, readyFile, p.done); err != nil {
			<-p.done
			return nil, errors.Join(err, p.err)
		}
	}
	return p, nil
}

// wait waits for the peer's exit and reads its report.
func (p *peerProc) wait() (*Report, error) {
	<-p.done
	if p.err != nil {
		return nil, p.err
	}
	return readReport(p.report)
}

// lastLines is the last n lines of s, for an error message (the network
// bench's peers use it too).
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], " / ")
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// headless runs two headless peers sending the clip to each other.
func (r cpuRound) headless(ctx context.Context) (s CPUSample, err error) {
	ctx, cancel := context.WithTimeout(ctx, r.o.CPUWarmup+r.o.CPUWindow+r.o.Timeout)
	defer cancel()
	// Long enough for the window to end before either hangs up.
	dur := r.o.CPUWarmup + r.o.CPUWindow + 4*time.Second
	host, err := r.startPeer(ctx, "host", dur, true)
	if err != nil {
		return s, err
	}
	joiner, err := r.startPeer(ctx, "joiner", dur, false)
	if err != nil {
		_, herr := host.wait()
		return s, errors.Join(err, herr)
	}
	if err := sleepCtx(ctx, r.o.CPUWarmup+time.Second); err != nil {
		return s, err
	}
	pids := []int{host.cmd.Process.Pid, joiner.cmd.Process.Pid}
	t0 := time.Now()
	c0 := map[int]int64{}
	for _, pid := range pids {
		_, c0[pid], _ = procStat(pid)
	}
	werr := sleepCtx(ctx, r.o.CPUWindow)
	c1 := map[int]int64{}
	for _, pid := range pids {
		_, c1[pid], _ = procStat(pid)
	}
	wall := time.Since(t0)
	hr, herr := host.wait()
	jr, jerr := joiner.wait()
	if err := errors.Join(werr, herr, jerr); err != nil {
		return s, err
	}
	d := cpuDelta(c0, c1, wall)
	for _, pid := range pids {
		s.PerPeer = append(s.PerPeer, round1(d[pid]))
	}
	s.FPSIn = round1((hr.VideoIn.FPS + jr.VideoIn.FPS) / 2)
	s.SentKbps = round1((hr.VideoOut.BitrateKbps + jr.VideoOut.BitrateKbps) / 2)
	s.Codec = "video/VP8"
	return s, nil
}

// guiCPULine is the desktop app's --cpu-report line.
var guiCPULine = regexp.MustCompile(`shown ([0-9.]+) remote fps`)

// desktop runs the desktop app under its own Xvfb, the clip as its camera,
// calling a headless peer that sends the clip too.
func (r cpuRound) desktop(ctx context.Context, extra ...string) (s CPUSample, err error) {
	ctx, cancel := context.WithTimeout(ctx, r.o.CPUWarmup+r.o.CPUWindow+r.o.Timeout)
	defer cancel()
	xvfb, display, err := startXvfb(ctx)
	if err != nil {
		return s, err
	}
	defer func() {
		_ = xvfb.Process.Kill()
		_ = xvfb.Wait()
	}()
	// The app needs a few seconds more than a headless peer to start.
	const appStart = 3 * time.Second
	dur := appStart + r.o.CPUWarmup + r.o.CPUWindow + 4*time.Second
	peer, err := r.startPeer(ctx, "peer", dur+2*time.Second, true)
	if err != nil {
		return s, err
	}
	home := filepath.Join(r.dir, "home")
	for _, d := range []string{".config", ".cache", "run"} {
		if err := os.MkdirAll(filepath.Join(home, d), 0o700); err != nil {
			return s, err
		}
	}
	args := append([]string{"--room", r.room, "--name", "gui", "--join", "ws://" + r.url + "/ws",
		"--loopback-only", "--auto-join", "--video", r.clip, "--audio", "synthetic",
		"--quit-after", dur.String(), "--cpu-report"}, extra...)
	app := exec.CommandContext(ctx, r.o.GUIBinary, args...)
	app.Env = append(os.Environ(), "DISPLAY="+display, "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"XDG_CACHE_HOME="+filepath.Join(home, ".cache"), "XDG_RUNTIME_DIR="+filepath.Join(home, "run"))
	var stdout, stderr strings.Builder
	app.Stdout, app.Stderr = &stdout, &stderr
	if err := app.Start(); err != nil {
		_, perr := peer.wait()
		return s, errors.Join(err, perr)
	}
	appDone := make(chan error, 1)
	go func() { appDone <- app.Wait() }()
	werr := sleepCtx(ctx, appStart+r.o.CPUWarmup)
	pids := []int{app.Process.Pid, xvfb.Process.Pid}
	t0 := time.Now()
	c0 := map[int]int64{}
	for _, pid := range pids {
		_, c0[pid], _ = procStat(pid)
	}
	werr = errors.Join(werr, sleepCtx(ctx, r.o.CPUWindow))
	c1 := map[int]int64{}
	for _, pid := range pids {
		_, c1[pid], _ = procStat(pid)
	}
	wall := time.Since(t0)
	aerr := <-appDone
	if aerr != nil {
		aerr = fmt.Errorf("desktop app: %w: %s", aerr, lastLines(stderr.String(), 3))
	}
	pr, perr := peer.wait()
	if err := errors.Join(werr, aerr, perr); err != nil {
		return s, err
	}
	m := guiCPULine.FindStringSubmatch(stdout.String())
	if m == nil {
		return s, fmt.Errorf("%w: desktop app: no CPU line (%s)", ErrConnect, lastLines(stdout.String()+stderr.String(), 3))
	}
	d := cpuDelta(c0, c1, wall)
	s.PerPeer = []float64{round1(d[app.Process.Pid])}
	s.Parts = map[string]float64{"app": round1(d[app.Process.Pid]), "xvfb": round1(d[xvfb.Process.Pid])}
	fps, _ := strconv.ParseFloat(m[1], 64)
	s.FPSIn = round1(fps)
	s.SentKbps = round1(pr.VideoIn.BitrateKbps)
	s.Codec = "video/VP8"
	return s, nil
}

// startXvfb starts an X server on a free display (Xvfb -displayfd) and
// returns it and its DISPLAY.
func startXvfb(ctx context.Context) (*exec.Cmd, string, error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, "", err
	}
	defer pr.Close()
	cmd := exec.CommandContext(ctx, "Xvfb", "-displayfd", "3", "-screen", "0", "1280x800x24", "-nolisten", "tcp")
	cmd.ExtraFiles = []*os.File{pw}
	if err := cmd.Start(); err != nil {
		pw.Close()
		return nil, "", fmt.Errorf("%w: Xvfb: %w", ErrUnsupportedMedia, err)
	}
	pw.Close()
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(pr).ReadString('\n')
		line <- strings.TrimSpace(l)
	}()
	select {
	case l := <-line:
		if _, err := strconv.Atoi(l); err == nil {
			return cmd, ":" + l, nil
		}
	case <-time.After(10 * time.Second):
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	return nil, "", fmt.Errorf("%w: Xvfb gave no display", ErrUnsupportedMedia)
}

// cpuRow is one client's medians over the rounds.
type cpuRow struct {
	client, counted string
	perPeer         Spread
	parts           map[string]float64
	fps, kbps       float64
	codec           string
	failed          int
}

func (r *CPUResult) rows() []cpuRow {
	desc := map[string]string{
		cpuChromium:       strings.TrimSpace("Chromium "+r.Chromium) + ": one browser, two windows of the web app (each a peer: self view and the other's video); every process of the browser, halved",
		cpuChromiumTab:    "the same Chromium, one page holding both peer connections (both remote videos shown); every process, halved",
		cpuHeadless:       "peercall-headless: each of the two peer processes",
		cpuDesktop:        "desktop app under Xvfb (decode, encode, painting; video in X11 windows of its own): the app's process",
		cpuDesktopToolkit: "the same with --toolkit-video (Fyne paints the video with GL, as without X11): the app's process",
	}
	var out []cpuRow
	for _, c := range []string{cpuChromium, cpuChromiumTab, cpuHeadless, cpuDesktop, cpuDesktopToolkit} {
		row := cpuRow{client: c, counted: desc[c], parts: map[string]float64{}}
		var per, fps, kbps []float64
		parts := map[string][]float64{}
		seen := false
		for _, s := range r.Samples {
			if s.Client != c {
				continue
			}
			seen = true
			if s.Err != "" {
				row.failed++
				continue
			}
			per = append(per, s.PerPeer...)
			fps, kbps = append(fps, s.FPSIn), append(kbps, s.SentKbps)
			for k, v := range s.Parts {
				parts[k] = append(parts[k], v)
			}
			row.codec = s.Codec
		}
		if !seen {
			continue
		}
		row.perPeer = spread(per)
		row.fps, row.kbps = spread(fps).Median, spread(kbps).Median
		for k, v := range parts {
			row.parts[k] = spread(v).Median
		}
		out = append(out, row)
	}
	return out
}

// cpuMarkdown is the "CPU beside Chromium" section.
func cpuMarkdown(m MachineInfo, r *CPUResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## %s\n\n", cpuSection)
	fmt.Fprintf(&b, "Command: `peercall-headless bench --cpu-chromium %s` (`make bench`). The same clip as every camera (Chromium: `--use-file-for-fake-video-capture`; ours: `--video FILE.y4m`), 640x480@30 both ways, ICE on 127.0.0.1; %d rounds, each running the clients one after the other; CPU is utime+stime from /proc over a %s window after %s of warm-up.\n\n",
		filepath.Base(r.Clip), r.Rounds, r.Window, r.Warmup)
	fmt.Fprintf(&b, "Machine: %d cores (%s), load average %v at the start, %v at the end.\n\n", m.Cores, m.Model, m.LoadAvgStart, m.LoadAvg)
	rows := r.rows()
	// Ratios to each of Chromium's set-ups: two windows (a page per
	// peer, as people use it) and one page (both peers share its
	// renderer, the cheaper one).
	refs := map[string]float64{}
	for _, row := range rows {
		if row.perPeer.N > 0 {
			refs[row.client] = row.perPeer.Median
		}
	}
	ratio := func(row cpuRow, ref string) string {
		if refs[ref] <= 0 || row.perPeer.N == 0 {
			return "–"
		}
		return fmt.Sprintf("%.2f", row.perPeer.Median/refs[ref])
	}
	goal := map[string]string{cpuHeadless: "≤ 0.6×", cpuDesktop: "≤ 1.0×"}
	b.WriteString("| client | CPU % of a core per peer, median (min–max, n) | × Chromium two windows | × Chromium one page | goal | video in fps | video sent kbit/s | codec | what is counted |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, row := range rows {
		failed := ""
		if row.failed > 0 {
			failed = fmt.Sprintf(", %d failed", row.failed)
		}
		fmt.Fprintf(&b, "| %s | %.1f (%.1f–%.1f, %d%s) | %s | %s | %s | %.1f | %.0f | %s | %s |\n", row.client, row.perPeer.Median, row.perPeer.Min, row.perPeer.Max,
			row.perPeer.N, failed, ratio(row, cpuChromium), ratio(row, cpuChromiumTab), goal[row.client], row.fps, row.kbps, row.codec, row.counted)
	}
	b.WriteString("\n")
	for _, row := range rows {
		if len(row.parts) == 0 {
			continue
		}
		keys := make([]string, 0, len(row.parts))
		for k := range row.parts {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		var ps []string
		for _, k := range keys {
			ps = append(ps, fmt.Sprintf("%s %.1f", k, row.parts[k]))
		}
		note := "the whole call, both peers"
		if row.client == cpuDesktop || row.client == cpuDesktopToolkit {
			note = "the X server is not counted above; Chromium runs without one"
		}
		fmt.Fprintf(&b, "- %s by process, %% of a core (medians; %s): %s\n", row.client, note, strings.Join(ps, ", "))
	}
	b.WriteString("\nGoals (issue 16): a headless peer ≤ 0.6× and the desktop app ≤ 1.0× Chromium's CPU per peer. " +
		"Each client sends what its own congestion control and bitrate caps reach on the clean link (the sent column); " +
		"more bits cost more encoding and decoding time.\n")
	return b.String()
}
