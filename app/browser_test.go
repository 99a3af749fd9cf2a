package app_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/peercall/peercall/app"
	"github.com/peercall/peercall/call"
	"github.com/peercall/peercall/signalserver"
)

// The browser tests drive Debian's chromium (never a downloaded browser)
// through the page the signaling server serves (docs/browser.md). ICE stays
// on 127.0.0.0/8: see newBrowser for how.

const chromiumPath = "/usr/bin/chromium"

func skipUnlessBrowser(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("browser end-to-end test skipped in -short mode")
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		app.SkipOrFail(t, "browser end-to-end test needs %s (apt-get install chromium): %v", chromiumPath, err)
	}
}

// browserHeadlessBin compiles peercall-headless with cgo (VP8 and Opus).
func browserHeadlessBin(t *testing.T) string {
	t.Helper()
	return app.HeadlessBinary(t, true)
}

// startWebSignal runs the signaling server (and its page) in-process on
// 127.0.0.1 and returns its host:port.
func startWebSignal(t *testing.T, opts ...signalserver.Option) string {
	t.Helper()
	url, _ := startMetricsSignal(t, opts...)
	return strings.TrimSuffix(strings.TrimPrefix(url, "ws://"), "/ws")
}

// newBrowser starts headless chromium with a fresh profile, fake camera and
// microphone (640x480 at 30 fps), and WebRTC kept off every address but
// loopback:
//
//   - The profile's webrtc.ip_handling_policy is
//     default_public_and_private_interfaces: Chrome binds its ICE sockets to
//     the wildcard address instead of one per interface, so a packet to
//     127.0.0.1 leaves from 127.0.0.1 and every reply goes to loopback. (With
//     per-interface sockets Chrome also probes 127.0.0.1 from the LAN
//     address, and a peer answering a peer-reflexive check would send to the
//     LAN address.) --force-webrtc-ip-handling-policy is not honoured by this
//     build, hence the preference file.
//   - The page runs with ?loopback=1: it signals loopback candidates only and
//     ignores every other remote one, so no pair targets another address.
func newBrowser(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	loop, err := app.ChromiumLoopbackProfile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	opts := append(append(app.ChromiumOptions(), loop...), chromedp.ExecPath(chromiumPath))
	opts = append(opts, extra...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// Start the browser now so a broken install fails here. The first run
	// must use ctx itself: the browser lives as long as that run's context.
	timer := time.AfterFunc(30*time.Second, cancel)
	defer timer.Stop()
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// newTab opens another window (a tab in the background would be throttled).
func newTab(t *testing.T, browser context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewWindow(true))
	t.Cleanup(cancel)
	timer := time.AfterFunc(30*time.Second, cancel)
	defer timer.Stop()
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("open window: %v", err)
	}
	return ctx
}

// pageView mirrors window.peercall.view.
type pageView struct {
	State, Reason, PeerID, RemoteID, Error string
	RemoteName                             string
	RemoteMedia                            *struct{ Audio, Video bool }
	Chat                                   []struct {
		Mine       bool
		From, Text string
	}
	Polite       *bool
	Negotiations int
	SAS          *struct {
		Digits                              string
		Words                               []string
		LocalFingerprint, RemoteFingerprint string
	}
	Negotiated *struct {
		OpusFEC    struct{ Local, Remote bool }
		VideoCodec struct{ Local, Remote string }
	}
	Stats *struct {
		VideoIn *struct {
			FramesDecoded, Width, Height, KeyFramesDecoded, FramesDropped int
			PacketsLost, PLICount, NACKCount, FreezeCount                 int
			FramesPerSecond                                               float64
			Codec                                                         string
		}
		VideoOut *struct {
			FramesEncoded, Width, Height   int
			FramesPerSecond                float64
			Codec, QualityLimitationReason string
		}
		AudioIn *struct {
			PacketsReceived int
			Codec           string
		}
		Pair *struct{ Local, LocalType, Remote, RemoteType string }
		// Every candidate Chrome knows, from getStats.
		LocalCandidates, RemoteCandidates []struct {
			Address, Type string
		}
	}
	SentCandidates, RemoteCandidates []string
}

func (v pageView) framesDecoded() int {
	if v.Stats == nil || v.Stats.VideoIn == nil {
		return 0
	}
	return v.Stats.VideoIn.FramesDecoded
}

