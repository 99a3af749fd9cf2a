package codec

import (
	"fmt"
	"image"
	"image/color"
	"runtime"
)

// MinVP8BitRate is the least bitrate a VP8Encoder takes (bit/s).
const MinVP8BitRate = 10_000

const (
	maxVP8BitRate = 50_000_000
)

// VP8Config configures a VP8Encoder. Zero values pick the defaults noted on
// each field.
type VP8Config struct {
	Width, Height int // picture size; required
	FPS           int // nominal frame rate, default 30
	BitRate       int // target in bits per second, default 1 Mbit/s
	// CPUUsed is VP8E_SET_CPUUSED: negative values make libvpx adapt speed to
	// the realtime deadline; a larger magnitude is faster. 0 means the
	// default: -6 on machines with 4 or more CPUs (libwebrtc's desktop
	// setting); below, where the encoder competes with decoding and
	// rendering for the cores (libwebrtc uses -12 on 3 cores or fewer),
	// -14 for a camera and -10 for a screen (ScreenContent; not measured
	// beyond -10 on text).
	// BenchmarkVP8EncodeSpeed on one pinned core, moving pattern:
	//   640x480 1 Mbit/s:  -6 2.64 ms/frame 34.48 dB PSNR-Y, -8 2.14 ms
	//     34.34 dB, -10 1.61 ms 34.16 dB, -12 1.58 ms 34.09 dB,
	//     -16 1.74 ms 33.96 dB;
	//   1280x720 2 Mbit/s: -6 6.27 ms 34.27 dB, -8 5.18 ms 34.07 dB,
	//     -10 4.93 ms 34.06 dB, -12 4.96 ms 34.06 dB, -16 4.66 ms 33.95 dB.
	// -10 is the knee: 40% (640x480) and 21% (720p) less time than -6 for
	// 0.3 and 0.2 dB; on this pattern going further buys little or nothing.
	// BenchmarkVP8EncodeClip, camera-like content (scripts/busy-clip.sh),
	// 640x480, median encoder-thread CPU of 8 interleaved passes on the
	// shared two-core machine:
	//   1 Mbit/s: -10 2.46 ms 39.18 dB, -12 2.37 ms 39.09 dB, -14 2.15 ms
	//     39.00 dB, -16 1.84 ms 38.68 dB;
	//   2 Mbit/s: -10 3.00 ms 41.06 dB, -12 2.54 ms 40.97 dB, -14 2.29 ms
	//     40.87 dB.
	// -14 takes 12-24% less there for 0.2 dB at the same bitrate (on the
	// moving pattern above: 0.12 dB, and no faster: -10 2.52 ms, -12 2.47
	// ms, -14 2.72 ms, same measure). Whole headless peers, -10 against -14
	// in the same run (scripts/headless-cpu.sh, 640x480@30 both ways, median
	// % of a core per peer): 10 s calls x3, clip 22.3 -> 21.9, synthetic
	// source 22.6 -> 21.6; 20 s calls x5, clip 24.7 -> 24.1, synthetic 23.1
	// -> 21.9. Small, but lower in each of the four: -14 for a camera.
	CPUUsed int
	// Threads is the number of encoder threads. 0 = auto: 1 below 720p,
	// 2 for 720p and larger when the machine has 3 or more CPUs (as
	// libwebrtc does). libvpx's threads spin-wait for each other: on a busy
	// two-core machine a second thread made 720p encoding 1-5x slower in
	// BenchmarkVP8Encode, never faster.
	Threads int
	// KeyFrameInterval is the longest distance between keyframes in frames,
	// default 100 s of frames (libwebrtc: 3000 frames). Receivers ask for
	// keyframes with PLI when they need one; a periodic keyframe is several
	// frames' worth of bits at once, which on a capped link overflowed the
	// queue every 10 s and froze both directions (issue 16).
	KeyFrameInterval int
	// ErrorResilient makes frames decodable after the loss of earlier ones
	// (at some cost in efficiency).
	ErrorResilient bool
	// ScreenContent tunes for a shared screen: libvpx's screen content
	// mode (sharp text, large static areas) and frame dropping under
	// pressure rather than blur, keeping the resolution. Only the
	// macroblocks that changed since the last picture are coded, plus a
	// few frames of sharpening after (screenMap): a still screen repeated
	// once a second costs about 510 bytes a frame at 1920x1080. libwebrtc's
	// screen static threshold (VP8E_SET_STATIC_THRESHOLD 300) was measured
	// instead: still text settled at about 5 KB a frame only after 9 s at
	// 2.5 Mbit/s and 17 s at 1 Mbit/s, and typing lost 2 dB for 9 % fewer
	// bits.
	ScreenContent bool
	// DropFrames lets the rate control skip a frame (Encode returns
	// ErrNoFrame) when its buffer runs low, rather than overrun the
	// bitrate: at its coarsest quantiser a busy picture still costs more
	// than a low target, and the overrun fills a narrow link's queue
	// (libwebrtc's camera encoders skip frames the same way,
	// rc_dropframe_thresh 30). A screen (ScreenContent) always may.
	DropFrames bool
}

