package app

import (
	"crypto/sha256"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// mountTmpfs mounts a small tmpfs (options as mount -o takes them) for the
// test: a real full disk or read-only file system, which permission bits
// cannot give a root test.
func mountTmpfs(t *testing.T, opts string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		SkipOrFail(t, "needs root to mount a small tmpfs")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "peercall-test", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", dir).Run() })
	return dir
}

// TestFileDiskErrors: a full disk or a read-only download folder ends
// that transfer on both sides with a message that says so; the call goes
// on, and once there is room (or write access) the next file arrives.
func TestFileDiskErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("file transfer over loopback")
	}
	tests := []struct {
		name string
		opts string
		size int
		says string
		mend func(t *testing.T, dir string) // gives room or access back
	}{
		{"disk full", "size=1m", 3 << 20, "the disk is full", func(*testing.T, string) {}},
		{"read-only", "size=8m,ro", 256 << 10, "permission denied", func(t *testing.T, dir string) {
			if out, err := exec.Command("mount", "-o", "remount,rw", dir).CombinedOutput(); err != nil {
				t.Fatalf("remount: %v %s", err, out)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := mountTmpfs(t, tt.opts)
			hp := newHubPair(t, dir, false, nil)
			src, _ := writeRandom(t, tt.size)
			if err := hp.a.hub.SendFile(src); err != nil {
				t.Fatal(err)
			}
			got := waitView(t, hp.b.hub, "receiver fails", 30*time.Second, stateIs(FileFailed))
			if !strings.Contains(got.Error, tt.says) {
				t.Errorf("receiver says %q, want it to say %q", got.Error, tt.says)
			}
			sent := waitView(t, hp.a.hub, "sender fails", 30*time.Second, stateIs(FileFailed))
			if sent.Error == "" {
				t.Error("the sender was not told why")
			}
			t.Logf("receiver: %q; sender: %q", got.Error, sent.Error)
			if es, _ := os.ReadDir(dir); len(es) > 1 {
				t.Errorf("left in the folder: %v", es)
			}

			tt.mend(t, dir)
			small, data := writeRandom(t, 100<<10)
			if err := hp.a.hub.SendFile(small); err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				vs := hp.b.hub.Views()
				if len(vs) == 2 && vs[1].State == FileDone {
					on, err := os.ReadFile(vs[1].Path)
					if err != nil || sha256.Sum256(on) != sha256.Sum256(data) {
						t.Fatalf("second file: %v", err)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the next file did not arrive: %+v", vs)
				}
			}
		})
	}
}
