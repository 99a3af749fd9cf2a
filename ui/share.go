package ui

import (
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/peercall/peercall/app"
)

// Screen sharing on the call screen: the Share button and its picker,
// the "You are sharing" bar, and the stage that shows a person's share
// large with the cameras in a strip beside or below it.

// Labels of the share controls.
const (
	shareText       = "Share"
	stopSharingText = "Stop sharing"
	camerasLarge    = "Cameras large"
	shareLarge      = "Share large"
)

// shareCommands are the controller's share commands (app.Controller;
// tests may stand in for it).
type shareCommands interface {
	ShareChoices() ([]app.ShareChoice, error)
	StartShare(spec, label string) error
	StopShare() error
}

// ownWindowSetter is the controller's SetOwnWindows.
type ownWindowSetter interface{ SetOwnWindows(ids ...uint32) }

// reportOwnWindow tells the controller this window's X id, so a shared
// screen paints the call window over (no hall of mirrors for the people
// watching) and the picker does not offer it. Main thread.
func (u *UI) reportOwnWindow() {
	set, ok := u.share.(ownWindowSetter)
	nw, native := u.win.(driver.NativeWindow)
	if !ok || !native {
		return
	}
	nw.RunNative(func(ctx any) {
		if x, ok := ctx.(driver.X11WindowContext); ok && x.WindowHandle != 0 {
			set.SetOwnWindows(uint32(x.WindowHandle))
		}
	})
}

// shareIcon and stopShareIcon mark the Share button's two states.
func shareIcon() fyne.Resource     { return theme.ComputerIcon() }
func stopShareIcon() fyne.Resource { return theme.MediaStopIcon() }

// newShareBar is the bar over the call screen while this side shares:
// a warning colour (people forget they are sharing), what is shared, Stop.
func (c *callScreen) newShareBar() *fyne.Container {
	// Text and icon in the theme's contrast colour for the warning colour.
	c.shareBarText = widget.NewRichText(&widget.TextSegment{Style: widget.RichTextStyle{
		ColorName: theme.ColorNameForegroundOnWarning, TextStyle: fyne.TextStyle{Bold: true}, Inline: true}})
	c.shareStopBtn = widget.NewButtonWithIcon("Stop", stopShareIcon(), c.stopShare)
	bar := container.NewStack(canvas.NewRectangle(theme.Color(theme.ColorNameWarning)),
		container.NewPadded(container.NewHBox(
			container.NewCenter(widget.NewIcon(theme.NewColoredResource(shareIcon(), theme.ColorNameForegroundOnWarning))),
			c.shareBarText, layout.NewSpacer(), c.shareStopBtn)))
	bar.Hide()
	return bar
}

// shareTapped is the Share button: the picker, or Stop while sharing.
func (c *callScreen) shareTapped() {
	if c.u.last.Sharing {
		c.stopShare()
		return
	}
	c.picker.open()
}

// stopShare ends this side's share. The controller hides the bar at once;
// taking the track off every session runs off the GUI thread.
func (c *callScreen) stopShare() {
	u := c.u
	go func() {
		if err := u.share.StopShare(); err != nil {
			msg := app.UserMessage(err)
			u.do(func() { c.flash(msg) })
		}
	}()
}

// renderSharing shows this side's share state: the button, the bar.
func (c *callScreen) renderSharing(n app.Notify) {
	if n.Sharing {
		setButton(c.shareBtn, stopSharingText, stopShareIcon())
	} else {
		setButton(c.shareBtn, shareText, shareIcon())
	}
	// Stopping stays possible whatever the call does meanwhile.
	if n.Phase == app.PhaseConnected || n.Sharing {
		c.shareBtn.Enable()
	} else {
		c.shareBtn.Disable()
	}
	if seg := c.shareBarText.Segments[0].(*widget.TextSegment); seg.Text != "You are sharing "+n.ShareLabel {
		seg.Text = "You are sharing " + n.ShareLabel
		c.shareBarText.Refresh()
	}
	if c.shareBar.Visible() != n.Sharing {
		showIf(c.shareBar, n.Sharing)
		// The top bar's height changes: lay the screen out again.
		c.content.Refresh()
	}
}

// topBarLayout is the call screen's top: the status row padded as
// container.NewPadded would, with the sharing bar (when shown) above it
// across the full width.
type topBarLayout struct{}

