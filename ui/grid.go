package ui

import (
	"fmt"
	"image/color"
	"math"
	"slices"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/peercall/peercall/app"
)

// tile is one other person's cell of the call grid: their video, a
// placeholder while there is none, a muted badge, and in a group call a
// name plate and the active-speaker border.
type tile struct {
	id   string
	view *videoView
	cell *fyne.Container

	bg        *canvas.Rectangle // group: marks an empty cell as a cell
	place     *fyne.Container
	placeText *widget.Label
	muted     *fyne.Container
	mutedBox  *fyne.Container // lays muted out in the corner
	mutedText *widget.Label
	plate     *fyne.Container
	plateText *widget.Label
	border    *canvas.Rectangle
	icon      *canvas.Image // the placeholder's picture

	// Their screen share (VideoFrame.Share) has a view and cell of its
	// own: it never shows in the camera's.
	share          *videoView
	shareCell      *fyne.Container
	sharePlace     *fyne.Container
	sharePlaceText *widget.Label
	sharePlateText *widget.Label

	haveVideo bool // a picture is on screen
	camOn     bool // last rendered CameraOn
	shareOn   bool // last rendered Sharing
}

var (
	tileBg      = color.NRGBA{0x20, 0x20, 0x20, 0xff}
	badgeBg     = color.NRGBA{0, 0, 0, 0xb0}
	speakerEdge = color.NRGBA{0x4c, 0xaf, 0x50, 0xff}
)

// gridGap separates cells in a group call.
const gridGap = 4

func (c *callScreen) newTile(id string) *tile {
	t := &tile{id: id, view: c.u.sw.newView(false, 0), camOn: true}
	t.view.count = &c.shown
	c.u.surfaces.add(t.view)
	t.view.onShow = func(first bool) {
		if !t.camOn {
			// A frame that was in flight when the camera went off: drop
			// it, the placeholder stays.
			t.view.Clear()
			return
		}
		if first {
			t.haveVideo = true
			showIf(t.place, false)
			showIf(t.bg, false)
		}
	}

	t.icon = canvas.NewImageFromResource(iconResource)
	t.icon.FillMode = canvas.ImageFillContain
	t.icon.SetMinSize(placeIconSize)
	t.placeText = widget.NewLabelWithStyle("", fyne.TextAlignCenter, fyne.TextStyle{})
	t.place = container.NewCenter(container.NewVBox(container.NewCenter(t.icon), t.placeText))

	// Like the rest of the call screen, no rectangle under the picture:
	// the background only shows while there is none.
	t.bg = canvas.NewRectangle(tileBg)
	t.bg.Hide()

	t.mutedText = widget.NewLabel("")
	t.muted = container.NewStack(canvas.NewRectangle(badgeBg),
		container.NewPadded(container.NewHBox(container.NewCenter(widget.NewIcon(theme.VolumeMuteIcon())), t.mutedText)))
	t.muted.Hide()

	t.plateText = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	t.plate = container.NewStack(canvas.NewRectangle(badgeBg), t.plateText)
	t.plate.Hide()

	t.border = canvas.NewRectangle(color.Transparent)
	t.border.StrokeColor = speakerEdge
	t.border.StrokeWidth = 4
	t.border.Hide()

	t.mutedBox = container.New(&cornerLayout{pad: 12}, t.muted)
	t.cell = container.NewStack(t.bg, t.place, t.view.img, t.mutedBox,
		container.New(&cornerLayout{pad: 8, bottomLeft: true}, t.plate),
		t.border)

	// Frames may come before the snapshot that says the share is on:
	// they are kept, and shown when it is.
	t.share = c.u.sw.newView(false, 0)
	c.u.surfaces.add(t.share)
	t.share.onShow = func(first bool) {
		if first {
			showIf(t.sharePlace, false)
		}
	}
	t.sharePlaceText = widget.NewLabelWithStyle("", fyne.TextAlignCenter, fyne.TextStyle{})
	t.sharePlace = container.NewCenter(container.NewVBox(
		container.NewCenter(widget.NewIcon(shareIcon())), t.sharePlaceText))
	t.sharePlateText = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	t.shareCell = container.NewStack(t.sharePlace, t.share.img,
		container.New(&cornerLayout{pad: 8, bottomLeft: true},
			container.NewStack(canvas.NewRectangle(badgeBg), t.sharePlateText)))
	return t
}

// Placeholder pictures: a grid cell's, and a strip cell's (small).
var (
	placeIconSize      = fyne.NewSize(96, 96)
	placeIconSizeSmall = fyne.NewSize(40, 40)
)

