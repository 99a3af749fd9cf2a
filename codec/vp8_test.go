//go:build cgo

package codec

import (
	"errors"
	"fmt"
	"image"
	"runtime"
	"testing"
	"time"
)

const frameDur = time.Second / 30

// newVP8Pair returns an encoder and a decoder closed when the test ends.
func newVP8Pair(t *testing.T, cfg VP8Config) (*VP8Encoder, *VP8Decoder) {
	t.Helper()
	enc, err := NewVP8Encoder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = enc.Close() })
	dec, err := NewVP8Decoder()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dec.Close() })
	return enc, dec
}

func TestVP8RoundTripPSNR(t *testing.T) {
	cases := []struct {
		w, h    int
		bitrate int
		minPSNR float64
	}{
		{640, 480, 1_000_000, 30},
		{1280, 720, 2_000_000, 30},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%dx%d", tc.w, tc.h), func(t *testing.T) {
			enc, dec := newVP8Pair(t, VP8Config{Width: tc.w, Height: tc.h, BitRate: tc.bitrate})
			src := image.NewYCbCr(image.Rect(0, 0, tc.w, tc.h), image.YCbCrSubsampleRatio420)
			const frames = 20
			var sum float64
			var n int
			for i := 0; i < frames; i++ {
				movingPattern(src, i)
				data, key, err := enc.Encode(src, time.Duration(i)*frameDur)
				if err != nil {
					t.Fatalf("frame %d: %v", i, err)
				}
				if i == 0 && !key {
					t.Fatal("first frame is not a keyframe")
				}
				if len(data) == 0 {
					t.Fatalf("frame %d: no output", i)
				}
				if _, _, _, err := VP8FrameCheck(data); err != nil {
					t.Fatalf("frame %d: check: %v", i, err)
				}
				out, err := dec.Decode(data)
				if err != nil {
					t.Fatalf("frame %d: decode: %v", i, err)
				}
				if out.Rect.Dx() != tc.w || out.Rect.Dy() != tc.h {
					t.Fatalf("decoded size %v", out.Rect)
				}
				if i >= 5 { // let rate control settle
					sum += psnrY(src, out)
					n++
				}
			}
			if avg := sum / float64(n); avg < tc.minPSNR {
				t.Fatalf("mean PSNR %.1f dB < %.1f", avg, tc.minPSNR)
			} else {
				t.Logf("mean PSNR %.1f dB", avg)
			}
		})
	}
}

func TestVP8ForceKeyFrame(t *testing.T) {
	enc, err := NewVP8Encoder(VP8Config{Width: 320, Height: 240, BitRate: 300_000})
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	src := image.NewYCbCr(image.Rect(0, 0, 320, 240), image.YCbCrSubsampleRatio420)
	for i := 0; i < 12; i++ {
		movingPattern(src, i)
		if i == 8 {
			enc.ForceKeyFrame()
		}
		if got := enc.KeyFramePending(); got != (i == 8) {
			t.Fatalf("frame %d: KeyFramePending = %v", i, got)
		}
		data, key, err := enc.Encode(src, time.Duration(i)*frameDur)
		if err != nil {
			t.Fatal(err)
		}
		want := i == 0 || i == 8
		if key != want {
			t.Fatalf("frame %d: keyframe = %v, want %v", i, key, want)
		}
		ck, w, h, err := VP8FrameCheck(data)
		if err != nil || ck != key {
			t.Fatalf("frame %d: VP8FrameCheck = %v %v", i, ck, err)
		}
		if key && (w != 320 || h != 240) {
			t.Fatalf("keyframe size %dx%d", w, h)
		}
	}
}

