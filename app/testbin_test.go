package app

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
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
