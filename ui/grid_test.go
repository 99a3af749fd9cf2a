package ui

import (
	"image"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/peercall/peercall/app"
)

// The grid tests render Notify snapshots with Peers straight into the UI:
// the controller stays idle (no call), so no snapshot of its own replaces
// them while the main-thread queue is pumped.

func groupNotify(peers ...app.PeerView) app.Notify {
	return app.Notify{Phase: app.PhaseConnected, Room: "kitchen", Name: "Ann", CameraOn: true,
		ConnectedAt: fixedNow, Peers: peers}
}

// peer is a connected person with camera and mic on.
func peer(id, name string) app.PeerView {
	return app.PeerView{ID: id, Name: name, Phase: app.PhaseConnected, CameraOn: true, MicOn: true}
}

var (
	bob  = peer("p-bob", "Bob")
	cleo = peer("p-cleo", "Cleo")
	dan  = peer("p-dan", "Dan")
)

// cells is the grid's cells in order (tiles, then the self-view if it is
// one).
func cells(c *callScreen) []fyne.CanvasObject { return c.grid.Objects }

// lum is the red channel of the first pixel on screen in v, -1 without a
// picture.
func lum(v *videoView) int {
	img, ok := v.img.Image.(*image.RGBA)
	if !ok || img == nil {
		return -1
	}
	return int(img.Pix[0])
}

// shows reports whether v shows grey(y).
func shows(v *videoView, y byte) bool { return lum(v) == int(app.ToRGBA(nil, grey(y)).Pix[0]) }

func TestGridCells(t *testing.T) {
	tests := []struct {
		name       string
		peers      []app.PeerView
		wantCells  int
		selfInGrid bool
		// wantPos is each cell's column and row (tiles in join order,
		// then the self-view).
		wantPos [][2]int
	}{
		{"one fills the window", []app.PeerView{bob}, 1, false, [][2]int{{0, 0}}},
		{"two side by side", []app.PeerView{bob, cleo}, 2, false, [][2]int{{0, 0}, {1, 0}}},
		{"three in 2x2 with the self-view", []app.PeerView{bob, cleo, dan}, 4, true,
			[][2]int{{0, 0}, {1, 0}, {0, 1}, {1, 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil, app.GUIOptions{})
			h.u.render(groupNotify(tt.peers...))
			h.pump()
			h.w.Content().Refresh()
			c := h.u.call
			got := cells(c)
			if len(got) != tt.wantCells {
				t.Fatalf("%d cells, want %d", len(got), tt.wantCells)
			}
			for i, p := range tt.peers {
				if got[i] != c.tiles[p.ID].cell {
					t.Errorf("cell %d is not %s's tile", i, p.Name)
				}
			}
			if inGrid := slices.Contains(got, fyne.CanvasObject(c.selfBox)); inGrid != tt.selfInGrid {
				t.Errorf("self-view in the grid %v, want %v", inGrid, tt.selfInGrid)
			}
			if inInset := slices.Contains(c.inset.Objects, fyne.CanvasObject(c.selfBox)); inInset == tt.selfInGrid {
				t.Errorf("self-view in the inset %v, want %v", inInset, !tt.selfInGrid)
			}
			if c.selfPlate.Visible() != tt.selfInGrid {
				t.Errorf("self-view's name plate shown %v", c.selfPlate.Visible())
			}
			area := c.grid.Size()
			if area.Width < 890 || area.Height < 530 {
				t.Fatalf("video area %v: the grid does not fill the window", area)
			}
			cols, rows := gridShape(len(got))
			gap := float32(gridGap)
			if len(got) == 1 {
				gap = 0
			}
			cw, ch := (area.Width-gap*float32(cols-1))/float32(cols), (area.Height-gap*float32(rows-1))/float32(rows)
			for i, o := range got {
				want := fyne.NewPos(float32(tt.wantPos[i][0])*(cw+gap), float32(tt.wantPos[i][1])*(ch+gap))
				if o.Position() != want || o.Size() != fyne.NewSize(cw, ch) {
					t.Errorf("cell %d at %v size %v, want %v size %vx%v", i, o.Position(), o.Size(), want, cw, ch)
				}
			}
			// Name plates and the speaker border only in a group.
			for _, p := range tt.peers {
				if tl := c.tiles[p.ID]; tl.plate.Visible() != (len(tt.peers) > 1) {
					t.Errorf("%s's name plate shown %v", p.Name, tl.plate.Visible())
				}
			}
		})
	}
}

