package ui

import (
	"image"
	"slices"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/peercall/peercall/app"
)

// The fake call shares like the engine: it takes the source (and closes
// it: no frames are sent here) or refuses with shareErr.
func (f *fakeCall) StartShare(src app.ShareSource) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.shareErr; err != nil {
		f.shareErr = nil
		return err
	}
	f.shares = append(f.shares, src)
	if src.Close != nil {
		_ = src.Close()
	}
	return nil
}

func (f *fakeCall) StopShare() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.shares) == 0 {
		return app.ErrNotSharing
	}
	f.stops++
	return nil
}

func (f *fakeCall) shareState() (started, stopped int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.shares), f.stops
}

// fakeShare stands in for the controller's share commands: fixed
// choices, and the StartShare calls it got.
type fakeShare struct {
	mu      sync.Mutex
	choices []app.ShareChoice
	listErr error
	fail    error // StartShare's answer
	started [][2]string
}

func (f *fakeShare) ShareChoices() ([]app.ShareChoice, error) { return f.choices, f.listErr }
func (f *fakeShare) StopShare() error                         { return nil }
func (f *fakeShare) StartShare(spec, label string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started = append(f.started, [2]string{spec, label})
	return f.fail
}

func (f *fakeShare) calls() [][2]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.started)
}

// waitFor pumps the main-thread queue until ok.
func (h *harness) waitFor(what string, ok func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		h.pump()
		if ok() {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	h.t.Fatalf("timed out waiting for %s", what)
}

// connectedCall starts a call through the controller and connects it.
func connectedCall(h *harness) *fakeCall {
	h.t.Helper()
	test.Type(h.u.start.room, "kitchen")
	test.Tap(h.u.start.startBtn)
	fc := <-h.eng.calls
	fc.events <- app.CallEvent{Phase: app.PhaseConnected}
	h.until("connected", phase(app.PhaseConnected))
	return fc
}

// TestShareButtonStates: the Share button is there in every call screen,
// usable in a connected call, and reads "Stop sharing" (still usable)
// while this side shares, with the sharing bar over the screen.
func TestShareButtonStates(t *testing.T) {
	tests := []struct {
		name    string
		phase   app.Phase
		sharing bool
		text    string
		enabled bool
	}{
		{"connecting", app.PhaseConnectingServer, false, "Share", false},
		{"waiting", app.PhaseWaiting, false, "Share", false},
		{"connected", app.PhaseConnected, false, "Share", true},
		{"reconnecting", app.PhaseReconnecting, false, "Share", false},
		{"sharing", app.PhaseConnected, true, "Stop sharing", true},
		{"sharing while reconnecting", app.PhaseReconnecting, true, "Stop sharing", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil, app.GUIOptions{})
			n := groupNotify(bob)
			n.Phase, n.Sharing = tt.phase, tt.sharing
			if tt.sharing {
				n.ShareLabel = "Screen 1 (1920x1080)"
			}
			h.u.render(n)
			h.pump()
			c := h.u.call
			if c.shareBtn.Text != tt.text || c.shareBtn.Disabled() == tt.enabled {
				t.Errorf("button %q enabled %v, want %q %v", c.shareBtn.Text, !c.shareBtn.Disabled(), tt.text, tt.enabled)
			}
			wantIcon := shareIcon()
			if tt.sharing {
				wantIcon = stopShareIcon()
			}
			if c.shareBtn.Icon != wantIcon {
				t.Errorf("button icon %v", c.shareBtn.Icon.Name())
			}
			if c.shareBar.Visible() != tt.sharing {
				t.Errorf("sharing bar shown %v", c.shareBar.Visible())
			}
			if tt.sharing && c.shareBarText.String() != "You are sharing Screen 1 (1920x1080)" {
				t.Errorf("sharing bar says %q", c.shareBarText.String())
			}
			// The control bar still fits the window (it would widen it).
			if w, have := c.controls.MinSize().Width, c.controls.Size().Width; w > have {
				t.Errorf("control bar needs %v, has %v", w, have)
			}
		})
	}
}

