package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// goBuildMu serialises the tests' go builds (each links its own binary;
// two links at once on a 2-core machine only slow both).
var goBuildMu sync.Mutex

// HeadlessBinary compiles peercall-headless into t's temp dir, with cgo
// (VP8, Opus, devices) or without, never with -race: end-to-end figures
// are about the product, not the detector. Exported for the external
// test package's end-to-end tests.
func HeadlessBinary(t testing.TB, cgo bool) string {
	t.Helper()
	goBuildMu.Lock()
	defer goBuildMu.Unlock()
	bin := filepath.Join(t.TempDir(), "peercall-headless")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/peercall/peercall/app/cmd/peercall-headless")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if cgo {
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build peercall-headless (cgo=%v): %v\n%s", cgo, err, out)
	}
	return bin
}

// PeerRun is how a headless peer process ended.
type PeerRun struct {
	Started time.Time // just before the process started
	Code    int       // exit code; -1 if it did not exit on its own
	Stderr  string
	Report  Report
	// ReportErr: the --report file could not be read or parsed.
	ReportErr error
}

// Err is nil for a peer that exited 0 with a report, else what went
// wrong with its stderr.
func (r PeerRun) Err() error {
	var err error
	if r.Code != 0 {
		err = fmt.Errorf("exit %d", r.Code)
	}
	if err = errors.Join(err, r.ReportErr); err != nil {
		return fmt.Errorf("headless peer: %w: %s", err, r.Stderr)
	}
	return nil
}

// StartPeer runs the headless binary bin with args, writing its report to
// report, killed after within; the channel gets how it ended. Exported
// for the external test package's end-to-end tests.
func StartPeer(t testing.TB, bin, report string, args []string, within time.Duration) <-chan PeerRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	cmd := exec.CommandContext(ctx, bin, append(args, "--report", report)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	started := time.Now()
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	out := make(chan PeerRun, 1)
	go func() {
		defer cancel()
		r := PeerRun{Started: started}
		err := cmd.Wait()
		r.Stderr = stderr.String()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			r.Code = ee.ExitCode()
		} else if err != nil {
			r.Code = -1
		}
		b, err := os.ReadFile(report)
		if err == nil {
			err = json.Unmarshal(b, &r.Report)
		}
		r.ReportErr = err
		out <- r
	}()
	return out
}