func TestGridShape(t *testing.T) {
	tests := []struct{ n, cols, rows int }{{0, 1, 1}, {1, 1, 1}, {2, 2, 1}, {3, 2, 2}, {4, 2, 2}, {5, 3, 2}}
	for _, tt := range tests {
		if c, r := gridShape(tt.n); c != tt.cols || r != tt.rows {
			t.Errorf("gridShape(%d) = %dx%d, want %dx%d", tt.n, c, r, tt.cols, tt.rows)
		}
	}
}

// TestGridFramesRouteByPeer: each frame lands in its sender's tile; frames
// from nobody in the grid, and untagged frames in a group, are dropped.
func TestGridFramesRouteByPeer(t *testing.T) {
	h := newHarness(t, nil, app.GUIOptions{})
	h.u.render(groupNotify(bob, cleo, dan))
	c := h.u.call
	for _, f := range []struct {
		id string
		y  byte
	}{{bob.ID, 40}, {cleo.ID, 120}, {dan.ID, 200}} {
		h.u.onFrame(app.VideoFrame{Peer: f.id, Image: grey(f.y)})
	}
	h.u.onFrame(app.VideoFrame{Peer: "p-stranger", Image: grey(250)})
	h.u.onFrame(app.VideoFrame{Image: grey(250)}) // untagged: whose?
	h.pump()
	for id, want := range map[string]byte{bob.ID: 40, cleo.ID: 120, dan.ID: 200} {
		tl := c.tiles[id]
		if !shows(tl.view, want) {
			t.Errorf("%s's tile shows %d, not grey(%d)", id, lum(tl.view), want)
		}
		if tl.place.Visible() {
			t.Errorf("%s's placeholder still covers the picture", id)
		}
	}
	if n := c.shown.Load(); n != 3 {
		t.Errorf("%d remote frames counted as shown, want 3", n)
	}

	// One person, whose engine does not tag frames yet: theirs all the same.
	h.u.render(groupNotify(bob))
	h.u.onFrame(app.VideoFrame{Image: grey(90)})
	h.pump()
	if !shows(c.tiles[bob.ID].view, 90) {
		t.Errorf("untagged frame with one person: tile shows %d, not grey(90)", lum(c.tiles[bob.ID].view))
	}
}

