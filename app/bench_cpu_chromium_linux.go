package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// pcTrackerJS keeps every RTCPeerConnection the page makes in
// window.__benchPCs, so that the bench reads their stats without the page
// exposing them.
const pcTrackerJS = `(() => {
  const Real = window.RTCPeerConnection;
  const pcs = [];
  window.__benchPCs = pcs;
  const Tracked = function (...args) { const pc = new Real(...args); pcs.push(pc); return pc; };
  Tracked.prototype = Real.prototype;
  Object.setPrototypeOf(Tracked, Real);
  window.RTCPeerConnection = Tracked;
})();`

// pageStatsJS sums the page's video counters over its peer connections.
const pageStatsJS = `(async () => {
  const out = { bytesSent: 0, framesDecoded: 0, codec: '', width: 0, height: 0, remote: [] };
  for (const pc of window.__benchPCs || []) {
    if (pc.connectionState === 'closed') continue;
    const r = await pc.getStats();
    r.forEach((s) => {
      if (s.type === 'outbound-rtp' && s.kind === 'video') {
        out.bytesSent += s.bytesSent || 0;
        out.width = s.frameWidth || out.width;
        out.height = s.frameHeight || out.height;
        const c = r.get(s.codecId);
        if (c) out.codec = c.mimeType;
      } else if (s.type === 'inbound-rtp' && s.kind === 'video') {
        out.framesDecoded += s.framesDecoded || 0;
      } else if (s.type === 'transport' && s.selectedCandidatePairId) {
        const p = r.get(s.selectedCandidatePairId);
        const rc = p && r.get(p.remoteCandidateId);
        // Chromium hides a peer-reflexive address: marked as such.
        if (rc) out.remote.push(rc.address || rc.ip || (rc.candidateType === 'prflx' ? 'prflx' : ''));
      }
    });
  }
  return JSON.stringify(out);
})()`

// onePageCallJS makes a call between two peer connections of one page:
// each its own camera (the fake one, playing the clip) and microphone,
// each showing the other's video with its sound, offer and answer handed
// over in the page.
const onePageCallJS = `(async () => {
  const pcs = [new RTCPeerConnection(), new RTCPeerConnection()];
  window.__benchPCs = pcs;
  pcs.forEach((pc, i) => {
    const other = pcs[1 - i];
    // Loopback candidates only (as the page's ?loopback=1): no pair
    // targets another address of this machine.
    // The profile's policy binds ICE sockets to the wildcard address, so
    // a host candidate's port answers on 127.0.0.1 too: each is handed
    // over as 127.0.0.1, IPv6 and other kinds dropped.
    pc.onicecandidate = (e) => {
      const c = e.candidate;
      if (!c || c.type !== 'host' || c.protocol !== 'udp' || !c.address || c.address.includes(':')) return;
      other.addIceCandidate({ candidate: c.candidate.replace(' ' + c.address + ' ', ' 127.0.0.1 '),
        sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex });
    };
    const grid = document.getElementById('grid') ||
      Object.assign(document.body.appendChild(document.createElement('div')), { id: 'grid' });
    const v = document.createElement('video');
    v.autoplay = true;
    v.playsInline = true;
    v.width = 480;
    grid.appendChild(v);
    pc.ontrack = (e) => { v.srcObject = e.streams[0]; };
  });
  for (const pc of pcs) {
    const s = await navigator.mediaDevices.getUserMedia({
      audio: true, video: { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 30 } } });
    for (const t of s.getTracks()) pc.addTrack(t, s);
  }
  await pcs[0].setLocalDescription();
  await pcs[1].setRemoteDescription(pcs[0].localDescription);
  await pcs[1].setLocalDescription();
  await pcs[0].setRemoteDescription(pcs[1].localDescription);
  return 'ok';
})()`

type pageStats struct {
	BytesSent     int64  `json:"bytesSent"`
	FramesDecoded int64  `json:"framesDecoded"`
	Codec         string `json:"codec"`
	Width         int    `json:"width"`
	Height        int    `json:"height"`
	// Remote is the far address of each connection's selected pair.
	Remote []string `json:"remote"`
}

func readPageStats(tab context.Context) (pageStats, error) {
	ctx, cancel := context.WithTimeout(tab, 5*time.Second)
	defer cancel()
	var st pageStats
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](pageStatsJS, chromedp.EvalAwaitPromise))
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal([]byte(raw), &st); err != nil {
		return st, err
	}
	// The call must stay on loopback (never another address of this
	// machine): checked, not assumed. A peer-reflexive far end, whose
	// address Chromium does not show, is the source of a check sent to a
	// loopback candidate (the only kind either end signals or accepts),
	// so loopback too.
	for _, a := range st.Remote {
		if ip := net.ParseIP(a); a != "prflx" && (ip == nil || !ip.IsLoopback()) {
			return st, fmt.Errorf("%w: chromium's call runs to %q, not loopback", ErrConnect, a)
		}
	}
	return st, nil
}

