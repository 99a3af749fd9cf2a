//go:build linux

package app

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// markerJS draws frame 7 of the latency script's moving picture with the
// marker of time t on a 640x480 canvas, scales it to w×h, and (for q > 0)
// makes it a JPEG of quality q, as lossy as VP8 at a low rate; then it
// reads the marker back. It resolves to the time read, -1 for none.
const markerJS = `(async (t, w, h, q, marked) => {
  const L = window.peercallLatency;
  const src = document.createElement('canvas');
  src.width = 640; src.height = 480;
  const g = src.getContext('2d');
  L.picture(g, 7);
  if (marked) L.draw(g, 640, 480, t);
  const dst = document.createElement('canvas');
  dst.width = w; dst.height = h;
  dst.getContext('2d').drawImage(src, 0, 0, w, h);
  if (q <= 0) return L.read(dst, w, h);
  const img = new Image();
  img.src = dst.toDataURL('image/jpeg', q);
  await img.decode();
  return L.read(img, img.naturalWidth, img.naturalHeight);
})`

// TestChromiumLatencyMarker runs the latency script's marker in chromium:
// it reads back at Chromium's scaled-down resolutions and through heavy
// lossy compression, and a frame without it reads as none.
func TestChromiumLatencyMarker(t *testing.T) {
	tab := latencyTab(t)
	const t0 = 1_796_000_123_457 // ms, a wall-clock time in 2026
	const want = t0 % (1 << 28)
	tests := []struct {
		w, h   int
		q      float64
		marked bool
		want   int64
	}{
		{640, 480, 0, true, want},
		{640, 480, 0.1, true, want},
		{480, 360, 0.15, true, want},
		{320, 240, 0.2, true, want},
		{320, 180, 0.3, true, want}, // another aspect
		{240, 180, 0.4, true, want},
		{160, 120, 0.6, true, want},
		{640, 480, 0, false, -1},
		{320, 240, 0.2, false, -1},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%dx%d_q%.2f_marked=%v", tt.w, tt.h, tt.q, tt.marked), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(tab, 10*time.Second)
			defer cancel()
			got, err := chromedp.Run(ctx, chromedp.Evaluate[int64](fmt.Sprintf("%s(%d, %d, %d, %g, %v)", markerJS, int64(t0), tt.w, tt.h, tt.q, tt.marked),
				chromedp.EvalAwaitPromise))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("read %d, want %d", got, tt.want)
			}
		})
	}
}

// TestChromiumLatencySince checks how the script unwraps its 28-bit time
// against the reader's clock.
func TestChromiumLatencySince(t *testing.T) {
	tab := latencyTab(t)
	const mod = 1 << 28
	now := int64(1_796_000_123_457)
	wrapped := now - now%mod + 20 // 20 ms after the 28 bits wrapped
	tests := []struct {
		name        string
		marked, now int64 // capture and reading time, ms
		want        float64
	}{
		{"same ms", now, now, 0},
		{"120 ms ago", now - 120, now, 120},
		{"across a wrap", wrapped - 50, wrapped, 50},
		{"5 ms ahead", now + 5, now, -5},
		{"a minute ago", now - 60_000, now, 60_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(tab, 5*time.Second)
			defer cancel()
			got, err := chromedp.Run(ctx, chromedp.Evaluate[float64](fmt.Sprintf("window.peercallLatency.since(%d, %d)", tt.marked%mod, tt.now)))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("since = %v, want %v", got, tt.want)
			}
		})
	}
}

// latencyTab starts chromium on a blank page with the latency script
// loaded (no network: it draws and reads canvases only).
func latencyTab(t *testing.T) context.Context {
	t.Helper()
	if testing.Short() {
		t.Skip("chromium test skipped in -short mode")
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		SkipOrFail(t, "needs %s (apt-get install chromium): %v", chromiumPath, err)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(ChromiumOptions(), chromedp.ExecPath(chromiumPath))...)
	tab, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	timer := time.AfterFunc(30*time.Second, cancel)
	defer timer.Stop()
	if err := chromedp.Do(tab, injectScript(chromiumLatencyJS), chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	ok, err := chromedp.Run(tab, chromedp.Evaluate[bool]("!!window.peercallLatency"))
	if err != nil || !ok {
		t.Fatalf("latency script not loaded: %v, %v", ok, err)
	}
	return tab
}
