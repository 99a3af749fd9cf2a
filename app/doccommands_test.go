package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// docBlock is one shell block of a document: its commands with line
// continuations joined.
type docBlock struct {
	file string
	line int
	cmds []string
}

// docBlocks extracts the shell blocks of a markdown file: indented blocks
// (four spaces after a blank line) and fences marked sh, bash, shell or
// console.
func docBlocks(t *testing.T, path string) []docBlock {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []docBlock
	var cur *docBlock
	var pending string
	fence, shellFence, prevBlank := false, false, true
	flush := func() {
		if cur != nil && len(cur.cmds) > 0 {
			out = append(out, *cur)
		}
		cur, pending = nil, ""
	}
	add := func(n int, line string) {
		if cur == nil {
			cur = &docBlock{file: filepath.Base(path), line: n}
		}
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			return
		}
		if strings.HasSuffix(line, "\\") {
			pending += strings.TrimSuffix(line, "\\") + " "
			return
		}
		cur.cmds = append(cur.cmds, strings.Join(strings.Fields(pending+line), " "))
		pending = ""
	}
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			if fence {
				flush()
				fence, shellFence = false, false
			} else {
				lang := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "```"))
				fence, shellFence = true, lang == "sh" || lang == "bash" || lang == "shell" || lang == "console"
			}
			continue
		}
		switch {
		case fence:
			if shellFence {
				add(n, strings.TrimPrefix(strings.TrimSpace(line), "$ "))
			}
		case strings.HasPrefix(line, "    ") && (prevBlank || cur != nil):
			add(n, line)
		case strings.TrimSpace(line) == "":
			// A blank line inside an indented block does not end it.
		default:
			flush()
		}
		prevBlank = strings.TrimSpace(line) == ""
	}
	flush()
	return out
}

// TestDocCommands runs every shell command README.md and docs/ show, as
// written except for what a test machine must change: the port numbers
// (free ones instead of 8080 and 3478), the secret file (a temporary one
// instead of /etc/peercall/secret) and where `build/` is. A command the
// test does not know how to run fails it, so a new example cannot slip
// past. `make run` (a window that stays open) and the long targets are
// dry-run with `make -n`; `make test` runs them all in CI anyway.
func TestDocCommands(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	files := []string{filepath.Join(root, "README.md")}
	for _, glob := range []string{"docs/*.md", "docs/*/*.md"} {
		more, _ := filepath.Glob(filepath.Join(root, glob))
		files = append(files, more...)
	}
	var blocks []docBlock
	for _, f := range files {
		blocks = append(blocks, docBlocks(t, f)...)
	}
	if len(blocks) < 4 {
		t.Fatalf("found %d shell blocks in %v; the extractor is broken", len(blocks), files)
	}

	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("0123456789abcdef0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	httpPort, udpPort := freeTCPPort(t), freeUDPPort(t)
	rewrite := func(cmd string) string {
		cmd = strings.ReplaceAll(cmd, "/etc/peercall/secret", secret)
		cmd = strings.ReplaceAll(cmd, ":8080", ":"+strconv.Itoa(httpPort))
		cmd = strings.ReplaceAll(cmd, ":3478", ":"+strconv.Itoa(udpPort))
		return regexp.MustCompile(`(^|\s)build/`).ReplaceAllString(cmd, "${1}"+root+"/build/")
	}
	dryRun := regexp.MustCompile(`^make (run|test|bench|bench-gui|fuzz|smoke|package)$`)
	for _, b := range blocks {
		where := fmt.Sprintf("%s:%d", b.file, b.line)
		var headless []string
		for _, cmd := range b.cmds {
			switch first := strings.Fields(cmd)[0]; {
			case dryRun.MatchString(cmd):
				runShell(t, where, root, "make -n "+strings.TrimPrefix(cmd, "make "), 2*time.Minute)
			case first == "make" || first == "go":
				runShell(t, where, root, cmd, 10*time.Minute)
			case first == "build/peercall-signal" && strings.Fields(cmd)[1] == "token":
				out := runShell(t, where, dir, rewrite(cmd), time.Minute)
				if !strings.HasPrefix(strings.TrimSpace(out), "pcj1.") {
					t.Errorf("%s: %q printed %q, want a pcj1. join token", where, cmd, out)
				}
			case first == "build/peercall-signal":
				runSignalServer(t, where, dir, rewrite(cmd), httpPort)
			case first == "build/peercall-headless":
				headless = append(headless, rewrite(cmd))
			default:
				t.Errorf("%s: no runner for %q: teach TestDocCommands how to run it", where, cmd)
			}
		}
		if len(headless) > 0 {
			runHeadlessBlock(t, where, dir, headless)
		}
	}
}

// runShell runs one command under bash in dir and returns its stdout.
func runShell(t *testing.T, where, dir, cmd string, limit time.Duration) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	c := exec.CommandContext(ctx, "bash", "-c", cmd)
	c.Dir = dir
	var stderr strings.Builder
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		t.Fatalf("%s: %s: %v\n%s%s", where, cmd, err, out, tail(stderr.String(), 2000))
	}
	return string(out)
}