// TestSharePicker: the picker lists the choices (a thumbnail where there
// is one, else an icon), starts the chosen one with its spec and label,
// shows a failure in the popup and keeps it open, and Cancel closes it.
func TestSharePicker(t *testing.T) {
	thumb := image.NewRGBA(image.Rect(0, 0, 160, 90))
	fs := &fakeShare{choices: []app.ShareChoice{
		{Label: "Screen 1 (1920x1080)", Spec: "screen::0:1920x1080+0+0", Thumb: thumb},
		{Label: "Terminal", Spec: "screen::0:800x600+40+40"},
		{Label: "Test picture", Spec: "synthetic"},
	}}
	h := newHarness(t, nil, app.GUIOptions{})
	h.u.share = fs
	n := groupNotify(bob)
	h.u.render(n)
	h.pump()
	c := h.u.call
	p := c.picker

	test.Tap(c.shareBtn)
	if !p.pop.Visible() || !p.shareBtn.Disabled() {
		t.Fatalf("picker shown %v, Share enabled before a choice %v", p.pop.Visible(), !p.shareBtn.Disabled())
	}
	h.waitFor("choices", func() bool { return len(p.choices) == 3 })
	if p.status.Visible() || p.errL.Visible() {
		t.Errorf("status %q or error %q shown with choices", p.status.Text, p.errL.Text)
	}
	for i, ch := range fs.choices {
		item := p.list.CreateItem()
		p.list.UpdateItem(i, item)
		row := item.(*fyne.Container)
		box := row.Objects[0].(*fyne.Container).Objects[0].(*fyne.Container)
		if l := row.Objects[1].(*widget.Label); l.Text != ch.Label {
			t.Errorf("row %d says %q, want %q", i, l.Text, ch.Label)
		}
		if hasThumb := box.Objects[0].Visible(); hasThumb != (ch.Thumb != nil) || box.Objects[1].Visible() == hasThumb {
			t.Errorf("%s: thumbnail shown %v, icon shown %v", ch.Label, hasThumb, box.Objects[1].Visible())
		}
	}

	// A failure shows in the popup, which stays open.
	fs.fail = &app.UserError{Msg: "Cannot share that screen: it is gone.", Err: app.ErrShareSource}
	p.list.Select(1)
	if p.shareBtn.Disabled() {
		t.Fatal("Share disabled with a choice")
	}
	test.Tap(p.shareBtn)
	h.waitFor("the failure", func() bool { return p.errL.Visible() })
	if p.errL.Text != "Cannot share that screen: it is gone." || !p.pop.Visible() || p.shareBtn.Disabled() {
		t.Errorf("after a failure: error %q, open %v, Share enabled %v", p.errL.Text, p.pop.Visible(), !p.shareBtn.Disabled())
	}
	if got := fs.calls(); len(got) != 1 || got[0] != [2]string{"screen::0:800x600+40+40", "Terminal"} {
		t.Errorf("StartShare calls %v", got)
	}

	// Another choice, which works: the popup closes.
	fs.fail = nil
	p.list.Select(0)
	test.Tap(p.shareBtn)
	h.waitFor("the popup closed", func() bool { return !p.pop.Visible() })
	if got := fs.calls(); len(got) != 2 || got[1] != [2]string{"screen::0:1920x1080+0+0", "Screen 1 (1920x1080)"} {
		t.Errorf("StartShare calls %v", got)
	}

	// Opened again: fresh, and Cancel closes it without sharing.
	test.Tap(c.shareBtn)
	if p.errL.Visible() || !p.shareBtn.Disabled() {
		t.Error("old error or choice kept on reopening")
	}
	h.waitFor("choices", func() bool { return len(p.choices) == 3 })
	test.Tap(p.cancelBtn)
	if p.pop.Visible() {
		t.Error("Cancel did not close the picker")
	}
	if len(fs.calls()) != 2 {
		t.Error("Cancel shared")
	}

	// Nothing to share: the reason, and no Share.
	fs.choices, fs.listErr = nil, &app.UserError{Msg: "No screen to share.", Err: app.ErrShareSource}
	test.Tap(c.shareBtn)
	h.waitFor("the reason", func() bool { return p.errL.Visible() })
	if p.errL.Text != "No screen to share." || !p.shareBtn.Disabled() {
		t.Errorf("no choices: error %q, Share enabled %v", p.errL.Text, !p.shareBtn.Disabled())
	}
	test.Tap(p.cancelBtn)
}