func readView(ctx context.Context) (pageView, error) {
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify(window.peercall ? window.peercall.view : null)`))
	if err != nil {
		return pageView{}, err
	}
	var v pageView
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		return pageView{}, fmt.Errorf("page view %q: %w", raw, err)
	}
	return v, nil
}

// pollPage reads a page's state with read every 250 ms until ok holds;
// past timeout it fails the test with what and describe(the last state).
func pollPage[T any](t *testing.T, what string, timeout time.Duration, read func() (T, error), ok func(T) bool, describe func(T) string) T {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last T
	for time.Now().Before(deadline) {
		v, err := read()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if ok(v) {
			return v
		}
		last = v
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("%s: not within %s; %s", what, timeout, describe(last))
	return last
}

// waitView polls the page until ok holds.
func waitView(t *testing.T, ctx context.Context, what string, timeout time.Duration, ok func(pageView) bool) pageView {
	t.Helper()
	return pollPage(t, what, timeout, func() (pageView, error) { return readView(ctx) }, ok, func(v pageView) string {
		return fmt.Sprintf("page state %q (%s), error %q, frames decoded %d", v.State, v.Reason, v.Error, v.framesDecoded())
	})
}

// joinPage opens the room page and presses Join.
func joinPage(t *testing.T, tab context.Context, url string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 20*time.Second)
	defer cancel()
	err := chromedp.Do(ctx,
		chromedp.Navigate(url),
		chromedp.WaitVisible("#join"),
		chromedp.Click("#join"),
		chromedp.WaitVisible("#hangup"),
	)
	if err != nil {
		t.Fatalf("join %s: %v", url, err)
	}
}

func isLoopback(addr string) bool {
	a, err := netip.ParseAddr(strings.Trim(addr, "[]"))
	return err == nil && a.Unmap().IsLoopback()
}

// candidateAddr is the address field of an SDP candidate attribute.
func candidateAddr(c string) string {
	f := strings.Fields(strings.TrimPrefix(c, "candidate:"))
	if len(f) < 5 {
		return ""
	}
	return f[4]
}

// checkLoopbackOnly fails unless every candidate the page sent or accepted,
// and every remote candidate Chrome holds (peer-reflexive ones included),
// is on loopback: the far end of every pair Chrome could check.
func checkLoopbackOnly(t *testing.T, name string, v pageView) {
	t.Helper()
	for _, c := range v.SentCandidates {
		if !isLoopback(candidateAddr(c)) {
			t.Errorf("%s sent a non-loopback candidate (%s)", name, candidateAddr(c))
		}
	}
	for _, c := range v.RemoteCandidates {
		if !isLoopback(candidateAddr(c)) {
			t.Errorf("%s accepted a non-loopback candidate (%s)", name, candidateAddr(c))
		}
	}
	if v.Stats == nil || v.Stats.Pair == nil {
		t.Errorf("%s: no selected candidate pair", name)
		return
	}
	for _, c := range v.Stats.RemoteCandidates {
		if !isLoopback(c.Address) {
			t.Errorf("%s: remote candidate %s (%s) is not loopback", name, c.Address, c.Type)
		}
	}
	if !isLoopback(v.Stats.Pair.Remote) {
		t.Errorf("%s: selected pair targets %s", name, v.Stats.Pair.Remote)
	}
}

// checkSASAgainstGo recomputes the page's code with call.SAS from the
// fingerprints the page used: the JS algorithm and word list must agree.
func checkSASAgainstGo(t *testing.T, name string, v pageView) {
	t.Helper()
	if v.SAS == nil {
		t.Fatalf("%s shows no security code", name)
	}
	digits, words := call.SAS(v.SAS.LocalFingerprint, v.SAS.RemoteFingerprint)
	if digits != v.SAS.Digits || !slices.Equal(words, v.SAS.Words) {
		t.Errorf("%s shows %s %v, call.SAS gives %s %v", name, v.SAS.Digits, v.SAS.Words, digits, words)
	}
}

// checkNegotiated: both descriptions ask for Opus in-band FEC, and the
// page's own description lists VP8 first.
func checkNegotiated(t *testing.T, name string, v pageView) {
	t.Helper()
	n := v.Negotiated
	if n == nil {
		t.Fatalf("%s: nothing negotiated", name)
	}
	if !n.OpusFEC.Local || !n.OpusFEC.Remote {
		t.Errorf("%s: Opus useinbandfec=1 local %v, remote %v", name, n.OpusFEC.Local, n.OpusFEC.Remote)
	}
	if n.VideoCodec.Local != "VP8" {
		t.Errorf("%s: first video codec %q, want VP8", name, n.VideoCodec.Local)
	}
}

// TestBrowserCallsHeadless: the page in chromium calls peercall-headless
// through the in-process server; media flows both ways and both show the
// same security code.
func TestBrowserCallsHeadless(t *testing.T) {
	skipUnlessBrowser(t)
	bin := browserHeadlessBin(t)
	addr := startWebSignal(t)
	browser := newBrowser(t)

	// The JS SAS against Go on fixed fingerprints (the documented vector
	// and both argument orders) before any call.
	for _, fp := range [][2]string{
		{"sha-256 " + strings.Repeat("AA:", 31) + "AA", "sha-256 " + strings.Repeat("BB:", 31) + "BB"},
		{"sha-256 " + strings.Repeat("bb:", 31) + "bb", "SHA-256  " + strings.Repeat("aa:", 31) + "aa"},
		{"sha-256 " + strings.Repeat("01:", 31) + "FF", "sha-1 " + strings.Repeat("02:", 19) + "03"},
		{"garbage", "sha-256 " + strings.Repeat("0C:", 31) + "0D"},
	} {
		ctx, cancel := context.WithTimeout(browser, 10*time.Second)
		if err := chromedp.Do(ctx, chromedp.Navigate("http://"+addr+"/")); err != nil {
			cancel()
			t.Fatal(err)
		}
		arg, _ := json.Marshal(fp)
		raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](
			`window.peercall.sas(...`+string(arg)+`).then(JSON.stringify)`, chromedp.EvalAwaitPromise))
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Digits string
			Words  []string
		}
		if err := json.Unmarshal([]byte(raw), &got); err != nil {
			t.Fatal(err)
		}
		digits, words := call.SAS(fp[0], fp[1])
		if got.Digits != digits || !slices.Equal(got.Words, words) {
			t.Errorf("SAS(%q, %q): page %s %v, Go %s %v", fp[0], fp[1], got.Digits, got.Words, digits, words)
		}
	}

	tests := []struct {
		name          string
		headlessFirst bool
		extra         []string // headless flags
		minFPS        float64
	}{
		{"browser-first", false, nil, 25},
		{"headless-first", true, nil, 25},
		// 5 % of the browser's RTP dropped at the headless receiver: NACK
		// retransmissions and PLI key frames from Chrome must repair it.
		{"lossy", false, []string{"--simulate-loss", "5"}, 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			callHeadless(t, browser, bin, addr, "bh-"+tt.name, tt.headlessFirst, tt.minFPS, tt.extra...)
		})
	}
}

// callHeadless runs one call between the page and peercall-headless.
func callHeadless(t *testing.T, browser context.Context, bin, addr, room string, headlessFirst bool, minFPS float64, extra ...string) {
	report := filepath.Join(t.TempDir(), "report.json")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := append([]string{
		"--server", "ws://" + addr + "/ws", "--room", room, "--name", "headless",
		"--loopback-only", "--ice-policy", "all", "--duration", "15s",
		"--video", "synthetic", "--size", "640x480", "--fps", "30", "--audio", "synthetic",
		"--report", report,
	}, extra...)
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	exited := make(chan error, 1)
	startHeadless := func() {
		t.Helper()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { exited <- cmd.Wait() }()
		t.Cleanup(func() {
			cancel()
			<-exited
		})
	}
	if headlessFirst {
		startHeadless()
		time.Sleep(time.Second) // let it join and wait
	}
	joinPage(t, browser, "http://"+addr+"/r/"+room+"?loopback=1&name=Chromium")
	if !headlessFirst {
		waitView(t, browser, "page waiting in the room", 10*time.Second, func(v pageView) bool { return v.State == "waiting" })
		startHeadless()
	}

	first := waitView(t, browser, "page decoding the headless peer's video", 30*time.Second, func(v pageView) bool {
		return v.State == "connected" && v.SAS != nil && v.framesDecoded() > 0
	})
	time.Sleep(3 * time.Second)
	later, err := readView(browser)
	if err != nil {
		t.Fatal(err)
	}
	if later.framesDecoded() <= first.framesDecoded() {
		t.Errorf("page frames decoded did not rise: %d then %d", first.framesDecoded(), later.framesDecoded())
	}
	checkLoopbackOnly(t, "page", later)
	checkSASAgainstGo(t, "page", later)
	checkNegotiated(t, "page", later)
	// The code the user reads is the one in the DOM.
	shown, err := chromedp.Run(browser, chromedp.Text(`#sas-list li[data-peer="`+later.RemoteID+`"] .sas-digits`))
	if err != nil {
		t.Fatal(err)
	}
	if want := later.SAS.Digits[:3] + " " + later.SAS.Digits[3:]; shown != want {
		t.Errorf("page shows %q, want %q", shown, want)
	}
	if vi := later.Stats.VideoIn; vi != nil {
		t.Logf("page video in: %s %dx%d %.0f fps, %d frames decoded (%d key), %d dropped, %d freezes, %d lost, %d NACKs, %d PLIs sent",
			vi.Codec, vi.Width, vi.Height, vi.FramesPerSecond, vi.FramesDecoded, vi.KeyFramesDecoded, vi.FramesDropped,
			vi.FreezeCount, vi.PacketsLost, vi.NACKCount, vi.PLICount)
	}
	if vo := later.Stats.VideoOut; vo != nil {
		t.Logf("page video out: %s %dx%d %.0f fps, %d frames encoded, limited by %q", vo.Codec, vo.Width, vo.Height, vo.FramesPerSecond, vo.FramesEncoded, vo.QualityLimitationReason)
		if !strings.EqualFold(vo.Codec, "video/VP8") {
			t.Errorf("page sends %s, want VP8", vo.Codec)
		}
	}
	if ai := later.Stats.AudioIn; ai == nil || ai.PacketsReceived == 0 {
		t.Errorf("page received no audio")
	}

	select {
	case err := <-exited:
		exited <- err
	case <-ctx.Done():
		t.Fatal("headless peer did not finish")
	}
	var rep app.Report
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatalf("report: %v; stderr: %s", err, stderr.String())
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.OK {
		t.Fatalf("headless report not ok: %s; stderr: %s", rep.Error, stderr.String())
	}
	role := "impolite (offers)"
	if *later.Polite {
		role = "polite (answers)"
	}
	t.Logf("headless: video in %.1f fps (%d frames, %dx%d, %d freezes, longest %.0f ms, %d lost, %d NACKs, %d PLIs), audio in %d packets (%d FEC-recovered), sas %s; page: sas %s %v, %s",
		rep.VideoIn.FPS, rep.VideoIn.FramesDecoded, rep.VideoIn.Width, rep.VideoIn.Height, rep.VideoIn.Freezes,
		rep.VideoIn.LongestFreezeMS, rep.VideoIn.PacketsLost, rep.VideoIn.NACKsSent, rep.VideoIn.PLIsSent,
		rep.AudioIn.PacketsReceived, rep.AudioIn.FECRecovered, rep.SAS, later.SAS.Digits, later.SAS.Words, role)
	if rep.VideoIn.FPS < minFPS {
		t.Errorf("headless decoded %.1f fps from the browser, want >= %.0f", rep.VideoIn.FPS, minFPS)
	}
	if rep.SAS == "" || rep.SAS != later.SAS.Digits {
		t.Errorf("codes differ: headless %q, page %q", rep.SAS, later.SAS.Digits)
	}
	if rep.AudioIn.PacketsReceived == 0 {
		t.Errorf("headless received no audio from the page")
	}
	// The headless peer said bye: the page ends the call.
	waitView(t, browser, "page ending the call", 10*time.Second, func(v pageView) bool { return v.State == "ended" })
}

