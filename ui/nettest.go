package ui

import (
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/peercall/peercall/app"
)

// netScreen runs the network test and shows its checklist.
type netScreen struct {
	u       *UI
	content fyne.CanvasObject

	server  *widget.Entry
	run     *widget.Button
	errL    *widget.Label
	list    *fyne.Container
	exposes *widget.Label
	last    *app.NetTestReport
}

func newNetScreen(u *UI) *netScreen {
	s := &netScreen{u: u}
	s.server = widget.NewEntry()
	s.server.SetPlaceHolder("ws://host:port/ws (optional)")
	set := u.ctl.Settings()
	s.server.SetText(firstNonEmpty(u.opts.GUI.Join, set.SignalingServer, first(set.RecentServers)))
	s.run = widget.NewButtonWithIcon("Run test", theme.MediaPlayIcon(), s.start)
	s.run.Importance = widget.HighImportance
	s.errL = errLabel()
	s.list = container.NewVBox(widget.NewLabel("Checks the signaling server and your STUN/TURN servers from Settings."))
	s.exposes = widget.NewLabel("")
	s.exposes.Wrapping = fyne.TextWrapWord
	back := widget.NewButtonWithIcon("Back", theme.NavigateBackIcon(), func() { u.goTo(pageStart) })
	title := widget.NewLabelWithStyle("Network test", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	top := container.NewVBox(container.NewHBox(back, title),
		container.NewBorder(nil, nil, widget.NewLabel("Server"), s.run, s.server), s.errL)
	s.content = container.NewBorder(top, nil, nil, nil, container.NewVScroll(container.NewVBox(s.list, widget.NewSeparator(), s.exposes)))
	return s
}

func (s *netScreen) start() {
	srv := strings.TrimSpace(s.server.Text)
	if srv != "" {
		if err := app.ValidateServerURL(srv); err != nil {
			setText(s.errL, app.UserMessage(err))
			s.errL.Show()
			return
		}
	}
	s.errL.Hide()
	if err := s.u.ctl.RunNetworkTest(srv); err != nil {
		setText(s.errL, app.UserMessage(err))
		s.errL.Show()
	}
}

func statusIcon(st app.CheckStatus) fyne.Resource {
	switch st {
	case app.CheckPass:
		return theme.NewSuccessThemedResource(theme.ConfirmIcon())
	case app.CheckFail:
		return theme.NewErrorThemedResource(theme.ErrorIcon())
	case app.CheckRunning:
		return theme.ViewRefreshIcon()
	}
	return theme.RadioButtonIcon()
}

func (s *netScreen) render(n app.Notify) {
	if n.NetTestRunning {
		s.run.Disable()
	} else {
		s.run.Enable()
	}
	if n.NetTest == nil || n.NetTest == s.last {
		return
	}
	s.last = n.NetTest
	rows := make([]fyne.CanvasObject, 0, len(n.NetTest.Checks))
	for _, c := range n.NetTest.Checks {
		text := c.Name
		switch c.Status {
		case app.CheckPass:
			text += fmt.Sprintf(" — %s", c.Detail)
		case app.CheckFail:
			text += fmt.Sprintf(" — failed: %s", c.Reason)
		case app.CheckRunning:
			text += " — running…"
		}
		l := widget.NewLabel(text)
		l.Wrapping = fyne.TextWrapWord
		if c.Status == app.CheckFail {
			l.Importance = widget.DangerImportance
		}
		rows = append(rows, container.NewBorder(nil, nil, widget.NewIcon(statusIcon(c.Status)), nil, l))
	}
	if len(rows) == 0 {
		rows = append(rows, widget.NewLabel("Nothing to test: give a server or add STUN/TURN servers in Settings."))
	}
	s.list.Objects = rows
	s.list.Refresh()
	if n.NetTest.Done {
		setText(s.exposes, fmt.Sprintf("With the %q policy the other person can see:\n• %s", n.NetTest.Policy, strings.Join(n.NetTest.Exposes, "\n• ")))
	} else {
		setText(s.exposes, "")
	}
}