// objs: the status row, then the sharing bar.
func (topBarLayout) Layout(objs []fyne.CanvasObject, s fyne.Size) {
	pad := theme.Padding()
	y := float32(0)
	if bar := objs[1]; bar.Visible() {
		h := bar.MinSize().Height
		bar.Move(fyne.NewPos(0, 0))
		bar.Resize(fyne.NewSize(s.Width, h))
		y = h
	}
	objs[0].Move(fyne.NewPos(pad, y+pad))
	objs[0].Resize(fyne.NewSize(s.Width-2*pad, s.Height-y-2*pad))
}

func (topBarLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	pad := theme.Padding()
	m := objs[0].MinSize().AddWidthHeight(2*pad, 2*pad)
	if bar := objs[1]; bar.Visible() {
		b := bar.MinSize()
		m = fyne.NewSize(max(m.Width, b.Width), m.Height+b.Height)
	}
	return m
}

// sharePicker is the dialog that lists what can be shared (screens,
// windows, the test picture) and starts the chosen share. Listing and
// starting run off the GUI thread (both may capture the screen); a
// failure shows in the dialog, which stays open for another try.
type sharePicker struct {
	u   *UI
	pop *widget.PopUp

	list      *widget.List
	choices   []app.ShareChoice
	picked    int // index in choices, -1 none
	status    *widget.Label
	errL      *widget.Label
	shareBtn  *widget.Button
	cancelBtn *widget.Button

	gen  int  // bumped on open and close: late answers are dropped
	busy bool // StartShare runs
}

// thumbSize is a choice's picture in the list.
var thumbSize = fyne.NewSize(96, 54)

