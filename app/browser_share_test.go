package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Screen sharing between the browser page and the Go pipeline
// (docs/protocol.md "Screen share"): a second video track with stream id
// peercall-screen, added and removed mid-call by renegotiation.
//
// getDisplayMedia needs no extra Chromium flag here: newBrowser's
// --use-fake-ui-for-media-stream accepts the picker without a prompt (and
// without a user gesture), and --use-fake-device-for-media-stream makes the
// "screen" a fake capture device (800x600, moving). The page's
// Permissions-Policy must allow display-capture for its own origin.

// sharePeer is one entry of window.peercallState(), the share fields.
type sharePeer struct {
	Name, State             string
	Polite                  bool
	VideoWidth              int
	CurrentTime             float64
	ShareWidth, ShareHeight int
	ShareTime               float64
	SharingTo               bool
}

// sharePage is what the page shows of screen sharing: its own share, the
// peers' shares on the stage and the size of the first share and camera
// tile (the share large, the tiles small).
type sharePage struct {
	State, Error     string
	Negotiations     int
	Sharing          bool // view.sharing
	BarShown         bool // "You are sharing" with its Stop button
	Peers            []sharePeer
	StageCount       int  // share elements on the stage
	ShareLayout      bool // .videos[data-share]: the share has the stage
	ShareW, TileW    float64
	ShareOut         *struct{ FramesEncoded, Width, Height int }
	ShareIn, VideoIn *struct{ FramesDecoded, Width, Height int }
}