// render shows p in the tile. place is the placeholder's text while there
// is no picture; group adds the name plate and the speaker highlight,
// small (a cell of the share stage's strip) the name plate and a smaller
// placeholder. Main thread.
func (t *tile) render(p app.PeerView, name, place string, group, small bool) {
	if t.camOn && !p.CameraOn {
		// The last picture would freeze there: clear it. The next one
		// (a keyframe) lifts the placeholder when the camera is back.
		t.view.Clear()
		t.haveVideo = false
	}
	t.camOn = p.CameraOn
	setText(t.placeText, place)
	noPicture := !t.haveVideo || !p.CameraOn
	showIf(t.place, noPicture)
	showIf(t.bg, group && noPicture)
	if p.Name != "" {
		setText(t.mutedText, p.Name+" is muted")
	} else {
		setText(t.mutedText, "Muted")
	}
	showIf(t.muted, !p.MicOn)
	if t.mutedText.Visible() == small {
		// A small cell has room for the icon only.
		showIf(t.mutedText, !small)
		t.mutedBox.Refresh()
	}
	if group || small {
		setText(t.plateText, name+phaseSuffix(p.Phase))
	}
	showIf(t.plate, group || small)
	// With one other person the highlight would say nothing, and it would
	// flash on and off with their every sentence.
	showIf(t.border, group && p.Speaking)
	iconSize := placeIconSize
	if small {
		iconSize = placeIconSizeSmall
	}
	if t.icon.MinSize() != iconSize {
		t.icon.SetMinSize(iconSize)
		t.place.Refresh()
	}

	if t.shareOn && !p.Sharing {
		// The next share must not open with this one's last picture.
		t.share.Clear()
	}
	t.shareOn = p.Sharing
	setText(t.sharePlateText, name+"'s screen")
	setText(t.sharePlaceText, "Waiting for "+name+"'s screen…")
	// No picture since the share began (on a surface, Fyne's image is
	// empty while the picture shows).
	showIf(t.sharePlace, t.share.picSize.Load() == 0)
}

// phaseSuffix marks a person whose own connection is not (yet) up.
func phaseSuffix(p app.Phase) string {
	switch p {
	case app.PhaseConnecting:
		return " · connecting…"
	case app.PhaseReconnecting:
		return " · reconnecting…"
	}
	return ""
}

// routes maps a remote frame's sender to its view. It is replaced, never
// changed, on the main thread and read by the frame producers.
type routes struct {
	byID map[string]*videoView
	// untagged takes frames without a sender while there is one tile.
	untagged *videoView
	// anyPeer takes every remote frame while the engine fills only the
	// 1:1 fields (no Peers yet in this call).
	anyPeer *videoView
	// shares are the views of screen shares (VideoFrame.Share), by
	// sender; untaggedShare as untagged. Such an engine (no Peers) cannot
	// say who shares: its share frames are dropped, not shown as a camera.
	shares        map[string]*videoView
	untaggedShare *videoView
}

func (r *routes) view(peer string) *videoView {
	if r == nil {
		return nil
	}
	if v, ok := r.byID[peer]; ok {
		return v
	}
	if peer == "" && r.untagged != nil {
		return r.untagged
	}
	return r.anyPeer
}

func (r *routes) shareView(peer string) *videoView {
	if r == nil {
		return nil
	}
	if v, ok := r.shares[peer]; ok {
		return v
	}
	if peer == "" {
		return r.untaggedShare
	}
	return nil
}

// viewFor is where a remote frame from peer goes; nil drops it (a person
// whose tile is not there yet, or is gone). Any goroutine.
func (c *callScreen) viewFor(peer string) *videoView { return c.routes.Load().view(peer) }

// shareViewFor is where a frame of peer's screen share goes; nil drops
// it. Any goroutine.
func (c *callScreen) shareViewFor(peer string) *videoView { return c.routes.Load().shareView(peer) }

// peerViews is who the grid shows. An engine that fills only the 1:1
// fields gets one tile made of them (keyed ""), which is also the waiting
// screen's tile before anyone arrives.
func (c *callScreen) peerViews(n app.Notify) (peers []app.PeerView, legacy bool) {
	if len(n.Peers) > 0 {
		c.sawPeers = true
		return n.Peers, false
	}
	if c.sawPeers {
		// Everyone left: waiting again. The 1:1 fields may still describe
		// the last person; the placeholder must not.
		return []app.PeerView{{Phase: n.Phase, CameraOn: true, MicOn: true}}, true
	}
	return []app.PeerView{{
		Name: n.RemoteName, Phase: n.Phase, CameraOn: n.RemoteCameraOn, MicOn: n.RemoteMicOn,
		SASDigits: n.SASDigits, SASWords: n.SASWords, Stats: n.Stats, Quality: n.Quality,
	}}, true
}