// TestShareThroughController: with synthetic media the picker offers the
// test picture; Share starts it on the call (the controller opens the
// 1280x720 test picture), the button and the sharing bar follow, and the
// bar's Stop ends it. A call that refuses shows why in the picker.
func TestShareThroughController(t *testing.T) {
	h := newHarnessMedia(t, nil, app.GUIOptions{}, app.MediaOptions{Video: "synthetic", Audio: "synthetic"})
	fc := connectedCall(h)
	c := h.u.call
	p := c.picker
	if c.shareBtn.Disabled() {
		t.Fatal("Share disabled in a connected call")
	}
	test.Tap(c.shareBtn)
	h.waitFor("the test picture", func() bool { return len(p.choices) == 1 })
	if p.choices[0].Label != "Test picture" || p.picked != 0 || p.shareBtn.Disabled() {
		t.Fatalf("choices %+v, picked %d", p.choices, p.picked)
	}
	test.Tap(p.shareBtn)
	h.until("sharing", func(n app.Notify) bool { return n.Sharing })
	if started, _ := fc.shareState(); started != 1 || fc.shares[0].Width != 1280 || fc.shares[0].FPS != 10 {
		t.Fatalf("the call got %d shares (%+v)", started, fc.shares)
	}
	h.waitFor("the picker closed", func() bool { return !p.pop.Visible() })
	if !c.shareBar.Visible() || c.shareBarText.String() != "You are sharing Test picture" || c.shareBtn.Text != "Stop sharing" {
		t.Errorf("bar shown %v %q, button %q", c.shareBar.Visible(), c.shareBarText.String(), c.shareBtn.Text)
	}
	// The bar is at the top, over the status row.
	h.w.Content().Refresh()
	row := c.topArea.Objects[0]
	if c.shareBar.Position().Y != 0 || row.Position().Y < c.shareBar.Size().Height || c.shareBar.Size().Width < 880 {
		t.Errorf("bar at %v size %v, status row at %v", c.shareBar.Position(), c.shareBar.Size(), row.Position())
	}
	h.golden("call_sharing.xml")

	test.Tap(c.shareStopBtn)
	h.until("stopped", func(n app.Notify) bool { return !n.Sharing })
	h.waitFor("the call stopped sharing", func() bool { _, stopped := fc.shareState(); return stopped == 1 })
	if c.shareBar.Visible() || c.shareBtn.Text != "Share" {
		t.Errorf("after Stop: bar shown %v, button %q", c.shareBar.Visible(), c.shareBtn.Text)
	}

	// "Stop sharing" on the button does the same.
	test.Tap(c.shareBtn)
	h.waitFor("the test picture", func() bool { return len(p.choices) == 1 })
	test.Tap(p.shareBtn)
	h.until("sharing again", func(n app.Notify) bool { return n.Sharing })
	test.Tap(c.shareBtn)
	h.until("stopped again", func(n app.Notify) bool { return !n.Sharing })
	h.waitFor("the call stopped sharing", func() bool { _, stopped := fc.shareState(); return stopped == 2 })

	// The call refuses: the reason in the picker.
	fc.mu.Lock()
	fc.shareErr = app.ErrAlreadySharing
	fc.mu.Unlock()
	test.Tap(c.shareBtn)
	h.waitFor("the test picture", func() bool { return len(p.choices) == 1 })
	test.Tap(p.shareBtn)
	h.waitFor("the refusal", func() bool { return p.errL.Visible() })
	if p.errL.Text != "You are already sharing your screen." || h.u.last.Sharing {
		t.Errorf("error %q, sharing %v", p.errL.Text, h.u.last.Sharing)
	}
	test.Tap(c.hangBtn)
	h.until("ended", phase(app.PhaseEnded))
	if p.pop.Visible() {
		t.Error("picker open after the call")
	}
}

