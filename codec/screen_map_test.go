//go:build cgo

package codec

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"testing"
	"time"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// textPage is a 1920x1080 page of small text (the bitmap font at 7x13, as
// TestScreenShareOverXvfb shows) below four coloured panels, in I420:
// typed characters of its line 20 typed, scrolled up by scroll lines.
func textPage(typed, scroll int) *image.YCbCr {
	const w, h = 1920, 1080
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.RGBA{245, 245, 240, 255}), image.Point{}, draw.Src)
	for i, c := range []color.RGBA{{200, 40, 40, 255}, {40, 160, 60, 255}, {40, 70, 200, 255}, {230, 190, 40, 255}} {
		draw.Draw(img, image.Rect(40+i*(w-80)/4, 40, 40+(i+1)*(w-80)/4-20, 200), image.NewUniform(c), image.Point{}, draw.Src)
	}
	d := &font.Drawer{Dst: img, Src: image.NewUniform(color.RGBA{20, 20, 20, 255}), Face: basicfont.Face7x13}
	for row := 0; 240+row*18 < h-20; row++ {
		line := row + scroll
		s := fmt.Sprintf("%03d  Peercall shares this screen: the quick brown fox jumps over the lazy dog 0123456789 (){}[]<>=+-*/ line %d", line, line)
		if line == 20 {
			s = s[:min(typed, len(s))]
		}
		d.Dot = fixed.P(40, 240+row*18)
		d.DrawString(s)
	}
	out := image.NewYCbCr(img.Rect, image.YCbCrSubsampleRatio420)
	toI420(out, img)
	return out
}

// worstBlockPSNR is the luma PSNR of the 16x16 block of b that differs
// most from a: a block left stale shows here, not in the whole picture's.
func worstBlockPSNR(a, b *image.YCbCr) float64 {
	worst := 99.0
	for by := 0; by < a.Rect.Dy(); by += 16 {
		for bx := 0; bx < a.Rect.Dx(); bx += 16 {
			r := image.Rect(bx, by, bx+16, by+16).Intersect(a.Rect)
			worst = min(worst, psnrY(a.SubImage(r).(*image.YCbCr), b.SubImage(r).(*image.YCbCr)))
		}
	}
	return worst
}

// TestVP8ScreenStill: the screen encoder fed the same 1920x1080 text page
// once a second (a still screen's keepalives) sharpens it for a few
// frames, then sends it for next to nothing, still legible. A change
// after that costs what changed; a page that changes 15 times a second
// (typing, then scrolling) has every change coded, no block left stale;
// a keyframe on the still page is sharpened again.
func TestVP8ScreenStill(t *testing.T) {
	const (
		still    = 12    // keepalives
		settled  = 4     // keepalives before the small ones
		maxBytes = 2_000 // a settled keepalive
		minPSNR  = 35.0  // whole picture, as TestScreenShareOverXvfb
		minBlock = 25.0  // the worst block (a stale one is below 15 dB)
	)
	for _, bps := range []int{1_000_000, 2_500_000} {
		t.Run(fmt.Sprintf("%dkbps", bps/1000), func(t *testing.T) {
			enc, dec := newVP8Pair(t, VP8Config{Width: 1920, Height: 1080, FPS: 15, BitRate: bps, ScreenContent: true, ErrorResilient: true})
			var pts time.Duration
			// encode sends pic at pts and returns the frame's size and the
			// decoded picture's Y PSNR and worst block's (0s when dropped).
			var key bool
			encode := func(pic *image.YCbCr) (n int, psnr, block float64) {
				t.Helper()
				data, k, err := enc.Encode(pic, pts)
				key = k
				if errors.Is(err, ErrNoFrame) {
					return 0, 0, 0
				}
				if err != nil {
					t.Fatal(err)
				}
				out, err := dec.Decode(data)
				if err != nil {
					t.Fatal(err)
				}
				return len(data), psnrY(pic, out), worstBlockPSNR(pic, out)
			}
			// changing sends pages at 15 fps: each must be coded (at most
			// a tenth dropped), none with a block left stale.
			changing := func(what string, pages []*image.YCbCr) {
				t.Helper()
				var dropped, bytes int
				var sum, worst float64 = 0, 99
				for i, pic := range pages {
					pts += time.Second / 15
					n, p, b := encode(pic)
					if n == 0 {
						dropped++
						continue
					}
					bytes += n
					sum += p
					worst = min(worst, b)
					if p < minPSNR || b < minBlock {
						t.Errorf("%s, frame %d: Y PSNR %.1f dB, worst block %.1f dB, want ≥ %.0f and ≥ %.0f", what, i, p, b, minPSNR, minBlock)
					}
				}
				t.Logf("%s at 15 fps: %.0f kbit/s, %d of %d frames dropped, mean Y PSNR %.1f dB, worst block %.1f dB",
					what, float64(bytes)*8/1000*15/float64(len(pages)), dropped, len(pages), sum/float64(len(pages)-dropped), worst)
				if dropped > len(pages)/10 {
					t.Errorf("%s: %d of %d frames dropped", what, dropped, len(pages))
				}
			}

			page := textPage(100, 0)
			var sizes []int
			var psnr float64
			for i := range still {
				pts = time.Duration(i) * time.Second
				n, p, _ := encode(page)
				sizes = append(sizes, n)
				if n > 0 {
					psnr = p
				}
				if i >= settled && n > maxBytes {
					t.Errorf("keepalive %d: %d bytes, want ≤ %d", i, n, maxBytes)
				}
			}
			t.Logf("still page, one frame a second: bytes %v, last Y PSNR %.1f dB", sizes, psnr)
			if psnr < minPSNR {
				t.Errorf("still page Y PSNR %.1f dB, want ≥ %.0f", psnr, minPSNR)
			}

			// One more character after the still page: coded at once,
			// and only what changed (not the whole page again).
			pts += time.Second
			n, p, b := encode(textPage(101, 0))
			t.Logf("first change: %d bytes, Y PSNR %.1f dB, worst block %.1f dB", n, p, b)
			if n == 0 || n > 20_000 || p < minPSNR || b < minBlock {
				t.Errorf("first change after a still page: %d bytes, Y PSNR %.1f dB, worst block %.1f dB; want coded, ≤ 20000 bytes", n, p, b)
			}

			var pages []*image.YCbCr
			for i := range 30 {
				pages = append(pages, textPage(102+i, 0))
			}
			changing("typing", pages)
			pages = pages[:0]
			for i := range 15 {
				pages = append(pages, textPage(132, 1+i))
			}
			changing("scrolling", pages)

			// A keyframe (a receiver's PLI) on the still page: sharpened again.
			page = pages[len(pages)-1]
			for range settled {
				pts += time.Second
				encode(page)
			}
			enc.ForceKeyFrame()
			pts += time.Second
			if n, _, _ := encode(page); n == 0 || !key {
				t.Fatalf("forced keyframe: %d bytes, keyframe %v", n, key)
			}
			sizes = sizes[:0]
			for range settled + 2 {
				pts += time.Second
				n, p, _ := encode(page)
				sizes = append(sizes, n)
				if n > 0 {
					psnr = p
				}
			}
			t.Logf("after a keyframe on the still page: bytes %v, last Y PSNR %.1f dB", sizes, psnr)
			if psnr < minPSNR {
				t.Errorf("still page after a keyframe: Y PSNR %.1f dB, want ≥ %.0f", psnr, minPSNR)
			}
			if n := sizes[len(sizes)-1]; n > maxBytes {
				t.Errorf("still page after a keyframe settled at %d bytes a frame, want ≤ %d", n, maxBytes)
			}
		})
	}
}

