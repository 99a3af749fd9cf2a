package app

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tinyY4M writes a 4:2:0 clip of n grey frames of w x h into dir.
func tinyY4M(t *testing.T, dir string, w, h, n int) string {
	t.Helper()
	var b bytes.Buffer
	fmt.Fprintf(&b, "YUV4MPEG2 W%d H%d F30:1 C420jpeg\n", w, h)
	for range n {
		b.WriteString("FRAME\n")
		b.Write(bytes.Repeat([]byte{128}, w*h+2*((w+1)/2)*((h+1)/2)))
	}
	p := filepath.Join(dir, "clip.y4m")
	if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseProcStat(t *testing.T) {
	tests := []struct {
		line      string
		ppid      int
		ticks     int64
		wantError bool
	}{
		{"1234 (chromium) S 77 1234 1234 0 -1 4194560 100 0 0 0 250 31 0 0 20 0 9 0 1000 0 0", 77, 281, false},
		// A command name with spaces and a parenthesis of its own.
		{"42 (a b) c) R 1 42 42 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 5 0 0", 1, 10, false},
		{"42 no command name", 0, 0, true},
		{"42 (short) S 1 2 3", 0, 0, true},
		{"42 (x) S one 42 42 0 -1 0 0 0 0 0 7 3", 0, 0, true},
	}
	for _, tt := range tests {
		ppid, ticks, err := parseProcStat(tt.line)
		if (err != nil) != tt.wantError || ppid != tt.ppid || ticks != tt.ticks {
			t.Errorf("parseProcStat(%q) = %d, %d, %v; want %d, %d, error %v", tt.line, ppid, ticks, err, tt.ppid, tt.ticks, tt.wantError)
		}
	}
}

func TestCmdlineKind(t *testing.T) {
	tests := []struct{ cmdline, want string }{
		{"/usr/lib/chromium/chromium\x00--headless=new\x00--type=renderer\x00--lang=en", "renderer"},
		// Chromium rewrites its own argv as one space-separated string.
		{"/usr/lib/chromium/chromium --type=gpu-process --no-sandbox\x00\x00", "gpu-process"},
		{"/usr/lib/chromium/chromium\x00--headless=new\x00--remote-debugging-pipe", "browser"},
	}
	for _, tt := range tests {
		if got := cmdlineKind(tt.cmdline); got != tt.want {
			t.Errorf("cmdlineKind(%q) = %q, want %q", tt.cmdline, got, tt.want)
		}
	}
}

// TestTreeTicks: a process tree (a shell and its child) is found below
// this test process, and a busy child's CPU shows in cpuDelta.
func TestTreeTicks(t *testing.T) {
	cmd := exec.Command("sh", "-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done & sleep 5 & wait")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	start, t0 := treeTicks(os.Getpid()), time.Now()
	deadline := time.Now().Add(5 * time.Second)
	var after map[int]int64
	for {
		after = treeTicks(os.Getpid())
		sum := 0.0
		for _, v := range cpuDelta(start, after, time.Since(t0)) {
			sum += v
		}
		if len(after) >= 3 && sum > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tree below %d: %v, no CPU seen in 5 s", os.Getpid(), after)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, ok := after[cmd.Process.Pid]; !ok {
		t.Errorf("the shell %d is not in the tree %v", cmd.Process.Pid, after)
	}
	if _, ok := after[os.Getpid()]; !ok {
		t.Errorf("the root %d is not in its own tree %v", os.Getpid(), after)
	}
}

func TestValidateCPU(t *testing.T) {
	dir := t.TempDir()
	clip := tinyY4M(t, dir, 64, 48, 2)
	notY4M := filepath.Join(dir, "clip.ivf")
	if err := os.WriteFile(notY4M, []byte("DKIF"), 0o600); err != nil {
		t.Fatal(err)
	}
	gui := filepath.Join(dir, "peercall")
	if err := os.WriteFile(gui, nil, 0o700); err != nil {
		t.Fatal(err)
	}
	ok := BenchOptions{CPUClip: clip, CPURounds: 3, CPUWarmup: 5 * time.Second, CPUWindow: 10 * time.Second}
	tests := []struct {
		name   string
		change func(o *BenchOptions)
		want   string // "" valid, else part of the error
	}{
		{"valid", func(*BenchOptions) {}, ""},
		{"with the desktop app", func(o *BenchOptions) { o.GUIBinary = gui }, ""},
		{"no comparison", func(o *BenchOptions) { *o = BenchOptions{} }, ""},
		{"gui without comparison", func(o *BenchOptions) { *o = BenchOptions{GUIBinary: gui} }, "--gui-binary needs --cpu-chromium"},
		{"rounds", func(o *BenchOptions) { o.CPURounds = 0 }, "--cpu-rounds"},
		{"window", func(o *BenchOptions) { o.CPUWindow = 0 }, "--cpu-window"},
		{"warm-up", func(o *BenchOptions) { o.CPUWarmup = -time.Second }, "--cpu-warmup"},
		{"not a y4m", func(o *BenchOptions) { o.CPUClip = notY4M }, "want a FILE.y4m"},
		{"missing clip", func(o *BenchOptions) { o.CPUClip = filepath.Join(dir, "gone.y4m") }, "--cpu-chromium"},
		{"missing gui", func(o *BenchOptions) { o.GUIBinary = filepath.Join(dir, "gone") }, "--gui-binary"},
		{"with --network", func(o *BenchOptions) { o.Network = true }, "separate runs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := ok
			tt.change(&o)
			err := o.validateCPU()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("validateCPU: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrBadFlags) {
				t.Fatalf("validateCPU = %v, want ErrBadFlags saying %q", err, tt.want)
			}
		})
	}
}

