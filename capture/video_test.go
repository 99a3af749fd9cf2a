package capture

import (
	"bytes"
	"errors"
	"image"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"os/exec"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv("PEERCALL_CAPTURE_INIT_PROBE") == "1" {
		// Re-executed by TestImportIsQuiet: package init has run; stop here.
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// TestImportIsQuiet checks that loading the package (and the device drivers
// it registers) neither crashes nor prints on this machine.
func TestImportIsQuiet(t *testing.T) {
	cmd := exec.Command(os.Args[0])
	// A sound server that is not running: probing it at init would print
	// ALSA/JACK noise (drivers are probed lazily, so it must not).
	cmd.Env = append(os.Environ(), "PEERCALL_CAPTURE_INIT_PROBE=1", "PULSE_SERVER=unix:"+t.TempDir()+"/none")
	out, err := cmd.CombinedOutput()
	if err != nil || len(out) != 0 {
		t.Fatalf("package init: err %v, output %q", err, out)
	}
}

var testEpoch = time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC)

func fixedClock(start time.Time, step time.Duration) func() time.Time {
	t := start
	return func() time.Time {
		cur := t
		t = t.Add(step)
		return cur
	}
}

// jpegRoundTrip stands in for lossy compression until VP8 runs in tests.
func jpegRoundTrip(t testing.TB, img *image.YCbCr, quality int) *image.YCbCr {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: quality}); err != nil {
		t.Fatal(err)
	}
	out, err := jpeg.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	yc, ok := out.(*image.YCbCr)
	if !ok {
		t.Fatalf("jpeg decoded to %T", out)
	}
	return yc
}

func addNoise(img *image.YCbCr, amp int, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 1))
	for i, v := range img.Y {
		n := int(v) + r.IntN(2*amp+1) - amp
		img.Y[i] = byte(min(255, max(0, n)))
	}
}

func TestVideoMarkerRoundTrip(t *testing.T) {
	tests := []struct {
		name    string
		w, h    int
		quality int // 0: no JPEG
		noise   int
	}{
		{"640x480 clean", 640, 480, 0, 0},
		{"640x480 jpeg q30 + noise", 640, 480, 30, 20},
		{"1280x720 jpeg q20", 1280, 720, 20, 0},
		{"320x240 jpeg q15 + noise", 320, 240, 15, 12},
		{"small cells 160x90 jpeg q40", 160, 90, 40, 8},
		{"odd 291x131 clean", 291, 131, 0, 0},
		{"odd 145x65 jpeg q50", 145, 65, 50, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src, err := NewPatternSource(PatternConfig{Width: tc.w, Height: tc.h, FPS: 30,
				Now: fixedClock(testEpoch, 33*time.Millisecond+time.Microsecond)})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			// JPEG in pure Go is slow under -race: a few frames suffice, the
			// VP8 round trip runs many.
			for i := range 5 {
				f, err := src.NextFrame()
				if err != nil {
					t.Fatal(err)
				}
				img := f.Image
				if tc.quality > 0 {
					img = jpegRoundTrip(t, img, tc.quality)
				}
				if tc.noise > 0 {
					addNoise(img, tc.noise, uint64(i))
				}
				m, err := readVideoMarkerAt(img, testEpoch)
				if err != nil {
					t.Fatalf("frame %d: %v", i, err)
				}
				if m.Seq != uint32(i) || !m.CaptureTime.Equal(f.CaptureTime) {
					t.Fatalf("frame %d: got %d %v, want %d %v", i, m.Seq, m.CaptureTime, i, f.CaptureTime)
				}
			}
		})
	}
}

