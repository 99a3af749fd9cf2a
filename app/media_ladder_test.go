package app

import (
	"image"
	"testing"
	"time"

	"github.com/peercall/peercall/capture"
	"github.com/peercall/peercall/codec"
)

// ladderStep is a target given to the ladder at a time and the width it
// should answer with.
type ladderStep struct {
	at    time.Duration
	kbps  int
	wantW int
}

// TestSizeLadder: the first picture gets the size the target affords
// with the margin;
// later the picture shrinks only when the target stays under its size's
// need for ladderDownHold (a brief dip keeps the size and spares two
// keyframes), to the size the highest target of that time affords, and
// grows, by several steps at once if the target allows, only with a
// margin and, once it has shrunk, after the size has held.
func TestSizeLadder(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	tests := []struct {
		name  string
		steps []ladderStep
	}{
		{"start low", []ladderStep{
			{0, 200, 320},        // the first picture: 200 kbit/s affords ½ (92 ≤ 200 < 207)
			{ms(100), 200, 320},  //
			{ms(300), 400, 480},  // climbing with the call's start: no hold
			{ms(600), 500, 480},  // 500 < 1.5 × 370
			{ms(700), 560, 640},  // 560 ≥ 1.5 × 370
			{ms(1000), 200, 640}, // 200 ≥ ½ × 370: a dip, held
			{ms(1500), 200, 320}, // shrunk after ladderDownHold
			{ms(1600), 2000, 320},
			{ms(4400), 2000, 320}, // from now on up waits for the hold
			{ms(4500), 2000, 640},
		}},
		{"start at the call's start rate", []ladderStep{
			{0, 250, 320},       // 250 < 1.5 × 207: the first keyframe is ½'s
			{ms(200), 290, 320}, // 290 < 1.5 × 207
			{ms(400), 330, 480}, // climbing with the call's start: no hold
		}},
		{"steps", []ladderStep{
			{0, 1500, 640},
			{ms(1000), 600, 640},  // 370 kbit/s keeps 640x480
			{ms(2000), 300, 640},  // under its need: held for now
			{ms(2400), 320, 640},  //
			{ms(2500), 200, 480},  // held 500 ms: the size the peak (320) affords
			{ms(3000), 120, 480},  // under ¾'s 207 again
			{ms(3200), 600, 480},  // back over it: the dip is forgotten; up waits for the hold
			{ms(5500), 600, 640},  // 600 ≥ 1.5 × 370, held 3 s since 2.5 s
			{ms(6000), 20, 160},   // a deep cut: at once, several steps, to the floor
			{ms(6500), 10, 160},   // and stays
			{ms(8900), 2000, 160}, // up only after the hold (changed at 6 s)
			{ms(9500), 2000, 640}, // straight to full size: one keyframe
			{ms(10000), 400, 640}, // 400 ≥ 370: no flap down
			{ms(11000), 300, 640}, //
			{ms(11600), 300, 480}, //
			{ms(15000), 440, 480}, // 440 < 1.5 × 370: stays
			{ms(15100), 1000, 640},
			{ms(16000), 200, 640}, // a dip of 450 ms
			{ms(16300), 200, 640}, //
			{ms(16450), 900, 640}, // over: keeps the size
			{ms(17000), 200, 640}, // a new dip counts from its own start
			{ms(17400), 200, 640},
			{ms(17500), 200, 320}, // 200 affords ½ (92), not ¾ (207)
		}},
		{"deep cuts", []ladderStep{
			{0, 1500, 640},
			{ms(1000), 262, 640},  // 262 ≥ ½ × 370: held
			{ms(1100), 150, 320},  // under ½ × 370 (traced: a 3 → 0.5 Mbit/s drop): at once, to what 150 affords
			{ms(1200), 90, 320},   // 90 ≥ ½ × 92: held
			{ms(1300), 40, 160},   // under ½ × 92: at once
			{ms(4400), 1000, 640}, // up after the hold
			{ms(5000), 185, 640},  // just over ½ × 368.6: held
			{ms(5100), 184, 320},  // just under
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t0 := time.Unix(0, 0)
			l := &sizeLadder{w: 640, h: 480, fps: 30}
			for _, s := range tt.steps {
				w, h := l.size(l.next(s.kbps*1000, s.kbps*1000, t0.Add(s.at)))
				if w != s.wantW || h != s.wantW*3/4 {
					t.Errorf("at %v, %d kbit/s: %dx%d, want width %d", s.at, s.kbps, w, h, s.wantW)
				}
			}
		})
	}
}