func newSharePicker(u *UI) *sharePicker {
	p := &sharePicker{u: u, picked: -1}
	p.list = widget.NewList(func() int { return len(p.choices) }, func() fyne.CanvasObject {
		thumb := canvas.NewImageFromImage(nil)
		thumb.FillMode = canvas.ImageFillContain
		return container.NewHBox(
			container.NewGridWrap(thumbSize, container.NewStack(thumb, widget.NewIcon(shareIcon()))),
			widget.NewLabel(""))
	}, func(i widget.ListItemID, o fyne.CanvasObject) {
		if i < 0 || i >= len(p.choices) {
			return
		}
		ch := p.choices[i]
		row := o.(*fyne.Container)
		box := row.Objects[0].(*fyne.Container).Objects[0].(*fyne.Container)
		thumb, icon := box.Objects[0].(*canvas.Image), box.Objects[1].(*widget.Icon)
		if ch.Thumb != nil {
			thumb.Image = ch.Thumb
			thumb.Refresh()
		}
		showIf(thumb, ch.Thumb != nil)
		icon.SetResource(choiceIcon(ch))
		showIf(icon, ch.Thumb == nil)
		row.Objects[1].(*widget.Label).SetText(ch.Label)
	})
	p.list.OnSelected = func(i widget.ListItemID) {
		p.picked = i
		if !p.busy {
			p.shareBtn.Enable()
		}
	}
	p.status = widget.NewLabel("")
	p.errL = errLabel()
	p.shareBtn = widget.NewButtonWithIcon(shareText, shareIcon(), p.start)
	p.shareBtn.Importance = widget.HighImportance
	p.cancelBtn = widget.NewButton("Cancel", p.close)
	p.status.Hide()
	content := container.NewBorder(
		container.NewVBox(
			widget.NewLabelWithStyle("Share your screen", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
			widget.NewLabel("Choose what everyone in the call will see.")),
		container.NewVBox(p.status, p.errL, container.NewHBox(layout.NewSpacer(), p.cancelBtn, p.shareBtn)),
		nil, nil, p.list)
	// Modal, like the devices popup: Cancel or Share closes it.
	p.pop = widget.NewModalPopUp(container.NewPadded(content), u.win.Canvas())
	return p
}

// choiceIcon stands in for a choice without a picture.
func choiceIcon(ch app.ShareChoice) fyne.Resource {
	if !strings.HasPrefix(ch.Spec, "screen") {
		return theme.MediaPhotoIcon()
	}
	return shareIcon()
}

// open shows the dialog and lists the choices. Main thread.
func (p *sharePicker) open() {
	p.gen++
	gen := p.gen
	p.choices, p.picked, p.busy = nil, -1, false
	p.list.UnselectAll()
	p.list.Refresh()
	p.errL.Hide()
	setText(p.status, "Looking for screens and windows…")
	p.status.Show()
	p.shareBtn.Disable()
	p.pop.Resize(fyne.NewSize(520, 420))
	p.pop.Show()
	u := p.u
	u.reportOwnWindow()
	go func() {
		choices, err := u.share.ShareChoices()
		u.do(func() {
			if p.gen == gen {
				p.loaded(choices, err)
			}
		})
	}()
}

// loaded fills the list. Main thread.
func (p *sharePicker) loaded(choices []app.ShareChoice, err error) {
	p.choices = choices
	p.list.Refresh()
	p.status.Hide()
	switch {
	case len(choices) == 0 && err != nil:
		p.fail(app.UserMessage(err))
	case len(choices) == 0:
		p.fail("Nothing to share was found.")
	case len(choices) == 1:
		p.list.Select(0) // the only choice: one tap less
	}
}

func (p *sharePicker) fail(msg string) {
	setText(p.errL, msg)
	p.errL.Show()
}

// start shares the picked choice; the dialog closes when it runs.
func (p *sharePicker) start() {
	if p.picked < 0 || p.picked >= len(p.choices) || p.busy {
		return
	}
	ch := p.choices[p.picked]
	p.busy = true
	p.shareBtn.Disable()
	p.errL.Hide()
	setText(p.status, "Starting to share "+ch.Label+"…")
	p.status.Show()
	gen := p.gen
	u := p.u
	go func() {
		err := u.share.StartShare(ch.Spec, ch.Label)
		u.do(func() {
			if p.gen != gen {
				return // cancelled; the sharing bar tells if it started
			}
			p.busy = false
			p.status.Hide()
			if err != nil {
				p.fail(app.UserMessage(err))
				p.shareBtn.Enable()
				return
			}
			p.close()
		})
	}()
}

// close hides the dialog (Cancel, a share started, the call ended).
func (p *sharePicker) close() {
	p.gen++
	p.busy = false
	p.pop.Hide()
}

// stageLayout shows one large object with the others small in a strip
// beside it (wide areas) or below it, whichever leaves the larger 16:9
// picture. objs: the large one, an overlay for its top-right corner (the
// swap button), then the strip's cells in order. Hidden strip cells keep
// their place, like the grid's.
type stageLayout struct {
	gap  float32
	cell fyne.Size // the largest strip cell
}

// geometry is where stageLayout puts things: the large one at the
// origin with its size, the n strip cells' places and their size.
func (l *stageLayout) geometry(n int, s fyne.Size) (main fyne.Size, cells []fyne.Position, cell fyne.Size) {
	if n == 0 {
		return s, nil, fyne.Size{}
	}
	ratio := l.cell.Width / l.cell.Height
	gaps := l.gap * float32(n-1)
	// A column at the right.
	colH := min(l.cell.Height, (s.Height-gaps)/float32(n))
	colW := colH * ratio
	besideMain := fyne.NewSize(s.Width-colW-l.gap, s.Height)
	// A row at the bottom.
	rowW := min(l.cell.Width, (s.Width-gaps)/float32(n))
	rowH := rowW / ratio
	belowMain := fyne.NewSize(s.Width, s.Height-rowH-l.gap)
	fit := func(a fyne.Size) float32 { // the area of a 16:9 picture in a
		w := min(a.Width, a.Height*16/9)
		return w * w * 9 / 16
	}
	cells = make([]fyne.Position, n)
	if fit(besideMain) >= fit(belowMain) {
		cell = fyne.NewSize(colW, colH)
		y0 := (s.Height - (colH*float32(n) + gaps)) / 2
		for i := range cells {
			cells[i] = fyne.NewPos(besideMain.Width+l.gap, y0+float32(i)*(colH+l.gap))
		}
		return besideMain, cells, cell
	}
	cell = fyne.NewSize(rowW, rowH)
	x0 := (s.Width - (rowW*float32(n) + gaps)) / 2
	for i := range cells {
		cells[i] = fyne.NewPos(x0+float32(i)*(rowW+l.gap), belowMain.Height+l.gap)
	}
	return belowMain, cells, cell
}

func (l *stageLayout) Layout(objs []fyne.CanvasObject, s fyne.Size) {
	if len(objs) < 2 {
		return
	}
	size, cells, cell := l.geometry(len(objs)-2, s)
	objs[0].Move(fyne.NewPos(0, 0))
	objs[0].Resize(size)
	over := objs[1]
	m := over.MinSize()
	over.Resize(m)
	over.Move(fyne.NewPos(size.Width-m.Width-8, 8))
	for i, o := range objs[2:] {
		o.Move(cells[i])
		o.Resize(cell)
	}
}

func (l *stageLayout) MinSize([]fyne.CanvasObject) fyne.Size { return fyne.NewSize(0, 0) }

// stripCell is the largest cell of the stage's strip (4:3, like a camera).
var stripCell = fyne.NewSize(192, 144)
