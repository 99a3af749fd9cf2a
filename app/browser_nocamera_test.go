package app_test

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// noCamera makes the tab behave like a computer without a camera: every
// getUserMedia that asks for video fails with NotFoundError, as Chrome's
// does when no camera is plugged in. The microphone stays.
func noCamera(t *testing.T, tab context.Context) {
	t.Helper()
	const src = `(() => {
  const real = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = (c) => c && c.video
    ? Promise.reject(new DOMException('Requested device not found', 'NotFoundError'))
    : real(c);
})();`
	_, err := chromedp.Run(tab, func(ctx context.Context, tg *chromedp.Target) (page.AddScriptToEvaluateOnNewDocumentResult, error) {
		return cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: src})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestBrowserWithoutCamera: the page on a computer without a camera joins
// with its microphone (it used to join with nothing at all), says so, and
// talks to a headless peer with and without a camera of its own: audio both
// ways, the peer's video when it has some, a bounded number of
// negotiations, and both ends agree nobody sends what nobody has.
func TestBrowserWithoutCamera(t *testing.T) {
	skipUnlessBrowser(t)
	bin := browserHeadlessBin(t)
	addr := startWebSignal(t)
	browser := newBrowser(t)
	for _, tt := range []struct {
		name, peerVideo string
	}{
		{"audio-only-both", "none"},
		{"peer-has-camera", "synthetic"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tab := newTab(t, browser)
			noCamera(t, tab)
			room := "nocam-" + tt.name
			joinPage(t, tab, "http://"+addr+"/r/"+room+"?loopback=1&name=Chromium")
			waitView(t, tab, "page waiting in the room", 10*time.Second, func(v pageView) bool { return v.State == "waiting" })

			report := filepath.Join(t.TempDir(), "report.json")
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "--server", "ws://"+addr+"/ws", "--room", room, "--name", "headless",
				"--loopback-only", "--ice-policy", "all", "--duration", "6s",
				"--video", tt.peerVideo, "--size", "320x240", "--audio", "synthetic", "--report", report)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()

			v := waitView(t, tab, "page receiving the peer's audio", 30*time.Second, func(v pageView) bool {
				return v.State == "connected" && v.Stats != nil && v.Stats.AudioIn != nil && v.Stats.AudioIn.PacketsReceived > 50 &&
					(tt.peerVideo == "none" || v.framesDecoded() > 10)
			})
			if !strings.Contains(v.Error, "No camera") {
				t.Errorf("page error line %q, want it to say there is no camera", v.Error)
			}
			if v.Stats.VideoOut != nil && v.Stats.VideoOut.FramesEncoded > 0 {
				t.Errorf("page without a camera encoded %d frames", v.Stats.VideoOut.FramesEncoded)
			}
			if tt.peerVideo == "none" && v.framesDecoded() > 0 {
				t.Errorf("page decoded %d frames from a peer without a camera", v.framesDecoded())
			}
			if v.RemoteMedia == nil || !v.RemoteMedia.Audio || v.RemoteMedia.Video != (tt.peerVideo != "none") {
				t.Errorf("page's view of the peer's media: %+v", v.RemoteMedia)
			}

			if err := <-exited; err != nil {
				t.Errorf("headless peer: %v\n%s", err, tail(stderr.String(), 2000))
			}
			rep := readReport(t, report)
			if !rep.OK {
				t.Errorf("headless report not ok: %s", rep.Error)
			}
			if rep.AudioIn.PacketsReceived < 150 {
				t.Errorf("headless received %d audio packets from the page in 6 s", rep.AudioIn.PacketsReceived)
			}
			if rep.VideoIn.FramesDecoded != 0 {
				t.Errorf("headless decoded %d frames from a page without a camera", rep.VideoIn.FramesDecoded)
			}
			if m := rep.RemoteMedia; m == nil || !m.Audio || m.Video {
				t.Errorf("headless's view of the page's media: %+v", m)
			}
			end := waitView(t, tab, "page ending the call", 10*time.Second, func(v pageView) bool { return v.State == "ended" })
			if end.Negotiations > 3 {
				t.Errorf("page applied %d remote descriptions in one call: renegotiation without a change", end.Negotiations)
			}
			t.Logf("page: %d audio packets in, %d frames decoded, %d negotiations; headless: %d audio packets in",
				end.Stats.AudioIn.PacketsReceived, end.framesDecoded(), end.Negotiations, rep.AudioIn.PacketsReceived)
		})
	}
}
