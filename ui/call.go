package ui

import (
	"fmt"
	"image/color"
	"strings"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/peercall/peercall/app"
)

// callScreen: a grid of the others' videos (one fills the window), the
// self-view in a corner inset or the grid's free cell, controls, status,
// SAS, chat and stats.
type callScreen struct {
	u       *UI
	content fyne.CanvasObject

	local     *videoView
	tiles     map[string]*tile // by PeerView.ID; main thread
	order     []string         // tile ids as laid out
	routes    atomic.Pointer[routes]
	sawPeers  bool            // this call's engine fills Notify.Peers
	grid      *fyne.Container // the grid, or the share stage
	gridL     *gridLayout
	stageL    *stageLayout
	camGrid   *fyne.Container // the cameras when large beside a share
	swapBtn   *widget.Button  // "Cameras large" / "Share large"
	inset     *fyne.Container
	selfBox   *fyne.Container
	selfOff   *fyne.Container // "Camera off" in the self-view
	selfBg    *canvas.Rectangle
	selfPlate *fyne.Container // "You", when the self-view is a grid cell
	shown     atomic.Int64    // remote frames shown, all tiles

	status, timer, quality, sas *widget.Label
	progress                    *widget.ProgressBarInfinite
	waitBox                     *fyne.Container
	waitCard                    *widget.Card
	joinLabel                   *widget.Label
	joinRow                     *fyne.Container
	joinString                  *widget.Entry
	browserLabel                *widget.Label
	browserRow                  *fyne.Container
	browserLink                 *widget.Entry
	copyLinkBtn                 *widget.Button
	certNote                    *widget.Label
	stats                       *widget.Label
	statsBox                    *fyne.Container
	flashLabel                  *widget.Label
	flashBox                    *fyne.Container // flashLabel's overlay
	notice                      *widget.Label   // Notify.Notice: stays until the next

	muteBtn, camBtn, statsBtn, chatBtn, hangBtn *widget.Button
	shareBtn                                    *widget.Button
	sendFileBtn                                 *hintButton
	files                                       *filesPanel
	shareBar                                    *fyne.Container // "You are sharing …"
	shareBarText                                *widget.RichText
	shareStopBtn                                *widget.Button
	picker                                      *sharePicker
	controls                                    *fyne.Container // the bottom bar's row
	topArea                                     *fyne.Container // the sharing bar over the status row
	devBtn                                      *hintButton
	devices                                     *devicesPopup
	micMeter, spkMeter                          *widget.ProgressBar

	chatBox   *fyne.Container
	chatLog   *widget.Label
	chatScr   *container.Scroll
	chatEntry *widget.Entry
	chatLen   int

	showStats, showChat bool
	shareLarge          bool // a share fills the stage, the cameras are small
	camOn               bool // last rendered CameraOn
	flashUntil          time.Time
}

