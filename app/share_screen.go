package app

import (
	"fmt"
	"image"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// shareSpec is a parsed "screen[:DISPLAY[:WxH+X+Y]]", "window:ID" or
// "portal".
type shareSpec struct {
	// Portal asks the desktop portal (Wayland): its own picker chooses.
	Portal  bool
	Display string          // "" = $DISPLAY
	Region  image.Rectangle // empty = the whole screen
	Window  uint32          // one window of $DISPLAY ("window:ID"); 0 = none
}

var regionRE = regexp.MustCompile(`^([0-9]{1,5})x([0-9]{1,5})\+([0-9]{1,5})\+([0-9]{1,5})$`)

// parseShareSpec reads a screen share source as flags give it. The
// display is ":N" or ":N.S" (or HOST:N for a remote X server).
func parseShareSpec(s string) (shareSpec, error) {
	if s == "portal" {
		return shareSpec{Portal: true}, nil
	}
	if id, ok := strings.CutPrefix(s, "window:"); ok {
		n, err := strconv.ParseUint(id, 0, 32)
		if err != nil || n == 0 {
			return shareSpec{}, fmt.Errorf("%w: %q: want window:ID (an X window id)", ErrShareSource, s)
		}
		return shareSpec{Window: uint32(n)}, nil
	}
	rest, ok := strings.CutPrefix(s, "screen")
	if !ok || (rest != "" && rest[0] != ':') {
		return shareSpec{}, fmt.Errorf("%w: %q: want screen[:DISPLAY[:WxH+X+Y]]", ErrShareSource, s)
	}
	rest = strings.TrimPrefix(rest, ":")
	var spec shareSpec
	if rest == "" {
		return spec, nil
	}
	// The display itself has a colon (":1", "host:1.0"): the region, if
	// any, is what follows the last colon and looks like one.
	if i := strings.LastIndex(rest, ":"); i >= 0 && regionRE.MatchString(rest[i+1:]) {
		m := regionRE.FindStringSubmatch(rest[i+1:])
		n := func(k int) int { v, _ := strconv.Atoi(m[k]); return v }
		w, h, x, y := n(1), n(2), n(3), n(4)
		if w < 16 || h < 16 {
			return shareSpec{}, fmt.Errorf("%w: %q: a region of at least 16x16", ErrShareSource, s)
		}
		spec.Region = image.Rect(x, y, x+w, y+h)
		rest = rest[:i]
	}
	if rest != "" && !strings.HasPrefix(rest, ":") && !strings.Contains(rest, ":") {
		rest = ":" + rest // "screen:1" is display :1
	}
	spec.Display = rest
	return spec, nil
}

// openScreenShare opens an X display's screen (or a region of it) as a
// share source, the windows in hide painted over.
func openScreenShare(s string, hide []uint32) (ShareSource, error) {
	spec, err := parseShareSpec(s)
	if err != nil {
		return ShareSource{}, err
	}
	if spec.Portal {
		return openPortalShare()
	}
	return openX11Share(spec, hide)
}

// ShareChoice is one thing the Share picker offers.
type ShareChoice struct {
	Label string      // "Screen 1 (1920x1080)", a window's title, "Test picture"
	Spec  string      // for Controller.StartShare
	Thumb image.Image // a small picture of it; nil when none
}

// ListShareChoices lists what can be shared: the screens (monitors) of
// the X display and its top-level windows by title — on a Wayland
// desktop, the desktop portal's own picker instead — and with synthetic
// media the test picture.
// Windows in hide (the app's own) are not offered.
func ListShareChoices(synthetic bool, hide ...uint32) ([]ShareChoice, error) {
	var out []ShareChoice
	if synthetic {
		out = append(out, ShareChoice{Label: "Test picture", Spec: "synthetic"})
	}
	var more []ShareChoice
	var err error
	if waylandSession() {
		more, err = listPortalChoices()
	} else {
		more, err = listX11Choices(hide)
	}
	out = append(out, more...)
	if len(out) == 0 && err != nil {
		return nil, err
	}
	return out, nil
}

// SetOwnWindows tells the controller the app's own X windows (the call
// window): a shared screen paints them over, so the people watching do
// not see the call inside the share inside the call, and the Share
// picker does not offer them.
func (c *Controller) SetOwnWindows(ids ...uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.own = slices.Clone(ids)
}