// renderGrid makes one tile per person, keyed by id: a person who joins
// or leaves re-lays the grid, the others keep their views. Main thread.
func (c *callScreen) renderGrid(n app.Notify) []app.PeerView {
	peers, legacy := c.peerViews(n)
	group := len(peers) > 1

	ids := make([]string, len(peers))
	changed := false
	for i, p := range peers {
		ids[i] = p.ID
		if _, ok := c.tiles[p.ID]; !ok {
			c.tiles[p.ID] = c.newTile(p.ID)
			changed = true
		}
	}
	for id, t := range c.tiles {
		if !slices.Contains(ids, id) {
			c.dropTile(t)
			delete(c.tiles, id)
			changed = true
		}
	}
	if changed || !slices.Equal(ids, c.order) {
		c.order = ids
		r := &routes{byID: make(map[string]*videoView, len(ids))}
		for _, id := range ids {
			r.byID[id] = c.tiles[id].view
		}
		if len(ids) == 1 {
			r.untagged = c.tiles[ids[0]].view
		}
		if legacy && !c.sawPeers {
			r.anyPeer = c.tiles[""].view
		}
		if !legacy {
			r.shares = make(map[string]*videoView, len(ids))
			for _, id := range ids {
				r.shares[id] = c.tiles[id].share
			}
			if len(ids) == 1 {
				r.untaggedShare = c.tiles[ids[0]].share
			}
		}
		c.routes.Store(r)
	}
	var sharers []string
	for _, p := range peers {
		if p.Sharing && !legacy {
			sharers = append(sharers, p.ID)
		}
	}
	c.layoutCells(len(peers) >= 3, sharers)
	// Cameras are small while a share is large.
	small := len(sharers) > 0 && c.shareLarge

	for _, p := range peers {
		name := p.Name
		if name == "" {
			name = "Guest"
			if !group {
				name = "The other person"
			}
		}
		place := "Waiting for video…"
		switch {
		case !p.CameraOn:
			place = name + "'s camera is off"
		case !group && n.Phase != app.PhaseConnected:
			place = n.Progress
		case p.Phase == app.PhaseConnecting:
			place = "Connecting to " + name + "…"
		case p.Phase == app.PhaseReconnecting:
			place = "Reconnecting to " + name + "…"
		}
		c.tiles[p.ID].render(p, name, place, group, small)
	}
	return peers
}

// layoutCells puts the tiles in the grid in c.order and the self-view in
// the grid's free cell (selfInGrid) or in the corner inset. While people
// share (sharers, in call order) the grid becomes the stage: the first
// share large with the cameras and the self-view in the strip, or (the
// swap button) the cameras large and the shares in the strip. Objects are
// only replaced when the cells change: a refresh re-lays the grid.
func (c *callScreen) layoutCells(selfInGrid bool, sharers []string) {
	if len(sharers) == 0 {
		c.shareLarge = true // the next share opens large
	}
	cells := make([]fyne.CanvasObject, 0, len(c.order)+len(sharers)+2)
	var lay fyne.Layout = c.gridL
	var inset []fyne.CanvasObject
	switch {
	case len(sharers) > 0:
		lay = c.stageL
		var strip []fyne.CanvasObject
		if c.shareLarge {
			cells = append(cells, c.tiles[sharers[0]].shareCell, c.swapBtn)
			for _, id := range sharers[1:] {
				strip = append(strip, c.tiles[id].shareCell)
			}
			for _, id := range c.order {
				strip = append(strip, c.tiles[id].cell)
			}
			c.camGrid.Objects = nil
			setButton(c.swapBtn, camerasLarge, theme.ViewRestoreIcon())
		} else {
			cams := make([]fyne.CanvasObject, 0, len(c.order))
			for _, id := range c.order {
				cams = append(cams, c.tiles[id].cell)
			}
			if !slices.Equal(cams, c.camGrid.Objects) {
				c.camGrid.Objects = cams
				c.camGrid.Refresh()
			}
			cells = append(cells, c.camGrid, c.swapBtn)
			for _, id := range sharers {
				strip = append(strip, c.tiles[id].shareCell)
			}
			setButton(c.swapBtn, shareLarge, theme.ViewFullScreenIcon())
		}
		cells = append(append(cells, strip...), c.selfBox)
		selfInGrid = true // its name plate, in the strip
	default:
		for _, id := range c.order {
			cells = append(cells, c.tiles[id].cell)
		}
		c.camGrid.Objects = nil
		if selfInGrid {
			cells = append(cells, c.selfBox)
		} else {
			inset = []fyne.CanvasObject{c.selfBox}
		}
	}
	showIf(c.selfPlate, selfInGrid)
	if !slices.Equal(cells, c.grid.Objects) || c.grid.Layout != lay {
		c.grid.Objects = cells
		c.grid.Layout = lay
		c.grid.Refresh()
	}
	if !slices.Equal(inset, c.inset.Objects) {
		c.inset.Objects = inset
		c.inset.Refresh()
	}
}