// TestScreenMap: a macroblock is coded when any luma or chroma sample
// libvpx reads in it changed, and for stillRefine coded frames after;
// a frame that was not coded (dropped) leaves what it owed.
func TestScreenMap(t *testing.T) {
	pic := image.NewYCbCr(image.Rect(0, 0, 33, 17), image.YCbCrSubsampleRatio420) // 3x2 macroblocks
	for i := range pic.Y {
		pic.Y[i] = byte(i)
	}
	var m screenMap
	pts := time.Duration(0) // frames a refinement window apart: by frames alone
	step := func(key bool, want string) {
		t.Helper()
		pts += stillRefineFor
		m.next(pic, pts)
		got := ""
		for _, a := range m.active {
			got += string('0' + a)
		}
		if got != want {
			t.Fatalf("active %s, want %s", got, want)
		}
		m.coded(key, pts)
	}
	step(true, "111111") // first picture: a keyframe
	for range stillRefine {
		step(false, "111111") // sharpened
	}
	step(false, "000000")         // still
	pic.Cr[pic.COffset(32, 16)]++ // the last chroma sample (odd size: rounded up)
	step(false, "000001")
	pic.Y[pic.YOffset(16, 0)]++
	pts += stillRefineFor
	m.next(pic, pts) // dropped: not coded
	step(false, "010001")
	step(false, "010001")
	step(false, "010000")
	step(false, "000000")
	step(true, "000000") // a keyframe (forced: libvpx codes all)
	step(false, "111111")
	// Another picture size or place: everything changed.
	sub := pic.SubImage(image.Rect(0, 0, 32, 16)).(*image.YCbCr)
	if n := m.next(sub, pts); n != 2 {
		t.Fatalf("a sub-image: %d macroblocks active, want all 2", n)
	}
	// A source that repeats an unchanged picture often: a changed
	// macroblock is coded for stillRefineFor, not only stillRefine frames.
	var f screenMap
	f.next(pic, 0)
	f.coded(true, 0)
	for i := 1; i < 30; i++ {
		at := time.Duration(i) * time.Second / 15
		n := f.next(pic, at)
		if want := 6; at >= stillRefineFor {
			want = 0
		} else if n != want {
			t.Fatalf("at %v: %d macroblocks active, want %d", at, n, want)
		}
		if at >= stillRefineFor && n != 0 {
			t.Fatalf("at %v: %d macroblocks active after the window, want 0", at, n)
		}
		f.coded(false, at)
	}
}

// BenchmarkScreenMapNext is the screen encoder's own work a frame at
// 1920x1080 to find what changed: a still page, one typed character, a
// page scrolled by a line (every text row changed).
func BenchmarkScreenMapNext(b *testing.B) {
	page, typed, scrolled := textPage(100, 0), textPage(101, 0), textPage(100, 1)
	for _, bc := range []struct {
		name string
		next *image.YCbCr
	}{{"still", page}, {"typed", typed}, {"scrolled", scrolled}} {
		b.Run(bc.name, func(b *testing.B) {
			var m screenMap
			m.next(page, 0)
			pics := [2]*image.YCbCr{page, bc.next}
			i := 1
			for b.Loop() {
				m.next(pics[i%2], 0)
				i++
			}
		})
	}
}
