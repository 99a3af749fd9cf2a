package ui

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/peercall/peercall/app"
)

// settingsScreen edits app.Settings; Save goes through the controller,
// which validates and never stores invalid input.
type settingsScreen struct {
	u       *UI
	content fyne.CanvasObject

	cur  app.Settings // being edited
	devs app.DeviceList

	name                      *widget.Entry
	camera, mic, speaker      *widget.Select
	resolution, fps           *widget.Select
	bitrate                   *widget.Entry
	iceList                   *fyne.Container
	iceURL, iceUser, icePass  *widget.Entry
	iceErr                    *widget.Label
	policy                    *widget.RadioGroup
	policyHelp                *widget.Label
	ports, ifaces, server     *widget.Entry
	ipv6                      *widget.Check
	aec, ns, agc              *widget.Check
	downloadDir, maxFileMB    *widget.Entry
	keyringNote               *widget.Label
	saveSeq                   int // Notify.NoticeSeq when Save was tapped
	errs                      map[string]*widget.Label
	saved                     *widget.Label
	preview                   *videoView
	previewBtn                *widget.Button
	previewMeter              *widget.ProgressBar
	previewErr                *widget.Label
	cameraIDs, micIDs, spkIDs []string
}

const (
	defaultDevice = "System default"
	testPattern   = "Test pattern"
)