// TestSizeLadderCarried: the picture grows by the target within what the
// link has shown it carries (up); shrinking still reads the target.
func TestSizeLadderCarried(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	steps := []struct {
		at           time.Duration
		kbps, upKbps int
		wantW        int
	}{
		{0, 200, 200, 320},
		{ms(1000), 100, 100, 320},
		{ms(4600), 366, 280, 320},  // traced 300k: the target past the link; 280 < 1.5 × 207
		{ms(5000), 366, 300, 320},  // 300 < 311
		{ms(5200), 366, 320, 480},  // 320 ≥ 311: up
		{ms(9000), 2000, 500, 480}, // 500 < 1.5 × 369
		{ms(9200), 2000, 560, 640},
		{ms(9500), 250, 250, 640},  // a dip, held
		{ms(10000), 250, 250, 480}, // shrunk by the target after ladderDownHold
	}
	t0 := time.Unix(0, 0)
	l := &sizeLadder{w: 640, h: 480, fps: 30}
	for _, s := range steps {
		if w, _ := l.size(l.next(s.kbps*1000, s.upKbps*1000, t0.Add(s.at))); w != s.wantW {
			t.Errorf("at %v, %d kbit/s (up %d): width %d, want %d", s.at, s.kbps, s.upKbps, w, s.wantW)
		}
	}
}

// TestSizeLadderNarrowed: when the link is found much narrower than what
// was sent, the picture takes at once the size the new target affords with
// ladderNarrowedMargin; it never grows that way, and the hold before
// growing again counts from then.
func TestSizeLadderNarrowed(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	type step struct {
		at       time.Duration
		kbps     int
		narrowed bool // the controller reported a narrower link before this picture
		wantW    int
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"a narrower link", []step{
			{0, 2000, false, 640},
			{ms(1000), 370, true, 320}, // 370 ≥ 640x480's 369 but < 2 × 480x360's 207
			{ms(1100), 370, false, 320},
			{ms(3900), 2000, false, 320}, // up waits for the hold from the narrowing
			{ms(4100), 2000, false, 640},
		}},
		{"deeper", []step{
			{0, 2000, false, 640},
			{ms(1000), 150, true, 160}, // 150 < 2 × 320x240's 92
		}},
		{"a target that affords the size with the margin", []step{
			{0, 2000, false, 640},
			{ms(1000), 1500, true, 640},
		}},
		{"never larger", []step{
			{0, 2000, false, 640},
			{ms(1000), 150, true, 160},
			{ms(1100), 1000, true, 160}, // affords 640x480 with the margin: not grown
		}},
		{"before the first picture", []step{
			{0, 2000, true, 640},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t0 := time.Unix(0, 0)
			l := &sizeLadder{w: 640, h: 480, fps: 30}
			for _, s := range tt.steps {
				if s.narrowed {
					l.narrowed(s.kbps*1000, t0.Add(s.at))
				}
				if w, _ := l.size(l.next(s.kbps*1000, s.kbps*1000, t0.Add(s.at))); w != s.wantW {
					t.Errorf("at %v, %d kbit/s: width %d, want %d", s.at, s.kbps, w, s.wantW)
				}
			}
		})
	}
}

// TestVideoSenderLinkNarrowed: a camera's next picture shrinks when the
// link is found narrower; a screen's keeps its size.
func TestVideoSenderLinkNarrowed(t *testing.T) {
	src := image.NewYCbCr(image.Rect(0, 0, 640, 480), image.YCbCrSubsampleRatio420)
	for _, tt := range []struct {
		name   string
		screen bool
		want   image.Rectangle
	}{
		{"camera", false, image.Rect(0, 0, 320, 240)},
		{"screen", true, src.Rect},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v := testVideoSender(t, 2_000_000, tt.screen)
			now := time.Now()
			if got := v.fit(src, now).Rect; got != src.Rect {
				t.Fatalf("first picture %v, want %v", got, src.Rect)
			}
			v.SetBitRate(370_000)
			if got := v.fit(src, now.Add(30*time.Millisecond)).Rect; got != src.Rect {
				t.Fatalf("after a cut: %v, want %v (held)", got, src.Rect)
			}
			v.LinkNarrowed()
			if got := v.fit(src, now.Add(60*time.Millisecond)).Rect; got != tt.want {
				t.Errorf("after the narrowing: %v, want %v", got, tt.want)
			}
		})
	}
}