func TestVP8SetBitRate(t *testing.T) {
	const w, h = 640, 480
	enc, err := NewVP8Encoder(VP8Config{Width: w, Height: h, BitRate: 1_500_000})
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	src := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	i := 0
	encodeN := func(n int) int {
		total := 0
		for k := 0; k < n; k++ {
			movingPattern(src, i)
			data, _, err := enc.Encode(src, time.Duration(i)*frameDur)
			if err != nil {
				t.Fatal(err)
			}
			total += len(data)
			i++
		}
		return total
	}
	encodeN(30) // warm up
	before := encodeN(30)
	if err := enc.SetBitRate(300_000); err != nil {
		t.Fatal(err)
	}
	after := encodeN(30)
	t.Logf("bytes over 30 frames: before %d (%.0f kbit/s), after %d (%.0f kbit/s)",
		before, float64(before)*8/1000, after, float64(after)*8/1000)
	if after*2 > before {
		t.Fatalf("bitrate change not effective: before %d bytes, after %d bytes", before, after)
	}
	if err := enc.SetBitRate(1); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("SetBitRate(1) = %v, want ErrInvalidConfig", err)
	}
}

func TestVP8EncoderInputs(t *testing.T) {
	enc, dec := newVP8Pair(t, VP8Config{Width: 64, Height: 48})
	rgba := image.NewRGBA(image.Rect(0, 0, 64, 48))
	yuv444 := image.NewYCbCr(image.Rect(0, 0, 80, 60), image.YCbCrSubsampleRatio444)
	inputs := []image.Image{rgba, yuv444, rgba}
	for i, img := range inputs {
		data, _, err := enc.Encode(img, time.Duration(i)*frameDur)
		if err != nil {
			t.Fatalf("input %d: %v", i, err)
		}
		out, err := dec.Decode(data)
		if err != nil {
			t.Fatalf("input %d: decode: %v", i, err)
		}
		if out.Rect.Size() != img.Bounds().Size() {
			t.Fatalf("input %d: size %v, want %v", i, out.Rect.Size(), img.Bounds().Size())
		}
	}
	short := image.NewYCbCr(image.Rect(0, 0, 64, 48), image.YCbCrSubsampleRatio420)
	short.Y = short.Y[:len(short.Y)-1]
	if _, _, err := enc.Encode(short, time.Second); !errors.Is(err, ErrUnsupportedImage) {
		t.Fatalf("short Y plane: %v", err)
	}
	if _, _, err := enc.Encode(nil, 0); !errors.Is(err, ErrUnsupportedImage) {
		t.Fatalf("nil image: %v", err)
	}
	if _, err := dec.Decode([]byte{1, 2, 3}); err == nil {
		t.Fatal("garbage decoded without error")
	}
	enc.Close()
	if _, _, err := enc.Encode(rgba, 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
}

func TestVP8ConfigValidation(t *testing.T) {
	bad := []VP8Config{
		{},
		{Width: 640, Height: 480, BitRate: 5},
		{Width: 640, Height: 480, CPUUsed: 40},
		{Width: 640, Height: 480, Threads: -1},
		{Width: 640, Height: 480, FPS: -3},
	}
	for i, cfg := range bad {
		if _, err := NewVP8Encoder(cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("case %d: err = %v, want ErrInvalidConfig", i, err)
		}
	}
}

// TestVP8EncoderConcurrentControl changes settings from another goroutine
// while frames are encoded, as RTCP feedback does (run with -race).
func TestVP8EncoderConcurrentControl(t *testing.T) {
	enc, err := NewVP8Encoder(VP8Config{Width: 160, Height: 120})
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	src := image.NewYCbCr(image.Rect(0, 0, 160, 120), image.YCbCrSubsampleRatio420)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 50; i++ {
			enc.ForceKeyFrame()
			if err := enc.SetBitRate(100_000 + i*10_000); err != nil {
				t.Error(err)
				return
			}
			if err := enc.SetCPUUsed(-4 - i%8); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for i := 0; i < 30; i++ {
		movingPattern(src, i)
		if _, _, err := enc.Encode(src, time.Duration(i)*frameDur); err != nil {
			t.Fatal(err)
		}
	}
	<-done
	if got := enc.BitRate(); got != 100_000+49*10_000 {
		t.Fatalf("BitRate() = %d", got)
	}
}

func TestVP8ConfigThreads(t *testing.T) {
	many := runtime.NumCPU() >= 3
	cases := []struct {
		cfg  VP8Config
		want int
	}{
		{VP8Config{Width: 640, Height: 480}, 1},
		{VP8Config{Width: 1280, Height: 720}, map[bool]int{true: 2, false: 1}[many]},
		{VP8Config{Width: 1280, Height: 720, Threads: 3}, 3},
		{VP8Config{Width: 320, Height: 240, Threads: 2}, 2},
	}
	for _, tc := range cases {
		if got := tc.cfg.threads(); got != tc.want {
			t.Errorf("%dx%d threads=%d: auto %d, want %d", tc.cfg.Width, tc.cfg.Height, tc.cfg.Threads, got, tc.want)
		}
	}
}

func TestVP8ConfigCPUUsed(t *testing.T) {
	for _, tc := range []struct {
		ncpu   int
		screen bool
		want   int
	}{
		{1, false, -14}, {2, false, -14}, {3, false, -14}, {4, false, -6}, {16, false, -6},
		{2, true, -10}, {3, true, -10}, {4, true, -6},
	} {
		if got := defaultCPUUsed(tc.ncpu, tc.screen); got != tc.want {
			t.Errorf("%d CPUs, screen %v: default cpu-used %d, want %d", tc.ncpu, tc.screen, got, tc.want)
		}
	}
	machine := defaultCPUUsed(runtime.NumCPU(), false)
	for _, tc := range []struct {
		set, want int
	}{
		{0, machine},
		{-6, -6},
		{-12, -12},
		{4, 4},
	} {
		enc, err := NewVP8Encoder(VP8Config{Width: 64, Height: 48, CPUUsed: tc.set})
		if err != nil {
			t.Fatal(err)
		}
		got := enc.cfg.CPUUsed
		_ = enc.Close()
		if got != tc.want {
			t.Errorf("CPUUsed %d: encoder uses %d, want %d", tc.set, got, tc.want)
		}
	}
	if p := NewVP8Params(); p.CPUUsed != 0 {
		t.Errorf("NewVP8Params sets CPUUsed %d; 0 lets the encoder pick for the machine", p.CPUUsed)
	}
}

func TestVP8DecoderDamagedFrames(t *testing.T) {
	enc, err := NewVP8Encoder(VP8Config{Width: 320, Height: 240})
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	src := image.NewYCbCr(image.Rect(0, 0, 320, 240), image.YCbCrSubsampleRatio420)
	var frames [][]byte
	for i := 0; i < 3; i++ {
		movingPattern(src, i)
		if i == 2 {
			enc.ForceKeyFrame()
		}
		data, _, err := enc.Encode(src, time.Duration(i)*frameDur)
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, data)
	}
	dec, err := NewVP8Decoder()
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	cases := []struct {
		name  string
		frame []byte
		ok    bool
	}{
		{"truncated keyframe", frames[0][:len(frames[0])/3], false},
		{"header only", frames[0][:10], false},
		{"empty", nil, false},
		{"keyframe", frames[0], true},
		{"interframe", frames[1], true},
		{"truncated interframe", frames[1][:len(frames[1])/2], false},
		{"next keyframe", frames[2], true},
	}
	for _, tc := range cases {
		img, err := dec.Decode(tc.frame)
		if tc.ok != (err == nil) {
			t.Fatalf("%s: err %v", tc.name, err)
		}
		if err != nil && !errors.Is(err, ErrCodec) && !errors.Is(err, ErrMalformedFrame) && !errors.Is(err, ErrNoFrame) {
			t.Fatalf("%s: unexpected error kind %v", tc.name, err)
		}
		if tc.ok && img.Rect.Dx() != 320 {
			t.Fatalf("%s: size %v", tc.name, img.Rect)
		}
	}
}

// TestVP8EncoderResize: the bitrate ladder's size steps. Each new size is a
// keyframe the decoder shows at that size, the frame after it a delta
// frame; down, back up (to an encoder kept since, 5 s of frames later)
// and past the created size alike. A kept encoder takes the rate set
// while it was parked. The keyframe after the long stay elsewhere is sized
// like the first one: libvpx would take the gap in its timestamps for a
// frame rate of 0.2 fps and give the keyframe the budget of 5 s.
func TestVP8EncoderResize(t *testing.T) {
	enc, dec := newVP8Pair(t, VP8Config{Width: 640, Height: 480, BitRate: 800_000})
	steps := []struct {
		name   string
		w, h   int
		frames int
	}{
		{"created size", 640, 480, 3},
		{"down", 480, 360, 3},
		{"down again, for 5 s", 320, 240, 150},
		{"back up", 640, 480, 3},
		{"odd size", 322, 242, 3},
		{"past the created size", 800, 600, 3},
		{"down from the new one", 640, 480, 3},
		{"back to 5 s ago", 320, 240, 3},
	}
	i := 0
	keys := map[string]int{}
	for _, st := range steps {
		if st.name == "back up" {
			if err := enc.SetBitRate(700_000); err != nil {
				t.Fatal(err)
			}
		}
		src := image.NewYCbCr(image.Rect(0, 0, st.w, st.h), image.YCbCrSubsampleRatio420)
		for k := 0; k < st.frames; k++ {
			movingPattern(src, i)
			data, key, err := enc.Encode(src, time.Duration(i)*frameDur)
			i++
			if err != nil {
				t.Fatalf("%s: frame %d: %v", st.name, k, err)
			}
			if want := k == 0; key != want {
				t.Fatalf("%s: frame %d: keyframe %v, want %v", st.name, k, key, want)
			}
			if key {
				keys[st.name] = len(data)
			}
			out, err := dec.Decode(data)
			if err != nil {
				t.Fatalf("%s: frame %d: decode: %v", st.name, k, err)
			}
			if out.Rect.Dx() != st.w || out.Rect.Dy() != st.h {
				t.Fatalf("%s: frame %d: decoded %v, want %dx%d", st.name, k, out.Rect, st.w, st.h)
			}
		}
		if st.name == "back up" && enc.cfg.BitRate != 700_000 {
			t.Errorf("the kept 640x480 encoder codes at %d bit/s, set 700000 while it was parked", enc.cfg.BitRate)
		}
	}
	t.Logf("keyframe bytes: %v", keys)
	if first, back := keys["created size"], keys["back up"]; back > first*3/2 {
		t.Errorf("keyframe back at 640x480 after 5 s elsewhere: %d bytes, the first one %d", back, first)
	}
}

// TestVP8DropFrames: with DropFrames a camera encoder given less than a
// busy picture costs at its coarsest quantiser skips frames (ErrNoFrame)
// and stays near its target; without, it skips none and overruns it.
func TestVP8DropFrames(t *testing.T) {
	const w, h, frames, bps = 320, 240, 90, 60_000
	tests := []struct {
		name     string
		drop     bool
		skipped  bool
		maxRatio float64 // output over target, at most
	}{
		{"dropping", true, true, 1.5},
		{"not dropping", false, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc, err := NewVP8Encoder(VP8Config{Width: w, Height: h, BitRate: bps, DropFrames: tt.drop})
			if err != nil {
				t.Fatal(err)
			}
			defer enc.Close()
			src := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
			seed := uint32(1)
			total, skipped := 0, 0
			for i := range frames {
				for k := range src.Y { // noise: every frame costs the most
					seed = seed*1664525 + 1013904223
					src.Y[k] = uint8(seed >> 24)
				}
				data, key, err := enc.Encode(src, time.Duration(i)*frameDur)
				switch {
				case errors.Is(err, ErrNoFrame):
					skipped++
					continue
				case err != nil:
					t.Fatal(err)
				}
				if !key {
					total += len(data)
				}
			}
			ratio := float64(total*8) / (bps * float64(frames) / 30)
			t.Logf("%d of %d frames skipped, %.2f × the target (keyframes left out)", skipped, frames, ratio)
			if (skipped > 0) != tt.skipped {
				t.Errorf("%d frames skipped, want some: %v", skipped, tt.skipped)
			}
			if tt.maxRatio > 0 && ratio > tt.maxRatio {
				t.Errorf("output %.2f × the target, want at most %.2f", ratio, tt.maxRatio)
			}
			if !tt.drop && ratio < 1.5 {
				t.Errorf("without dropping the output is %.2f × the target: the picture is not busy enough to show anything", ratio)
			}
		})
	}
}
