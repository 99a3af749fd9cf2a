//go:build cgo

package codec

import (
	"bytes"
	"fmt"
	"image"
	"os/exec"
	"strings"
	"testing"
)

// busyClipFrames returns the first n frames of the busy 640x480@30 clip
// (scripts/busy-clip.sh: moving shapes, texture and sensor-like noise; made
// with ffmpeg once and kept in build/), decoded to I420 by ffmpeg.
func busyClipFrames(b *testing.B, n int) []*image.YCbCr {
	b.Helper()
	const w, h = 640, 480
	out, err := exec.Command("../scripts/busy-clip.sh", "../build/busy-640x480-30.y4m").CombinedOutput()
	if err != nil {
		b.Fatalf("busy clip (needs ffmpeg): %v\n%s", err, out)
	}
	raw, err := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-i", strings.TrimSpace(string(out)),
		"-frames:v", fmt.Sprint(n), "-f", "rawvideo", "-pix_fmt", "yuv420p", "-").Output()
	if err != nil {
		b.Fatalf("ffmpeg: %v", err)
	}
	size := w*h + 2*(w/2)*(h/2)
	if len(raw) != n*size {
		b.Fatalf("ffmpeg gave %d bytes, want %d frames of %d", len(raw), n, size)
	}
	frames := make([]*image.YCbCr, n)
	for i := range frames {
		f := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
		r := bytes.NewReader(raw[i*size : (i+1)*size])
		_, _ = r.Read(f.Y)
		_, _ = r.Read(f.Cb)
		_, _ = r.Read(f.Cr)
		frames[i] = f
	}
	return frames
}

// BenchmarkVP8EncodeClip is BenchmarkVP8EncodeSpeed on camera-like content
// (the busy clip rather than the smooth pattern): per cpu-used setting and
// bitrate, the encoder's CPU time per frame (cpu-ms/frame, of the encoding
// thread), the bitrate reached and the luma PSNR of the decoded stream, so
// settings compare by quality at the same bitrate and by cost, with the
// calls' settings (error resilient, one thread). A pass
// encodes the clip's 300 frames in order (-benchtime 300x is one pass;
// more loop back to frame 0, a scene cut):
//
//	go test -run '^$' -bench VP8EncodeClip -benchtime 300x -count 3 ./codec/
func BenchmarkVP8EncodeClip(b *testing.B) {
	const w, h = 640, 480
	frames := busyClipFrames(b, 300)
	for _, rate := range []int{1_000_000, 2_000_000} {
		for _, cpu := range []int{-6, -8, -10, -12, -14, -16} {
			b.Run(fmt.Sprintf("%dk/cpu-used=%d", rate/1000, cpu), func(b *testing.B) {
				cfg := VP8Config{Width: w, Height: h, BitRate: rate, CPUUsed: cpu, Threads: 1, ErrorResilient: true}
				benchEncodeQuality(b, cfg, frames, 15)
			})
		}
	}
}
