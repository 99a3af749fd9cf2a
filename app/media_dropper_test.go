package app

import (
	"image"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/peercall/peercall/codec"
)

// TestFrameDropper: frames are skipped only while what was sent ran
// ahead of the target by more than dropperSpan, and what is sent then
// keeps to the target.
func TestFrameDropper(t *testing.T) {
	const bps, fps = 300_000, 30
	frame := time.Second / fps
	budget := bps / fps / 8 // bytes a frame may take
	tests := []struct {
		name   string
		frames int
		size   func(i int) int // bytes of the frame due i-th, if sent
		bps    int
		// resetAt: the link narrowed before the frame due then (-1: never).
		resetAt     int
		wantSkipped [2]int // at least, at most
	}{
		{"on the target", 90, func(int) int { return budget }, bps, -1, [2]int{0, 0}},
		{"under the target", 90, func(int) int { return budget / 2 }, bps, -1, [2]int{0, 0}},
		{"a keyframe three frames large", 30, func(i int) int { return map[bool]int{true: 3 * budget, false: budget}[i == 0] }, bps, -1, [2]int{0, 0}},
		// Six frames large: five frames beyond, two skipped to bring it
		// back under the span of three.
		{"a keyframe six frames large", 30, func(i int) int { return map[bool]int{true: 6 * budget, false: budget}[i == 0] }, bps, -1, [2]int{2, 3}},
		// 1.5 times over: one frame in three skipped once the span is
		// full (after six frames).
		{"half again over", 90, func(int) int { return 3 * budget / 2 }, bps, -1, [2]int{25, 30}},
		{"half again over, the link narrowed", 90, func(int) int { return 3 * budget / 2 }, bps, 45, [2]int{22, 28}},
		// Ten seconds of the target in one frame: the level is capped at
		// a second, which drains under the span in under 0.9 s.
		{"a frame far too large", 60, func(i int) int { return map[bool]int{true: 10 * bps / 8, false: budget}[i == 0] }, bps, -1, [2]int{26, 27}},
		{"no target", 30, func(int) int { return 10 * budget }, 0, -1, [2]int{0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d frameDropper
			t0 := time.Unix(1_000_000, 0)
			skipped, sentBits, run := 0, 0, 0
			var firstSent, lastSent time.Time
			for i := range tt.frames {
				now := t0.Add(time.Duration(i) * frame)
				if i == tt.resetAt {
					d.reset()
				}
				if d.skip(now) {
					skipped++
					if run++; run > dropperMaxRun {
						t.Fatalf("frame %d: %d skipped in a row", i, run)
					}
					continue
				}
				run = 0
				if firstSent.IsZero() {
					firstSent = now
				}
				lastSent = now
				sentBits += 8 * tt.size(i)
				d.sent(tt.size(i), tt.bps)
			}
			if skipped < tt.wantSkipped[0] || skipped > tt.wantSkipped[1] {
				t.Errorf("%d of %d frames skipped, want %d to %d", skipped, tt.frames, tt.wantSkipped[0], tt.wantSkipped[1])
			}
			// Past the first frames, what is sent keeps to the target
			// within the span and a frame.
			if tt.bps > 0 && tt.size(1) > budget && tt.resetAt < 0 {
				allowed := float64(tt.bps)*(lastSent.Sub(firstSent)+dropperSpan).Seconds() + 8*float64(tt.size(1))
				if float64(sentBits) > allowed {
					t.Errorf("sent %d bits over %v, more than the %0.f the target allows", sentBits, lastSent.Sub(firstSent), allowed)
				}
			}
		})
	}
}

// TestFrameDropperTargetCut: when the target is cut (a share starts and
// takes its part), the camera drops one frame now and then as before,
// never a run of them: the picture does not stop.
func TestFrameDropperTargetCut(t *testing.T) {
	const fps, frames, cutAt = 30, 90, 45
	frame := time.Second / fps
	var d frameDropper
	t0 := time.Unix(1_000_000, 0)
	run, longest, skipped := 0, 0, 0
	for i := range frames {
		bps := 900_000
		if i >= cutAt {
			bps = 300_000
		}
		if d.skip(t0.Add(time.Duration(i) * frame)) {
			run++
			skipped++
			longest = max(longest, run)
			continue
		}
		run = 0
		d.sent(bps/fps/8*6/5, bps) // 1.2 times the frame's budget
	}
	if longest > 1 || skipped == 0 {
		t.Errorf("%d frames skipped, at most %d in a row: want some, never two in a row", skipped, longest)
	}
}