// TestVideoSenderCarried: a camera's picture grows only within what the
// link has shown it carries, and by the target alone once the link has
// not been full lately.
func TestVideoSenderCarried(t *testing.T) {
	src := image.NewYCbCr(image.Rect(0, 0, 640, 480), image.YCbCrSubsampleRatio420)
	v := testVideoSender(t, 200_000, false)
	now := time.Now()
	if got := v.fit(src, now).Rect.Dx(); got != 320 {
		t.Fatalf("first picture %d wide, want 320", got)
	}
	steps := []struct {
		name    string
		carried int
		bounded bool
		wantW   int
	}{
		{"carried 300 kbit/s", 300_000, true, 320},
		{"carried 320 kbit/s", 320_000, true, 480},
		{"carried 500 kbit/s", 500_000, true, 480},
		{"not full lately", 0, false, 640},
	}
	v.SetBitRate(2_000_000)
	for i, s := range steps {
		v.SetCarried(s.carried, s.bounded)
		if got := v.fit(src, now.Add(time.Duration(i+1)*100*time.Millisecond)).Rect.Dx(); got != s.wantW {
			t.Errorf("%s: %d wide, want %d", s.name, got, s.wantW)
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
			v := testVideoSender(t, tt.bps, tt.screen)
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
		img := testVideoSender(t, kbps*1000, false).fit(src, time.Now())
		if img.Rect == src.Rect {
			t.Fatalf("%d kbit/s: not scaled", kbps)
		}
		m, err := capture.ReadVideoMarker(img)
		if err != nil || m.Seq != 42 || !m.CaptureTime.Equal(at) {
			t.Errorf("%d kbit/s, %v: marker %+v, %v", kbps, img.Rect, m, err)
		}
	}
}

// TestVideoSenderCapsCamera: a camera picture's encoder rate stops at
// the cap for its size, whatever the estimate; a screen share's does not.
func TestVideoSenderCapsCamera(t *testing.T) {
	src := image.NewYCbCr(image.Rect(0, 0, 640, 480), image.YCbCrSubsampleRatio420)
	tests := []struct {
		name   string
		screen bool
		bps    int
		want   int
	}{
		{"camera 640x480, 2.5 Mbit/s", false, 2_500_000, 1_700_000},
		{"camera 640x480, 1 Mbit/s", false, 1_000_000, 1_000_000},
		{"camera 320x240 (ladder), 200 kbit/s", false, 200_000, 200_000},
		{"screen, 2.5 Mbit/s", true, 2_500_000, 2_500_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := testVideoSender(t, tt.bps, tt.screen)
			img := v.fit(src, time.Now())
			v.mu.Lock()
			v.applyRate(img.Rect.Dx(), img.Rect.Dy())
			got := v.encBps
			v.mu.Unlock()
			if got != tt.want {
				t.Errorf("encoder rate %d, want %d", got, tt.want)
			}
		})
	}
	for _, c := range []struct{ w, h, want int }{
		{160, 120, 600_000}, {320, 240, 600_000}, {480, 360, 1_700_000}, {640, 480, 1_700_000},
		{960, 540, 2_000_000}, {1280, 720, 2_500_000},
	} {
		if got := cameraMaxBitrate(c.w, c.h); got != c.want {
			t.Errorf("cameraMaxBitrate(%d, %d) = %d, want %d", c.w, c.h, got, c.want)
		}
	}
}

// testVideoSender is a 640x480@30 sender (a camera's, or a screen's)
// starting at bps, closed with the test.
func testVideoSender(t *testing.T, bps int, screen bool) *videoSender {
	t.Helper()
	v, err := newVideoSender(nil, nil, codec.VP8Config{Width: 640, Height: 480, FPS: 30, BitRate: bps, ScreenContent: screen})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = v.enc.Close() })
	return v
}

// TestSizeLadderOverran: an encoder that cannot keep a size's pictures
// to the target shrinks the picture a step at once; the rate that size
// took is its need (and, per pixel, the larger sizes') for ladderLearnFor,
// so the picture does not step back up into the same overrun.
func TestSizeLadderOverran(t *testing.T) {
	s := func(n float64) time.Duration { return time.Duration(n * float64(time.Second)) }
	type step struct {
		at           time.Duration
		kbps, upKbps int
		overrun      float64 // 0: none
		wantW        int
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"traced 500k: 480x360 at 430 kbit/s for 344", []step{
			{0, 344, 344, 0, 480},
			{s(1), 344, 344, 1.25, 320}, // at once
			{s(5), 344, 344, 0, 320},    // 344 ≥ 1.5 × 207 by the model, but 480x360 took 430
			{s(8), 600, 600, 0, 320},    // 600 < 1.5 × 430
			{s(9), 650, 650, 0, 640},    // 650 ≥ 1.5 × 430: forgotten; 650 ≥ 1.5 × 369
		}},
		{"traced 3M-500k-3M: forgotten once the link carries it", []step{
			{0, 250, 250, 0, 320},
			{s(1), 300, 300, 1.76, 160}, // 320x240 took 528
			{s(8), 780, 780, 0, 160},    // 780 < 1.5 × 528: learned, and up waits
			{s(9), 1040, 1040, 0, 640},  // 1040 ≥ 792: forgotten; 1040 ≥ 1.5 × 369
			{s(9.5), 700, 700, 0, 640},  // not learned again by a lower target
		}},
		{"forgotten after ladderLearnFor", []step{
			{0, 344, 344, 0, 480},
			{s(1), 344, 344, 1.25, 320},
			{s(20.5), 344, 344, 0, 320},
			{s(21.5), 344, 344, 0, 480},
		}},
		{"the smallest size stays", []step{
			{0, 60, 60, 0, 160},
			{s(1), 60, 60, 2, 160},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t0 := time.Unix(0, 0)
			l := &sizeLadder{w: 640, h: 480, fps: 30}
			for _, st := range tt.steps {
				now := t0.Add(st.at)
				if st.overrun > 0 {
					l.overran(st.kbps*1000, st.overrun, now)
				}
				if w, _ := l.size(l.next(st.kbps*1000, st.upKbps*1000, now)); w != st.wantW {
					t.Errorf("at %v, %d kbit/s (up %d): width %d, want %d", st.at, st.kbps, st.upKbps, w, st.wantW)
				}
			}
		})
	}
}
