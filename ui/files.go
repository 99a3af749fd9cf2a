package ui

import (
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/peercall/peercall/app"
)

// File transfer on the call screen: the Send file button and its file
// dialog, files dropped on the window, and the transfers panel over the
// video (offers with Accept/Decline, progress with speed, time left and
// Cancel, "Open folder" for a received file). The controller owns the
// transfers; the panel draws Notify.Files and sends commands.

// fileCommands are the controller's file commands (app.Controller; tests
// may stand in for it).
type fileCommands interface {
	SendFile(path string) error
	AcceptFile(id string) error
	DeclineFile(id string) error
	CancelFile(id string) error
}

// Labels of the file controls.
const (
	sendFileHint   = "Send file" // the button's hover hint (a flash)
	acceptText     = "Accept"
	declineText    = "Decline"
	cancelText     = "Cancel"
	openFolderText = "Open folder"
)

func sendFileIcon() fyne.Resource { return theme.UploadIcon() }

// filesPanelWidth is the transfers panel's width over the video.
const filesPanelWidth = 340

// maxFileRows is how many transfers the panel shows at once: every offer
// waiting for an answer, then the newest others.
const maxFileRows = 4

// filesPanel lists this call's transfers, newest last.
type filesPanel struct {
	u     *UI
	box   *fyne.Container // the rows
	panel *fyne.Container // box over its background, in the video's corner
	rows  map[string]*fileRow
	// closed are transfers the person dismissed (a finished one's ×):
	// only the view forgets them.
	closed map[string]bool
}

// fileRow is one transfer's card.
type fileRow struct {
	key                  string
	icon                 *widget.Icon
	title, peer, info    *widget.Label
	bar                  *widget.ProgressBar
	accept, decline      *widget.Button
	cancel, open, remove *widget.Button
	obj                  fyne.CanvasObject
	view                 app.FileView
}

func newFilesPanel(u *UI) *filesPanel {
	p := &filesPanel{u: u, rows: map[string]*fileRow{}, closed: map[string]bool{}}
	p.box = container.NewVBox()
	p.panel = container.New(&cornerLayout{pad: 8},
		container.New(&fixedWidth{w: filesPanelWidth}, p.box))
	p.panel.Hide()
	return p
}

// fileKey tells transfers apart: one file sent to a group has an id per
// person, and the peer keeps ids of different people apart anyway.
func fileKey(f app.FileView) string { return f.PeerID + "/" + f.ID }

func (p *filesPanel) newRow(f app.FileView) *fileRow {
	r := &fileRow{key: fileKey(f)}
	id := f.ID
	u := p.u
	r.icon = widget.NewIcon(theme.DownloadIcon())
	r.title = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	r.title.Truncation = fyne.TextTruncateEllipsis
	r.peer = widget.NewLabel("")
	r.peer.Truncation = fyne.TextTruncateEllipsis
	r.info = widget.NewLabel("")
	r.info.Wrapping = fyne.TextWrapWord
	r.bar = widget.NewProgressBar()
	r.accept = widget.NewButtonWithIcon(acceptText, theme.ConfirmIcon(), func() { p.command(u.files.AcceptFile, id) })
	r.accept.Importance = widget.HighImportance
	r.decline = widget.NewButtonWithIcon(declineText, theme.CancelIcon(), func() { p.command(u.files.DeclineFile, id) })
	r.cancel = widget.NewButtonWithIcon(cancelText, theme.CancelIcon(), func() { p.command(u.files.CancelFile, id) })
	r.open = widget.NewButtonWithIcon(openFolderText, theme.FolderOpenIcon(), func() { p.openFolder(r.view.Path) })
	r.remove = widget.NewButtonWithIcon("", theme.WindowCloseIcon(), func() {
		p.closed[r.key] = true
		p.render(u.last.Files)
	})
	r.remove.Importance = widget.LowImportance
	head := container.NewBorder(nil, nil, r.icon, r.remove, r.title)
	buttons := container.NewHBox(layout.NewSpacer(), r.decline, r.accept, r.cancel, r.open)
	card := container.NewVBox(head, r.peer, r.bar, r.info, buttons)
	r.obj = container.NewStack(canvas.NewRectangle(badgeBg), container.NewPadded(card))
	return r
}

// command runs a transfer command; a refusal shows as a flash. The
// controller's file commands return at once.
func (p *filesPanel) command(cmd func(string) error, id string) {
	if err := cmd(id); err != nil {
		p.u.call.flash(app.UserMessage(err))
	}
}

// openFolder shows the folder a received file is in (never the file:
// nothing received is opened or run by a tap).
func (p *filesPanel) openFolder(path string) {
	if path == "" {
		return
	}
	dir := filepath.Dir(path)
	if err := p.u.openURL(&url.URL{Scheme: "file", Path: filepath.ToSlash(dir)}); err != nil {
		p.u.call.flash("Cannot open the folder " + dir)
	}
}

// render shows files (Notify.Files). Main thread.
func (p *filesPanel) render(files []app.FileView) {
	shown := p.pick(files)
	objs := make([]fyne.CanvasObject, 0, len(shown))
	seen := map[string]bool{}
	for _, f := range shown {
		k := fileKey(f)
		seen[k] = true
		r := p.rows[k]
		if r == nil {
			r = p.newRow(f)
			p.rows[k] = r
		}
		r.render(f)
		objs = append(objs, r.obj)
	}
	for k := range p.rows {
		if !seen[k] {
			delete(p.rows, k)
		}
	}
	if !slices.Equal(p.box.Objects, objs) {
		p.box.Objects = objs
		p.box.Refresh()
		p.panel.Refresh() // its size follows the rows
	}
	showIf(p.panel, len(objs) > 0)
}