// dropTile stops a tile's view from taking part in repaints. Main thread.
func (c *callScreen) dropTile(t *tile) {
	c.u.sw.removeView(t.view)
	c.u.surfaces.remove(t.view)
	c.u.sw.removeView(t.share)
	c.u.surfaces.remove(t.share)
	t.view.Clear()
	t.share.Clear()
}

// gridLayout lays out the call's cells: one fills the area, two side by
// side, three or four in 2x2 (more: the nearest square). Hidden cells
// keep their place, so the others do not jump.
type gridLayout struct{ gap float32 }

// gridShape is the columns and rows for n cells.
func gridShape(n int) (cols, rows int) {
	switch {
	case n <= 1:
		return 1, 1
	case n == 2:
		return 2, 1
	}
	cols = int(math.Ceil(math.Sqrt(float64(n))))
	return cols, (n + cols - 1) / cols
}

func (l *gridLayout) Layout(objs []fyne.CanvasObject, s fyne.Size) {
	cols, rows := gridShape(len(objs))
	gap := l.gap
	if len(objs) <= 1 {
		gap = 0
	}
	w := (s.Width - gap*float32(cols-1)) / float32(cols)
	h := (s.Height - gap*float32(rows-1)) / float32(rows)
	for i, o := range objs {
		o.Move(fyne.NewPos(float32(i%cols)*(w+gap), float32(i/cols)*(h+gap)))
		o.Resize(fyne.NewSize(w, h))
	}
}

func (l *gridLayout) MinSize([]fyne.CanvasObject) fyne.Size { return fyne.NewSize(0, 0) }

// sasText is the codes to compare: one line with one other person, a
// line per person in a group call (each pair has its own).
func sasText(peers []app.PeerView) string {
	var lines []string
	for _, p := range peers {
		if len(p.SASDigits) < 6 {
			continue
		}
		code := p.SASDigits[:3] + " " + p.SASDigits[3:]
		if len(p.SASWords) > 0 {
			code += " · " + strings.Join(p.SASWords, " ")
		}
		if len(peers) == 1 {
			return "Say aloud: " + code
		}
		name := p.Name
		if name == "" {
			name = "Guest"
		}
		lines = append(lines, "Say aloud with "+name+": "+code)
	}
	return strings.Join(lines, "\n")
}

// worstQuality is the top bar's signal in a group call: the weakest link
// is the one the user notices.
func worstQuality(peers []app.PeerView) int {
	q := 0
	for _, p := range peers {
		if p.Quality > 0 && (q == 0 || p.Quality < q) {
			q = p.Quality
		}
	}
	return q
}

// groupStatsText is the stats overlay in a group call: a block per person.
func groupStatsText(peers []app.PeerView) string {
	var b strings.Builder
	for i, p := range peers {
		if i > 0 {
			b.WriteByte('\n')
		}
		st := p.Stats
		name := p.Name
		if name == "" {
			name = "Guest"
		}
		path := "direct"
		if st.Relayed {
			path = "relayed"
		}
		bars := "----"
		if p.Quality > 0 {
			bars = strings.Repeat("▮", p.Quality) + strings.Repeat("▯", 4-p.Quality)
		}
		fmt.Fprintf(&b, "%-10s %s  %s  rtt %d ms\n", name, bars, path, st.RTT.Milliseconds())
		fmt.Fprintf(&b, "  in  %dx%d %.0f fps %d kbit/s loss %.1f%% · audio %d kbit/s loss %.1f%%\n",
			st.VideoIn.FrameWidth, st.VideoIn.FrameHeight, st.VideoIn.FPS, st.VideoIn.Bitrate/1000, st.VideoIn.LossPct,
			st.AudioIn.Bitrate/1000, st.AudioIn.LossPct)
		fmt.Fprintf(&b, "  out %d kbit/s (target %d) · audio %d kbit/s",
			st.VideoOut.Bitrate/1000, st.TargetBitrate/1000, st.AudioOut.Bitrate/1000)
		if st.LatencyMS > 0 {
			fmt.Fprintf(&b, " · latency %.0f ms", st.LatencyMS)
		}
	}
	return b.String()
}
