//go:build cgo

package codec

import (
	"errors"
	"fmt"
	"image"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/pion/mediadevices/pkg/codec/vpx"
	"github.com/pion/mediadevices/pkg/io/video"
	"github.com/pion/mediadevices/pkg/prop"
)

// benchFrames renders n frames of the moving pattern once, outside the timer.
func benchFrames(w, h, n int) []*image.YCbCr {
	frames := make([]*image.YCbCr, n)
	for i := range frames {
		frames[i] = image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
		movingPattern(frames[i], i)
	}
	return frames
}

func reportMsPerFrame(b *testing.B, frames int) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e6/float64(frames), "ms/frame")
}

var vp8BenchSizes = []struct {
	w, h, threads, bitrate int
}{
	{640, 480, 1, 1_000_000},
	{1280, 720, 1, 2_000_000},
	{1280, 720, 2, 2_000_000},
}

// BenchmarkVP8Encode compares Peercall's encoder (realtime, the machine's
// default cpu-used, see VP8Config.CPUUsed) with mediadevices' vpx encoder
// (its defaults) on the same pictures.
func BenchmarkVP8Encode(b *testing.B) {
	for _, sz := range vp8BenchSizes {
		frames := benchFrames(sz.w, sz.h, 30)
		b.Run(fmt.Sprintf("peercall/%dx%d/threads=%d", sz.w, sz.h, sz.threads), func(b *testing.B) {
			enc, err := NewVP8Encoder(VP8Config{Width: sz.w, Height: sz.h, BitRate: sz.bitrate, Threads: sz.threads})
			if err != nil {
				b.Fatal(err)
			}
			defer enc.Close()
			var bytes int
			i := 0
			for b.Loop() {
				out, _, err := enc.Encode(frames[i%len(frames)], time.Duration(i)*frameDur)
				if err != nil {
					b.Fatal(err)
				}
				bytes += len(out)
				i++
			}
			reportMsPerFrame(b, i)
			b.ReportMetric(float64(bytes)*8*30/float64(i)/1000, "kbit/s@30fps")
		})
		if sz.threads != 1 {
			continue // mediadevices' encoder is single-threaded
		}
		b.Run(fmt.Sprintf("mediadevices/%dx%d", sz.w, sz.h), func(b *testing.B) {
			params, err := vpx.NewVP8Params()
			if err != nil {
				b.Fatal(err)
			}
			params.BitRate = sz.bitrate
			i := 0
			src := video.ReaderFunc(func() (image.Image, func(), error) {
				img := frames[i%len(frames)]
				i++
				return img, func() {}, nil
			})
			rc, err := params.BuildVideoEncoder(src, prop.Media{Video: prop.Video{Width: sz.w, Height: sz.h, FrameRate: 30}})
			if err != nil {
				b.Fatal(err)
			}
			defer rc.Close()
			var bytes int
			n := 0
			for b.Loop() {
				out, release, err := rc.Read()
				if err != nil {
					b.Fatal(err)
				}
				bytes += len(out)
				release()
				n++
			}
			reportMsPerFrame(b, n)
			b.ReportMetric(float64(bytes)*8*30/float64(n)/1000, "kbit/s@30fps")
		})
	}
}

// BenchmarkVP8EncodeSpeed measures Peercall's encoder at each cpu-used
// setting the default chooses from: time per frame, bitrate and the mean
// luma PSNR of the decoded frames (decoded after the timed loop, first five
// frames left out while rate control settles). It backs the figures in
// VP8Config.CPUUsed; run it pinned to one core
// (GOMAXPROCS=1 taskset -c 1 ... -benchtime 60x) to compare settings.
func BenchmarkVP8EncodeSpeed(b *testing.B) {
	for _, sz := range vp8BenchSizes[:2] {
		frames := benchFrames(sz.w, sz.h, 30)
		for _, cpu := range []int{-6, -8, -10, -12, -14, -16} {
			b.Run(fmt.Sprintf("%dx%d/cpu-used=%d", sz.w, sz.h, cpu), func(b *testing.B) {
				benchEncodeQuality(b, VP8Config{Width: sz.w, Height: sz.h, BitRate: sz.bitrate, CPUUsed: cpu, Threads: 1}, frames, 5)
			})
		}
	}
}