// pick is what the panel shows: the transfers not dismissed, offers
// waiting for an answer first, then the newest others, maxFileRows at
// most, oldest first.
func (p *filesPanel) pick(files []app.FileView) []app.FileView {
	var offers, others []app.FileView
	for _, f := range files {
		switch {
		case p.closed[fileKey(f)]:
		case !f.Outgoing && f.State == app.FilePending:
			offers = append(offers, f)
		default:
			others = append(others, f)
		}
	}
	if room := maxFileRows - len(offers); room < len(others) {
		others = others[len(others)-max(room, 0):]
	}
	return append(offers, others...)
}

// reset forgets the dismissed transfers (a new call).
func (p *filesPanel) reset() {
	clear(p.closed)
	p.render(nil)
}

// render shows one transfer. Main thread.
func (r *fileRow) render(f app.FileView) {
	r.view = f
	if f.Outgoing {
		r.icon.SetResource(theme.UploadIcon())
	} else {
		r.icon.SetResource(theme.DownloadIcon())
	}
	setText(r.title, f.Name+" ("+formatBytes(f.Size)+")")
	who := f.PeerName
	if who == "" {
		who = "Someone"
	}
	switch {
	case f.Outgoing:
		setText(r.peer, "To "+who)
	case f.State == app.FilePending:
		setText(r.peer, who+" wants to send you this file")
	default:
		setText(r.peer, "From "+who)
	}
	running := f.State == app.FileActive || f.State == app.FilePaused
	showIf(r.bar, running)
	if running && f.Size > 0 {
		if v := float64(f.Bytes) / float64(f.Size); r.bar.Value != v {
			r.bar.SetValue(v)
		}
	}
	info := fileInfo(f)
	setText(r.info, info)
	showIf(r.info, info != "")
	if f.State == app.FileFailed || f.State == app.FileDeclined {
		r.info.Importance = widget.DangerImportance
	} else {
		r.info.Importance = widget.MediumImportance
	}
	offer := !f.Outgoing && f.State == app.FilePending
	showIf(r.accept, offer)
	showIf(r.decline, offer)
	showIf(r.cancel, !offer && !f.State.Terminal())
	showIf(r.open, !f.Outgoing && f.State == app.FileDone && f.Path != "")
	showIf(r.remove, f.State.Terminal())
}

// fileInfo is a transfer's status line: progress, speed and time left
// while it runs, what happened once it is over.
func fileInfo(f app.FileView) string {
	switch f.State {
	case app.FilePending:
		if f.Outgoing {
			return "Waiting for them to accept…"
		}
		return ""
	case app.FileActive:
		s := formatBytes(f.Bytes) + " of " + formatBytes(f.Size)
		if f.Rate > 0 {
			s += " · " + formatBytes(int64(f.Rate)) + "/s"
		}
		if f.ETA > 0 {
			s += " · " + formatETA(f.ETA) + " left"
		}
		return s
	case app.FilePaused:
		return fmt.Sprintf("Paused at %s of %s: waiting for %s to come back", formatBytes(f.Bytes), formatBytes(f.Size), orSomeone(f.PeerName))
	case app.FileDone:
		if f.Outgoing {
			return "Sent"
		}
		return "Received and checked: " + filepath.Base(f.Path)
	case app.FileCanceled:
		return "Canceled"
	}
	if f.Error != "" {
		return f.Error
	}
	if f.State == app.FileDeclined {
		return "Declined"
	}
	return "Failed"
}

func orSomeone(s string) string {
	if s == "" {
		return "them"
	}
	return s
}

// formatBytes is a size for people: "512 B", "1.5 MB" (powers of 1024,
// like the browser page).
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n), 0
	for v >= unit && i < 4 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %s", v, [...]string{"B", "KB", "MB", "GB", "TB"}[i])
}

// formatETA is a time left: "45 s", "3 min 5 s", "1 h 2 min".
func formatETA(d time.Duration) string {
	s := int((d + time.Second - 1) / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%d s", s)
	case s < 3600:
		return fmt.Sprintf("%d min %d s", s/60, s%60)
	}
	return fmt.Sprintf("%d h %d min", s/3600, s/60%60)
}

// sendFileTapped is the Send file button: a file dialog, and the chosen
// file offered to everyone in the call.
func (c *callScreen) sendFileTapped() {
	d := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
		if err != nil || r == nil {
			return // canceled
		}
		path := r.URI().Path()
		_ = r.Close()
		c.sendFiles([]string{path})
	}, c.u.win)
	d.Show() // before Resize: a file dialog sizes only once shown
	if s := c.u.win.Canvas().Size(); s.Width > 0 {
		d.Resize(fyne.NewSize(min(s.Width-40, 800), min(s.Height-40, 560)))
	}
}

// dropped offers the files dropped on the window (folders and other
// non-file items are refused by the controller and said so).
func (c *callScreen) dropped(_ fyne.Position, uris []fyne.URI) {
	if !c.u.last.Phase.InCall() {
		return
	}
	var paths []string
	for _, u := range uris {
		if u == nil || u.Scheme() != "file" {
			continue
		}
		paths = append(paths, u.Path())
	}
	c.sendFiles(paths)
}

// sendFiles offers each file; the first refusal shows as a flash.
func (c *callScreen) sendFiles(paths []string) {
	for _, p := range paths {
		if err := c.u.files.SendFile(p); err != nil {
			c.flash(app.UserMessage(err))
			return
		}
	}
}