func newCallScreen(u *UI) *callScreen {
	c := &callScreen{u: u, local: u.sw.newView(true, 320), tiles: map[string]*tile{}, camOn: true, shareLarge: true}

	c.local.img.SetMinSize(fyne.NewSize(160, 120))
	u.surfaces.add(c.local)
	// The background only shows behind "Camera off": under the picture it
	// would be painted and covered again on every frame.
	c.selfBg = canvas.NewRectangle(tileBg)
	c.selfOff = container.NewCenter(container.NewVBox(
		container.NewCenter(widget.NewIcon(theme.VisibilityOffIcon())),
		widget.NewLabelWithStyle("Camera off", fyne.TextAlignCenter, fyne.TextStyle{})))
	c.selfOff.Hide()
	c.selfPlate = container.NewStack(canvas.NewRectangle(badgeBg),
		widget.NewLabelWithStyle("You", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}))
	c.selfPlate.Hide()
	c.selfBox = container.NewStack(c.selfBg, c.local.img, c.selfOff,
		container.New(&cornerLayout{pad: 8, bottomLeft: true}, c.selfPlate))
	// The self-view moves between the inset and the grid (renderGrid).
	c.inset = container.New(&insetLayout{size: fyne.NewSize(176, 132), pad: 12}, c.selfBox)
	c.gridL = &gridLayout{gap: gridGap}
	c.stageL = &stageLayout{gap: gridGap, cell: stripCell}
	c.grid = container.New(c.gridL)
	c.camGrid = container.New(&gridLayout{gap: gridGap})
	c.swapBtn = widget.NewButtonWithIcon(camerasLarge, theme.ViewRestoreIcon(), func() {
		c.shareLarge = !c.shareLarge
		u.render(u.last)
	})

	c.progress = widget.NewProgressBarInfinite()
	c.joinString = widget.NewEntry()
	c.joinString.Disable() // read-only but selectable; Copy does the rest
	copyBtn := c.copyButton(c.joinString, "Join link copied")
	c.joinLabel = widget.NewLabelWithStyle("Send this to the other person:", fyne.TextAlignCenter, fyne.TextStyle{})
	c.joinRow = container.NewBorder(nil, nil, nil, copyBtn, c.joinString)
	// The same server over https, for someone without the app.
	c.browserLink = widget.NewEntry()
	c.browserLink.Disable()
	c.copyLinkBtn = c.copyButton(c.browserLink, "Browser link copied")
	c.browserLabel = widget.NewLabelWithStyle("Or open in a browser:", fyne.TextAlignCenter, fyne.TextStyle{})
	c.browserRow = container.NewBorder(nil, nil, nil, c.copyLinkBtn, c.browserLink)
	c.certNote = widget.NewLabelWithStyle("", fyne.TextAlignCenter, fyne.TextStyle{})
	c.certNote.SizeName = theme.SizeNameCaptionText
	c.waitBox = container.NewVBox(c.progress, c.joinLabel, c.joinRow, c.browserLabel, c.browserRow, c.certNote)
	// A card: it stands out from (and covers) the placeholder under it,
	// and its height follows the rows shown.
	c.waitCard = widget.NewCard("", "", container.NewPadded(c.waitBox))
	waitOverlay := container.NewCenter(container.New(&fixedWidth{w: 500}, c.waitCard))

	c.stats = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	statsBg := canvas.NewRectangle(color.NRGBA{0, 0, 0, 0xb0})
	c.statsBox = container.NewStack(statsBg, c.stats)
	c.statsBox.Hide()
	statsOverlay := container.NewVBox(container.NewHBox(c.statsBox))

	// Flashes show over the video, just above the control bar: in the
	// bar they would widen it (and the window) with their text.
	c.flashLabel = widget.NewLabel("")
	c.flashLabel.Hide()
	c.flashBox = container.New(&cornerLayout{pad: 8, bottomLeft: true},
		container.NewStack(canvas.NewRectangle(badgeBg), c.flashLabel))
	c.flashBox.Hide()

	// No background rectangle under the video: every repaint is a full
	// window paint, and a rectangle the size of the video is one more
	// full-area fill per frame (measurable under software GL).
	c.files = newFilesPanel(u)
	video := container.New(placeAfterLayout{inner: layout.NewStackLayout(), place: func() { u.surfaces.place() }},
		c.grid, c.inset, statsOverlay, c.files.panel, waitOverlay, c.flashBox)

	c.status = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	c.timer = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	c.quality = widget.NewLabel("")
	c.sas = widget.NewLabel("")
	c.notice = widget.NewLabel("")
	c.notice.Importance = widget.WarningImportance
	c.notice.Hide()
	top := container.NewHBox(c.status, c.timer, c.quality, c.notice, layout.NewSpacer(), c.sas)
	c.shareBar = c.newShareBar()

	c.muteBtn = widget.NewButtonWithIcon("Mute", theme.VolumeMuteIcon(), u.toggleMute)
	c.camBtn = widget.NewButtonWithIcon("Camera off", theme.VisibilityOffIcon(), u.toggleCamera)
	// Icon only: the bar is full at the default window width.
	c.devBtn = newHintButton(devicesIcon(), func() { c.devices.show() }, func(on bool) {
		if on {
			c.flash(devicesHint)
		} else if c.flashLabel.Text == devicesHint {
			c.hideFlash()
		}
	})
	c.micMeter = newMeter()
	c.spkMeter = newMeter()
	c.statsBtn = widget.NewButtonWithIcon("Stats", theme.InfoIcon(), func() {
		c.showStats = !c.showStats
		showIf(c.statsBox, c.showStats)
	})
	c.chatBtn = widget.NewButtonWithIcon("Chat", theme.MailComposeIcon(), func() {
		c.showChat = !c.showChat
		showIf(c.chatBox, c.showChat)
	})
	c.shareBtn = widget.NewButtonWithIcon(shareText, shareIcon(), c.shareTapped)
	c.shareBtn.Disable()
	// Icon only, like the devices button: the bar is full.
	c.sendFileBtn = newHintButton(sendFileIcon(), c.sendFileTapped, func(on bool) {
		if on {
			c.flash(sendFileHint)
		} else if c.flashLabel.Text == sendFileHint {
			c.hideFlash()
		}
	})
	c.sendFileBtn.Disable()
	c.hangBtn = widget.NewButtonWithIcon("Hang up", theme.CancelIcon(), u.ctl.HangUp)
	c.hangBtn.Importance = widget.DangerImportance
	meter := func(m *widget.ProgressBar) fyne.CanvasObject {
		return container.NewCenter(container.NewGridWrap(fyne.NewSize(meterWidth, 12), m))
	}
	c.controls = container.NewHBox(c.muteBtn, c.camBtn, c.devBtn, c.shareBtn, c.sendFileBtn,
		widget.NewLabel("Mic"), meter(c.micMeter),
		widget.NewLabel("Speaker"), meter(c.spkMeter),
		layout.NewSpacer(), c.statsBtn, c.chatBtn, c.hangBtn)

	c.chatLog = widget.NewLabel("")
	c.chatLog.Wrapping = fyne.TextWrapWord
	c.chatScr = container.NewVScroll(c.chatLog)
	c.chatEntry = widget.NewEntry()
	c.chatEntry.SetPlaceHolder("Message")
	send := func() {
		if err := u.ctl.SendChat(c.chatEntry.Text); err != nil {
			c.flash(app.UserMessage(err))
			return
		}
		c.chatEntry.SetText("")
	}
	c.chatEntry.OnSubmitted = func(string) { send() }
	sendBtn := widget.NewButtonWithIcon("", theme.MailSendIcon(), send)
	chatPanel := container.NewBorder(widget.NewLabelWithStyle("Chat", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		container.NewBorder(nil, nil, nil, sendBtn, c.chatEntry), nil, nil, c.chatScr)
	c.chatBox = container.New(&fixedWidth{w: 260}, chatPanel)
	c.chatBox.Hide()

	c.topArea = container.New(topBarLayout{}, top, c.shareBar)
	c.content = container.NewBorder(c.topArea, container.NewPadded(c.controls), nil, c.chatBox, video)
	c.devices = newDevicesPopup(u)
	c.picker = newSharePicker(u)
	return c
}