// callTwoPages serves the page with the built-in TURN relaying on ports
// minPort..minPort+999 of 127.0.0.1, and has Ann and Bob call each other
// relay-only in room; it returns once both decode the other's video.
func callTwoPages(t *testing.T, room string, minPort uint16) (a, b context.Context, va, vb pageView) {
	t.Helper()
	addr := startWebSignal(t, signalserver.WithTURN(signalserver.TURNConfig{
		Listen: "127.0.0.1:0", AllowPrivate: true, MinPort: minPort, MaxPort: minPort + 999,
	}))
	browser := newBrowser(t)
	a, b = browser, newTab(t, browser)
	joinPage(t, a, "http://"+addr+"/r/"+room+"?loopback=1&relay=1&name=Ann")
	joinPage(t, b, "http://"+addr+"/r/"+room+"?loopback=1&relay=1&name=Bob")
	connected := func(v pageView) bool { return v.State == "connected" && v.SAS != nil && v.framesDecoded() > 0 }
	va = waitView(t, a, "Ann decoding Bob's video", 40*time.Second, connected)
	vb = waitView(t, b, "Bob decoding Ann's video", 20*time.Second, connected)
	return a, b, va, vb
}

// TestBrowserToBrowser: two pages call each other through the server, relay
// only, over the server's built-in TURN on 127.0.0.1; camera off stops the
// video, hang up ends the peer's call.
func TestBrowserToBrowser(t *testing.T) {
	skipUnlessBrowser(t)
	a, b, va, vb := callTwoPages(t, "browser-browser", 40000)
	time.Sleep(2 * time.Second)
	va2, err := readView(a)
	if err != nil {
		t.Fatal(err)
	}
	vb2, err := readView(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct {
		name         string
		first, later pageView
	}{{"Ann", va, va2}, {"Bob", vb, vb2}} {
		if p.later.framesDecoded() <= p.first.framesDecoded() {
			t.Errorf("%s: frames decoded did not rise (%d then %d)", p.name, p.first.framesDecoded(), p.later.framesDecoded())
		}
		checkLoopbackOnly(t, p.name, p.later)
		checkSASAgainstGo(t, p.name, p.later)
		checkNegotiated(t, p.name, p.later)
		if pair := p.later.Stats.Pair; pair.LocalType != "relay" {
			t.Errorf("%s: relay only, but the selected pair is %s -> %s", p.name, pair.LocalType, pair.RemoteType)
		}
		for _, c := range p.later.SentCandidates {
			if !strings.Contains(c, " typ relay") {
				t.Errorf("%s sent a non-relay candidate in relay-only mode", p.name)
			}
		}
		vi := p.later.Stats.VideoIn
		t.Logf("%s: video in %s %dx%d %.0f fps, %d frames; code %s %v; polite %v",
			p.name, vi.Codec, vi.Width, vi.Height, vi.FramesPerSecond, vi.FramesDecoded, p.later.SAS.Digits, p.later.SAS.Words, *p.later.Polite)
	}
	if va2.SAS.Digits != vb2.SAS.Digits || !slices.Equal(va2.SAS.Words, vb2.SAS.Words) {
		t.Errorf("codes differ: Ann %s %v, Bob %s %v", va2.SAS.Digits, va2.SAS.Words, vb2.SAS.Digits, vb2.SAS.Words)
	}

	// Camera off: Bob stops receiving frames; camera on: they come back.
	click := func(tab context.Context, sel string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(tab, 5*time.Second)
		defer cancel()
		if err := chromedp.Do(ctx, chromedp.Click(sel)); err != nil {
			t.Fatalf("click %s: %v", sel, err)
		}
	}
	click(a, "#camera")
	waitView(t, b, "Bob told Ann's camera is off", 5*time.Second, func(v pageView) bool {
		return v.RemoteName == "Ann" && v.RemoteMedia != nil && !v.RemoteMedia.Video && v.RemoteMedia.Audio
	})
	if ov := readOverlay(t, b); ov.OffHidden || ov.OffText != "Ann's camera is off" || !ov.VideoHidden || !ov.MutedHidden {
		t.Errorf("Bob's page with Ann's camera off: %+v", ov)
	}
	time.Sleep(1500 * time.Millisecond)
	off1, _ := readView(b)
	time.Sleep(2 * time.Second)
	off2, _ := readView(b)
	if n := off2.framesDecoded() - off1.framesDecoded(); n > 2 {
		t.Errorf("camera off: Bob still decoded %d frames in 2 s", n)
	}
	click(a, "#camera")
	waitView(t, b, "video back after camera on", 10*time.Second, func(v pageView) bool {
		return v.framesDecoded() > off2.framesDecoded()+10 && v.RemoteMedia != nil && v.RemoteMedia.Video
	})
	if ov := readOverlay(t, b); !ov.OffHidden || ov.VideoHidden {
		t.Errorf("Bob's page with Ann's camera back: %+v", ov)
	}
	click(a, "#mute")
	waitView(t, b, "Bob told Ann muted", 5*time.Second, func(v pageView) bool { return v.RemoteMedia != nil && !v.RemoteMedia.Audio })
	if ov := readOverlay(t, b); ov.MutedHidden || ov.MutedText != "Ann is muted" {
		t.Errorf("Bob's page with Ann muted: %+v", ov)
	}

	// Hang up: Bob's call ends with the reason.
	click(a, "#hangup")
	end := waitView(t, b, "Bob seeing the hang-up", 10*time.Second, func(v pageView) bool { return v.State == "ended" })
	if !strings.Contains(end.Reason, "hung up") {
		t.Errorf("Bob's end reason %q, want a hang-up", end.Reason)
	}
}

// overlay is what the page shows over the (first) remote peer's video.
type overlay struct {
	OffHidden, VideoHidden, MutedHidden bool
	OffText, MutedText                  string
}

func readOverlay(t *testing.T, tab context.Context) overlay {
	t.Helper()
	var ov overlay
	evalJSON(t, tab, `(() => {
		const tile = document.querySelector('#grid .tile');
		const off = tile.querySelector('.remote-off'), muted = tile.querySelector('.muted');
		return {OffHidden: off.hidden, OffText: tile.querySelector('.remote-off-text').textContent,
			VideoHidden: getComputedStyle(tile.querySelector('video')).visibility === 'hidden',
			MutedHidden: muted.hidden, MutedText: muted.textContent};
	})()`, &ov)
	return ov
}

// evalJSON evaluates a promise-or-value expression in the page and decodes
// its JSON.
func evalJSON(t *testing.T, tab context.Context, expr string, out any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 10*time.Second)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](`Promise.resolve(`+expr+`).then(JSON.stringify)`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	if err := json.Unmarshal([]byte(raw), out); err != nil {
		t.Fatalf("%s = %s: %v", expr, raw, err)
	}
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestBrowserPageHelpers runs the page's candidate and SDP rules in
// chromium, with and without ?loopback=1.
func TestBrowserPageHelpers(t *testing.T) {
	skipUnlessBrowser(t)
	addr := startWebSignal(t)
	tab := newBrowser(t)
	const (
		host     = "candidate:1 1 udp 2122063615 192.0.2.2 5000 typ host generation 0"
		host127  = "candidate:2 1 udp 2122194687 127.0.0.1 5001 typ host generation 0"
		relay    = "candidate:3 1 udp 41885695 198.51.100.7 6000 typ relay raddr 192.0.2.2 rport 5000 generation 0"
		relayLo  = "candidate:4 1 udp 41885695 127.0.0.1 40001 typ relay raddr 127.0.0.1 rport 5001 generation 0"
		srflx6   = "candidate:5 1 udp 1686052607 2001:db8::7 7000 typ srflx raddr fd00::2 rport 5002 generation 0"
		relayOut = "candidate:3 1 udp 41885695 198.51.100.7 6000 typ relay raddr 0.0.0.0 rport 0 generation 0"
	)
	tests := []struct {
		loopback, relayOnly bool
		in                  string
		want                *string // nil: dropped
	}{
		{false, false, host, ptr(host)},
		{false, true, host, nil},
		{false, true, relay, ptr(relayOut)},
		{false, false, srflx6, ptr("candidate:5 1 udp 1686052607 2001:db8::7 7000 typ srflx raddr :: rport 0 generation 0")},
		{false, true, srflx6, nil},
		{false, false, "garbage", nil},
		{true, false, host, nil},
		{true, false, host127, ptr(host127)},
		{true, true, host127, nil},
		{true, true, relay, nil},
		{true, true, relayLo, ptr("candidate:4 1 udp 41885695 127.0.0.1 40001 typ relay raddr 0.0.0.0 rport 0 generation 0")},
	}
	for _, loopback := range []bool{false, true} {
		url := "http://" + addr + "/"
		if loopback {
			url += "?loopback=1"
		}
		ctx, cancel := context.WithTimeout(tab, 10*time.Second)
		if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
			cancel()
			t.Fatal(err)
		}
		cancel()
		for _, tt := range tests {
			if tt.loopback != loopback {
				continue
			}
			var got *string
			evalJSON(t, tab, fmt.Sprintf("window.peercall.scrubCandidate(%s, %v)", jsString(tt.in), tt.relayOnly), &got)
			switch {
			case tt.want == nil && got != nil:
				t.Errorf("loopback=%v relay=%v %q: kept as %q, want dropped", loopback, tt.relayOnly, tt.in, *got)
			case tt.want != nil && (got == nil || *got != *tt.want):
				t.Errorf("loopback=%v relay=%v %q: got %v, want %q", loopback, tt.relayOnly, tt.in, got, *tt.want)
			}
		}
	}

	// In loopback mode an SDP loses its other candidates and hides its
	// connection address.
	sdp := strings.Join([]string{
		"v=0", "o=- 1 2 IN IP4 127.0.0.1", "s=-", "t=0 0",
		"m=audio 5000 UDP/TLS/RTP/SAVPF 111", "c=IN IP4 192.0.2.2", "a=rtcp:9 IN IP4 0.0.0.0",
		"a=" + host, "a=" + host127, "a=rtpmap:111 opus/48000/2", "a=fmtp:111 minptime=10", "",
	}, "\r\n")
	var filtered string
	evalJSON(t, tab, fmt.Sprintf("window.peercall.filterSdpCandidates(%s, (c) => window.peercall.scrubCandidate(c, false))", jsString(sdp)), &filtered)
	if strings.Contains(filtered, "192.0.2.2") || !strings.Contains(filtered, "a="+host127) ||
		!strings.Contains(filtered, "c=IN IP4 0.0.0.0") || !strings.Contains(filtered, "a=rtcp:9\r\n") {
		t.Errorf("filtered SDP:\n%s", filtered)
	}

	// The data channel decoder agrees with call/datamsg.go.
	msgTests := []struct{ in, want string }{
		{`{"from":"a","ts":1,"text":"hi"}`, `{"kind":"chat","text":"hi"}`},
		{`{"type":"chat","text":"hi"}`, `{"kind":"chat","text":"hi"}`},
		{`{"type":"media","audio":true,"video":false}`, `{"kind":"media","audio":true,"video":false}`},
		{`{"type":"media","audio":true}`, `null`},
		{`{"type":"media","audio":"yes","video":true}`, `null`},
		{`{"type":"reaction"}`, `{"kind":"unknown"}`},
		{`{"type":5,"text":"hi"}`, `null`},
		{`{"text":""}`, `null`},
		{`null`, `null`},
		{`[1]`, `null`},
		{`garbage`, `null`},
	}
	for _, tt := range msgTests {
		var got json.RawMessage
		evalJSON(t, tab, "window.peercall.decodeDataMessage("+jsString(tt.in)+")", &got)
		if string(got) != tt.want {
			t.Errorf("decodeDataMessage(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}

	fecTests := []struct{ name, in, want string }{
		{"fmtp without fec", "a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10\r\n", "a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n"},
		{"no fmtp", "a=rtpmap:111 opus/48000/2\r\na=rtpmap:0 PCMU/8000\r\n", "a=rtpmap:111 opus/48000/2\r\na=fmtp:111 useinbandfec=1\r\na=rtpmap:0 PCMU/8000\r\n"},
		{"already on", "a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n", "a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n"},
		{"other codec", "a=rtpmap:96 VP8/90000\r\na=fmtp:96 max-fr=30\r\n", "a=rtpmap:96 VP8/90000\r\na=fmtp:96 max-fr=30\r\n"},
		{"two opus", "a=rtpmap:111 opus/48000/2\r\na=rtpmap:63 OPUS/48000/2\r\na=fmtp:63 stereo=1\r\n", "a=rtpmap:111 opus/48000/2\r\na=fmtp:111 useinbandfec=1\r\na=rtpmap:63 OPUS/48000/2\r\na=fmtp:63 stereo=1;useinbandfec=1\r\n"},
	}
	for _, tt := range fecTests {
		var got string
		evalJSON(t, tab, "window.peercall.ensureOpusFEC("+jsString(tt.in)+")", &got)
		if got != tt.want {
			t.Errorf("%s: ensureOpusFEC gave %q, want %q", tt.name, got, tt.want)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// TestBrowserOverTLS: served over https the page signals over wss (derived
// from location.protocol) and the same-origin check lets it in.
func TestBrowserOverTLS(t *testing.T) {
	skipUnlessBrowser(t)
	cert, _, err := signalserver.SelfSignedCertificate([]string{"127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	addr := startWebSignal(t, signalserver.WithTLSConfig(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}))
	tab := newBrowser(t, chromedp.Flag("ignore-certificate-errors", true))
	joinPage(t, tab, "https://"+addr+"/r/tls-room?loopback=1&name=Tess")
	v := waitView(t, tab, "page joined over wss", 10*time.Second, func(v pageView) bool { return v.State == "waiting" })
	if v.PeerID == "" {
		t.Errorf("no peer id after joining over wss")
	}
}

// TestBrowserRelayWithoutTURN: relay only against a server that hands out
// no TURN server fails at once with a message instead of never connecting.
func TestBrowserRelayWithoutTURN(t *testing.T) {
	skipUnlessBrowser(t)
	addr := startWebSignal(t)
	tab := newBrowser(t)
	joinPage(t, tab, "http://"+addr+"/r/no-turn?loopback=1&relay=1&name=Rita")
	waitView(t, tab, "page waiting in the room", 10*time.Second, func(v pageView) bool { return v.State == "waiting" })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	peer, err := signalserver.Dial(ctx, "ws://"+addr+"/ws", signalserver.ClientOptions{Room: "no-turn", Name: "desk"})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	v := waitView(t, tab, "relay-only error", 10*time.Second, func(v pageView) bool { return v.Error != "" })
	if !strings.Contains(v.Error, "TURN") || v.State != "ended" {
		t.Errorf("state %q, error %q; want ended with a TURN message", v.State, v.Error)
	}
}

// TestBrowserResume: a page whose WebSocket drops reconnects, resumes its
// peer id and renegotiates (ICE restart) while the call goes on.
func TestBrowserResume(t *testing.T) {
	skipUnlessBrowser(t)
	a, b, va, vb := callTwoPages(t, "browser-resume", 41000)

	ctx, cancel := context.WithTimeout(a, 5*time.Second)
	_, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`window.peercall.dropSignaling()`))
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	// Both sides apply a new description (the ICE restart) and stay in the call.
	renegotiated := func(before pageView) func(pageView) bool {
		return func(v pageView) bool {
			return v.State == "connected" && v.Negotiations > before.Negotiations && v.framesDecoded() > before.framesDecoded()+30
		}
	}
	va2 := waitView(t, a, "Ann renegotiated after resuming", 20*time.Second, renegotiated(va))
	vb2 := waitView(t, b, "Bob renegotiated with the resumed peer", 20*time.Second, renegotiated(vb))
	if va2.PeerID != va.PeerID {
		t.Errorf("Ann's peer id changed from %s to %s: not resumed", va.PeerID, va2.PeerID)
	}
	if va2.SAS.Digits != vb2.SAS.Digits || va2.SAS.Digits != va.SAS.Digits {
		t.Errorf("codes after resume: Ann %s, Bob %s, before %s", va2.SAS.Digits, vb2.SAS.Digits, va.SAS.Digits)
	}
	t.Logf("after resume: Ann %d, Bob %d descriptions applied; Ann polite %v", va2.Negotiations, vb2.Negotiations, *va2.Polite)
}

// mapStore is an in-memory app.Store.
type mapStore map[string]string

func (m mapStore) String(k string) string { return m[k] }
func (m mapStore) SetString(k, v string)  { m[k] = v }

// waitSnapshot polls the controller until ok holds on its snapshot.
func waitSnapshot(t *testing.T, c *app.Controller, what string, timeout time.Duration, ok func(app.Notify) bool) app.Notify {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		n := c.Snapshot()
		if ok(n) {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s; phase %v", what, timeout, n.Phase)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestBrowserDesktopMediaState: the desktop engine and the page tell each
// other when the mic or camera goes off. The desktop's camera off stops its
// video (the page decodes nothing and shows the placeholder) and on again
// starts with a keyframe; the page's toggles reach the desktop snapshot.
func TestBrowserDesktopMediaState(t *testing.T) {
	skipUnlessBrowser(t)
	c, tab := desktopWithPage(t, "desk-web", nil)
	on := waitView(t, tab, "page decoding the desktop, told its state", 30*time.Second, func(v pageView) bool {
		return v.framesDecoded() > 0 && v.RemoteName == "Desk" && v.RemoteMedia != nil && v.RemoteMedia.Audio && v.RemoteMedia.Video
	})
	checkLoopbackOnly(t, "page", on)

	if err := c.SetCamera(false); err != nil {
		t.Fatal(err)
	}
	waitView(t, tab, "page told the desktop camera is off", 5*time.Second, func(v pageView) bool {
		return v.RemoteMedia != nil && !v.RemoteMedia.Video && v.RemoteMedia.Audio
	})
	if ov := readOverlay(t, tab); ov.OffHidden || ov.OffText != "Desk's camera is off" || !ov.VideoHidden {
		t.Errorf("page with the desktop camera off: %+v", ov)
	}
	time.Sleep(1500 * time.Millisecond) // stats poll once a second
	off1, _ := readView(tab)
	time.Sleep(2 * time.Second)
	off2, _ := readView(tab)
	if n := off2.framesDecoded() - off1.framesDecoded(); n > 0 {
		t.Errorf("camera off: the page decoded %d frames in 2 s", n)
	}
	keys := 0
	if off2.Stats != nil && off2.Stats.VideoIn != nil {
		keys = off2.Stats.VideoIn.KeyFramesDecoded
	}
	if err := c.SetCamera(true); err != nil {
		t.Fatal(err)
	}
	back := waitView(t, tab, "video back with a keyframe", 10*time.Second, func(v pageView) bool {
		return v.RemoteMedia != nil && v.RemoteMedia.Video && v.framesDecoded() > off2.framesDecoded()+5
	})
	if back.Stats.VideoIn.KeyFramesDecoded <= keys {
		t.Errorf("no keyframe decoded after the camera came back (%d before, %d after)", keys, back.Stats.VideoIn.KeyFramesDecoded)
	}
	if ov := readOverlay(t, tab); !ov.OffHidden || ov.VideoHidden {
		t.Errorf("page with the desktop camera back: %+v", ov)
	}
	c.SetMute(true)
	waitView(t, tab, "page told the desktop muted", 5*time.Second, func(v pageView) bool { return v.RemoteMedia != nil && !v.RemoteMedia.Audio })

	click := func(sel string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(tab, 5*time.Second)
		defer cancel()
		if err := chromedp.Do(ctx, chromedp.Click(sel)); err != nil {
			t.Fatalf("click %s: %v", sel, err)
		}
	}
	click("#camera")
	waitSnapshot(t, c, "desktop told the page's camera is off", 5*time.Second, func(n app.Notify) bool { return !n.RemoteCameraOn && n.RemoteMicOn })
	click("#mute")
	waitSnapshot(t, c, "desktop told the page muted", 5*time.Second, func(n app.Notify) bool { return !n.RemoteCameraOn && !n.RemoteMicOn })
	click("#camera")
	click("#mute")
	waitSnapshot(t, c, "desktop told the page is back", 5*time.Second, func(n app.Notify) bool { return n.RemoteCameraOn && n.RemoteMicOn })

	// Chat both ways. The desktop's text carries markup, which the page
	// must show as text.
	const fromDesk = "<b>hello</b> from the desk"
	if err := c.SendChat(fromDesk); err != nil {
		t.Fatal(err)
	}
	waitView(t, tab, "page got the desktop's chat", 5*time.Second, func(v pageView) bool {
		return len(v.Chat) == 1 && !v.Chat[0].Mine && v.Chat[0].Text == fromDesk && v.Chat[0].From == "Desk"
	})
	var shown struct {
		Text  string
		Bolds int
	}
	evalJSON(t, tab, `(() => {
		const log = document.getElementById('chat-log');
		return {Text: log.lastElementChild.textContent, Bolds: log.querySelectorAll('b').length};
	})()`, &shown)
	if shown.Text != "Desk: "+fromDesk || shown.Bolds != 0 {
		t.Errorf("page shows the chat as %+v, want the markup as plain text", shown)
	}
	ctx, cancel := context.WithTimeout(tab, 5*time.Second)
	err := chromedp.Do(ctx, chromedp.SendKeys("#chat-text", "hi from the web"))
	if err == nil {
		err = chromedp.Do(ctx, chromedp.Click("#chat-send"))
	}
	cancel()
	if err != nil {
		t.Fatalf("type a chat message: %v", err)
	}
	waitSnapshot(t, c, "desktop got the page's chat", 5*time.Second, func(n app.Notify) bool {
		for _, l := range n.Chat {
			if !l.Local && l.Text == "hi from the web" {
				return true
			}
		}
		return false
	})
	if v, err := readView(tab); err != nil || len(v.Chat) != 2 || !v.Chat[1].Mine || v.Chat[1].Text != "hi from the web" {
		t.Errorf("page's own line: %+v %v", v.Chat, err)
	}
	c.HangUp()
	waitSnapshot(t, c, "ended", 10*time.Second, func(n app.Notify) bool { return n.Phase.Terminal() })
}

// desktopWithPage starts the desktop's controller (synthetic 320x240
// media, the real engine hosting the server; settings adjusted by tune)
// in a call in room and joins a browser page named Web to it; both are
// connected when it returns.
func desktopWithPage(t *testing.T, room string, tune func(*app.Settings)) (*app.Controller, context.Context) {
	t.Helper()
	c := app.NewController(app.ControllerOptions{
		Engine: app.NewEngine(app.EngineOptions{HostAddr: "127.0.0.1:0"}),
		Store:  mapStore{},
		Media:  app.MediaOptions{Video: "synthetic", Audio: "synthetic", LoopbackOnly: true},
	})
	t.Cleanup(c.Close)
	s := c.Settings()
	s.Width, s.Height, s.FPS = 320, 240, 15
	if tune != nil {
		tune(&s)
	}
	if err := c.ApplySettings(s); err != nil {
		t.Fatal(err)
	}
	if err := c.StartCall(app.JoinParams{Room: room, Name: "Desk"}); err != nil {
		t.Fatal(err)
	}
	n := waitSnapshot(t, c, "waiting", 10*time.Second, func(n app.Notify) bool { return n.Phase == app.PhaseWaiting })
	host := strings.TrimSuffix(strings.TrimPrefix(n.ServerURL, "ws://"), "/ws")
	tab := newBrowser(t)
	joinPage(t, tab, "http://"+host+"/r/"+room+"?loopback=1&name=Web")
	waitSnapshot(t, c, "desktop connected to the page", 30*time.Second, func(n app.Notify) bool {
		return n.Phase == app.PhaseConnected && n.RemoteName == "Web"
	})
	return c, tab
}
