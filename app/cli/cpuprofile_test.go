package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHeadlessCPUProfile: --cpuprofile writes a pprof profile of the run
// (here one that gives up waiting for a peer), and a path that cannot be
// written is a flag error before anything starts.
func TestHeadlessCPUProfile(t *testing.T) {
	dir := t.TempDir()
	prof := filepath.Join(dir, "cpu.prof")
	base := []string{"--serve", "127.0.0.1:0", "--room", "prof", "--video", "none", "--audio", "none", "--peer-wait", "300ms"}
	var stderr bytes.Buffer
	if code := HeadlessMain(context.Background(), append(base, "--cpuprofile", prof), &bytes.Buffer{}, &stderr); code != ExitConnect {
		t.Fatalf("exit %d, want %d (nobody joined): %s", code, ExitConnect, stderr.String())
	}
	b, err := os.ReadFile(prof)
	if err != nil {
		t.Fatal(err)
	}
	// pprof profiles are gzipped protocol buffers.
	if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		t.Errorf("profile of %d bytes is not gzip", len(b))
	}

	stderr.Reset()
	bad := filepath.Join(dir, "missing", "cpu.prof")
	if code := HeadlessMain(context.Background(), append(base, "--cpuprofile", bad), &bytes.Buffer{}, &stderr); code != ExitBadFlags {
		t.Fatalf("unwritable profile: exit %d, want %d", code, ExitBadFlags)
	}
	if !strings.Contains(stderr.String(), "--cpuprofile") {
		t.Errorf("stderr does not name the flag: %q", stderr.String())
	}

	var help bytes.Buffer
	HeadlessMain(context.Background(), []string{"-h"}, &bytes.Buffer{}, &help)
	if !strings.Contains(help.String(), "-cpuprofile FILE") || !strings.Contains(help.String(), "FILE.y4m") {
		t.Errorf("help lacks --cpuprofile or FILE.y4m:\n%s", help.String())
	}
}