// TestGridBadgesFollowPeerView: each tile's badges, placeholder, name plate
// and border follow that person's PeerView, and leave the others alone.
func TestGridBadgesFollowPeerView(t *testing.T) {
	tests := []struct {
		name       string
		change     func(*app.PeerView)
		muted      string // badge text, "" hidden
		place      string // placeholder text, "" hidden
		plate      string
		border     bool
		keepsImage bool
	}{
		{"all on", func(*app.PeerView) {}, "", "", "Cleo", false, true},
		{"muted", func(p *app.PeerView) { p.MicOn = false }, "Cleo is muted", "", "Cleo", false, true},
		{"camera off", func(p *app.PeerView) { p.CameraOn = false }, "", "Cleo's camera is off", "Cleo", false, false},
		{"camera off and muted, unnamed", func(p *app.PeerView) { p.CameraOn, p.MicOn, p.Name = false, false, "" },
			"Muted", "Guest's camera is off", "Guest", false, false},
		{"speaking", func(p *app.PeerView) { p.Speaking, p.Level = true, 0.8 }, "", "", "Cleo", true, true},
		{"reconnecting", func(p *app.PeerView) { p.Phase = app.PhaseReconnecting }, "", "", "Cleo · reconnecting…", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil, app.GUIOptions{})
			c := h.u.call
			h.u.render(groupNotify(bob, cleo, dan))
			for _, p := range []app.PeerView{bob, cleo, dan} {
				h.u.onFrame(app.VideoFrame{Peer: p.ID, Image: grey(100)})
			}
			h.pump()
			p := cleo
			tt.change(&p)
			h.u.render(groupNotify(bob, p, dan))
			h.u.onFrame(app.VideoFrame{Peer: cleo.ID, Image: grey(150)}) // in flight
			h.pump()
			tl := c.tiles[cleo.ID]
			if tl.muted.Visible() != (tt.muted != "") || (tt.muted != "" && tl.mutedText.Text != tt.muted) {
				t.Errorf("muted badge shown %v %q, want %q", tl.muted.Visible(), tl.mutedText.Text, tt.muted)
			}
			if tl.place.Visible() != (tt.place != "") || (tt.place != "" && tl.placeText.Text != tt.place) {
				t.Errorf("placeholder shown %v %q, want %q", tl.place.Visible(), tl.placeText.Text, tt.place)
			}
			if tl.bg.Visible() != (tt.place != "") {
				t.Errorf("cell background shown %v with placeholder %q", tl.bg.Visible(), tt.place)
			}
			if !tl.plate.Visible() || tl.plateText.Text != tt.plate {
				t.Errorf("name plate shown %v %q, want %q", tl.plate.Visible(), tl.plateText.Text, tt.plate)
			}
			if tl.border.Visible() != tt.border {
				t.Errorf("speaker border shown %v, want %v", tl.border.Visible(), tt.border)
			}
			if hasImage := tl.view.img.Image != nil; hasImage != tt.keepsImage {
				t.Errorf("picture shown %v, want %v (camera off clears it, late frames too)", hasImage, tt.keepsImage)
			}
			for _, other := range []string{bob.ID, dan.ID} {
				o := c.tiles[other]
				if o.muted.Visible() || o.place.Visible() || o.border.Visible() || !shows(o.view, 100) {
					t.Errorf("%s's tile changed with Cleo's state", other)
				}
			}
		})
	}
}

// TestGridPeerLeaves: a person leaving removes their tile; the others
// keep their tiles, video views and pictures. Joining again adds a tile.
// Everyone gone: the waiting tile, with no one's frames routed to it.
func TestGridPeerLeaves(t *testing.T) {
	h := newHarness(t, nil, app.GUIOptions{})
	c := h.u.call
	h.u.render(groupNotify(bob, cleo, dan))
	for _, p := range []app.PeerView{bob, cleo, dan} {
		h.u.onFrame(app.VideoFrame{Peer: p.ID, Image: grey(100)})
	}
	h.pump()
	bobTile, danTile := c.tiles[bob.ID], c.tiles[dan.ID]
	bobImg, danImg := bobTile.view.img.Image, danTile.view.img.Image
	cleoView := c.tiles[cleo.ID].view

	h.u.render(groupNotify(bob, dan))
	h.pump()
	if c.tiles[bob.ID] != bobTile || c.tiles[dan.ID] != danTile {
		t.Fatal("the others' tiles were rebuilt when Cleo left")
	}
	if bobTile.view.img.Image != bobImg || danTile.view.img.Image != danImg {
		t.Error("the others' pictures were disturbed when Cleo left")
	}
	if got := cells(c); len(got) != 2 || got[0] != bobTile.cell || got[1] != danTile.cell {
		t.Errorf("grid after Cleo left: %d cells", len(got))
	}
	if !slices.Contains(c.inset.Objects, fyne.CanvasObject(c.selfBox)) {
		t.Error("self-view not back in the inset with two people")
	}
	if _, ok := c.tiles[cleo.ID]; ok || c.viewFor(cleo.ID) != nil {
		t.Error("Cleo's tile or route kept after she left")
	}
	if slices.Contains(h.u.sw.views, cleoView) {
		t.Error("Cleo's view still repainted after she left")
	}

	h.u.render(groupNotify(bob, dan, cleo))
	h.u.onFrame(app.VideoFrame{Peer: cleo.ID, Image: grey(60)})
	h.pump()
	if len(cells(c)) != 4 || c.tiles[cleo.ID] == nil || !shows(c.tiles[cleo.ID].view, 60) {
		t.Error("Cleo back: no tile with her picture")
	}
	if c.tiles[bob.ID] != bobTile || bobTile.view.img.Image != bobImg {
		t.Error("Bob's tile disturbed when Cleo came back")
	}

	n := groupNotify()
	n.Phase, n.Progress = app.PhaseWaiting, "Waiting for the other person to join…"
	n.RemoteName, n.RemoteCameraOn = "Dan", false // stale 1:1 fields of the last to leave
	h.u.render(n)
	h.u.onFrame(app.VideoFrame{Peer: bob.ID, Image: grey(200)}) // a late frame
	h.pump()
	w := c.tiles[""]
	if len(c.tiles) != 1 || w == nil || len(cells(c)) != 1 {
		t.Fatalf("everyone left: %d tiles", len(c.tiles))
	}
	if w.view.img.Image != nil || !w.place.Visible() || w.placeText.Text != n.Progress {
		t.Errorf("waiting tile: picture %v, placeholder %v %q", w.view.img.Image != nil, w.place.Visible(), w.placeText.Text)
	}
}

