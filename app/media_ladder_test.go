package app

import (
	"image"
	"testing"
	"time"

	"github.com/peercall/peercall/capture"
	"github.com/peercall/peercall/codec"
)

// TestSizeLadder: the picture shrinks at once when the target falls under
// what its size needs, grows one step at a time only with a margin and
// after the size has held, and never below the smallest step.
func TestSizeLadder(t *testing.T) {
	t0 := time.Unix(0, 0)
	steps := []struct {
		at    time.Duration
		kbps  int
		wantW int
	}{
		{0, 1500, 640},
		{time.Second, 600, 640},       // 370 kbit/s keeps 640x480
		{2 * time.Second, 300, 480},   // under: ¾ at once
		{3 * time.Second, 100, 320},   // ½ needs 92 kbit/s
		{4 * time.Second, 20, 160},    // ¼ is the floor
		{5 * time.Second, 10, 160},    // and stays
		{6 * time.Second, 2000, 160},  // up only after the hold (changed at 4 s)
		{7 * time.Second, 2000, 320},  // one step
		{8 * time.Second, 2000, 320},  // held again
		{10 * time.Second, 2000, 480}, //
		{13 * time.Second, 2000, 640}, //
		{14 * time.Second, 400, 640},  // 400 ≥ 370: no flap down
		{18 * time.Second, 300, 480},  //
		{22 * time.Second, 440, 480},  // 440 < 1.3 × 370: stays // under the margin: stays
	}
	l := &sizeLadder{w: 640, h: 480, fps: 30}
	for _, s := range steps {
		w, h := l.size(l.next(s.kbps*1000, t0.Add(s.at)))
		if w != s.wantW || h != s.wantW*3/4 {
			t.Errorf("at %v, %d kbit/s: %dx%d, want width %d", s.at, s.kbps, w, h, s.wantW)
		}
	}
}

// TestVideoSenderFit: the sender scales the camera picture to the
// ladder's size and leaves a screen share alone.
func TestVideoSenderFit(t *testing.T) {
	src := image.NewYCbCr(image.Rect(0, 0, 640, 480), image.YCbCrSubsampleRatio420)
	for i := range src.Y {
		src.Y[i] = uint8(i)
	}
	tests := []struct {
		name   string
		screen bool
		bps    int
		want   image.Rectangle
	}{
		{"camera, plenty", false, 2_000_000, src.Rect},
		{"camera, 200 kbit/s", false, 200_000, image.Rect(0, 0, 320, 240)},
		{"screen, 200 kbit/s", true, 200_000, src.Rect},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := newVideoSender(nil, nil, codec.VP8Config{Width: 640, Height: 480, FPS: 30, BitRate: tt.bps, ScreenContent: tt.screen})
			if err != nil {
				t.Fatal(err)
			}
			defer v.enc.Close()
			if got := v.fit(src, time.Now()).Rect; got != tt.want {
				t.Errorf("picture %v, want %v", got, tt.want)
			}
		})
	}
}

// TestVideoSenderFitKeepsMarker: a marked test frame keeps a readable
// marker at every smaller size, so latency stays measured.
func TestVideoSenderFitKeepsMarker(t *testing.T) {
	src := image.NewYCbCr(image.Rect(0, 0, 640, 480), image.YCbCrSubsampleRatio420)
	at := time.UnixMilli(1_700_000_000_123)
	if err := capture.WriteVideoMarker(src, 42, at); err != nil {
		t.Fatal(err)
	}
	for _, kbps := range []int{300, 150, 40} {
		v, err := newVideoSender(nil, nil, codec.VP8Config{Width: 640, Height: 480, FPS: 30, BitRate: kbps * 1000})
		if err != nil {
			t.Fatal(err)
		}
		img := v.fit(src, time.Now())
		_ = v.enc.Close()
		if img.Rect == src.Rect {
			t.Fatalf("%d kbit/s: not scaled", kbps)
		}
		m, err := capture.ReadVideoMarker(img)
		if err != nil || m.Seq != 42 || !m.CaptureTime.Equal(at) {
			t.Errorf("%d kbit/s, %v: marker %+v, %v", kbps, img.Rect, m, err)
		}
	}
}