// copyButton copies e's text to the clipboard and says so with done.
func (c *callScreen) copyButton(e *widget.Entry, done string) *widget.Button {
	return widget.NewButtonWithIcon("Copy", theme.ContentCopyIcon(), func() {
		if cb := fyne.CurrentApp().Clipboard(); cb != nil {
			cb.SetContent(e.Text)
		}
		c.flash(done)
	})
}

// meterWidth leaves the control bar room for "Stop sharing" and the
// Send file button at the default window width.
const meterWidth = 40

// newMeter is a level meter: a progress bar without its percentage text.
func newMeter() *widget.ProgressBar {
	m := widget.NewProgressBar()
	m.TextFormatter = func() string { return "" }
	return m
}

func setMeter(m *widget.ProgressBar, v float64) {
	// Quantise so that tiny changes do not repaint.
	v = float64(int(v*20)) / 20
	if m.Value != v {
		m.SetValue(v)
	}
}

// flash shows a short notice in the control bar.
func (c *callScreen) flash(msg string) {
	setText(c.flashLabel, msg)
	c.flashLabel.Show()
	c.flashBox.Show()
	c.flashBox.Refresh() // its size follows the text
	c.flashUntil = time.Now().Add(3 * time.Second)
}

func (c *callScreen) hideFlash() {
	c.flashLabel.Hide()
	c.flashBox.Hide()
}

