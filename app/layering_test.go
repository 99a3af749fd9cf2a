package app_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/peercall/peercall"

// TestLayering enforces the package map in ../shared/STYLE.md: it lists the
// transitive dependencies of each package and fails on a forbidden import.
func TestLayering(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go tool not on PATH")
	}
	tests := []struct {
		pkg       string
		forbidden []string // prefixes that must not appear in deps
	}{
		{"call", []string{"fyne.io/", module + "/ui", module + "/capture", module + "/codec", module + "/app", module + "/signalserver", "github.com/pion/mediadevices", "github.com/gorilla/"}},
		{"signalserver", []string{"fyne.io/", module + "/ui", module + "/call", module + "/codec", module + "/capture", module + "/app", "github.com/pion/webrtc", "github.com/pion/mediadevices"}},
		{"codec", []string{"fyne.io/", module + "/ui", module + "/call", module + "/capture", module + "/app", module + "/signalserver"}},
		{"capture", []string{"fyne.io/", module + "/ui", module + "/call", module + "/app", module + "/signalserver"}},
		{"app", []string{"fyne.io/", module + "/ui"}},
		{"app/cli", []string{"fyne.io/", module + "/ui"}},
		{"app/cmd/peercall-headless", []string{"fyne.io/", module + "/ui"}},
		{"signalserver/cmd/peercall-signal", []string{"fyne.io/", module + "/ui", "github.com/pion/webrtc"}},
		{"assets", []string{"fyne.io/", module + "/"}},
	}
	for _, tt := range tests {
		t.Run(tt.pkg, func(t *testing.T) {
			out, err := exec.Command("go", "list", "-deps", module+"/"+tt.pkg).CombinedOutput()
			if err != nil {
				t.Fatalf("go list %s: %v\n%s", tt.pkg, err, out)
			}
			for _, dep := range strings.Fields(string(out)) {
				if dep == module+"/"+tt.pkg {
					continue
				}
				for _, bad := range tt.forbidden {
					if strings.HasPrefix(dep, bad) && dep != module+"/"+tt.pkg {
						t.Errorf("%s imports %s (forbidden by the package map)", tt.pkg, dep)
					}
				}
			}
		})
	}
}

// TestUIImports: the GUI talks to app only (direct imports, tests included).
func TestUIImports(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go tool not on PATH")
	}
	out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}{{"\n"}}{{join .TestImports "\n"}}`, module+"/ui", module).CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, imp := range strings.Fields(string(out)) {
		for _, bad := range []string{"/call", "/codec", "/capture", "/signalserver"} {
			if imp == module+bad {
				t.Errorf("ui or main imports %s: the GUI goes through app", imp)
			}
		}
	}
}

// TestLibrariesHaveNoFlags: command-line parsing, usage text and exit codes
// live with the binaries (app/cli, signalserver/cmd/peercall-signal), so
// the libraries a GUI or a test embeds never touch package flag.
func TestLibrariesHaveNoFlags(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Fatal("go tool not on PATH")
	}
	for _, pkg := range []string{"app", "signalserver", "call", "capture", "codec"} {
		out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, module+"/"+pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", pkg, err, out)
		}
		for _, imp := range strings.Fields(string(out)) {
			if imp == "flag" {
				t.Errorf("%s imports flag: command-line parsing belongs to the binaries' CLI packages", pkg)
			}
		}
	}
}

// TestPureGoBuilds: call, signalserver and the standalone binaries build
// without cgo (static server, tester rigs).
func TestPureGoBuilds(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go tool not on PATH")
	}
	for _, pkg := range []string{"call/...", "signalserver/...", "app/cmd/peercall-headless"} {
		cmd := exec.Command("go", "build", "-o", os.DevNull, module+"/"+pkg)
		if strings.HasSuffix(pkg, "...") {
			cmd = exec.Command("go", "build", module+"/"+pkg)
		}
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("CGO_ENABLED=0 go build %s: %v\n%s", pkg, err, out)
		}
	}
}

// TestOtherOSBuilds: the headless binary and the signaling server build for
// macOS and Windows without cgo (the Linux-only benches have stubs there).
func TestOtherOSBuilds(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go tool not on PATH")
	}
	for _, goos := range []string{"darwin", "windows"} {
		for _, pkg := range []string{"app/cmd/peercall-headless", "signalserver/cmd/peercall-signal"} {
			t.Run(goos+"/"+pkg, func(t *testing.T) {
				cmd := exec.Command("go", "build", "-o", os.DevNull, module+"/"+pkg)
				cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH=amd64")
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Errorf("GOOS=%s CGO_ENABLED=0 go build %s: %v\n%s", goos, pkg, err, out)
				}
			})
		}
	}
}
