package app

import (
	"context"
	"errors"
	"image"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/peercall/peercall/codec"
)

// TestOvershoot: the factor is the encoder's output over its budget for
// the last window of delta frames, from 1 to overshootMax.
func TestOvershoot(t *testing.T) {
	const rate, frame = 300_000, time.Second / 30
	budget := float64(rate) * frame.Seconds() / 8 // bytes a frame may take
	type run struct {
		frames int
		ratio  float64 // a delta frame's size over its budget
		keyOf  int     // every keyOf-th frame is a keyframe 10 budgets large (0: none)
	}
	tests := []struct {
		name string
		runs []run
		want float64
	}{
		{"steady 10 % over", []run{{60, 1.1, 0}}, 1.1},
		{"under its budget", []run{{60, 0.8, 0}}, 1},
		{"far over: bounded", []run{{60, 2, 0}}, overshootMax},
		{"keyframes left out", []run{{90, 1, 10}}, 1},
		{"window not full yet", []run{{30, 1.2, 0}}, 1},
		{"the window forgets", []run{{45, 1.2, 0}, {45, 1.05, 0}}, 1.05},
		{"updated every overshootEvery frames", []run{{45, 1.2, 0}, {14, 1, 0}}, 1.2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newOvershoot()
			for _, r := range tt.runs {
				for i := range r.frames {
					if r.keyOf > 0 && i%r.keyOf == 0 {
						o.frame(int(10*budget), true, rate, rate, frame)
						continue
					}
					o.frame(int(math.Round(r.ratio*budget)), false, rate, rate, frame)
				}
			}
			if math.Abs(o.factor-tt.want) > 0.005 {
				t.Errorf("factor %.4f, want %.4f", o.factor, tt.want)
			}
			if got, want := o.adjust(1_000_000), int(1_000_000/o.factor); got != want {
				t.Errorf("adjust(1 Mbit/s) = %d, want %d", got, want)
			}
		})
	}
}

// TestOvershootBudgetsByTimestamps: a frame's budget is the rate over the
// time since the frame before, as libvpx counts it: a 15 fps camera whose
// frames are twice a 30 fps frame's size is on target.
func TestOvershootBudgetsByTimestamps(t *testing.T) {
	o := newOvershoot()
	for range 60 {
		o.frame(2*300_000/30/8, false, 300_000, 300_000, time.Second/15)
	}
	if math.Abs(o.factor-1) > 1e-6 {
		t.Errorf("factor %.6f, want 1", o.factor)
	}
}

// TestOvershootFloor: the correction never takes a rate under libvpx's
// least, and leaves one already under it alone.
func TestOvershootFloor(t *testing.T) {
	o := newOvershoot()
	o.factor = overshootMax
	for _, c := range []struct{ bps, want int }{
		{1_300_000, 1_000_000}, {12_000, codec.MinVP8BitRate}, {8_000, 8_000},
	} {
		if got := o.adjust(c.bps); got != c.want {
			t.Errorf("adjust(%d) = %d, want %d", c.bps, got, c.want)
		}
	}
}

// TestVideoSenderCorrectsOvershoot: a camera's encoder is given the
// target over the measured factor, under its size's cap; a screen's
// target is given as it is.
func TestVideoSenderCorrectsOvershoot(t *testing.T) {
	tests := []struct {
		name   string
		screen bool
		bps    int
		want   int
	}{
		{"camera", false, 1_000_000, 1_000_000 * 10 / 12},
		{"camera over its cap", false, 2_500_000, 1_700_000 * 10 / 12},
		{"screen", true, 1_000_000, 1_000_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := testVideoSender(t, tt.bps, tt.screen)
			v.mu.Lock()
			if v.over != nil {
				v.over.factor = 1.2
			}
			v.applyRate(640, 480)
			got := v.encBps
			v.mu.Unlock()
			if got != tt.want {
				t.Errorf("encoder rate %d, want %d", got, tt.want)
			}
		})
	}
}

// TestVideoSenderMeasuresOvershoot: the send loop feeds the encoder's
// output to the measure, and the next rates it gives follow it. Noise at
// a rate far under what libvpx's coarsest quantiser makes of it runs
// over by more than the bound.
func TestVideoSenderMeasuresOvershoot(t *testing.T) {
	const bps, frames = 30_000, overshootFrames + overshootEvery + 1
	track, ctx, next := noiseSource(t, frames, 1)
	// A camera's encoder skips frames to hold its rate (DropFrames), and
	// on noise this far over it skips nearly all, as does its sender
	// (frameDropper): the measure under test gets an encoder that
	// encodes every frame, and no dropper.
	v := senderEncodingAll(t, track, next, codec.VP8Config{Width: 160, Height: 120, FPS: 30, BitRate: bps})
	v.drop = nil
	if err := v.run(ctx); err != nil {
		t.Fatal(err)
	}
	if v.over.n != overshootFrames {
		t.Errorf("%d delta frames measured, want a full window of %d", v.over.n, overshootFrames)
	}
	if v.over.factor != overshootMax {
		t.Errorf("factor %.3f, want the bound %.1f", v.over.factor, overshootMax)
	}
	if want := v.over.adjust(bps); v.encBps != want || want >= bps {
		t.Errorf("encoder given %d, want %d", v.encBps, want)
	}
}

