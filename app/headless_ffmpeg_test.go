package app

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// RequireFFmpeg fails the test (it does not skip) when ffmpeg or ffprobe is
// missing: recordings are only proven faithful by a real player.
func RequireFFmpeg(t testing.TB) {
	t.Helper()
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: install it (apt-get install -y --no-install-recommends ffmpeg)", tool)
		}
	}
}

// FFmpegErrors decodes path completely and returns what ffmpeg complained
// about; a faithful file gives "".
func FFmpegErrors(t testing.TB, path string) string {
	t.Helper()
	out, err := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-i", path, "-f", "null", "-").CombinedOutput()
	if err != nil {
		return strings.TrimSpace(string(out)) + " (" + err.Error() + ")"
	}
	return strings.TrimSpace(string(out))
}

// ProbeDuration is ffprobe's container duration of path, in seconds.
func ProbeDuration(t testing.TB, path string) float64 {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "default=nw=1:nk=1", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	d, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	if err != nil {
		t.Fatalf("ffprobe %s duration %q: %v", path, out, err)
	}
	return d
}

// DecodePCM decodes an audio file to 48 kHz mono samples with ffmpeg.
func DecodePCM(t testing.TB, path string) []int16 {
	t.Helper()
	out, err := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-i", path, "-f", "s16le", "-ac", "1", "-ar", "48000", "-").Output()
	if err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	pcm := make([]int16, len(out)/2)
	for i := range pcm {
		pcm[i] = int16(uint16(out[2*i]) | uint16(out[2*i+1])<<8)
	}
	return pcm
}