// benchEncodeQuality encodes frames (cycled, one per iteration) with cfg
// and reports the time per frame (wall, and CPU of the encoding thread),
// the bitrate and the mean luma PSNR of the decoded stream, both from frame
// skip on (rate control settles first).
func benchEncodeQuality(b *testing.B, cfg VP8Config, frames []*image.YCbCr, skip int) {
	enc, err := NewVP8Encoder(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer enc.Close()
	var stream [][]byte
	// cgo calls run on the goroutine's thread: keep it one thread.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu0 := threadCPU(b)
	for b.Loop() {
		i := len(stream)
		out, _, err := enc.Encode(frames[i%len(frames)], time.Duration(i)*frameDur)
		if err != nil {
			b.Fatal(err)
		}
		stream = append(stream, out)
	}
	b.ReportMetric(float64(threadCPU(b)-cpu0)/1e6/float64(len(stream)), "cpu-ms/frame")
	reportMsPerFrame(b, len(stream))
	var bytes int
	for _, f := range stream[min(len(stream), skip):] {
		bytes += len(f)
	}
	b.ReportMetric(float64(bytes)*8*30/float64(max(1, len(stream)-skip))/1000, "kbit/s@30fps")
	b.ReportMetric(decodedPSNR(b, stream, frames, skip), "dB-PSNR-Y")
}

// decodedPSNR decodes stream (encoded from frames, cycled) and returns the
// mean luma PSNR from frame skip on.
func decodedPSNR(b *testing.B, stream [][]byte, frames []*image.YCbCr, skip int) float64 {
	dec, err := NewVP8Decoder()
	if err != nil {
		b.Fatal(err)
	}
	defer dec.Close()
	var sum float64
	n := 0
	for i, f := range stream {
		out, err := dec.Decode(f)
		if err != nil {
			b.Fatalf("decode frame %d: %v", i, err)
		}
		if i >= skip {
			sum += psnrY(frames[i%len(frames)], out)
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

func BenchmarkVP8Decode(b *testing.B) {
	for _, sz := range vp8BenchSizes[:2] {
		b.Run(fmt.Sprintf("%dx%d", sz.w, sz.h), func(b *testing.B) {
			frames := benchFrames(sz.w, sz.h, 30)
			enc, err := NewVP8Encoder(VP8Config{Width: sz.w, Height: sz.h, BitRate: sz.bitrate, KeyFrameInterval: 1000})
			if err != nil {
				b.Fatal(err)
			}
			var stream [][]byte
			for i, f := range frames {
				out, _, err := enc.Encode(f, time.Duration(i)*frameDur)
				if err != nil {
					b.Fatal(err)
				}
				stream = append(stream, out)
			}
			enc.Close()
			dec, err := NewVP8Decoder()
			if err != nil {
				b.Fatal(err)
			}
			defer dec.Close()
			i := 0
			for b.Loop() {
				// The stream restarts at its keyframe after the last frame.
				if _, err := dec.Decode(stream[i%len(stream)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
			reportMsPerFrame(b, i)
		})
	}
}

// BenchmarkYCbCrToRGBA compares the display conversion through libyuv (what
// YCbCrToRGBA does with 4:2:0 pictures) with the Go fallback.
func BenchmarkYCbCrToRGBA(b *testing.B) {
	for _, sz := range vp8BenchSizes[:2] {
		src := benchFrames(sz.w, sz.h, 1)[0]
		dst := image.NewRGBA(src.Rect)
		for _, impl := range []struct {
			name    string
			convert func()
		}{
			{"libyuv", func() { YCbCrToRGBA(dst, src) }},
			{"go", func() { convertRows(dst, src, 0, sz.h) }},
		} {
			b.Run(fmt.Sprintf("%dx%d/%s", sz.w, sz.h, impl.name), func(b *testing.B) {
				if impl.name == "libyuv" && !i420Fits(dst, src) {
					b.Fatal("picture does not take the libyuv path")
				}
				n := 0
				for b.Loop() {
					impl.convert()
					n++
				}
				reportMsPerFrame(b, n)
			})
		}
	}
}

// BenchmarkOpus measures encoding and decoding one second of 48 kHz mono
// speech at 32 kbit/s with FEC (50 frames of 20 ms).
func BenchmarkOpus(b *testing.B) {
	cfg := DefaultOpusConfig()
	pcm := speechLike(48000, 48000)
	enc, err := NewOpusEncoder(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer enc.Close()
	dec, err := NewOpusDecoder(48000, 1)
	if err != nil {
		b.Fatal(err)
	}
	defer dec.Close()
	out := make([]int16, 960)
	seconds := 0
	for b.Loop() {
		for f := 0; f < 50; f++ {
			pkt, err := enc.Encode(pcm[f*960 : (f+1)*960])
			if err != nil {
				b.Fatal(err)
			}
			if _, err := dec.Decode(pkt, out); err != nil {
				b.Fatal(err)
			}
		}
		seconds++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e6/float64(seconds), "ms/s-of-audio")
}

// screenFrames are 1920x1080 "screen" pictures: a light page of dark text
// rows (high-contrast edges, as text is) where each frame changes a few
// rows, as typing or scrolling a little does.
func screenFrames(n int) []*image.YCbCr {
	const w, h = 1920, 1080
	frames := make([]*image.YCbCr, n)
	for i := range frames {
		f := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
		for j := range f.Cb {
			f.Cb[j], f.Cr[j] = 128, 128
		}
		for y := range h {
			row := f.Y[y*f.YStride : y*f.YStride+w]
			line := y / 18
			for x := range row {
				row[x] = 235
				// Glyph-like strokes: 7-pixel cells with a few dark columns,
				// shifted on the rows frame i "edits".
				shift := 0
				if line%20 == i%20 {
					shift = i
				}
				if y%18 < 13 && ((x+shift+line*3)%7 == 0 || (x+shift+y)%11 == 0) && x > 40 && x < w-40 {
					row[x] = 30
				}
			}
		}
		frames[i] = f
	}
	return frames
}

// BenchmarkVP8EncodeScreen1080p is the screen share's encoder (screen
// content mode) on 1920x1080 text pages with a few changed rows per frame,
// at 1.5 Mbit/s and 10 fps: the budget for capture + encode is
// 25 ms per frame on one core.
func BenchmarkVP8EncodeScreen1080p(b *testing.B) {
	frames := screenFrames(20)
	enc, err := NewVP8Encoder(VP8Config{Width: 1920, Height: 1080, FPS: 10, BitRate: 1_500_000, Threads: 1, ScreenContent: true, ErrorResilient: true})
	if err != nil {
		b.Fatal(err)
	}
	defer enc.Close()
	var bytes, dropped int
	i := 0
	for b.Loop() {
		out, _, err := enc.Encode(frames[i%len(frames)], time.Duration(i)*100*time.Millisecond)
		if err != nil && !errors.Is(err, ErrNoFrame) {
			b.Fatal(err)
		}
		if err != nil {
			dropped++
		}
		bytes += len(out)
		i++
	}
	reportMsPerFrame(b, i)
	b.ReportMetric(float64(bytes)*8/1000/(float64(i)/10), "kbit/s@10fps")
	b.ReportMetric(float64(dropped)/float64(i)*100, "%dropped")
}

// BenchmarkVP8SizeStep is one step of the bitrate ladder, 480x360 back up
// to 640x480 on a camera's encoder: the time to the first frame at the new
// size (a keyframe; ms/frame), when the encoder came from 640x480 ("back": it kept
// that size's encoder) and when it starts at 480x360 ("new": it creates
// one). Large C allocations are mapped afresh (mapLargeAllocations), so a
// new encoder's pages fault in as they do in a call.
func BenchmarkVP8SizeStep(b *testing.B) {
	mapLargeAllocations(true)
	defer mapLargeAllocations(false)
	small, big := benchFrames(480, 360, 1)[0], benchFrames(640, 480, 1)[0]
	for _, tc := range []struct {
		name  string
		first *image.YCbCr
	}{{"back", big}, {"new", small}} {
		w, h := tc.first.Rect.Dx(), tc.first.Rect.Dy()
		b.Run(tc.name, func(b *testing.B) {
			var faults int64
			n := 0
			for b.Loop() {
				b.StopTimer()
				enc, err := NewVP8Encoder(VP8Config{Width: w, Height: h, BitRate: 600_000})
				if err != nil {
					b.Fatal(err)
				}
				for k, img := range []*image.YCbCr{tc.first, tc.first, small, small, small} {
					if _, _, err := enc.Encode(img, time.Duration(k)*frameDur); err != nil {
						b.Fatal(err)
					}
				}
				var r0, r1 syscall.Rusage
				_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
				b.StartTimer()
				_, key, err := enc.Encode(big, 5*frameDur)
				b.StopTimer()
				_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
				faults += r1.Minflt - r0.Minflt
				if err != nil || !key {
					b.Fatalf("step frame: key %v, %v", key, err)
				}
				_ = enc.Close()
				n++
				b.StartTimer()
			}
			reportMsPerFrame(b, n) // the timer runs for the step's frame only
			b.ReportMetric(float64(faults)/float64(n), "faults/step")
		})
	}
}

// BenchmarkShowOnSurface is what showing a 640x480 picture in a window of
// its own costs per frame: scaled to a slightly smaller place (as the
// default window shows it), then converted to the window system's pixels.
func BenchmarkShowOnSurface(b *testing.B) {
	src := benchFrames(640, 480, 1)[0]
	w, h := 626, 470
	pix := make([]byte, 4*640*480)
	var scaled *image.YCbCr
	for _, tc := range []struct {
		name  string
		scale bool
	}{{"convert", false}, {"scale+convert", true}} {
		b.Run(tc.name, func(b *testing.B) {
			n := 0
			for b.Loop() {
				pic := src
				if tc.scale {
					var err error
					if scaled, err = ScaleI420(scaled, src, w, h); err != nil {
						b.Fatal(err)
					}
					pic = scaled
				}
				if err := YCbCrToBGRA(pix, 4*pic.Rect.Dx(), pic); err != nil {
					b.Fatal(err)
				}
				n++
			}
			reportMsPerFrame(b, n)
		})
	}
}
