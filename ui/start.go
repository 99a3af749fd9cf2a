package ui

import (
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/peercall/peercall/app"
)

// startScreen: name, room, password; host a call or join a server.
type startScreen struct {
	u       *UI
	content fyne.CanvasObject

	name, room, password *widget.Entry
	server               *widget.SelectEntry
	startBtn, joinBtn    *widget.Button
	errLabel             *widget.Label // inline validation error
	banner               *widget.Label // how the last call ended
	recent               []string
}

func newStartScreen(u *UI) *startScreen {
	s := &startScreen{u: u}
	set := u.ctl.Settings()
	g := u.opts.GUI
	s.name = widget.NewEntry()
	s.name.SetPlaceHolder("Your name")
	s.name.SetText(firstNonEmpty(g.Name, set.DisplayName))
	s.room = widget.NewEntry()
	s.room.SetPlaceHolder("Room name, e.g. kitchen")
	s.room.SetText(g.Room)
	s.password = widget.NewPasswordEntry()
	s.password.SetPlaceHolder("Optional")
	s.password.SetText(g.Password)
	s.recent = set.RecentServers
	s.server = widget.NewSelectEntry(s.recent)
	s.server.SetPlaceHolder("ws://host:port/ws")
	s.server.SetText(firstNonEmpty(g.Join, set.SignalingServer, first(s.recent)))

	s.startBtn = widget.NewButtonWithIcon("Start a call", theme.MediaVideoIcon(), s.onStart)
	s.startBtn.Importance = widget.HighImportance
	s.joinBtn = widget.NewButtonWithIcon("Join", theme.LoginIcon(), s.onJoin)
	s.errLabel = widget.NewLabel("")
	s.errLabel.Importance = widget.DangerImportance
	s.errLabel.Wrapping = fyne.TextWrapWord
	s.errLabel.Hide()
	s.banner = widget.NewLabel("")
	s.banner.Wrapping = fyne.TextWrapWord
	s.banner.Hide()

	logo := canvas.NewImageFromResource(iconResource)
	logo.FillMode = canvas.ImageFillContain
	logo.SetMinSize(fyne.NewSize(64, 64))
	title := widget.NewLabelWithStyle("Peercall", fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	hint := widget.NewLabelWithStyle("Start a call and send the join link, or join someone's server.", fyne.TextAlignCenter, fyne.TextStyle{Italic: true})
	hint.Wrapping = fyne.TextWrapWord

	form := widget.NewForm(
		widget.NewFormItem("Name", s.name),
		widget.NewFormItem("Room", s.room),
		widget.NewFormItem("Password", s.password),
	)
	joinRow := container.NewBorder(nil, nil, nil, s.joinBtn, s.server)
	footer := container.NewHBox(
		widget.NewButtonWithIcon("Settings", theme.SettingsIcon(), func() { u.goTo(pageSettings) }),
		widget.NewButtonWithIcon("Network test", theme.SearchIcon(), func() { u.goTo(pageNetTest) }),
	)
	body := container.NewVBox(
		container.NewCenter(logo), title, hint, s.banner,
		form,
		s.startBtn,
		widget.NewSeparator(),
		widget.NewLabel("Or join a server:"),
		joinRow,
		s.errLabel,
	)
	s.content = container.NewBorder(nil, container.NewCenter(footer), nil, nil,
		container.NewCenter(container.NewGridWrap(fyne.NewSize(440, body.MinSize().Height), body)))
	return s
}

func (s *startScreen) params() app.JoinParams {
	return app.JoinParams{
		Server: strings.TrimSpace(s.server.Text), Room: strings.TrimSpace(s.room.Text),
		Name: strings.TrimSpace(s.name.Text), Password: s.password.Text,
	}
}

func (s *startScreen) showErr(err error) {
	if err == nil {
		s.errLabel.Hide()
		return
	}
	setText(s.errLabel, app.UserMessage(err))
	s.errLabel.Show()
}

func (s *startScreen) onStart() {
	p := s.params()
	p.Server = ""
	s.showErr(s.u.ctl.StartCall(p))
}

func (s *startScreen) onJoin() {
	if s.params().Server == "" {
		s.showErr(&app.UserError{Msg: "Enter the server address (ws://…) or paste a join link.", Err: app.ErrInvalidSettings})
		return
	}
	s.showErr(s.u.ctl.Join(s.params()))
}

// render shows how the last call ended and the recent servers.
func (s *startScreen) render(n app.Notify) {
	switch n.Phase {
	case app.PhaseEnded:
		setText(s.banner, "Call ended: "+n.Reason+".")
		s.banner.Importance = widget.MediumImportance
		s.banner.Show()
	case app.PhaseFailed:
		setText(s.banner, "Call failed: "+n.Error)
		s.banner.Importance = widget.DangerImportance
		s.banner.Show()
	default:
		s.banner.Hide()
	}
	if recent := s.u.ctl.Settings().RecentServers; !equalStrings(recent, s.recent) {
		s.recent = recent
		s.server.SetOptions(recent)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func first(ss []string) string {
	if len(ss) == 0 {
		return ""
	}
	return ss[0]
}
