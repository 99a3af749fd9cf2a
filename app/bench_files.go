package app

import (
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// benchFiles runs the file-transfer row: a random file of mb MB from the
// host to the joiner while both send and receive 640x480 video and audio.
// It sets the per-peer flags for the one call run makes, then clears them.
func benchFiles(dir string, mb int, peerArgs *func(int) []string, run func() BenchCall) (BenchCall, error) {
	src := filepath.Join(dir, "bench-file.bin")
	f, err := os.Create(src)
	if err != nil {
		return BenchCall{}, fmt.Errorf("bench file: %w", err)
	}
	_, err = io.CopyN(f, rand.Reader, int64(mb)<<20)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return BenchCall{}, fmt.Errorf("bench file: %w", err)
	}
	defer os.Remove(src)
	recv, err := os.MkdirTemp(dir, "received")
	if err != nil {
		return BenchCall{}, fmt.Errorf("bench file: %w", err)
	}
	defer os.RemoveAll(recv)
	*peerArgs = func(i int) []string {
		if i == 0 {
			return []string{"--send-file", src}
		}
		return []string{"--receive-dir", recv}
	}
	defer func() { *peerArgs = nil }()
	return run(), nil
}

// filesMarkdown is the file-transfer table ("" without that row).
func filesMarkdown(calls []BenchCall) string {
	var b strings.Builder
	for _, c := range calls {
		if c.Scenario != "files" {
			continue
		}
		b.WriteString("### File transfer during a call (127.0.0.1, 640x480 video and audio both ways)\n\n")
		b.WriteString("| file | Mbit/s | transfer (s) | SHA-256 | video fps in (host / joiner) | audio packets in (host / joiner) |\n|---|---|---|---|---|---|\n")
		var sent, got *FileReport
		if c.Host != nil && len(c.Host.Files) > 0 {
			sent = &c.Host.Files[0]
		}
		if c.Joiner != nil && len(c.Joiner.Files) > 0 {
			got = &c.Joiner.Files[0]
		}
		if sent == nil || got == nil {
			fmt.Fprintf(&b, "| | failed: %s | | | | |\n\n", c.Err)
			continue
		}
		hash := "not checked"
		if got.SHA256OK != nil {
			hash = map[bool]string{true: "equal", false: "different"}[*got.SHA256OK]
		}
		fmt.Fprintf(&b, "| %d MB | %.0f | %.2f | %s | %.1f / %.1f | %d / %d |\n\n", got.Size>>20, got.MbitS, got.DurationS, hash,
			c.Host.VideoIn.FPS, c.Joiner.VideoIn.FPS, c.Host.AudioIn.PacketsReceived, c.Joiner.AudioIn.PacketsReceived)
		b.WriteString("Goal (issue 17): ≥ 200 Mbit/s while video keeps ≥ 25 fps.\n\n")
	}
	return b.String()
}
