package app

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/peercall/peercall/app/netem"
)

// runChromiumCall runs condition c for dur with two Chromium instances,
// one per namespace, each on the bundled web page of a signaling server in
// namespace A: the same link and the same call as our peers, with fake
// audio and, as the camera, a 640x480@30 canvas stamped with capture-time
// markers (chromium_latency.js; it shows the frames of o.NetworkVideo
// when set, else a moving picture). DevTools runs over chromedp's pipe,
// which ip netns exec passes on, so this namespace needs no route to the
// browser's.
func runChromiumCall(ctx context.Context, o BenchOptions, c NetworkCondition, dur time.Duration) (cc chromiumCall, err error) {
	if _, err := os.Stat(chromiumPath); err != nil {
		return cc, fmt.Errorf("%w: %s: %w", ErrUnsupportedMedia, chromiumPath, err)
	}
	ctx, cancel := context.WithTimeout(ctx, dur+o.Timeout)
	defer cancel()
	room, err := startEmulatedRoom(ctx, c)
	if err != nil {
		return cc, err
	}
	defer func() {
		var cerr error
		cc.ab, cc.ba, cerr = room.close()
		err = errors.Join(err, cerr)
	}()
	pair, origin := room.pair, "http://"+room.addr
	page := fmt.Sprintf("%s/r/chromium-%s?name=", origin, c.Name)

	var tabs [2]context.Context
	defer func() {
		// Close the browsers and wait for them to exit before the
		// namespaces go.
		for _, tab := range tabs {
			if tab != nil {
				_ = chromedp.Cancel(tab)
			}
		}
	}()
	for s := range 2 {
		side := netem.Side(s)
		tab, err := startChromium(ctx, pair, side, origin, o.NetworkVideo)
		if err != nil {
			return cc, err
		}
		tabs[s] = tab
	}
	// The host (A) joins first, the link's schedule counts from B's join,
	// as with our peers.
	if err := joinChromium(tabs[netem.A], page+"A"); err != nil {
		return cc, err
	}
	cc.origin = time.Now()
	pair.SetOrigin(cc.origin)
	stopSeries := sampleLink(pair, &cc.series, &cc.offered)
	defer stopSeries()
	if err := joinChromium(tabs[netem.B], page+"B"); err != nil {
		return cc, err
	}
	// Sample both pages' received video every 100 ms for dur.
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	end := time.Now().Add(dur)
	for now := time.Now(); now.Before(end); now = time.Now() {
		for s := range 2 {
			ps, err := samplePage(tabs[s])
			if err != nil {
				return cc, fmt.Errorf("chromium %s: %w", netem.Side(s), err)
			}
			cc.frames[s] = append(cc.frames[s], frameSample{at: now, n: ps.Frames, w: ps.W, h: ps.H})
			cc.latency[s] = append(cc.latency[s], ps.Latency...)
			cc.marked[s], cc.unmarked[s] = ps.Marked, ps.Unmarked
			cc.joined[s], cc.first[s] = ps.Joined, ps.First
		}
		select {
		case <-ctx.Done():
			return cc, ctx.Err()
		case <-t.C:
		}
	}
	return cc, nil
}