// stageOf is the stage's parts: the large object, and the strip's cells.
func stageOf(t *testing.T, c *callScreen) (main fyne.CanvasObject, strip []fyne.CanvasObject) {
	t.Helper()
	if c.grid.Layout != fyne.Layout(c.stageL) {
		t.Fatal("not the share stage")
	}
	o := c.grid.Objects
	if len(o) < 2 || o[1] != fyne.CanvasObject(c.swapBtn) {
		t.Fatalf("stage objects %d, no swap button", len(o))
	}
	return o[0], o[2:]
}

func sharing(p app.PeerView) app.PeerView { p.Sharing = true; return p }

// TestRemoteShareStage: a person's share fills the stage with the cameras
// and the self-view small in the strip; the swap button puts the cameras
// large and the share in the strip; the share stopping brings the grid
// back, with the self-view where it was.
func TestRemoteShareStage(t *testing.T) {
	tests := []struct {
		name  string
		peers []app.PeerView
		// sharers in the order their shares are laid out.
		sharers []string
	}{
		{"one person shares", []app.PeerView{sharing(bob)}, []string{bob.ID}},
		{"one of three shares", []app.PeerView{bob, sharing(cleo), dan}, []string{cleo.ID}},
		{"two share", []app.PeerView{sharing(bob), sharing(cleo)}, []string{bob.ID, cleo.ID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil, app.GUIOptions{})
			c := h.u.call
			h.u.render(groupNotify(tt.peers...))
			h.pump()
			h.w.Content().Refresh()

			main, strip := stageOf(t, c)
			if main != c.tiles[tt.sharers[0]].shareCell {
				t.Fatal("the first share is not large")
			}
			var want []fyne.CanvasObject
			for _, id := range tt.sharers[1:] {
				want = append(want, c.tiles[id].shareCell)
			}
			for _, p := range tt.peers {
				want = append(want, c.tiles[p.ID].cell)
			}
			want = append(want, c.selfBox)
			if !slices.Equal(strip, want) {
				t.Errorf("strip has %d cells, want the other shares, every camera and the self-view (%d)", len(strip), len(want))
			}
			if len(c.inset.Objects) != 0 || !c.selfPlate.Visible() {
				t.Error("self-view not in the strip with its name")
			}
			if c.swapBtn.Text != "Cameras large" || !c.swapBtn.Visible() {
				t.Errorf("swap button %q", c.swapBtn.Text)
			}
			area := c.grid.Size()
			ms := main.Size()
			if ms.Width < area.Width*0.7 && ms.Height < area.Height*0.7 {
				t.Errorf("share %v in an area of %v: not large", ms, area)
			}
			for i, o := range strip {
				if s := o.Size(); s.Width > stripCell.Width || s.Height > stripCell.Height || s.Width < 60 {
					t.Errorf("strip cell %d is %v", i, s)
				}
				if overlaps(o, main) {
					t.Errorf("strip cell %d covers the share", i)
				}
			}
			for _, p := range tt.peers {
				tl := c.tiles[p.ID]
				if !tl.plate.Visible() || tl.icon.MinSize() != placeIconSizeSmall || tl.mutedText.Visible() {
					t.Errorf("%s's small tile: name plate %v, placeholder icon %v, muted text %v", p.Name, tl.plate.Visible(), tl.icon.MinSize(), tl.mutedText.Visible())
				}
			}
			if pl := c.tiles[tt.sharers[0]].sharePlateText.Text; pl != nameOf(tt.peers, tt.sharers[0])+"'s screen" {
				t.Errorf("share plate %q", pl)
			}

			// Cameras large.
			test.Tap(c.swapBtn)
			h.w.Content().Refresh()
			main, strip = stageOf(t, c)
			if main != fyne.CanvasObject(c.camGrid) || len(c.camGrid.Objects) != len(tt.peers) {
				t.Fatal("cameras not large")
			}
			want = nil
			for _, id := range tt.sharers {
				want = append(want, c.tiles[id].shareCell)
			}
			want = append(want, c.selfBox)
			if !slices.Equal(strip, want) {
				t.Errorf("strip has %d cells, want the shares and the self-view", len(strip))
			}
			if c.swapBtn.Text != "Share large" {
				t.Errorf("swap button %q", c.swapBtn.Text)
			}
			for _, p := range tt.peers {
				if tl := c.tiles[p.ID]; tl.icon.MinSize() != placeIconSize || tl.plate.Visible() != (len(tt.peers) > 1) || !tl.mutedText.Visible() {
					t.Errorf("%s's large tile: placeholder %v, plate %v", p.Name, tl.icon.MinSize(), tl.plate.Visible())
				}
			}
			test.Tap(c.swapBtn)
			if main, _ = stageOf(t, c); main != c.tiles[tt.sharers[0]].shareCell {
				t.Error("the swap button did not put the share back large")
			}

			// Shares stop: the grid as before.
			test.Tap(c.swapBtn) // cameras large when it stops: the next share opens large all the same
			h.u.onFrame(app.VideoFrame{Peer: tt.sharers[0], Share: true, Image: grey(90)})
			h.pump()
			var stopped []app.PeerView
			for _, p := range tt.peers {
				p.Sharing = false
				stopped = append(stopped, p)
			}
			h.u.render(groupNotify(stopped...))
			h.pump()
			if c.grid.Layout != fyne.Layout(c.gridL) {
				t.Fatal("not the grid after the share stopped")
			}
			cells := cells(c)
			for i, p := range tt.peers {
				if cells[i] != c.tiles[p.ID].cell {
					t.Errorf("cell %d is not %s's tile", i, p.Name)
				}
			}
			selfInGrid := len(tt.peers) >= 3
			if slices.Contains(cells, fyne.CanvasObject(c.selfBox)) != selfInGrid || slices.Contains(c.inset.Objects, fyne.CanvasObject(c.selfBox)) == selfInGrid {
				t.Error("self-view not back where the grid keeps it")
			}
			if c.tiles[tt.sharers[0]].share.img.Image != nil {
				t.Error("the ended share's picture kept")
			}
			h.u.render(groupNotify(tt.peers...))
			if main, _ = stageOf(t, c); main != c.tiles[tt.sharers[0]].shareCell {
				t.Error("the next share did not open large")
			}
		})
	}
}