// reset prepares the screen for the next call. Main thread.
func (c *callScreen) reset() {
	for id, t := range c.tiles {
		c.dropTile(t)
		delete(c.tiles, id)
	}
	c.order = nil
	c.routes.Store(nil)
	c.sawPeers = false
	c.shareLarge = true
	c.layoutCells(false, nil)
	c.local.Clear()
	c.camOn = true
	c.chatLen = 0
	setText(c.chatLog, "")
	c.devices.hide()
	c.picker.close()
	c.files.reset()
}

func (c *callScreen) render(n app.Notify) {
	setText(c.status, statusText(n))
	setText(c.notice, n.Notice)
	showIf(c.notice, n.Notice != "")
	c.devices.render(n)
	c.renderSharing(n)
	c.files.render(n.Files)
	if n.Phase == app.PhaseConnected {
		c.sendFileBtn.Enable()
	} else {
		c.sendFileBtn.Disable()
	}
	timer := ""
	if !n.ConnectedAt.IsZero() {
		timer = formatDuration(n.Elapsed)
	}
	setText(c.timer, timer)
	peers := c.renderGrid(n)
	group := len(peers) > 1
	if group {
		setText(c.quality, qualityText(worstQuality(peers)))
	} else {
		setText(c.quality, qualityText(n.Quality))
	}
	setText(c.sas, sasText(peers))

	waiting := n.Phase != app.PhaseConnected && n.Phase != app.PhaseReconnecting
	showIf(c.waitCard, waiting)
	if waiting {
		c.progress.Start()
	} else {
		c.progress.Stop()
	}
	if c.joinString.Text != n.JoinString {
		c.joinString.SetText(n.JoinString)
	}
	showIf(c.joinLabel, n.JoinString != "")
	showIf(c.joinRow, n.JoinString != "")
	if c.browserLink.Text != n.BrowserLink {
		c.browserLink.SetText(n.BrowserLink)
	}
	showIf(c.browserLabel, n.BrowserLink != "")
	showIf(c.browserRow, n.BrowserLink != "")
	if n.BrowserFingerprint != "" {
		setText(c.certNote, "The browser will warn about the certificate; its fingerprint starts with "+fingerprintPrefix(n.BrowserFingerprint))
	}
	showIf(c.certNote, n.BrowserLink != "" && n.BrowserFingerprint != "")

	if c.camOn && !n.CameraOn {
		c.local.Clear() // no stale frame when the camera comes back
	}
	c.camOn = n.CameraOn
	showIf(c.selfBox, !n.AudioOnly)
	showIf(c.local.img, n.CameraOn)
	showIf(c.selfOff, !n.CameraOn)
	showIf(c.selfBg, !n.CameraOn)

	if n.Muted {
		setButton(c.muteBtn, "Unmute", theme.VolumeUpIcon())
	} else {
		setButton(c.muteBtn, "Mute", theme.VolumeMuteIcon())
	}
	if n.CameraOn {
		setButton(c.camBtn, "Camera off", theme.VisibilityOffIcon())
	} else {
		setButton(c.camBtn, "Camera on", theme.VisibilityIcon())
	}
	if n.AudioOnly {
		c.camBtn.Disable()
	} else {
		c.camBtn.Enable()
	}
	setMeter(c.micMeter, n.MicLevel)
	setMeter(c.spkMeter, n.SpeakerLevel)
	if c.showStats {
		if group {
			setText(c.stats, groupStatsText(peers))
		} else {
			setText(c.stats, statsText(n))
		}
	}
	if len(n.Chat) != c.chatLen {
		c.chatLen = len(n.Chat)
		var b strings.Builder
		for _, l := range n.Chat {
			fmt.Fprintf(&b, "%s  %s: %s\n", l.Time.Format("15:04"), l.From, l.Text)
		}
		setText(c.chatLog, strings.TrimRight(b.String(), "\n"))
		c.chatScr.ScrollToBottom()
		if !c.showChat {
			c.showChat = true
			c.chatBox.Show()
		}
	}
	if c.flashLabel.Visible() && time.Now().After(c.flashUntil) {
		c.hideFlash()
	}
}