// TestVideoSenderSkipsFrames: a camera's sender given noise far over its
// rate has its encoder skip frames, counts them, and sends the rest.
func TestVideoSenderSkipsFrames(t *testing.T) {
	const frames = 60
	track, ctx, next := noiseSource(t, frames, 3)
	v, err := newVideoSender(track, next, codec.VP8Config{Width: 160, Height: 120, FPS: 30, BitRate: 30_000})
	if err != nil {
		t.Fatal(err)
	}
	v.drop = nil // the encoder's own skipping (TestVideoSenderDropsAhead: the sender's)
	if err := v.run(ctx); err != nil {
		t.Fatal(err)
	}
	sent, skipped := v.frames.Load(), v.skipped.Load()
	t.Logf("%d frames sent, %d skipped", sent, skipped)
	if skipped == 0 || sent == 0 || sent+skipped != frames {
		t.Errorf("%d sent and %d skipped of %d frames, want some of each adding up", sent, skipped, frames)
	}
}

// noiseSource is a track and a source of n 160x120 frames of noise (from
// seed); ctx ends after the last, which makes a send loop return.
func noiseSource(t *testing.T, n int, seed uint64) (*webrtc.TrackLocalStaticSample, context.Context, func() (*image.YCbCr, error)) {
	t.Helper()
	track, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", "test")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, seed+1))
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	given := 0
	return track, ctx, func() (*image.YCbCr, error) {
		if given == n {
			cancel()
			return nil, errors.New("end of the test's frames")
		}
		given++
		img := image.NewYCbCr(image.Rect(0, 0, 160, 120), image.YCbCrSubsampleRatio420)
		for _, p := range [][]byte{img.Y, img.Cb, img.Cr} {
			for i := range p {
				p[i] = byte(rng.Uint32())
			}
		}
		return img, nil
	}
}

// TestOvershootOverrun: the output over the target itself is read only
// when the correction is at its bound and a full window of the current
// size's delta frames is in.
func TestOvershootOverrun(t *testing.T) {
	const target, frame = 300_000, time.Second / 30
	given := int(math.Round(target / overshootMax))
	perFrame := func(bps int, ratio float64) int { return int(math.Round(ratio * float64(bps) * frame.Seconds() / 8)) }
	tests := []struct {
		name    string
		frames  int
		given   int
		ratio   float64 // output over the target
		resized int     // frames before the end the size changed (0: never)
		want    float64
	}{
		{"over the target at the bound", 90, given, 1.4, 0, 1.4},
		{"on the target at the bound", 90, given, 1, 0, 1},
		{"the correction not at its bound", 90, target, 1.1, 0, 0},
		{"a new size, not a window yet", 90, given, 1.4, 30, 0},
		{"a new size, a full window", 120, given, 1.4, 45, 1.4},
	}
	// skippedRun: the sender drops frames before encoding; each encoded
	// frame is over its full-rate budget by ratio.
	skippedRun := []struct {
		name           string
		encoded, every int // encoded frames, one encoded in every frames offered
		ratio, want    float64
	}{
		{"two dropped in three: a window's time", 15, 3, 2.5, 2.5},
		{"three dropped in four: too few encoded", 14, 4, 2.5, 0},
		{"one dropped in two: not a window's time yet", 22, 2, 2, 0},
		{"one dropped in two: a window's time", 23, 2, 2, 2},
		{"none dropped: a full window", 45, 1, 1.3, 1.3},
		{"none dropped: 44 frames", 44, 1, 1.3, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newOvershoot()
			for i := range tt.frames {
				if tt.resized > 0 && i == tt.frames-tt.resized {
					o.resized()
				}
				o.frame(perFrame(target, tt.ratio), false, tt.given, target, frame)
			}
			if got := o.overrun(); math.Abs(got-tt.want) > 0.01 {
				t.Errorf("overrun %.3f, want %.3f (factor %.3f)", got, tt.want, o.factor)
			}
		})
	}
	for _, tt := range skippedRun {
		t.Run(tt.name, func(t *testing.T) {
			o := newOvershoot()
			// A larger size before, 40 % over, fills the window and takes
			// the correction to its bound.
			for range 60 {
				o.frame(perFrame(target, 1.4), false, given, target, frame)
			}
			o.resized()
			for range tt.encoded {
				for range tt.every - 1 {
					o.skipped()
				}
				o.frame(perFrame(target, tt.ratio), false, given, target, frame)
			}
			if got := o.overrun(); math.Abs(got-tt.want) > 0.01 {
				t.Errorf("overrun %.3f, want %.3f (factor %.3f)", got, tt.want, o.factor)
			}
		})
	}
}