// TestVideoSenderDropsAhead: a camera's sender whose encoder cannot hold
// the target (noise, libvpx's own dropping off) skips frames itself and
// sends about the target; a screen's sender has no dropper and sends
// every frame libvpx makes.
func TestVideoSenderDropsAhead(t *testing.T) {
	const bps, frames = 600_000, 45
	tests := []struct {
		name   string
		screen bool
	}{
		{"camera", false},
		{"screen", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			track, ctx, next := noiseSource(t, frames, 5)
			paced := func() (img *image.YCbCr, err error) {
				time.Sleep(time.Second / 30)
				return next()
			}
			// What is skipped is the sender's.
			v := senderEncodingAll(t, track, paced, codec.VP8Config{Width: 160, Height: 120, FPS: 30, BitRate: bps})
			if tt.screen {
				v.drop, v.ladder, v.over = nil, nil, nil
			}
			start := time.Now()
			if err := v.run(ctx); err != nil {
				t.Fatal(err)
			}
			elapsed := time.Since(start)
			sent, skipped, bits := v.frames.Load(), v.skipped.Load(), 8*v.bytes.Load()
			t.Logf("%d frames sent, %d skipped, %d kbit in %v", sent, skipped, bits/1000, elapsed)
			if sent+skipped != frames {
				t.Errorf("%d sent and %d skipped, want %d in all", sent, skipped, frames)
			}
			if tt.screen {
				if skipped != 0 {
					t.Errorf("%d frames skipped without a dropper", skipped)
				}
				return
			}
			// The first frame is a keyframe and is sent; after it the
			// output keeps to the target within a second (dropperCap).
			if skipped == 0 || sent == 0 {
				t.Errorf("%d sent, %d skipped: want both", sent, skipped)
			}
			if limit := float64(bps) * (elapsed + dropperCap).Seconds(); float64(bits) > limit {
				t.Errorf("%d bits sent in %v, over the %0.f the target allows", bits, elapsed, limit)
			}
		})
	}
}

// senderEncodingAll is a camera's sender whose encoder never skips a
// frame itself (libvpx's DropFrames off).
func senderEncodingAll(t *testing.T, track *webrtc.TrackLocalStaticSample, next func() (*image.YCbCr, error), cfg codec.VP8Config) *videoSender {
	t.Helper()
	v, err := newVideoSender(track, next, cfg)
	if err != nil {
		t.Fatal(err)
	}
	_ = v.enc.Close()
	if v.enc, err = codec.NewVP8Encoder(cfg); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestVideoSenderSkipFrame: a sender far ahead of its target drops the
// next frame of the same size, but never one that is to be a keyframe:
// on request, or the first of a new size.
func TestVideoSenderSkipFrame(t *testing.T) {
	img := image.NewYCbCr(image.Rect(0, 0, 320, 240), image.YCbCrSubsampleRatio420)
	tests := []struct {
		name    string
		screen  bool
		last    image.Point // the size of the frame sent before
		keyWant bool        // a keyframe was requested
		want    bool
	}{
		{"far ahead", false, img.Rect.Size(), false, true},
		{"a keyframe requested", false, img.Rect.Size(), true, false},
		{"a new size", false, image.Pt(640, 480), false, false},
		{"the first frame", false, image.Point{}, false, false},
		{"a screen", true, img.Rect.Size(), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const bps = 300_000
			v := testVideoSender(t, bps, tt.screen)
			now := time.Now()
			if v.drop != nil {
				v.drop.sent(bps/8, bps) // a second of the target
				v.drop.skip(now)
			}
			if tt.keyWant {
				v.ForceKeyFrame()
			}
			if got := v.skipFrame(img, tt.last, now.Add(time.Second/30)); got != tt.want {
				t.Errorf("skipFrame = %v, want %v", got, tt.want)
			}
		})
	}
}
