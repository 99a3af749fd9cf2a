package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/peercall/peercall/app"
	"github.com/peercall/peercall/signalserver"
)

// meshPeer mirrors one entry of window.peercallState().
type meshPeer struct {
	ID, Name, State         string
	Polite                  bool
	VideoWidth              int
	CurrentTime             float64
	SAS                     string
	SASWords                []string
	CamOffShown, MutedShown bool
}

// meshPage is what a page says of its call: its own id, every remote peer
// as it plays them, the tiles in its grid and the view's per-peer entries.
type meshPage struct {
	PeerID   string
	Capacity int
	State    string
	Peers    []meshPeer
	Tiles    []string // names shown on the tiles, in grid order
	Count    string   // the grid's data-count
	SASRows  int
	Views    []pageView
}

func readMesh(ctx context.Context) (meshPage, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify(window.peercall ? {
		PeerID: window.peercall.view.peerId, Capacity: window.peercall.view.capacity, State: window.peercall.view.state,
		Peers: window.peercallState(),
		Tiles: [...document.querySelectorAll('#grid .tile .name')].map((e) => e.textContent),
		Count: document.getElementById('grid')?.dataset.count || '',
		SASRows: document.querySelectorAll('#sas-list li').length,
		Views: window.peercall.view.peers,
	} : null)`))
	if err != nil {
		return meshPage{}, err
	}
	var p meshPage
	if err := json.Unmarshal([]byte(raw), &p); err != nil {
		return meshPage{}, fmt.Errorf("page state %q: %w", raw, err)
	}
	return p, nil
}

// waitMesh polls a page until ok holds.
func waitMesh(t *testing.T, ctx context.Context, what string, timeout time.Duration, ok func(meshPage) bool) meshPage {
	t.Helper()
	return pollPage(t, what, timeout, func() (meshPage, error) { return readMesh(ctx) }, ok, func(p meshPage) string {
		return fmt.Sprintf("page %s shows %+v", p.PeerID, p.Peers)
	})
}

// playing: every remote peer named in want is connected with a security
// code and its video has a size, and nobody else is there.
func playing(want ...string) func(meshPage) bool {
	return func(p meshPage) bool {
		if len(p.Peers) != len(want) {
			return false
		}
		for _, r := range p.Peers {
			if !slices.Contains(want, r.Name) || r.State != "connected" || r.SAS == "" || r.VideoWidth == 0 {
				return false
			}
		}
		return true
	}
}

// checkAdvancing reads the pages twice, a few seconds apart: every remote
// video on every page must have played on in between (a frozen or
// stopped one keeps its currentTime).
func checkAdvancing(t *testing.T, pages map[string]context.Context) map[string]meshPage {
	t.Helper()
	readAll := func() map[string]meshPage {
		all := map[string]meshPage{}
		for name, ctx := range pages {
			p, err := readMesh(ctx)
			if err != nil {
				t.Fatal(err)
			}
			all[name] = p
		}
		return all
	}
	before := readAll()
	time.Sleep(3 * time.Second)
	after := readAll()
	for name, p := range after {
		for _, r := range p.Peers {
			i := slices.IndexFunc(before[name].Peers, func(b meshPeer) bool { return b.ID == r.ID })
			if i < 0 {
				t.Errorf("%s: %s appeared between two reads", name, r.Name)
				continue
			}
			if b := before[name].Peers[i]; r.CurrentTime < b.CurrentTime+1 {
				t.Errorf("%s: %s's video is not playing (currentTime %.2f then %.2f over 3 s)", name, r.Name, b.CurrentTime, r.CurrentTime)
			}
		}
	}
	return after
}

// TestBrowserMesh: three pages join one room (relay only through the
// server's built-in TURN on 127.0.0.1, as between any two browsers here)
// and each plays the two others' video under their names, one pair
// session each: roles by id, equal security codes per pair. Then one
// hangs up: the two others lose only its tile and keep playing.
func TestBrowserMesh(t *testing.T) {
	skipUnlessBrowser(t)
	addr := startWebSignal(t, signalserver.WithTURN(signalserver.TURNConfig{
		Listen: "127.0.0.1:0", AllowPrivate: true, MinPort: 42000, MaxPort: 42999,
	}))
	browser := newBrowser(t)
	pages := map[string]context.Context{"Ann": browser, "Bob": newTab(t, browser), "Cat": newTab(t, browser)}
	names := []string{"Ann", "Bob", "Cat"}
	for _, name := range names {
		joinPage(t, pages[name], "http://"+addr+"/r/mesh?loopback=1&relay=1&name="+name)
	}
	others := func(name string) []string {
		return slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == name })
	}
	got := map[string]meshPage{}
	for _, name := range names {
		got[name] = waitMesh(t, pages[name], name+" playing both others", 60*time.Second, playing(others(name)...))
	}
	got = checkAdvancing(t, pages)
	screenshot(t, pages["Ann"], "browser-mesh-3.png")

	ids := map[string]string{}
	for name, p := range got {
		ids[name] = p.PeerID
	}
	for _, name := range names {
		p := got[name]
		if p.Capacity != signalserver.DefaultRoomCapacity {
			t.Errorf("%s: room capacity %d, want %d", name, p.Capacity, signalserver.DefaultRoomCapacity)
		}
		if p.Count != "2" || p.SASRows != 2 || !slices.Equal(sortedCopy(p.Tiles), others(name)) {
			t.Errorf("%s: grid of %s tiles named %v with %d security codes, want 2 tiles %v", name, p.Count, p.Tiles, p.SASRows, others(name))
		}
		for _, r := range p.Peers {
			if r.ID != ids[r.Name] {
				t.Errorf("%s calls %s under id %s, its id is %s", name, r.Name, r.ID, ids[r.Name])
			}
			// The same polite rule as call.Session: the greater id is polite.
			if want := p.PeerID > r.ID; r.Polite != want {
				t.Errorf("%s towards %s: polite %v, want %v", name, r.Name, r.Polite, want)
			}
			// The pair's other end shows the same code.
			q := got[r.Name]
			j := slices.IndexFunc(q.Peers, func(x meshPeer) bool { return x.ID == p.PeerID })
			if j < 0 || q.Peers[j].SAS != r.SAS || !slices.Equal(q.Peers[j].SASWords, r.SASWords) {
				t.Errorf("%s and %s show different codes: %s %v", name, r.Name, r.SAS, r.SASWords)
			}
		}
		for _, v := range p.Views {
			checkLoopbackOnly(t, name+"→"+v.RemoteName, v)
			checkSASAgainstGo(t, name+"→"+v.RemoteName, v)
			// Every peer's audio arrives too (its <video> plays it: the
			// browser mixes).
			if v.Stats == nil || v.Stats.AudioIn == nil || v.Stats.AudioIn.PacketsReceived == 0 {
				t.Errorf("%s receives no audio from %s", name, v.RemoteName)
			}
		}
		t.Logf("%s (%s): %+v", name, p.PeerID, p.Peers)
	}

	click := func(name, sel string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(pages[name], 5*time.Second)
		defer cancel()
		if err := chromedp.Do(ctx, chromedp.Click(sel)); err != nil {
			t.Fatalf("%s clicks %s: %v", name, sel, err)
		}
	}
	// Ann turns her camera off and mutes: Bob and Cat show it on Ann's tile
	// only.
	click("Ann", "#camera")
	click("Ann", "#mute")
	for _, name := range []string{"Bob", "Cat"} {
		waitMesh(t, pages[name], name+" shows Ann's camera off and muted", 10*time.Second, func(p meshPage) bool {
			ok := len(p.Peers) == 2
			for _, r := range p.Peers {
				ok = ok && r.CamOffShown == (r.Name == "Ann") && r.MutedShown == (r.Name == "Ann")
			}
			return ok
		})
	}
	click("Ann", "#camera")
	click("Ann", "#mute")
	for _, name := range []string{"Bob", "Cat"} {
		waitMesh(t, pages[name], name+" shows Ann back", 10*time.Second, func(p meshPage) bool {
			ok := playing(others(name)...)(p)
			for _, r := range p.Peers {
				ok = ok && !r.CamOffShown && !r.MutedShown
			}
			return ok
		})
	}

	// Ann's chat line reaches both others, under her name.
	ctx, cancel := context.WithTimeout(pages["Ann"], 5*time.Second)
	err := chromedp.Do(ctx, chromedp.SendKeys("#chat-text", "hello both"))
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	click("Ann", "#chat-send")
	for _, name := range []string{"Bob", "Cat"} {
		waitView(t, pages[name], name+" got Ann's chat", 5*time.Second, func(v pageView) bool {
			return len(v.Chat) == 1 && !v.Chat[0].Mine && v.Chat[0].From == "Ann" && v.Chat[0].Text == "hello both"
		})
	}

	// Cat hangs up: Ann and Bob keep their call, Cat's tile goes.
	click("Cat", "#hangup")
	catTab := pages["Cat"]
	delete(pages, "Cat")
	waitMesh(t, catTab, "Cat's page back at the form", 10*time.Second, func(p meshPage) bool {
		return p.State == "ended" && len(p.Peers) == 0 && p.Count == "0"
	})
	for _, name := range []string{"Ann", "Bob"} {
		other := others(name)
		other = slices.DeleteFunc(other, func(n string) bool { return n == "Cat" })
		p := waitMesh(t, pages[name], name+" down to one tile", 15*time.Second, func(p meshPage) bool {
			return playing(other...)(p) && p.Count == "1" && p.SASRows == 1
		})
		if p.State != "connected" || len(p.Tiles) != 1 || p.Tiles[0] != other[0] {
			t.Errorf("%s after Cat left: state %q, tiles %v", name, p.State, p.Tiles)
		}
	}
	after := checkAdvancing(t, pages)
	screenshot(t, pages["Ann"], "browser-mesh-after-leave.png")
	// sameCall: the call between Ann and Bob is the one from before (a new
	// peer connection has a new certificate, so another code, and a new
	// video starts at currentTime 0).
	sameCall := func(when string, now map[string]meshPage) {
		t.Helper()
		for _, name := range []string{"Ann", "Bob"} {
			before := got[name].Peers
			for _, r := range now[name].Peers {
				if r.Name == "Cat" {
					continue
				}
				i := slices.IndexFunc(before, func(b meshPeer) bool { return b.ID == r.ID })
				if i < 0 || before[i].SAS != r.SAS || r.CurrentTime <= before[i].CurrentTime {
					t.Errorf("%s: the call with %s %s is not the same call", name, r.Name, when)
				}
			}
		}
	}
	sameCall("after Cat left", after)

	// Cat joins again (a new id): everybody calls it, Ann and Bob's call
	// goes on undisturbed.
	pages["Cat"] = catTab
	click("Cat", "#join")
	for _, name := range names {
		waitMesh(t, pages[name], name+" playing both others after Cat's return", 60*time.Second, playing(others(name)...))
	}
	again := checkAdvancing(t, pages)
	sameCall("after Cat came back", again)
	if again["Cat"].PeerID == ids["Cat"] {
		t.Errorf("Cat came back under its old id %s after hanging up", ids["Cat"])
	}
}

// screenshot saves the page as name in $PEERCALL_SCREENSHOTS, when set,
// for a person to look at the layout.
func screenshot(t *testing.T, tab context.Context, name string) {
	t.Helper()
	dir := os.Getenv("PEERCALL_SCREENSHOTS")
	if dir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(tab, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// TestBrowserWithTwoHeadless: a browser page joins a group call of two
// headless peers (each a process on the one call pipeline, --peers 3):
// the page plays both, each headless peer decodes the page and the other
// headless peer, and every pair shows one security code at both ends.
func TestBrowserWithTwoHeadless(t *testing.T) {
	skipUnlessBrowser(t)
	addr := startWebSignal(t)
	bin := browserHeadlessBin(t)
	three := []string{"--peers", "3", "--duration", "10s", "--size", "640x480"}
	var res map[string]peerResult
	done := make(chan struct{})
	go func() {
		defer close(done)
		res = runGroup(t, bin, "ws://"+addr+"/ws", "trio", []groupPeer{
			{name: "ann", args: three}, {name: "bob", args: three},
		})
	}()
	browser := newBrowser(t)
	joinPage(t, browser, "http://"+addr+"/r/trio?loopback=1&name=Chromium")
	waitMesh(t, browser, "page playing both headless peers", 60*time.Second, playing("ann", "bob"))
	page := checkAdvancing(t, map[string]context.Context{"page": browser})["page"]
	screenshot(t, browser, "browser-with-two-headless.png")
	// The page asks for the browser's own voice processing and says what
	// it got.
	var stats string
	evalJSON(t, browser, `document.getElementById('stats').textContent`, &stats)
	if !strings.Contains(stats, "echo cancellation on, noise suppression on, gain control on") {
		t.Errorf("stats panel does not say the browser's voice processing is on:\n%s", stats)
	}
	select {
	case <-done:
	case <-time.After(90 * time.Second):
		t.Fatal("headless peers did not finish")
	}
	byID := map[string]app.Report{}
	for name, r := range res {
		if r.code != 0 || !r.rep.OK {
			t.Fatalf("%s: exit %d, report ok=%v error %q\n%s", name, r.code, r.rep.OK, r.rep.Error, r.stderr)
		}
		byID[r.rep.PeerID] = r.rep
		if len(r.rep.Peers) != 2 {
			t.Errorf("%s: %d peers in its report, want 2", name, len(r.rep.Peers))
		}
		for _, p := range r.rep.Peers {
			t.Logf("%s ← %s: %.1f fps %dx%d, %d freezes, audio %d packets, sas %s", name, p.Name,
				p.VideoIn.FPS, p.VideoIn.Width, p.VideoIn.Height, p.VideoIn.Freezes, p.AudioIn.PacketsReceived, p.SAS)
			// Chromium's fake camera runs at its own rate; the headless
			// peers send 30 fps.
			minFPS := 25.0
			if p.ID == page.PeerID {
				minFPS = 15
			}
			if p.VideoIn.FPS < minFPS {
				t.Errorf("%s decoded %.1f fps from %s, want ≥ %.0f", name, p.VideoIn.FPS, p.Name, minFPS)
			}
			if p.AudioIn.PacketsReceived == 0 {
				t.Errorf("%s received no audio from %s", name, p.Name)
			}
		}
	}
	// One code per pair, the same at both ends: page ↔ each headless
	// peer, and between the two headless peers.
	for _, r := range page.Peers {
		rep, ok := byID[r.ID]
		if !ok {
			t.Errorf("page plays %s (%s), no headless report has that id", r.Name, r.ID)
			continue
		}
		i := slices.IndexFunc(rep.Peers, func(p app.PeerReport) bool { return p.ID == page.PeerID })
		if i < 0 || rep.Peers[i].SAS != r.SAS {
			t.Errorf("page and %s show different codes: %s vs %+v", r.Name, r.SAS, rep.Peers)
		}
	}
	ann, bob := res["ann"].rep, res["bob"].rep
	for _, p := range ann.Peers {
		if p.ID != bob.PeerID {
			continue
		}
		i := slices.IndexFunc(bob.Peers, func(q app.PeerReport) bool { return q.ID == ann.PeerID })
		if i < 0 || p.SAS == "" || bob.Peers[i].SAS != p.SAS {
			t.Errorf("ann and bob show different codes: %s vs %+v", p.SAS, bob.Peers)
		}
	}
}