// startChromium starts a headless Chromium in side's namespace (ip netns
// exec) and returns a tab. DevTools runs over chromedp's pipe (inherited
// file descriptors), so the browser needs no port this namespace can
// reach.
func startChromium(ctx context.Context, pair *netem.Pair, side netem.Side, origin, clip string) (context.Context, error) {
	ip, err := exec.LookPath("ip")
	if err != nil {
		return nil, err
	}
	ns := pair.NS[side]
	opts := append(ChromiumOptions(),
		chromedp.ExecPath(chromiumPath),
		// The page is served from the emulated link's address, not
		// localhost: without this it is no secure context and has no
		// camera.
		chromedp.Flag("unsafely-treat-insecure-origin-as-secure", origin),
		chromedp.ModifyCmdFunc(func(cmd *exec.Cmd) {
			// The same command, run inside the namespace; the pipe's
			// descriptors pass through ip's exec.
			cmd.Args = append([]string{"ip", "netns", "exec", ns, cmd.Path}, cmd.Args[1:]...)
			cmd.Path = ip
			cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		}),
	)
	config := "window.peercallLatencyConfig = {camera: false};\n"
	if clip != "" {
		// Chromium's fake camera plays the clip (looped); the latency
		// script draws its frames into the marked canvas.
		opts = append(opts, chromedp.Flag("use-file-for-fake-video-capture", clip))
		config = "window.peercallLatencyConfig = {camera: true};\n"
	}
	actx, _ := chromedp.NewExecAllocator(ctx, opts...) //nolint:govet // ends with ctx
	tab, cancelTab := chromedp.NewContext(actx)
	// The first action starts the browser, which lives as long as that
	// action's context: tab itself, cancelled if the start hangs.
	timer := time.AfterFunc(30*time.Second, cancelTab)
	defer timer.Stop()
	if err := chromedp.Do(tab, chromedp.Navigate("about:blank"), injectScript(config+chromiumLatencyJS)); err != nil {
		cancelTab()
		return nil, fmt.Errorf("chromium %s: %w", side, err)
	}
	return tab, nil
}

// chromiumLatencyJS replaces the page's camera with a marked canvas and
// measures the remote videos' capture-to-presentation latency (bench
// only; the shipped page is unchanged).
//
//go:embed chromium_latency.js
var chromiumLatencyJS string

// injectScript runs js in every document the tab opens from now on,
// before the document's own scripts.
func injectScript(js string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: js})
		return chromedp.Void{}, err
	}
}

// joinChromium opens the room page and presses Join.
func joinChromium(tab context.Context, url string) error {
	ctx, cancel := context.WithTimeout(tab, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitVisible("#join"), chromedp.Click("#join"),
		chromedp.WaitVisible("#hangup")); err != nil {
		return fmt.Errorf("%w: chromium join %s: %w", ErrConnect, url, err)
	}
	return nil
}

// framesJS counts the frames presented by the page's remote videos (the
// grid's tiles, not the self view) so far; -1 before one exists.
const framesJS = `(() => {
  let n = 0, seen = false;
  for (const v of document.querySelectorAll('#grid video')) {
    const s = v.srcObject;
    if (!s || !s.getVideoTracks || s.getVideoTracks().length === 0 || !v.getVideoPlaybackQuality) continue;
    seen = true;
    n += v.getVideoPlaybackQuality().totalVideoFrames;
  }
  return seen ? n : -1;
})()`

// framesDecoded is how many frames the page has shown of its peer's video
// so far (-1 before a remote video exists).
func framesDecoded(tab context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(tab, 5*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[int](framesJS))
}

// pageJS samples a page: framesJS, and from the latency script the
// latencies measured since the last call, how many presented frames had
// a readable marker and how many not, and the times of the page's join
// and of its first remote frame.
const pageJS = `(() => {
  const l = window.peercallLatency ? window.peercallLatency.take() : {lat: [], ok: 0, fail: 0, joined: 0, first: 0};
  let w = 0, h = 0;
  for (const v of document.querySelectorAll('#grid video')) {
    if (v.srcObject && v.videoWidth > 0) { w = v.videoWidth; h = v.videoHeight; }
  }
  return {frames: ` + framesJS + `, w, h, latency: l.lat, marked: l.ok, unmarked: l.fail, joined: l.joined, first: l.first};
})()`

// pageSample is one pageJS result.
type pageSample struct {
	Frames   int       `json:"frames"`
	W        int       `json:"w"` // size of the remote video shown (0 none yet)
	H        int       `json:"h"`
	Latency  []float64 `json:"latency"` // ms, capture → presented
	Marked   int       `json:"marked"`
	Unmarked int       `json:"unmarked"`
	// Joined and First are the wall-clock times (unix ms, 0: not yet)
	// of the page's join and of the first remote frame it presented.
	Joined float64 `json:"joined"`
	First  float64 `json:"first"`
}

// samplePage reads pageJS from a tab.
func samplePage(tab context.Context) (pageSample, error) {
	ctx, cancel := context.WithTimeout(tab, 5*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[pageSample](pageJS))
}