func newSettingsScreen(u *UI) *settingsScreen {
	s := &settingsScreen{u: u, errs: map[string]*widget.Label{}}
	s.name = widget.NewEntry()
	s.camera = widget.NewSelect(nil, nil)
	s.mic = widget.NewSelect(nil, nil)
	s.speaker = widget.NewSelect(nil, nil)
	s.resolution = widget.NewSelect([]string{"320x240", "640x480", "1280x720"}, nil)
	s.fps = widget.NewSelect([]string{"15", "24", "30"}, nil)
	s.bitrate = widget.NewEntry()
	s.iceList = container.NewVBox()
	s.iceURL = widget.NewEntry()
	s.iceURL.SetPlaceHolder("stun:host:3478 or turn:host:3478?transport=tcp")
	s.iceUser = widget.NewEntry()
	s.iceUser.SetPlaceHolder("TURN user")
	s.icePass = widget.NewPasswordEntry()
	s.icePass.SetPlaceHolder("TURN password")
	s.iceErr = errLabel()
	addBtn := widget.NewButtonWithIcon("Add", theme.ContentAddIcon(), s.addICE)
	names := app.PolicyNames()
	s.policyHelp = widget.NewLabel("")
	s.policyHelp.Wrapping = fyne.TextWrapWord
	s.policy = widget.NewRadioGroup(names, func(p string) {
		setText(s.policyHelp, app.PolicyExplanation(app.ICEPolicy(p)))
	})
	s.policy.Horizontal = true
	s.ports = widget.NewEntry()
	s.ports.SetPlaceHolder("any, or e.g. 50000-50100")
	s.ifaces = widget.NewEntry()
	s.ifaces.SetPlaceHolder("all, or e.g. eth0, wlan0")
	s.server = widget.NewEntry()
	s.server.SetPlaceHolder("ws://host:port/ws")
	s.ipv6 = widget.NewCheck("Use IPv6", nil)
	s.aec = widget.NewCheck("Echo cancellation", nil)
	s.ns = widget.NewCheck("Noise suppression", nil)
	s.agc = widget.NewCheck("Automatic gain", nil)
	s.keyringNote = widget.NewLabel("No system keyring found: TURN passwords are stored in Peercall's settings file.")
	s.keyringNote.Importance = widget.WarningImportance
	s.keyringNote.Wrapping = fyne.TextWrapWord
	s.keyringNote.Hide()
	s.saved = widget.NewLabel("")
	s.saved.Hide()
	s.downloadDir = widget.NewEntry()
	s.downloadDir.SetPlaceHolder("a folder; empty declines every file")
	s.maxFileMB = widget.NewEntry()
	s.maxFileMB.SetPlaceHolder("e.g. 4096")
	chooseDir := widget.NewButtonWithIcon("Choose…", theme.FolderOpenIcon(), s.pickDownloadDir)

	s.preview = u.sw.newView(false, 320)
	s.preview.img.SetMinSize(fyne.NewSize(192, 144))
	s.previewMeter = newMeter()
	s.previewErr = errLabel()
	s.previewBtn = widget.NewButtonWithIcon("Test camera and microphone", theme.MediaVideoIcon(), s.togglePreview)
	previewBox := container.NewVBox(
		container.NewHBox(container.NewGridWrap(fyne.NewSize(192, 144), s.preview.img),
			container.NewVBox(s.previewBtn, widget.NewLabel("Microphone level"), container.NewGridWrap(fyne.NewSize(160, 12), s.previewMeter))),
		s.previewErr)

	field := func(key string, o fyne.CanvasObject) fyne.CanvasObject {
		l := errLabel()
		s.errs[key] = l
		return container.NewVBox(o, l)
	}
	form := widget.NewForm(
		widget.NewFormItem("Display name", field("display_name", s.name)),
		widget.NewFormItem("Camera", s.camera),
		widget.NewFormItem("Microphone", s.mic),
		widget.NewFormItem("Speaker", s.speaker),
		widget.NewFormItem("Voice", container.NewHBox(s.aec, s.ns, s.agc)),
		widget.NewFormItem("Preview", previewBox),
		widget.NewFormItem("Resolution", field("resolution", s.resolution)),
		widget.NewFormItem("Frame rate", field("fps", s.fps)),
		widget.NewFormItem("Max bitrate (kbit/s)", field("max_bitrate_kbps", s.bitrate)),
		widget.NewFormItem("STUN/TURN servers", field("ice_servers", container.NewVBox(s.iceList,
			container.NewBorder(nil, nil, nil, addBtn, container.NewGridWithColumns(3, s.iceURL, s.iceUser, s.icePass)),
			s.iceErr, s.keyringNote))),
		widget.NewFormItem("ICE policy", field("ice_policy", container.NewVBox(s.policy, s.policyHelp))),
		widget.NewFormItem("UDP ports", field("port_range", s.ports)),
		widget.NewFormItem("Interfaces", field("interfaces", s.ifaces)),
		widget.NewFormItem("", s.ipv6),
		widget.NewFormItem("Default server", field("signaling_server", s.server)),
		widget.NewFormItem("Download folder", field("download_dir", container.NewBorder(nil, nil, nil, chooseDir, s.downloadDir))),
		widget.NewFormItem("Max file size (MB)", field("max_file_mb", s.maxFileMB)),
	)
	saveBtn := widget.NewButtonWithIcon("Save", theme.DocumentSaveIcon(), s.save)
	saveBtn.Importance = widget.HighImportance
	back := widget.NewButtonWithIcon("Back", theme.NavigateBackIcon(), func() { u.goTo(pageStart) })
	title := widget.NewLabelWithStyle("Settings", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	s.content = container.NewBorder(container.NewHBox(back, title), container.NewHBox(saveBtn, s.saved), nil, nil,
		container.NewVScroll(container.NewPadded(form)))
	s.load(u.ctl.Settings())
	return s
}

func errLabel() *widget.Label {
	l := widget.NewLabel("")
	l.Importance = widget.DangerImportance
	l.Wrapping = fyne.TextWrapWord
	l.Hide()
	return l
}

// choices fills a device select: default first, then the devices.
func choices(sel *widget.Select, devs []app.DeviceChoice, extra []string, current string) []string {
	opts := append([]string{defaultDevice}, extra...)
	ids := append([]string{""}, extra...)
	for _, d := range devs {
		opts = append(opts, d.Name)
		ids = append(ids, d.ID)
	}
	sel.SetOptions(opts)
	chosen := defaultDevice
	for i, id := range ids {
		if id == current || (current == "synthetic" && id == testPattern) {
			chosen = opts[i]
		}
	}
	sel.SetSelected(chosen)
	return ids
}

// pickedDevice reads a select filled by choices as a device ID ("" for the
// system default, "synthetic" for the test pattern).
func pickedDevice(sel *widget.Select, ids []string) string {
	i := sel.SelectedIndex()
	if i < 0 || i >= len(ids) {
		return ""
	}
	if ids[i] == testPattern {
		return "synthetic"
	}
	return ids[i]
}

// load puts s into the form (on entering the screen).
func (s *settingsScreen) load(set app.Settings) {
	s.cur = set
	s.devs = s.u.opts.Devices()
	s.name.SetText(set.DisplayName)
	s.cameraIDs = choices(s.camera, s.devs.Cameras, []string{testPattern}, set.Camera)
	s.micIDs = choices(s.mic, s.devs.Microphones, nil, set.Microphone)
	s.spkIDs = choices(s.speaker, s.devs.Speakers, nil, set.Speaker)
	res := app.FormatResolution(set.Width, set.Height)
	if !contains(s.resolution.Options, res) {
		s.resolution.SetOptions(append(s.resolution.Options, res))
	}
	s.resolution.SetSelected(res)
	fps := strconv.Itoa(set.FPS)
	if !contains(s.fps.Options, fps) {
		s.fps.SetOptions(append(s.fps.Options, fps))
	}
	s.fps.SetSelected(fps)
	s.bitrate.SetText(strconv.Itoa(set.MaxBitrateKbps))
	s.policy.SetSelected(set.ICEPolicy)
	s.ports.SetText(set.PortRange)
	s.ifaces.SetText(strings.Join(set.Interfaces, ", "))
	s.ipv6.SetChecked(set.IPv6)
	s.aec.SetChecked(set.EchoCancel)
	s.ns.SetChecked(set.NoiseSuppress)
	s.agc.SetChecked(set.GainControl)
	s.server.SetText(set.SignalingServer)
	s.downloadDir.SetText(set.DownloadDir)
	s.maxFileMB.SetText(strconv.Itoa(set.MaxFileMB))
	s.renderICE()
	s.showErrors(nil)
	s.saved.Hide()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (s *settingsScreen) renderICE() {
	s.iceList.Objects = nil
	for i, e := range s.cur.ICEServers {
		text := e.URL
		if e.Username != "" {
			text += "  (" + e.Username + ")"
		}
		s.iceList.Add(container.NewBorder(nil, nil, nil,
			widget.NewButtonWithIcon("", theme.DeleteIcon(), func() {
				s.cur.ICEServers = append(s.cur.ICEServers[:i:i], s.cur.ICEServers[i+1:]...)
				s.renderICE()
			}), widget.NewLabel(text)))
	}
	if len(s.cur.ICEServers) == 0 {
		s.iceList.Add(widget.NewLabel("No STUN/TURN servers: only direct connections (LAN) will work."))
	}
	s.iceList.Refresh()
}

// addICE validates the new entry inline before adding it.
func (s *settingsScreen) addICE() {
	e := app.ICEServerSetting{URL: strings.TrimSpace(s.iceURL.Text), Username: strings.TrimSpace(s.iceUser.Text), Password: s.icePass.Text}
	if err := app.ValidateICEServer(e); err != nil {
		setText(s.iceErr, app.UserMessage(err))
		s.iceErr.Show()
		return
	}
	s.iceErr.Hide()
	s.cur.ICEServers = append(s.cur.ICEServers, e)
	s.iceURL.SetText("")
	s.iceUser.SetText("")
	s.icePass.SetText("")
	s.renderICE()
}

// collect reads the form; unparsable numbers become inline errors.
func (s *settingsScreen) collect() (app.Settings, map[string]string) {
	set := s.cur
	bad := map[string]string{}
	set.DisplayName = strings.TrimSpace(s.name.Text)
	set.Camera = pickedDevice(s.camera, s.cameraIDs)
	set.Microphone = pickedDevice(s.mic, s.micIDs)
	set.Speaker = pickedDevice(s.speaker, s.spkIDs)
	if w, h, err := app.ParseResolution(s.resolution.Selected); err == nil {
		set.Width, set.Height = w, h
	} else {
		bad["resolution"] = "pick a resolution"
	}
	if n, err := strconv.Atoi(s.fps.Selected); err == nil {
		set.FPS = n
	} else {
		bad["fps"] = "pick a frame rate"
	}
	if n, err := strconv.Atoi(strings.TrimSpace(s.bitrate.Text)); err == nil {
		set.MaxBitrateKbps = n
	} else {
		bad["max_bitrate_kbps"] = "enter a number of kbit/s"
	}
	set.ICEPolicy = s.policy.Selected
	set.PortRange = strings.TrimSpace(s.ports.Text)
	set.Interfaces = app.ParseInterfaces(s.ifaces.Text)
	set.IPv6 = s.ipv6.Checked
	set.EchoCancel, set.NoiseSuppress, set.GainControl = s.aec.Checked, s.ns.Checked, s.agc.Checked
	set.SignalingServer = strings.TrimSpace(s.server.Text)
	set.DownloadDir = strings.TrimSpace(s.downloadDir.Text)
	if n, err := strconv.Atoi(strings.TrimSpace(s.maxFileMB.Text)); err == nil {
		set.MaxFileMB = n
	} else {
		bad["max_file_mb"] = "enter a number of MB"
	}
	return set, bad
}

func (s *settingsScreen) save() {
	set, bad := s.collect()
	if len(bad) > 0 {
		s.showErrors(bad)
		return
	}
	// Returns at once; the keyring and the store are the controller's
	// job, and a plain-text fallback comes back as PlainPasswords.
	s.saveSeq = s.u.ctl.Snapshot().NoticeSeq
	err := s.u.ctl.ApplySettings(set)
	var ve *app.ValidationError
	if errors.As(err, &ve) {
		s.showErrors(ve.Fields)
		s.saved.Hide()
		return
	}
	if err != nil {
		s.showErrors(map[string]string{"display_name": app.UserMessage(err)})
		return
	}
	s.cur = set
	s.showErrors(nil)
	setText(s.saved, "Saved.")
	s.saved.Show()
}

func (s *settingsScreen) showErrors(bad map[string]string) {
	for key, l := range s.errs {
		msg := bad[key]
		if key == "ice_servers" {
			for k, v := range bad {
				if strings.HasPrefix(k, "ice_servers[") {
					msg = fmt.Sprintf("%s: %s", k, v)
				}
			}
		}
		if msg == "" {
			l.Hide()
			continue
		}
		setText(l, msg)
		l.Show()
	}
}

// pickDownloadDir chooses the download folder with a folder dialog,
// starting in the current one when it exists.
func (s *settingsScreen) pickDownloadDir() {
	d := dialog.NewFolderOpen(func(l fyne.ListableURI, err error) {
		if err != nil || l == nil {
			return // canceled
		}
		s.downloadDir.SetText(l.Path())
	}, s.u.win)
	if dir := strings.TrimSpace(s.downloadDir.Text); dir != "" {
		if l, err := storage.ListerForURI(storage.NewFileURI(dir)); err == nil {
			d.SetLocation(l)
		}
	}
	d.Show() // before Resize: a file dialog sizes only once shown
	if sz := s.u.win.Canvas().Size(); sz.Width > 0 {
		d.Resize(fyne.NewSize(min(sz.Width-40, 800), min(sz.Height-40, 560)))
	}
}

func (s *settingsScreen) togglePreview() {
	if s.u.last.Previewing {
		s.u.ctl.StopPreview()
		return
	}
	set, _ := s.collect()
	if err := s.u.ctl.StartPreview(set); err != nil {
		setText(s.previewErr, app.UserMessage(err))
		s.previewErr.Show()
	}
}

func (s *settingsScreen) render(n app.Notify) {
	showIf(s.keyringNote, n.PlainPasswords)
	if s.saved.Visible() && n.NoticeSeq != s.saveSeq && n.Notice == app.PlainPasswordsNotice {
		// This save, done in the background, fell back to the file.
		setText(s.saved, "Saved (passwords in the settings file: no keyring).")
	}
	if n.Previewing {
		setButton(s.previewBtn, "Stop test", theme.MediaStopIcon())
		setMeter(s.previewMeter, n.MicLevel)
	} else {
		setButton(s.previewBtn, "Test camera and microphone", theme.MediaVideoIcon())
		setMeter(s.previewMeter, 0)
		if s.preview.img.Image != nil {
			s.preview.Clear()
		}
	}
	showIf(s.previewErr, n.PreviewError != "")
	setText(s.previewErr, n.PreviewError)
}