func readShare(tab context.Context) (sharePage, error) {
	ctx, cancel := context.WithTimeout(tab, 10*time.Second)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify((() => {
		const v = window.peercall.view;
		const st = v.peers[0] && v.peers[0].stats;
		const share = document.querySelector('#stage .share');
		const tile = document.querySelector('#grid .tile');
		return {
			State: v.state, Error: v.error, Sharing: v.sharing, Negotiations: v.negotiations,
			BarShown: !document.getElementById('sharing-bar').hidden,
			Peers: window.peercallState(),
			StageCount: document.querySelectorAll('#stage .share').length,
			ShareLayout: 'share' in document.getElementById('videos').dataset,
			ShareW: share ? share.getBoundingClientRect().width : 0,
			TileW: tile ? tile.getBoundingClientRect().width : 0,
			ShareOut: st ? st.shareOut : null, ShareIn: st ? st.shareIn : null, VideoIn: st ? st.videoIn : null,
		};
	})())`))
	if err != nil {
		return sharePage{}, err
	}
	var p sharePage
	if err := json.Unmarshal([]byte(raw), &p); err != nil {
		return sharePage{}, fmt.Errorf("page state %q: %w", raw, err)
	}
	return p, nil
}

// waitShare polls the page until ok holds (for one remote peer).
func waitShare(t *testing.T, tab context.Context, what string, timeout time.Duration, ok func(sharePage, sharePeer) bool) sharePage {
	t.Helper()
	return pollPage(t, what, timeout, func() (sharePage, error) { return readShare(tab) },
		func(p sharePage) bool { return len(p.Peers) == 1 && ok(p, p.Peers[0]) },
		func(p sharePage) string { return fmt.Sprintf("page shows %+v", p) })
}

func clickOn(t *testing.T, tab context.Context, sel string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 5*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Click(sel)); err != nil {
		t.Fatalf("click %s: %v", sel, err)
	}
}

// startSharePeer starts a headless peer calling the page in room.
func startSharePeer(t *testing.T, bin, addr, room string, extra ...string) (<-chan peerResult, string) {
	t.Helper()
	report := filepath.Join(t.TempDir(), "report.json")
	args := append([]string{"--server", "ws://" + addr + "/ws", "--room", room, "--name", "headless",
		"--loopback-only", "--ice-policy", "all", "--video", "synthetic", "--size", "320x240", "--audio", "synthetic"}, extra...)
	return startPeer(t, bin, report, args), report
}

func waitPeer(t *testing.T, res <-chan peerResult) peerResult {
	t.Helper()
	select {
	case r := <-res:
		if r.code != 0 || !r.rep.OK {
			t.Fatalf("headless peer: exit %d, report ok=%v error %q\n%s", r.code, r.rep.OK, r.rep.Error, tail(r.stderr, 3000))
		}
		return r
	case <-time.After(60 * time.Second):
		t.Fatal("headless peer did not finish")
	}
	return peerResult{}
}

// TestBrowserShareFromHeadless: a headless peer shares a moving 1280x720
// picture for 3 s, stops for 3 s and shares again. The page shows the
// share on the stage, large, with the camera tile small beside it; when the
// share stops the stage empties and the grid is back; the second share
// shows again. The camera plays on throughout.
func TestBrowserShareFromHeadless(t *testing.T) {
	skipUnlessBrowser(t)
	bin := browserHeadlessBin(t)
	addr := startWebSignal(t)
	browser := newBrowser(t)
	joinPage(t, browser, "http://"+addr+"/r/share-in?loopback=1&name=Chromium")
	waitView(t, browser, "page waiting in the room", 10*time.Second, func(v pageView) bool { return v.State == "waiting" })
	res, _ := startSharePeer(t, bin, addr, "share-in", "--duration", "9s", "--share", "synthetic", "--share-toggle", "3s")

	on := waitShare(t, browser, "page showing the share", 20*time.Second, func(p sharePage, r sharePeer) bool {
		return r.State == "connected" && r.ShareWidth == 1280 && r.VideoWidth > 0 &&
			p.ShareIn != nil && p.ShareIn.FramesDecoded > 0 && p.VideoIn != nil && p.VideoIn.FramesDecoded > 0
	})
	screenshot(t, browser, "browser-share-in.png")
	r := on.Peers[0]
	t.Logf("share shown: %dx%d, camera %d wide; page polite %v; share %.0f px wide, camera tile %.0f px",
		r.ShareWidth, r.ShareHeight, r.VideoWidth, r.Polite, on.ShareW, on.TileW)
	if r.ShareHeight != 720 {
		t.Errorf("share shown %dx%d, want 1280x720", r.ShareWidth, r.ShareHeight)
	}
	if on.StageCount != 1 || !on.ShareLayout {
		t.Errorf("stage holds %d shares (share layout %v), want 1", on.StageCount, on.ShareLayout)
	}
	if on.ShareW < 3*on.TileW {
		t.Errorf("share %.0f px wide beside a camera tile %.0f px wide: the share should be large, the tile small", on.ShareW, on.TileW)
	}
	if on.ShareIn.Width != 1280 || on.VideoIn.Width != 320 {
		t.Errorf("stats: share in %+v, camera in %+v: the share counted apart from the 320x240 camera", on.ShareIn, on.VideoIn)
	}
	// The picture moves: the share plays on.
	time.Sleep(time.Second)
	if p, err := readShare(browser); err != nil {
		t.Fatal(err)
	} else if len(p.Peers) == 1 && p.Peers[0].ShareWidth > 0 && p.Peers[0].ShareTime <= r.ShareTime {
		t.Errorf("share not playing: currentTime %.2f then %.2f", r.ShareTime, p.Peers[0].ShareTime)
	}

	off := waitShare(t, browser, "page taking the share away", 8*time.Second, func(p sharePage, r sharePeer) bool {
		return r.ShareWidth == 0 && p.StageCount == 0 && !p.ShareLayout
	})
	if c := off.Peers[0].CurrentTime; c < r.CurrentTime+1 {
		t.Errorf("camera not playing while the share ran: currentTime %.2f then %.2f", r.CurrentTime, c)
	}
	// The camera's element shows the camera again, not the share: at most
	// the camera's 320 px. While the share ran it took most of the call's
	// rate, and the camera's picture may have stepped down to 240x180; it
	// steps back up once that size has held a while (sizeLadder), which
	// can come after this read (240 seen on CI).
	if w := off.Peers[0].VideoWidth; off.Peers[0].State != "connected" || w <= 0 || w > 320 {
		t.Errorf("after the share: %+v, want the connected camera, at most 320 px wide", off.Peers[0])
	}

	again := waitShare(t, browser, "page showing the second share", 8*time.Second, func(p sharePage, r sharePeer) bool {
		return r.ShareWidth == 1280 && p.StageCount == 1
	})
	if c := again.Peers[0].CurrentTime; c < off.Peers[0].CurrentTime+1 {
		t.Errorf("camera not playing between the shares: currentTime %.2f then %.2f", off.Peers[0].CurrentTime, c)
	}
	rep := waitPeer(t, res).rep
	t.Logf("headless: video in %.1f fps %dx%d from the page", rep.VideoIn.FPS, rep.VideoIn.Width, rep.VideoIn.Height)
}

// TestBrowserShareToHeadless: the page shares its screen before anyone
// else is in the room; a headless peer joins and gets the share with the
// call. The page stops (the bar's Stop button) and shares again on the
// same m-line. The peer's report counts the share it received.
func TestBrowserShareToHeadless(t *testing.T) {
	skipUnlessBrowser(t)
	bin := browserHeadlessBin(t)
	addr := startWebSignal(t)
	browser := newBrowser(t)
	joinPage(t, browser, "http://"+addr+"/r/share-out?loopback=1&name=Chromium")
	waitView(t, browser, "page waiting in the room", 10*time.Second, func(v pageView) bool { return v.State == "waiting" })

	// The msid of the share's m-line only (a=msid and a=ssrc msid) is
	// rewritten; mid "1" must not match mid "10".
	in := "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=msid:s a\r\n" +
		"m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=msid:s c\r\n" +
		"m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:10\r\na=sendrecv\r\na=msid:x y\r\na=ssrc:5 cname:q\r\na=ssrc:5 msid:x y\r\n"
	want := "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=msid:s a\r\n" +
		"m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=msid:s c\r\n" +
		"m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:10\r\na=sendrecv\r\na=msid:peercall-screen screen\r\na=ssrc:5 cname:q\r\na=ssrc:5 msid:peercall-screen screen\r\n"
	var got string
	evalJSON(t, browser, `window.peercall.setShareMsid(`+jsString(in)+`, '10')`, &got)
	if got != want {
		t.Errorf("setShareMsid:\n got %q\nwant %q", got, want)
	}
	evalJSON(t, browser, `window.peercall.setShareMsid(`+jsString(in)+`, null)`, &got)
	if got != in {
		t.Errorf("setShareMsid without a share changed the SDP: %q", got)
	}

	clickOn(t, browser, "#share")
	pollPage(t, "page sharing after Share", 10*time.Second, func() (sharePage, error) { return readShare(browser) },
		func(p sharePage) bool { return p.Sharing && p.BarShown },
		func(p sharePage) string { return fmt.Sprintf("page shows %+v", p) })
	res, _ := startSharePeer(t, bin, addr, "share-out", "--duration", "10s")

	on := waitShare(t, browser, "page sending its share", 20*time.Second, func(p sharePage, r sharePeer) bool {
		return r.State == "connected" && r.SharingTo && p.ShareOut != nil && p.ShareOut.FramesEncoded > 10
	})
	t.Logf("page polite %v; share out %+v", on.Peers[0].Polite, *on.ShareOut)
	time.Sleep(2 * time.Second)
	clickOn(t, browser, "#share-stop")
	waitShare(t, browser, "page no longer sending its share", 10*time.Second, func(p sharePage, r sharePeer) bool {
		return !p.Sharing && !p.BarShown && !r.SharingTo && r.State == "connected"
	})
	clickOn(t, browser, "#share")
	waitShare(t, browser, "page sending its share again", 10*time.Second, func(p sharePage, r sharePeer) bool {
		return p.Sharing && r.SharingTo
	})
	screenshot(t, browser, "browser-share-out.png")

	rep := waitPeer(t, res).rep
	si := rep.ShareIn
	t.Logf("headless: share in %d shares, %d frames %dx%d at %.1f fps, %d freezes; camera in %d frames %dx%d",
		si.Shares, si.FramesDecoded, si.Width, si.Height, si.FPS, si.Freezes, rep.VideoIn.FramesDecoded, rep.VideoIn.Width, rep.VideoIn.Height)
	if si.Shares < 1 || si.FramesDecoded == 0 {
		t.Errorf("headless peer got no share from the page: %+v", si)
	}
	// The camera is the page's 640x480 fake camera, 4:3 where the share
	// is 16:9: Chromium scales it down on a busy machine (480x360 seen on
	// a starved CI run), but never to the share's shape.
	if vi := rep.VideoIn; vi.FramesDecoded == 0 || vi.Width*3 != vi.Height*4 || vi.Width < 320 || vi.Width > 640 {
		t.Errorf("headless peer's camera from the page: %d frames %dx%d, want the 4:3 camera (640x480, or scaled to 320x240 at the least) apart from the share",
			vi.FramesDecoded, vi.Width, vi.Height)
	}
}