// TestGUIVideoClip: the desktop app takes --video FILE.y4m (a clip as its
// camera) when the file is a clip it can send, and refuses it otherwise.
func TestGUIVideoClip(t *testing.T) {
	dir := t.TempDir()
	clip := tinyY4M(t, dir, 64, 48, 2)
	bad := filepath.Join(dir, "bad.y4m")
	if err := os.WriteFile(bad, []byte("YUV4MPEG2 W64 H48 F30:1 C444\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		video string
		ok    bool
	}{
		{clip, true},
		{strings.ToUpper(filepath.Ext(clip)) + "x", false}, // ".Y4Mx": no source of that name
		{bad, false},
		{filepath.Join(dir, "gone.y4m"), false},
		{"synthetic", true},
	}
	for _, tt := range tests {
		o := GUIOptions{Media: MediaOptions{Video: tt.video}}
		if err := o.Validate(); (err == nil) != tt.ok {
			t.Errorf("--video %s: Validate = %v, want ok %v", tt.video, err, tt.ok)
		}
	}
}

// TestCPUMarkdown: medians per client, both ratio columns, failed calls
// counted apart, the load at start and end, the process split.
func TestCPUMarkdown(t *testing.T) {
	r := &CPUResult{Clip: "/x/busy-640x480-30.y4m", Chromium: "156.0", Rounds: 2, Warmup: 5 * time.Second, Window: 10 * time.Second,
		Samples: []CPUSample{
			{Client: cpuChromium, Round: 1, PerPeer: []float64{60}, Parts: map[string]float64{"renderer": 70, "gpu-process": 25}, FPSIn: 30, SentKbps: 1700},
			{Client: cpuChromiumTab, Round: 1, PerPeer: []float64{40}, FPSIn: 30, SentKbps: 1700},
			{Client: cpuHeadless, Round: 1, PerPeer: []float64{20, 22}, FPSIn: 30, SentKbps: 1500},
			{Client: cpuDesktop, Round: 1, PerPeer: []float64{44}, Parts: map[string]float64{"app": 44, "xvfb": 2}, FPSIn: 29, SentKbps: 1600},
			{Client: cpuChromium, Round: 2, PerPeer: []float64{50}, Parts: map[string]float64{"renderer": 60, "gpu-process": 23}, FPSIn: 30, SentKbps: 1700},
			{Client: cpuChromiumTab, Round: 2, Err: "chromium one-page call: boom"},
			{Client: cpuHeadless, Round: 2, PerPeer: []float64{24, 18}, FPSIn: 30, SentKbps: 1500},
			{Client: cpuDesktop, Round: 2, PerPeer: []float64{48}, Parts: map[string]float64{"app": 48, "xvfb": 2}, FPSIn: 29, SentKbps: 1600},
		}}
	m := MachineInfo{Cores: 2, Model: "test cpu", LoadAvgStart: []float64{0.5}, LoadAvg: []float64{1.5}}
	md := cpuMarkdown(m, r)
	for _, want := range []string{
		"## " + cpuSection + "\n",
		"load average [0.5] at the start, [1.5] at the end",
		// Chromium two windows: median of 60 and 50; one page: 40 (one failed).
		"| chromium | 55.0 (50.0–60.0, 2) | 1.00 | 1.38 |",
		"| chromium-1-page | 40.0 (40.0–40.0, 1, 1 failed) | 0.73 | 1.00 |",
		// Four headless peers: median of 18, 20, 22, 24.
		"| headless | 21.0 (18.0–24.0, 4) | 0.38 | 0.53 | ≤ 0.6× |",
		"| desktop | 46.0 (44.0–48.0, 2) | 0.84 | 1.15 | ≤ 1.0× |",
		"Chromium 156.0: one browser",
		"- chromium by process, % of a core (medians; the whole call, both peers): gpu-process 24.0, renderer 65.0",
		"- desktop by process, % of a core (medians; the X server is not counted above; Chromium runs without one): app 46.0, xvfb 2.0",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	res := &BenchResult{CPU: r, Machine: m}
	if got := res.Markdown(); got != md {
		t.Errorf("BenchResult.Markdown with only the CPU comparison = %q, want its section", got)
	}
}

// TestWriteBenchDocCPUSection: bench --cpu-chromium replaces only its
// section of the doc, and the main bench's rewrite keeps it.
func TestWriteBenchDocCPUSection(t *testing.T) {
	doc := filepath.Join(t.TempDir(), "benchmarks.md")
	old := "# Peercall benchmarks\n\n## Call quality\n\nold calls\n\n## Bad networks\n\nnetwork table\n\n## Component benchmarks\n\nold go bench\n"
	if err := os.WriteFile(doc, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	cpu := "## " + cpuSection + "\n\ncpu table v1\n"
	if err := WriteBenchDoc(BenchOptions{DocPath: doc, CPUClip: "clip.y4m"}, &BenchResult{}, cpu); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(doc)
	want := "# Peercall benchmarks\n\n## Call quality\n\nold calls\n\n## Bad networks\n\nnetwork table\n\n" + cpu + "\n## Component benchmarks\n\nold go bench\n"
	if string(b) != want {
		t.Fatalf("after the CPU run:\n%s\nwant:\n%s", b, want)
	}
	// The main bench rewrites the rest and keeps both owned sections.
	if err := WriteBenchDoc(BenchOptions{DocPath: doc}, &BenchResult{Time: time.Unix(0, 0).UTC()}, "new calls\n"); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(doc)
	for _, s := range []string{"new calls", "network table", "cpu table v1"} {
		if !strings.Contains(string(b), s) {
			t.Errorf("after the main bench the doc lacks %q:\n%s", s, b)
		}
	}
	if strings.Contains(string(b), "old calls") {
		t.Errorf("the main bench kept its old section:\n%s", b)
	}
	// A second CPU run replaces its section in place.
	if err := WriteBenchDoc(BenchOptions{DocPath: doc, CPUClip: "clip.y4m"}, &BenchResult{}, "## "+cpuSection+"\n\ncpu table v2\n"); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(doc)
	if strings.Contains(string(b), "v1") || strings.Count(string(b), "## "+cpuSection) != 1 || !strings.Contains(string(b), "cpu table v2") {
		t.Errorf("after the second CPU run:\n%s", b)
	}
}