func (c VP8Config) withDefaults() (VP8Config, error) {
	if c.Width <= 0 || c.Height <= 0 || c.Width > 16383 || c.Height > 16383 {
		return c, fmt.Errorf("vp8 size %dx%d: %w", c.Width, c.Height, ErrInvalidConfig)
	}
	if c.FPS == 0 {
		c.FPS = 30
	}
	if c.FPS < 1 || c.FPS > 240 {
		return c, fmt.Errorf("vp8 fps %d: %w", c.FPS, ErrInvalidConfig)
	}
	if c.BitRate == 0 {
		c.BitRate = 1_000_000
	}
	if c.BitRate < MinVP8BitRate || c.BitRate > maxVP8BitRate {
		return c, fmt.Errorf("vp8 bitrate %d: %w", c.BitRate, ErrInvalidConfig)
	}
	if c.CPUUsed == 0 {
		c.CPUUsed = defaultCPUUsed(runtime.NumCPU(), c.ScreenContent)
	}
	if c.CPUUsed < -16 || c.CPUUsed > 16 {
		return c, fmt.Errorf("vp8 cpu-used %d: %w", c.CPUUsed, ErrInvalidConfig)
	}
	if c.Threads < 0 || c.Threads > 16 {
		return c, fmt.Errorf("vp8 threads %d: %w", c.Threads, ErrInvalidConfig)
	}
	if c.KeyFrameInterval == 0 {
		c.KeyFrameInterval = 100 * c.FPS
	}
	if c.KeyFrameInterval < 1 {
		return c, fmt.Errorf("vp8 keyframe interval %d: %w", c.KeyFrameInterval, ErrInvalidConfig)
	}
	return c, nil
}

// defaultCPUUsed is CPUUsed = 0 on a machine with ncpu CPUs, for a camera
// or a screen (see the field).
func defaultCPUUsed(ncpu int, screen bool) int {
	switch {
	case ncpu >= 4:
		return -6
	case screen:
		return -10
	}
	return -14
}

// threads resolves Threads = 0 for the current picture size.
func (c VP8Config) threads() int {
	if c.Threads > 0 {
		return c.Threads
	}
	if c.Width*c.Height >= 1280*720 && runtime.NumCPU() >= 3 {
		return 2
	}
	return 1
}

// toI420 converts any image into dst (4:2:0, same bounds). Only the I420 path
// of the encoder avoids this copy.
func toI420(dst *image.YCbCr, src image.Image) {
	b := src.Bounds()
	if s, ok := src.(*image.YCbCr); ok {
		for y := b.Min.Y; y < b.Max.Y; y++ {
			copy(dst.Y[dst.YOffset(b.Min.X, y):dst.YOffset(b.Min.X, y)+b.Dx()], s.Y[s.YOffset(b.Min.X, y):])
		}
		for y := b.Min.Y; y < b.Max.Y; y += 2 {
			for x := b.Min.X; x < b.Max.X; x += 2 {
				ci := s.COffset(x, y)
				di := dst.COffset(x, y)
				dst.Cb[di], dst.Cr[di] = s.Cb[ci], s.Cr[ci]
			}
		}
		return
	}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := src.At(x, y).RGBA()
			yy, cb, cr := color.RGBToYCbCr(uint8(r>>8), uint8(g>>8), uint8(bl>>8))
			dst.Y[dst.YOffset(x, y)] = yy
			if (x-b.Min.X)&1 == 0 && (y-b.Min.Y)&1 == 0 {
				ci := dst.COffset(x, y)
				dst.Cb[ci], dst.Cr[ci] = cb, cr
			}
		}
	}
}
