package app

import (
	"fmt"
	"image"
	"testing"
)

// TestShareSize: a share larger than 1920x1080 is sent scaled down to
// fit, aspect ratio kept, even sides; a smaller one at its own size.
func TestShareSize(t *testing.T) {
	tests := []struct {
		w, h, wantW, wantH int
	}{
		{2560, 1440, 1920, 1080},
		{3840, 2160, 1920, 1080},
		{3840, 1600, 1920, 800},  // ultrawide: the width limits
		{5120, 1440, 1920, 540},  // super-ultrawide
		{1440, 2560, 606, 1080},  // portrait monitor: the height limits
		{2048, 1080, 1920, 1012}, // only the width over (1012.5 rounded down to even)
		{1920, 1200, 1728, 1080}, // only the height over
		{1920, 1080, 1920, 1080},
		{1280, 720, 1280, 720},
		{1281, 721, 1281, 721},   // odd but small enough: as it is
		{2561, 1441, 1918, 1080}, // odd and a shade taller than 16:9: 1919.4 to even
		{3001, 1687, 1920, 1078}, // odd: 1079.3 to even
		{2563, 1081, 1920, 808},  // odd: 809.8 to even
		{4000, 2, 1920, 2},       // a sliver keeps at least 2 rows
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%dx%d", tt.w, tt.h), func(t *testing.T) {
			w, h := shareSize(tt.w, tt.h)
			if w != tt.wantW || h != tt.wantH {
				t.Fatalf("shareSize(%d, %d) = %dx%d, want %dx%d", tt.w, tt.h, w, h, tt.wantW, tt.wantH)
			}
			if w > shareMaxW || h > shareMaxH {
				t.Errorf("%dx%d is over %dx%d", w, h, shareMaxW, shareMaxH)
			}
			if (w != tt.w || h != tt.h) && (w%2 != 0 || h%2 != 0) {
				t.Errorf("scaled to odd %dx%d", w, h)
			}
		})
	}
}

// TestFitShare: the share's frames reach the encoder at shareSize,
// scaled (the picture, not cropped) into one reused image.
func TestFitShare(t *testing.T) {
	src := image.NewYCbCr(image.Rect(0, 0, 2560, 1440), image.YCbCrSubsampleRatio420)
	for y := range 1440 { // left half dark, right half bright
		for x := range 2560 {
			src.Y[y*src.YStride+x] = 16 + uint8(219*(x*2/2560))
		}
	}
	next := fitShare(func() (*image.YCbCr, error) { return src, nil })
	a, err := next()
	if err != nil {
		t.Fatal(err)
	}
	if a.Rect != image.Rect(0, 0, 1920, 1080) {
		t.Fatalf("frame %v, want 1920x1080", a.Rect)
	}
	if l, r := a.Y[540*a.YStride+400], a.Y[540*a.YStride+1500]; l > 30 || r < 220 {
		t.Errorf("scaled luma left %d right %d, want the dark and bright halves", l, r)
	}
	if b, _ := next(); b != a {
		t.Error("the scaled image is not reused")
	}

	small := image.NewYCbCr(image.Rect(0, 0, 1280, 720), image.YCbCrSubsampleRatio420)
	if got, _ := fitShare(func() (*image.YCbCr, error) { return small, nil })(); got != small {
		t.Error("a 1280x720 share was copied or scaled")
	}
}

// TestSplitBitrate: camera and share never get more than the estimate
// leaves after audio, the share gets the larger part, and each stays
// within its limits where the estimate allows them.
func TestSplitBitrate(t *testing.T) {
	tests := []struct {
		estimate      int
		camera, share bool
		wantCam       int
		wantShare     int
	}{
		{100_000, true, true, 27_200, 40_800}, // under both minimums: shrunk in proportion
		{250_000, true, true, 87_200, 130_800},
		{282_000, true, true, 100_000, 150_000}, // exactly the minimums
		{400_000, true, true, 100_000, 268_000},
		{1_000_000, true, true, 242_000, 726_000},
		{5_000_000, true, true, 2_468_000, 2_500_000},
		{100_000, false, true, 0, 68_000},
		{250_000, false, true, 0, 218_000},
		{5_000_000, false, true, 0, 2_500_000},
		{100_000, true, false, 68_000, 0},
		{5_000_000, true, false, 4_968_000, 0},
		{20_000, true, true, 0, 0}, // not even audio's part (never happens: the call's floor is 100k)
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%dk camera=%v share=%v", tt.estimate/1000, tt.camera, tt.share), func(t *testing.T) {
			cam, scr := splitBitrate(tt.estimate, tt.camera, tt.share)
			if cam != tt.wantCam || scr != tt.wantShare {
				t.Errorf("camera %d share %d, want %d and %d", cam, scr, tt.wantCam, tt.wantShare)
			}
			if sum := cam + scr + audioBitrate; sum > tt.estimate && cam+scr > 0 {
				t.Errorf("camera %d + share %d + audio %d = %d, over the estimate %d", cam, scr, audioBitrate, sum, tt.estimate)
			}
			if scr > shareMaxBitrate {
				t.Errorf("share %d over its cap %d", scr, shareMaxBitrate)
			}
			if !tt.share && scr != 0 || !tt.camera && cam != 0 {
				t.Errorf("camera %d share %d: a stream that does not run got bits", cam, scr)
			}
			if !tt.camera || !tt.share || cam+scr == 0 {
				return
			}
			// The camera sends at most cameraMaxBitrate however large its
			// part: the share must still have the larger of what is sent.
			if sent := min(cam, cameraMaxBitrate(1920, 1080)); scr <= sent {
				t.Errorf("share %d not above the camera's %d", scr, sent)
			}
			if cam+scr >= shareMinBitrate+codecMinVideoBitrate && (scr < shareMinBitrate || cam < codecMinVideoBitrate) {
				t.Errorf("camera %d share %d: under their minimums %d and %d with room for both", cam, scr, codecMinVideoBitrate, shareMinBitrate)
			}
		})
	}
}
