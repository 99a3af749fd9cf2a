package pulsetest

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

func rawArgs(rate, channels int) []string {
	return []string{"-t", "raw", "-e", "signed", "-b", "16", "-L", "-r", strconv.Itoa(rate), "-c", strconv.Itoa(channels)}
}

// Speech is text spoken by espeak-ng, as interleaved PCM16 at rate ×
// channels (sox converts), the same on every channel.
func Speech(t testing.TB, text string, rate, channels int) []int16 {
	t.Helper()
	Need(t, "espeak-ng", "sox")
	wav := filepath.Join(t.TempDir(), "speech.wav")
	if out, err := exec.Command("espeak-ng", "-v", "en-us", "-s", "150", "-w", wav, text).CombinedOutput(); err != nil {
		t.Fatalf("espeak-ng: %v: %s", err, out)
	}
	args := append([]string{"-V1", wav}, rawArgs(rate, channels)...)
	args = append(args, "-", "norm", "-3") // peak at -3 dBFS whatever the voice
	var out, errb bytes.Buffer
	cmd := exec.Command("sox", args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("sox: %v: %s", err, errb.String())
	}
	pcm := make([]int16, out.Len()/2)
	if err := binary.Read(&out, binary.LittleEndian, pcm); err != nil {
		t.Fatal(err)
	}
	return pcm
}

// Spectrogram draws interleaved PCM16 with sox into a PNG at path, for
// people to look at.
func Spectrogram(t testing.TB, path string, pcm []int16, rate, channels int, title string) {
	t.Helper()
	Need(t, "sox")
	var in bytes.Buffer
	_ = binary.Write(&in, binary.LittleEndian, pcm)
	args := append([]string{"-V1"}, rawArgs(rate, channels)...)
	args = append(args, "-", "-n", "spectrogram", "-x", "1200", "-y", "257", "-t", title, "-o", path)
	cmd := exec.Command("sox", args...)
	cmd.Stdin = &in
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("sox spectrogram: %v: %s", err, out)
		return
	}
	if st, err := os.Stat(path); err != nil || st.Size() == 0 {
		t.Errorf("sox spectrogram wrote nothing to %s: %v", path, err)
	}
}

// Repeat is pcm n times over with gap of silence after each, as one
// interleaved signal.
func Repeat(pcm []int16, n, gap int) []int16 {
	out := make([]int16, 0, n*(len(pcm)+gap))
	for range n {
		out = append(out, pcm...)
		out = append(out, make([]int16, gap)...)
	}
	return out
}