func nameOf(peers []app.PeerView, id string) string {
	for _, p := range peers {
		if p.ID == id {
			return p.Name
		}
	}
	return ""
}

func overlaps(a, b fyne.CanvasObject) bool {
	ra := image.Rect(int(a.Position().X), int(a.Position().Y), int(a.Position().X+a.Size().Width), int(a.Position().Y+a.Size().Height))
	rb := image.Rect(int(b.Position().X), int(b.Position().Y), int(b.Position().X+b.Size().Width), int(b.Position().Y+b.Size().Height))
	return ra.Overlaps(rb)
}

// TestShareFramesRoute: share frames go to their sender's share view and
// never to a camera tile; camera frames never to a share. Frames that
// come before the snapshot saying the share is on are kept for it. An
// engine that does not fill Peers cannot say who shares: its share
// frames are dropped.
func TestShareFramesRoute(t *testing.T) {
	h := newHarness(t, nil, app.GUIOptions{})
	c := h.u.call
	h.u.render(groupNotify(bob, cleo))
	h.u.onFrame(app.VideoFrame{Peer: bob.ID, Image: grey(40)})
	h.u.onFrame(app.VideoFrame{Peer: cleo.ID, Image: grey(120)})
	h.u.onFrame(app.VideoFrame{Peer: bob.ID, Share: true, Image: grey(90)}) // before Sharing
	h.u.onFrame(app.VideoFrame{Peer: "p-stranger", Share: true, Image: grey(250)})
	h.pump()
	b, cl := c.tiles[bob.ID], c.tiles[cleo.ID]
	if !shows(b.view, 40) || !shows(cl.view, 120) {
		t.Errorf("camera tiles show %d and %d", lum(b.view), lum(cl.view))
	}
	h.u.render(groupNotify(sharing(bob), cleo))
	h.pump()
	if !shows(b.share, 90) || b.sharePlace.Visible() {
		t.Errorf("the early share frame: shows %d, placeholder %v", lum(b.share), b.sharePlace.Visible())
	}
	for i := range 3 {
		h.u.onFrame(app.VideoFrame{Peer: bob.ID, Share: true, Image: grey(byte(150 + i))})
		h.u.onFrame(app.VideoFrame{Peer: bob.ID, Image: grey(byte(50 + i))})
		h.pump()
	}
	if !shows(b.share, 152) || !shows(b.view, 52) || !shows(cl.view, 120) || cl.share.img.Image != nil {
		t.Errorf("share %d, Bob's camera %d, Cleo's camera %d, Cleo's share %v",
			lum(b.share), lum(b.view), lum(cl.view), cl.share.img.Image != nil)
	}
	if n := c.shown.Load(); n != 5 {
		t.Errorf("%d camera frames counted as shown, want 5", n)
	}

	// Untagged share frames with one person: theirs.
	h.u.render(groupNotify(sharing(bob)))
	h.u.onFrame(app.VideoFrame{Share: true, Image: grey(77)})
	h.pump()
	if !shows(b.share, 77) || !shows(b.view, 52) {
		t.Errorf("untagged share frame: share %d, camera %d", lum(b.share), lum(b.view))
	}
}