func TestVideoMarkerExtremeValues(t *testing.T) {
	img := image.NewYCbCr(image.Rect(0, 0, 320, 240), image.YCbCrSubsampleRatio420)
	for _, tc := range []struct {
		seq uint32
		at  time.Time
	}{
		{0, time.UnixMilli(0)},
		{^uint32(0), testEpoch},
		{0x55AA55AA, time.UnixMilli(1<<40 - 1)},
		{12345, testEpoch.Add(10 * 365 * 24 * time.Hour)},
	} {
		if err := WriteVideoMarker(img, tc.seq, tc.at); err != nil {
			t.Fatal(err)
		}
		m, err := readVideoMarkerAt(img, tc.at.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if m.Seq != tc.seq || m.CaptureTime.UnixMilli() != tc.at.UnixMilli() {
			t.Fatalf("got %d %v, want %d %v", m.Seq, m.CaptureTime, tc.seq, tc.at)
		}
	}
}

func TestVideoMarkerErrors(t *testing.T) {
	blank := image.NewYCbCr(image.Rect(0, 0, 640, 480), image.YCbCrSubsampleRatio420)
	unmarked, err := NewPatternSource(PatternConfig{Width: 640, Height: 480, FPS: 30, NoMarker: true})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := unmarked.Next()
	if err != nil {
		t.Fatal(err)
	}
	corrupt := image.NewYCbCr(image.Rect(0, 0, 640, 480), image.YCbCrSubsampleRatio420)
	if err := WriteVideoMarker(corrupt, 7, testEpoch); err != nil {
		t.Fatal(err)
	}
	// Flip one seq cell (bit 20) by painting it the opposite colour.
	cell := 16
	cx, cy := cell+(20%markerCols)*cell, cell+(20/markerCols)*cell
	old := corrupt.Y[corrupt.YOffset(cx+8, cy+8)]
	for y := cy; y < cy+cell; y++ {
		for x := cx; x < cx+cell; x++ {
			corrupt.Y[corrupt.YOffset(x, y)] = lumaWhite + lumaBlack - old
		}
	}
	tests := []struct {
		name string
		img  *image.YCbCr
		want error
	}{
		{"nil", nil, ErrNoMarker},
		{"blank", blank, ErrNoMarker},
		{"unmarked pattern", plain, ErrNoMarker},
		{"one cell flipped", corrupt, ErrMarkerChecksum},
		{"too small", image.NewYCbCr(image.Rect(0, 0, 100, 60), image.YCbCrSubsampleRatio420), ErrFrameTooSmall},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ReadVideoMarker(tc.img); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if err := WriteVideoMarker(image.NewYCbCr(image.Rect(0, 0, 64, 64), image.YCbCrSubsampleRatio420), 1, testEpoch); !errors.Is(err, ErrFrameTooSmall) {
		t.Fatalf("write on tiny frame: %v", err)
	}
}

func TestPatternSizes(t *testing.T) {
	tests := []struct {
		w, h   int
		marker bool
	}{
		{2, 2, false}, {3, 5, false}, {17, 9, false}, {143, 64, false},
		{144, 64, true}, {321, 241, true}, {639, 479, true}, {1280, 720, true}, {1921, 1081, true},
	}
	for _, tc := range tests {
		src, err := NewPatternSource(PatternConfig{Width: tc.w, Height: tc.h, FPS: 25})
		if err != nil {
			t.Fatalf("%dx%d: %v", tc.w, tc.h, err)
		}
		var prev []byte
		for i := range 3 {
			img, err := src.Next()
			if err != nil {
				t.Fatal(err)
			}
			if img.Rect.Dx() != tc.w || img.Rect.Dy() != tc.h || img.SubsampleRatio != image.YCbCrSubsampleRatio420 {
				t.Fatalf("%dx%d: got %v %v", tc.w, tc.h, img.Rect, img.SubsampleRatio)
			}
			if len(img.Cb) != ((tc.w+1)/2)*((tc.h+1)/2) {
				t.Fatalf("%dx%d: chroma plane %d bytes", tc.w, tc.h, len(img.Cb))
			}
			if i > 0 && tc.w >= 8 && bytes.Equal(prev, img.Y) {
				t.Fatalf("%dx%d: frame %d did not move", tc.w, tc.h, i)
			}
			prev = append(prev[:0], img.Y...)
			m, err := ReadVideoMarker(img)
			if tc.marker != (err == nil) {
				t.Fatalf("%dx%d: marker read err = %v, want marker %v", tc.w, tc.h, err, tc.marker)
			}
			if tc.marker && m.Seq != uint32(i) {
				t.Fatalf("%dx%d: seq %d want %d", tc.w, tc.h, m.Seq, i)
			}
		}
		src.Close()
	}
}

func TestPatternBadConfig(t *testing.T) {
	for _, cfg := range []PatternConfig{
		{Width: 0, Height: 480, FPS: 30},
		{Width: 640, Height: 1, FPS: 30},
		{Width: 640, Height: 480, FPS: 0},
		{Width: 640, Height: 480, FPS: -1},
		{Width: 99999, Height: 480, FPS: 30},
	} {
		if _, err := NewPatternSource(cfg); !errors.Is(err, ErrBadConfig) {
			t.Errorf("%+v: err = %v, want ErrBadConfig", cfg, err)
		}
	}
}

func TestPatternPacingAndClose(t *testing.T) {
	src, err := NewPatternSource(PatternConfig{Width: 160, Height: 120, FPS: 50, Paced: true})
	if err != nil {
		t.Fatal(err)
	}
	r := src.VideoReader()
	start := time.Now()
	const n = 6
	for range n {
		img, release, err := r.Read()
		if err != nil {
			t.Fatal(err)
		}
		release()
		if img.Bounds().Dx() != 160 {
			t.Fatal("wrong size")
		}
	}
	// Paced at 50 fps: the 6th frame cannot come before 5 intervals.
	if el := time.Since(start); el < (n-1)*20*time.Millisecond {
		t.Fatalf("%d paced frames took %v", n, el)
	}
	checkCloseUnblocks(t, func() error { _, err := src.Next(); return err }, src.Close,
		func() error { _, _, err := r.Read(); return err })
}

func BenchmarkPatternRender(b *testing.B) {
	for _, sz := range []struct {
		name string
		w, h int
	}{{"640x480", 640, 480}, {"1280x720", 1280, 720}} {
		src, err := NewPatternSource(PatternConfig{Width: sz.w, Height: sz.h, FPS: 30})
		if err != nil {
			b.Fatal(err)
		}
		b.Run("Render/"+sz.name, func(b *testing.B) {
			dst := src.NewFrame()
			b.SetBytes(int64(len(dst.Y) + 2*len(dst.Cb)))
			for i := 0; b.Loop(); i++ {
				if err := src.Render(dst, uint32(i), testEpoch); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("Next/"+sz.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := src.Next(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkReadVideoMarker(b *testing.B) {
	src, err := NewPatternSource(PatternConfig{Width: 640, Height: 480, FPS: 30})
	if err != nil {
		b.Fatal(err)
	}
	img, err := src.Next()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := ReadVideoMarker(img); err != nil {
			b.Fatal(err)
		}
	}
}

// TestPatternNextIntoReusesBuffer: NextInto draws consecutive frames into the
// caller's buffer with advancing markers (NextReusing into its own one), and
// rejects a buffer of another size.
func TestPatternNextIntoReusesBuffer(t *testing.T) {
	src, err := NewPatternSource(PatternConfig{Width: 320, Height: 240, FPS: 30})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst := src.NewFrame()
	for want := uint32(0); want < 3; want++ {
		f, err := src.NextInto(dst)
		if err != nil {
			t.Fatal(err)
		}
		if f.Image != dst {
			t.Fatal("NextInto did not draw into the given buffer")
		}
		m, err := ReadVideoMarker(dst)
		if err != nil || m.Seq != want || f.Seq != want {
			t.Fatalf("frame %d: marker %+v (%v), frame seq %d", want, m, err, f.Seq)
		}
	}
	next := src.NextReusing()
	first, err := next()
	if err != nil {
		t.Fatal(err)
	}
	for want := uint32(4); want < 6; want++ {
		img, err := next()
		if err != nil {
			t.Fatal(err)
		}
		if img != first {
			t.Fatal("NextReusing allocated a new picture")
		}
		if m, err := ReadVideoMarker(img); err != nil || m.Seq != want {
			t.Fatalf("NextReusing frame %d: marker %+v (%v)", want, m, err)
		}
	}
	wrong := image.NewYCbCr(image.Rect(0, 0, 160, 120), image.YCbCrSubsampleRatio420)
	if _, err := src.NextInto(wrong); !errors.Is(err, ErrBadConfig) {
		t.Errorf("wrong-size buffer: err = %v, want ErrBadConfig", err)
	}
}