func TestSASText(t *testing.T) {
	words := []string{"amber", "butter", "cider", "banjo"}
	tests := []struct {
		name  string
		peers []app.PeerView
		want  string
	}{
		{"none yet", []app.PeerView{bob}, ""},
		{"one person as before", []app.PeerView{{Name: "Bob", SASDigits: "803302", SASWords: words}},
			"Say aloud: 803 302 · amber butter cider banjo"},
		{"a line per person", []app.PeerView{
			{Name: "Bob", SASDigits: "803302", SASWords: words},
			{Name: "Cleo"}, // not negotiated yet
			{SASDigits: "117480"},
		}, "Say aloud with Bob: 803 302 · amber butter cider banjo\nSay aloud with Guest: 117 480"},
	}
	for _, tt := range tests {
		if got := sasText(tt.peers); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestGridGolden: a three-person call with the stats overlay: per-person
// stats blocks, the SAS list, the weakest link in the top bar, a picture
// in two tiles, a camera off, a muted badge and the active speaker.
func TestGridGolden(t *testing.T) {
	h := newHarness(t, nil, app.GUIOptions{})
	c := h.u.call
	b, cl, d := bob, cleo, dan
	b.Speaking, b.Quality, b.SASDigits, b.SASWords = true, 4, "803302", []string{"amber", "butter", "cider", "banjo"}
	b.Stats = app.CallStats{Stats: app.Stats{RTT: 12 * time.Millisecond, VideoIn: app.StreamStats{FPS: 30, FrameWidth: 640, FrameHeight: 480, Bitrate: 900_000}}}
	cl.MicOn, cl.Quality, cl.SASDigits = false, 2, "117480"
	cl.Stats = app.CallStats{Stats: app.Stats{RTT: 80 * time.Millisecond, Relayed: true, VideoIn: app.StreamStats{FPS: 24, FrameWidth: 320, FrameHeight: 240, LossPct: 2.5}}}
	d.CameraOn, d.Phase = false, app.PhaseReconnecting
	n := groupNotify(b, cl, d)
	h.u.render(n)
	h.u.onFrame(app.VideoFrame{Peer: b.ID, Image: grey(60)})
	h.u.onFrame(app.VideoFrame{Peer: cl.ID, Image: grey(160)})
	h.u.onFrame(app.VideoFrame{Local: true, Image: grey(220)})
	h.pump()
	test.Tap(c.statsBtn)
	h.u.render(n)
	for _, want := range []string{"Bob        ▮▮▮▮  direct  rtt 12 ms", "  in  640x480 30 fps 900 kbit/s loss 0.0%",
		"Cleo       ▮▮▯▯  relayed  rtt 80 ms", "  in  320x240 24 fps 0 kbit/s loss 2.5%", "Dan        ----"} {
		if !strings.Contains(c.stats.Text, want) {
			t.Errorf("stats overlay lacks %q:\n%s", want, c.stats.Text)
		}
	}
	if c.quality.Text != "Signal ▮▮▯▯" {
		t.Errorf("top bar quality %q, want the weakest link", c.quality.Text)
	}
	h.golden("call_grid3.xml")
}

// TestGroupCallThroughController: a call whose engine reports each person
// (CallEvent.Peer) and tags their frames reaches the grid through the
// real controller: three tiles with their pictures and badges, then one
// person leaves and the others keep their tiles.
func TestGroupCallThroughController(t *testing.T) {
	h := newHarness(t, nil, app.GUIOptions{})
	test.Type(h.u.start.room, "kitchen")
	test.Tap(h.u.start.startBtn)
	fc := <-h.eng.calls
	h.until("waiting", phase(app.PhaseWaiting))
	if w := h.u.call.tiles[""]; w == nil || !w.place.Visible() {
		t.Fatal("no waiting tile before anyone arrives")
	}
	onFrame := h.eng.params[0].OnFrame
	fc.events <- app.CallEvent{Phase: app.PhaseConnected}
	for _, p := range []app.PeerView{bob, cleo, dan} {
		fc.events <- app.CallEvent{Peer: p.ID, PeerName: p.Name, Phase: app.PhaseConnected}
	}
	fc.events <- app.CallEvent{Peer: cleo.ID, RemoteMedia: &app.MediaState{Audio: false, Video: true}}
	h.until("three people, Cleo muted", func(n app.Notify) bool {
		return len(n.Peers) == 3 && !n.Peers[1].MicOn
	})
	c := h.u.call
	greys := map[string]byte{bob.ID: 40, cleo.ID: 120, dan.ID: 200}
	for id, y := range greys {
		onFrame(app.VideoFrame{Peer: id, Image: grey(y)})
	}
	h.until("pictures in their tiles", func(app.Notify) bool {
		for id, y := range greys {
			if tl := c.tiles[id]; tl == nil || !shows(tl.view, y) {
				return false
			}
		}
		return true
	})
	if len(cells(c)) != 4 || c.tiles[""] != nil {
		t.Errorf("%d cells, waiting tile kept %v", len(cells(c)), c.tiles[""] != nil)
	}
	if tl := c.tiles[cleo.ID]; !tl.muted.Visible() || tl.mutedText.Text != "Cleo is muted" || tl.plateText.Text != "Cleo" {
		t.Errorf("Cleo's tile: badge %v %q, plate %q", tl.muted.Visible(), tl.mutedText.Text, tl.plateText.Text)
	}
	cleoTile, danTile := c.tiles[cleo.ID], c.tiles[dan.ID]

	fc.events <- app.CallEvent{Peer: bob.ID, Gone: true}
	h.until("Bob gone", func(n app.Notify) bool { return len(n.Peers) == 2 })
	if c.tiles[bob.ID] != nil || c.tiles[cleo.ID] != cleoTile || c.tiles[dan.ID] != danTile || len(cells(c)) != 2 {
		t.Error("Bob leaving did not just remove his tile")
	}
	if !shows(cleoTile.view, 120) || !shows(danTile.view, 200) {
		t.Error("the others' pictures were disturbed when Bob left")
	}
	test.Tap(c.hangBtn)
	h.until("ended", phase(app.PhaseEnded))
	if len(c.tiles) != 0 || c.viewFor(cleo.ID) != nil {
		t.Error("tiles or routes kept after the call")
	}
}