// chromium runs Chromium calling itself: one browser, two windows on the
// bundled page (a background tab would be throttled), the clip as both
// fake cameras; with onePage, one window whose page holds both ends.
func (r cpuRound) chromium(ctx context.Context, onePage bool) (s CPUSample, err error) {
	ctx, cancel := context.WithTimeout(ctx, r.o.CPUWarmup+r.o.CPUWindow+r.o.Timeout)
	defer cancel()
	// WebRTC on 127.0.0.1 (ChromiumLoopbackProfile).
	loop, err := ChromiumLoopbackProfile(filepath.Join(r.dir, "chromium"))
	if err != nil {
		return s, err
	}
	opts := append(append(ChromiumOptions(), loop...),
		chromedp.ExecPath(chromiumPath),
		ChromiumFakeCamera(r.clip),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	tabs := make([]context.Context, 2)
	if onePage {
		tabs = tabs[:1]
	}
	for i := range tabs {
		parent, opt := actx, chromedp.WithNewWindow(false)
		if i > 0 {
			parent, opt = tabs[0], chromedp.WithNewWindow(true)
		}
		tab, cancelTab := chromedp.NewContext(parent, opt)
		defer cancelTab()
		// The first action starts the browser (or the window): bounded.
		timer := time.AfterFunc(30*time.Second, cancelTab)
		err := chromedp.Do(tab, chromedp.Navigate("about:blank"))
		timer.Stop()
		if err != nil {
			return s, fmt.Errorf("chromium window %d: %w", i+1, err)
		}
		if _, err := chromedp.Run(tab, func(ctx context.Context, tg *chromedp.Target) (page.AddScriptToEvaluateOnNewDocumentResult, error) {
			return cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: pcTrackerJS})
		}); err != nil {
			return s, fmt.Errorf("chromium window %d: %w", i+1, err)
		}
		tabs[i] = tab
	}
	proc := chromedp.FromContext(tabs[0]).Browser.Process()
	if proc == nil {
		return s, errors.New("chromium: no browser process")
	}
	if onePage {
		// Any page of the loopback server is a secure context (camera
		// allowed) that runs none of the web app.
		jctx, cancel := context.WithTimeout(tabs[0], 30*time.Second)
		_, err := chromedp.Run(jctx, chromedp.Navigate("http://"+r.url+"/healthz"))
		if err == nil {
			_, err = chromedp.Run(jctx, chromedp.Evaluate[string](onePageCallJS, chromedp.EvalAwaitPromise))
		}
		cancel()
		if err != nil {
			return s, fmt.Errorf("%w: chromium one-page call: %w", ErrConnect, err)
		}
	}
	for i := range tabs {
		if onePage {
			break
		}
		if err := joinChromium(tabs[i], fmt.Sprintf("http://%s/r/%s?loopback=1&name=%c", r.url, r.room, 'A'+i)); err != nil {
			return s, err
		}
	}
	// Both pages show the other's video, then the warm-up (bandwidth
	// estimation ramps up) and the measured window.
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; i < len(tabs); {
		n, err := framesDecoded(tabs[i])
		switch {
		case err != nil:
			return s, fmt.Errorf("chromium: %w", err)
		case n > 0:
			i++
			continue
		case time.Now().After(deadline):
			return s, fmt.Errorf("%w: chromium page %d shows no video", ErrConnect, i+1)
		}
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			return s, err
		}
	}
	if err := sleepCtx(ctx, r.o.CPUWarmup); err != nil {
		return s, err
	}
	st0, st1 := make([]pageStats, len(tabs)), make([]pageStats, len(tabs))
	for i := range tabs {
		if st0[i], err = readPageStats(tabs[i]); err != nil {
			return s, fmt.Errorf("chromium stats: %w", err)
		}
	}
	t0, c0 := time.Now(), treeTicks(proc.Pid)
	if err := sleepCtx(ctx, r.o.CPUWindow); err != nil {
		return s, err
	}
	c1, wall := treeTicks(proc.Pid), time.Since(t0)
	for i := range tabs {
		if st1[i], err = readPageStats(tabs[i]); err != nil {
			return s, fmt.Errorf("chromium stats: %w", err)
		}
	}
	s.Parts = map[string]float64{}
	total := 0.0
	for pid, v := range cpuDelta(c0, c1, wall) {
		s.Parts[chromiumKind(pid)] += v
		total += v
	}
	for k, v := range s.Parts {
		s.Parts[k] = round1(v)
	}
	s.PerPeer = []float64{round1(total / 2)}
	// Per peer: both pages' counters (or the one page's, which holds
	// both peers) over two.
	for i := range tabs {
		s.FPSIn += float64(st1[i].FramesDecoded-st0[i].FramesDecoded) / wall.Seconds() / 2
		s.SentKbps += float64(st1[i].BytesSent-st0[i].BytesSent) * 8 / 1000 / wall.Seconds() / 2
	}
	s.FPSIn, s.SentKbps = round1(s.FPSIn), round1(s.SentKbps)
	s.Codec = fmt.Sprintf("%s %dx%d", st1[0].Codec, st1[0].Width, st1[0].Height)
	return s, nil
}

// chromiumVersion is the reference browser's version ("" if unknown).
func chromiumVersion() string {
	b, err := exec.Command(chromiumPath, "--version").Output()
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return ""
	}
	return f[1]
}