// fingerprintPrefix is the first four bytes of a colon-separated
// fingerprint: enough to tell certificates apart at a glance.
func fingerprintPrefix(fp string) string {
	parts := strings.SplitN(fp, ":", 5)
	if len(parts) < 5 {
		return fp
	}
	return strings.Join(parts[:4], ":") + "…"
}

func setButton(b *widget.Button, text string, icon fyne.Resource) {
	if b.Text != text {
		b.SetText(text)
		b.SetIcon(icon)
	}
}

func statusText(n app.Notify) string {
	switch n.Phase {
	case app.PhaseConnected:
		return "Connected · " + n.Room
	case app.PhaseReconnecting:
		return "Reconnecting…"
	}
	if n.Progress != "" {
		return n.Progress
	}
	return n.Phase.String()
}

func qualityText(bars int) string {
	if bars <= 0 {
		return ""
	}
	return "Signal " + strings.Repeat("▮", bars) + strings.Repeat("▯", 4-bars)
}

func formatDuration(d time.Duration) string {
	s := int(d.Seconds())
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%02d:%02d", s/60, s%60)
}

func statsText(n app.Notify) string {
	st := n.Stats
	path := "direct"
	if st.Relayed {
		path = "relayed (TURN)"
	}
	lines := []string{
		fmt.Sprintf("path      %s  %s → %s", path, orDash(st.LocalCandidate), orDash(st.RemoteCandidate)),
		fmt.Sprintf("rtt       %d ms", st.RTT.Milliseconds()),
		fmt.Sprintf("video in  %dx%d %.0f fps %d kbit/s loss %.1f%%", st.VideoIn.FrameWidth, st.VideoIn.FrameHeight, st.VideoIn.FPS, st.VideoIn.Bitrate/1000, st.VideoIn.LossPct),
		fmt.Sprintf("video out %d kbit/s (target %d)", st.VideoOut.Bitrate/1000, st.TargetBitrate/1000),
		fmt.Sprintf("audio     in %d / out %d kbit/s loss %.1f%%", st.AudioIn.Bitrate/1000, st.AudioOut.Bitrate/1000, st.AudioIn.LossPct),
	}
	if st.LatencyMS > 0 {
		lines = append(lines, fmt.Sprintf("latency   %.0f ms (capture → decode)", st.LatencyMS))
	}
	return strings.Join(lines, "\n")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// insetLayout puts its single object at the bottom-right corner.
type insetLayout struct {
	size fyne.Size
	pad  float32
}

func (l *insetLayout) Layout(objs []fyne.CanvasObject, s fyne.Size) {
	for _, o := range objs {
		o.Resize(l.size)
		o.Move(fyne.NewPos(s.Width-l.size.Width-l.pad, s.Height-l.size.Height-l.pad))
	}
}

func (l *insetLayout) MinSize([]fyne.CanvasObject) fyne.Size { return fyne.NewSize(0, 0) }

// cornerLayout puts its objects at their minimum size in the top-right
// (or bottom-left) corner.
type cornerLayout struct {
	pad        float32
	bottomLeft bool
}

func (l *cornerLayout) Layout(objs []fyne.CanvasObject, s fyne.Size) {
	for _, o := range objs {
		m := o.MinSize()
		o.Resize(m)
		if l.bottomLeft {
			o.Move(fyne.NewPos(l.pad, s.Height-m.Height-l.pad))
		} else {
			o.Move(fyne.NewPos(s.Width-m.Width-l.pad, l.pad))
		}
	}
}

func (l *cornerLayout) MinSize([]fyne.CanvasObject) fyne.Size { return fyne.NewSize(0, 0) }

// fixedWidth gives its objects a fixed width and the full height.
type fixedWidth struct{ w float32 }

func (l *fixedWidth) Layout(objs []fyne.CanvasObject, s fyne.Size) {
	for _, o := range objs {
		o.Resize(fyne.NewSize(l.w, s.Height))
		o.Move(fyne.NewPos(0, 0))
	}
}

func (l *fixedWidth) MinSize(objs []fyne.CanvasObject) fyne.Size {
	h := float32(0)
	for _, o := range objs {
		h = max(h, o.MinSize().Height)
	}
	return fyne.NewSize(l.w, h)
}