// runSignalServer starts the standalone server as shown, checks /healthz
// and stops it with SIGTERM, which must end it cleanly.
func runSignalServer(t *testing.T, where, dir, cmd string, port int) {
	t.Helper()
	c := exec.Command("bash", "-c", "exec "+cmd)
	c.Dir = dir
	var stderr strings.Builder
	c.Stdout, c.Stderr = &stderr, &stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	url := fmt.Sprintf("http://127.0.0.1:%d/healthz", port)
	deadline := time.Now().Add(20 * time.Second)
	healthy := false
	for !healthy && time.Now().Before(deadline) {
		select {
		case err := <-done:
			t.Fatalf("%s: %s exited early: %v\n%s", where, cmd, err, tail(stderr.String(), 2000))
		case <-time.After(100 * time.Millisecond):
		}
		if resp, err := http.Get(url); err == nil { //nolint:noctx // test probe
			healthy = resp.StatusCode == http.StatusOK
			_ = resp.Body.Close()
		}
	}
	if !healthy {
		_ = c.Process.Kill()
		<-done
		t.Fatalf("%s: %s: /healthz never answered 200\n%s", where, cmd, tail(stderr.String(), 2000))
	}
	_ = c.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("%s: %s: exit after SIGTERM: %v\n%s", where, cmd, err, tail(stderr.String(), 2000))
		}
	case <-time.After(20 * time.Second):
		_ = c.Process.Kill()
		<-done
		t.Errorf("%s: %s did not stop on SIGTERM", where, cmd)
	}
}

// runHeadlessBlock runs a block of headless commands as a shell would
// (those ending in & in the background) and requires every one to exit 0
// and every report written to a file to say ok.
func runHeadlessBlock(t *testing.T, where, dir string, cmds []string) {
	t.Helper()
	script := "set -e\n" + strings.Join(cmds, "\n") +
		"\nfor j in $(jobs -p); do wait $j || { echo \"background command failed: $?\" >&2; exit 1; }; done\n"
	for i, cmd := range cmds {
		if !strings.HasSuffix(cmd, "&") && i < len(cmds)-1 {
			// The next command starts only once this one has ended.
			continue
		}
		if strings.HasSuffix(cmd, "&") {
			// Scripts wait for the room to exist: like a person starting the
			// second peer after the first.
			script = strings.Replace(script, cmd, cmd+"\nsleep 1", 1)
		}
	}
	out := runShell(t, where, dir, script, 2*time.Minute)
	for _, cmd := range cmds {
		f := strings.Fields(cmd)
		for i := 0; i+1 < len(f); i++ {
			if f[i] != "--report" || f[i+1] == "-" {
				continue
			}
			data, err := os.ReadFile(filepath.Join(dir, f[i+1]))
			if err != nil {
				t.Fatalf("%s: report of %q: %v", where, cmd, err)
			}
			checkReportOK(t, where+" "+f[i+1], data)
		}
		if strings.Contains(cmd, "--report -") {
			checkReportOK(t, where+" stdout", []byte(out))
		}
	}
}

func checkReportOK(t *testing.T, where string, data []byte) {
	t.Helper()
	var rep struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatalf("%s: report is not JSON: %v\n%s", where, err, tail(string(data), 500))
	}
	if !rep.OK {
		t.Errorf("%s: report not ok: %s", where, rep.Error)
	}
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func freeUDPPort(t *testing.T) int {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	return pc.LocalAddr().(*net.UDPAddr).Port
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