// TestShareFramesLegacyDropped: the 1:1 tile of an engine without Peers
// keeps its camera when share frames come.
func TestShareFramesLegacyDropped(t *testing.T) {
	h := newHarness(t, nil, app.GUIOptions{})
	connectedCall(h)
	r := h.u.call.tiles[""]
	h.u.onFrame(app.VideoFrame{Peer: "p1", Image: grey(60)})
	h.u.onFrame(app.VideoFrame{Peer: "p1", Share: true, Image: grey(200)})
	h.pump()
	if !shows(r.view, 60) || r.share.img.Image != nil {
		t.Errorf("camera shows %d, share view %v", lum(r.view), r.share.img.Image != nil)
	}
	test.Tap(h.u.call.hangBtn)
	h.until("ended", phase(app.PhaseEnded))
}

// TestRemoteShareThroughController: the engine says a person shares
// (CallEvent.Share) and tags their share frames: the stage shows it
// large, and the grid comes back when it ends.
func TestRemoteShareThroughController(t *testing.T) {
	h := newHarness(t, nil, app.GUIOptions{})
	fc := connectedCall(h)
	onFrame := h.eng.params[0].OnFrame
	for _, p := range []app.PeerView{bob, cleo} {
		fc.events <- app.CallEvent{Peer: p.ID, PeerName: p.Name, Phase: app.PhaseConnected}
	}
	fc.events <- app.CallEvent{Peer: cleo.ID, Share: &app.ShareState{On: true}}
	h.until("Cleo shares", func(n app.Notify) bool { return len(n.Peers) == 2 && n.Peers[1].Sharing })
	c := h.u.call
	onFrame(app.VideoFrame{Peer: cleo.ID, Share: true, Image: grey(180)})
	onFrame(app.VideoFrame{Peer: cleo.ID, Image: grey(30)})
	h.waitFor("Cleo's share and camera", func() bool {
		tl := c.tiles[cleo.ID]
		return tl != nil && shows(tl.share, 180) && shows(tl.view, 30)
	})
	if main, _ := stageOf(t, c); main != c.tiles[cleo.ID].shareCell {
		t.Error("Cleo's share not large")
	}
	fc.events <- app.CallEvent{Peer: cleo.ID, Share: &app.ShareState{}}
	h.until("Cleo stopped", func(n app.Notify) bool { return !n.Peers[1].Sharing })
	if c.grid.Layout != fyne.Layout(c.gridL) || len(cells(c)) != 2 {
		t.Error("grid not back after the share ended")
	}
	test.Tap(c.hangBtn)
	h.until("ended", phase(app.PhaseEnded))
}

// TestShareGolden: Bob's share large, his and Cleo's cameras and the
// self-view in the strip.
func TestShareGolden(t *testing.T) {
	h := newHarness(t, nil, app.GUIOptions{})
	cl := cleo
	cl.MicOn = false
	h.u.render(groupNotify(sharing(bob), cl))
	h.u.onFrame(app.VideoFrame{Peer: bob.ID, Share: true, Image: grey(200)})
	h.u.onFrame(app.VideoFrame{Peer: bob.ID, Image: grey(60)})
	h.u.onFrame(app.VideoFrame{Local: true, Image: grey(220)})
	h.pump()
	h.golden("call_share.xml")
}
