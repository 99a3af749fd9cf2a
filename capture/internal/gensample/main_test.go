package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/peercall/peercall/capture"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	p := params{out: dir, seconds: 1, width: 160, height: 120, fps: 15, videoBitRate: 100_000, audioBitRate: 24_000}
	if err := run(p); err != nil {
		t.Fatal(err)
	}
	ivf, err := capture.OpenIVF(filepath.Join(dir, "sample.ivf"))
	if err != nil {
		t.Fatal(err)
	}
	if ivf.Width != 160 || ivf.Height != 120 || ivf.Frames() < 10 {
		t.Fatalf("ivf %dx%d, %d frames", ivf.Width, ivf.Height, ivf.Frames())
	}
	ogg, err := capture.OpenOgg(filepath.Join(dir, "sample.ogg"))
	if err != nil {
		t.Fatal(err)
	}
	if ogg.Packets() != 50 {
		t.Fatalf("ogg %d packets", ogg.Packets())
	}
	var total time.Duration
	for range ivf.Frames() {
		f, err := ivf.Next()
		if err != nil {
			t.Fatal(err)
		}
		total += f.Duration
	}
	if total < 990*time.Millisecond || total > 1010*time.Millisecond {
		t.Fatalf("video lasts %v", total)
	}
	if err := run(params{out: filepath.Join(dir, "f", "x"), seconds: 1, width: 0, height: 120, fps: 15}); err == nil {
		t.Fatal("zero width accepted")
	}
	if _, err := os.Stat(filepath.Join(dir, "f", "x", "sample.ivf")); err == nil {
		t.Fatal("failed run left a file")
	}
}
