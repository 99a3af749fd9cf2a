package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/peercall/peercall/app"
)

// devicesPopup is the call screen's camera, microphone and speaker picker:
// a change applies at once (app.Controller.SwitchDevices, which also makes
// it the choice for the next call); an error shows under the pickers and
// the picker goes back to the device still in use.
type devicesPopup struct {
	u   *UI
	pop *widget.PopUp

	camera, mic, speaker      *widget.Select
	cameraIDs, micIDs, spkIDs []string
	cur                       app.Devices // in use, as last loaded
	status, errL              *widget.Label
	loading                   bool // selections are being set, not chosen
	busy                      bool // a switch runs
	noticeSeq                 int  // Notify.NoticeSeq when it was asked for
}

const devicesHint = "Devices" // the devices button's hover hint (a flash)

func newDevicesPopup(u *UI) *devicesPopup {
	p := &devicesPopup{u: u}
	// Each picker switches only its own device: another one may show
	// "System default" for a saved device that is not plugged in now, and
	// must not move the call off it.
	p.camera = widget.NewSelect(nil, func(string) { p.changed(func(d *app.Devices) { d.Camera = pickedDevice(p.camera, p.cameraIDs) }) })
	p.mic = widget.NewSelect(nil, func(string) { p.changed(func(d *app.Devices) { d.Microphone = pickedDevice(p.mic, p.micIDs) }) })
	p.speaker = widget.NewSelect(nil, func(string) { p.changed(func(d *app.Devices) { d.Speaker = pickedDevice(p.speaker, p.spkIDs) }) })
	p.status = widget.NewLabel("")
	p.status.Hide()
	p.errL = errLabel()
	form := widget.NewForm(
		widget.NewFormItem("Camera", p.camera),
		widget.NewFormItem("Microphone", p.mic),
		widget.NewFormItem("Speaker", p.speaker),
	)
	closeBtn := widget.NewButton("Close", p.hide)
	content := container.NewVBox(
		widget.NewLabelWithStyle("Devices", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		form, p.status, p.errL, container.NewHBox(layout.NewSpacer(), closeBtn))
	// Modal: a tap outside does nothing, Close closes (no half-chosen state).
	p.pop = widget.NewModalPopUp(container.New(&fixedWidth{w: 400}, container.NewPadded(content)), u.win.Canvas())
	return p
}

// show lists the devices, selects the ones in use and opens the popup.
// Main thread.
func (p *devicesPopup) show() {
	p.errL.Hide()
	p.load(p.u.last.Devices)
	p.pop.Show()
}

// hide closes the popup (Close, or the call ended). Main thread.
func (p *devicesPopup) hide() { p.pop.Hide() }

// load fills the pickers with the current device list, d selected.
func (p *devicesPopup) load(d app.Devices) {
	p.loading = true
	defer func() { p.loading = false }()
	p.cur = d
	devs := p.u.opts.Devices()
	p.cameraIDs = choices(p.camera, devs.Cameras, []string{testPattern}, d.Camera)
	p.micIDs = choices(p.mic, devs.Microphones, nil, d.Microphone)
	p.spkIDs = choices(p.speaker, devs.Speakers, nil, d.Speaker)
}

// changed applies the choice set puts into the devices in use. The
// controller opens the device on its own goroutine; the pickers stay
// disabled until a snapshot says the switch is over (render), one switch
// at a time, in the order chosen.
func (p *devicesPopup) changed(set func(*app.Devices)) {
	if p.loading || p.busy {
		return
	}
	want := p.cur
	set(&want)
	p.noticeSeq = p.u.ctl.Snapshot().NoticeSeq
	if err := p.u.ctl.SwitchDevices(want); err != nil {
		p.done(app.UserMessage(err))
		return
	}
	p.setBusy(true)
}

// render ends a switch once a snapshot says it is over: every snapshot
// rendered after SwitchDevices returned is at least as new as the one
// that set SwitchingDevices. Main thread.
func (p *devicesPopup) render(n app.Notify) {
	if !p.busy || n.SwitchingDevices {
		return
	}
	msg := ""
	if n.NoticeSeq != p.noticeSeq {
		msg = n.Notice
	}
	p.setBusy(false)
	p.done(msg)
	p.load(n.Devices) // what the call really uses
}

// done shows why a switch failed, or clears the last reason.
func (p *devicesPopup) done(msg string) {
	setText(p.errL, msg)
	showIf(p.errL, msg != "")
}

func (p *devicesPopup) setBusy(on bool) {
	p.busy = on
	for _, s := range []*widget.Select{p.camera, p.mic, p.speaker} {
		if on {
			s.Disable()
		} else {
			s.Enable()
		}
	}
	setText(p.status, "Switching…")
	showIf(p.status, on)
}

// hintButton is an icon-only button that says what it does while the
// mouse is over it (Fyne has no tooltips): hint(true) on enter, false on
// leave.
type hintButton struct {
	widget.Button
	hint func(show bool)
}

func newHintButton(icon fyne.Resource, tapped func(), hint func(bool)) *hintButton {
	b := &hintButton{hint: hint}
	b.Icon, b.OnTapped = icon, tapped
	b.ExtendBaseWidget(b)
	return b
}

// MouseIn implements desktop.Hoverable.
func (b *hintButton) MouseIn(e *desktop.MouseEvent) {
	b.Button.MouseIn(e)
	b.hint(true)
}

// MouseOut implements desktop.Hoverable.
func (b *hintButton) MouseOut() {
	b.Button.MouseOut()
	b.hint(false)
}

var _ desktop.Hoverable = (*hintButton)(nil)

// devicesIcon is the bottom bar's icon for the popup.
func devicesIcon() fyne.Resource { return theme.SettingsIcon() }
