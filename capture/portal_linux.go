//go:build linux && cgo

package capture

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/godbus/dbus/v5"
)

// The desktop portal's ScreenCast interface (xdg-desktop-portal): on a
// Wayland desktop it is the only way to see the screen. The portal shows
// its own picker and hands back a PipeWire remote with one video stream.
const (
	portalBus        = "org.freedesktop.portal.Desktop"
	portalPath       = dbus.ObjectPath("/org/freedesktop/portal/desktop")
	portalScreenCast = "org.freedesktop.portal.ScreenCast"
	portalRequest    = "org.freedesktop.portal.Request"
	portalSession    = "org.freedesktop.portal.Session"

	// SelectSources types and cursor modes (portal bit values).
	portalMonitor        = 1
	portalWindow         = 2
	portalCursorHidden   = 1
	portalCursorEmbedded = 2
)

// PortalCast is one screen cast the desktop portal granted: the PipeWire
// node to read and the remote (a socket) to read it through.
type PortalCast struct {
	// Node is the PipeWire node id of the stream.
	Node uint32
	// Width and Height are the stream's size as the portal announced it
	// (0 when it did not).
	Width, Height int
	// fd is the PipeWire remote; OpenPortalScreen takes it over.
	fd int

	conn    *dbus.Conn
	session dbus.ObjectPath
	ended   chan struct{} // closed when the desktop ends the cast
	once    sync.Once
}

// PortalConfig says what the portal's picker offers.
type PortalConfig struct {
	// Windows lets the user pick a window as well as a monitor.
	Windows bool
	// Cursor asks for the pointer drawn into the frames.
	Cursor bool
}

// PortalAvailable reports whether this session has a desktop portal with
// ScreenCast: a Wayland session bus where the portal answers.
func PortalAvailable(ctx context.Context) error {
	conn, err := dbus.ConnectSessionBus(dbus.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("%w: no session bus: %w", ErrNoScreenCapture, err)
	}
	defer conn.Close()
	v, err := conn.Object(portalBus, portalPath).GetProperty(portalScreenCast + ".AvailableSourceTypes")
	if err != nil {
		return fmt.Errorf("%w: the desktop portal has no ScreenCast: %w", ErrNoScreenCapture, err)
	}
	if t, ok := v.Value().(uint32); !ok || t&portalMonitor == 0 {
		return fmt.Errorf("%w: the desktop portal casts no monitors", ErrNoScreenCapture)
	}
	return nil
}

// StartPortalCast asks the desktop portal for a screen cast: the portal
// shows its picker (the user may cancel: ErrShareCanceled) and returns the
// stream. ctx bounds the whole exchange, the user's choice included.
func StartPortalCast(ctx context.Context, cfg PortalConfig) (*PortalCast, error) {
	conn, err := dbus.ConnectSessionBus(dbus.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("%w: no session bus: %w", ErrNoScreenCapture, err)
	}
	pc := &PortalCast{conn: conn, fd: -1, ended: make(chan struct{})}
	ok := false
	defer func() {
		if !ok {
			pc.Close()
		}
	}()
	obj := conn.Object(portalBus, portalPath)
	res, err := portalCall(ctx, conn, obj, "CreateSession", map[string]dbus.Variant{
		"session_handle_token": dbus.MakeVariant(portalToken()),
	})
	if err != nil {
		return nil, fmt.Errorf("screen cast session: %w", err)
	}
	var handle string
	if v, ok := res["session_handle"]; ok {
		// Portals before 1.17 send it as a string, later ones as an
		// object path.
		switch s := v.Value().(type) {
		case string:
			handle = s
		case dbus.ObjectPath:
			handle = string(s)
		}
	}
	if !dbus.ObjectPath(handle).IsValid() {
		return nil, fmt.Errorf("%w: the portal returned no session", ErrNoScreenCapture)
	}
	pc.session = dbus.ObjectPath(handle)
	if err := pc.watchClosed(ctx); err != nil {
		return nil, err
	}

	types := uint32(portalMonitor)
	if cfg.Windows {
		types |= portalWindow
	}
	if v, err := obj.GetProperty(portalScreenCast + ".AvailableSourceTypes"); err == nil {
		if t, ok := v.Value().(uint32); ok && t&types != 0 {
			types &= t
		}
	}
	opts := map[string]dbus.Variant{
		"types":    dbus.MakeVariant(types),
		"multiple": dbus.MakeVariant(false),
	}
	if v, err := obj.GetProperty(portalScreenCast + ".AvailableCursorModes"); err == nil {
		if m, ok := v.Value().(uint32); ok {
			want := uint32(portalCursorHidden)
			if cfg.Cursor {
				want = portalCursorEmbedded
			}
			if m&want != 0 {
				opts["cursor_mode"] = dbus.MakeVariant(want)
			}
		}
	}
	if _, err := portalCall(ctx, conn, obj, "SelectSources", pc.session, opts); err != nil {
		return nil, fmt.Errorf("screen cast sources: %w", err)
	}
	res, err = portalCall(ctx, conn, obj, "Start", pc.session, "", map[string]dbus.Variant{})
	if err != nil {
		return nil, fmt.Errorf("screen cast start: %w", err)
	}
	if err := pc.readStreams(res); err != nil {
		return nil, err
	}
	var fd dbus.UnixFD
	if err := obj.CallWithContext(ctx, portalScreenCast+".OpenPipeWireRemote", 0, pc.session, map[string]dbus.Variant{}).Store(&fd); err != nil {
		return nil, fmt.Errorf("%w: open the PipeWire remote: %w", ErrNoScreenCapture, err)
	}
	pc.fd = int(fd)
	ok = true
	return pc, nil
}

// readStreams takes the first stream of Start's results: a(ua{sv}).
func (pc *PortalCast) readStreams(res map[string]dbus.Variant) error {
	v, found := res["streams"]
	if !found {
		return fmt.Errorf("%w: the portal started no stream", ErrNoScreenCapture)
	}
	var streams []struct {
		Node  uint32
		Props map[string]dbus.Variant
	}
	if err := dbus.Store([]any{v.Value()}, &streams); err != nil || len(streams) == 0 {
		return fmt.Errorf("%w: the portal's stream list is unreadable", ErrNoScreenCapture)
	}
	pc.Node = streams[0].Node
	if sz, ok := streams[0].Props["size"]; ok {
		var wh struct{ W, H int32 }
		if err := dbus.Store([]any{sz.Value()}, &wh); err == nil && wh.W > 0 && wh.H > 0 {
			pc.Width, pc.Height = int(wh.W), int(wh.H)
		}
	}
	return nil
}

// watchClosed notes the portal's Session.Closed: the desktop (its "Stop
// sharing" button) ended the cast.
func (pc *PortalCast) watchClosed(ctx context.Context) error {
	if err := pc.conn.AddMatchSignalContext(ctx, dbus.WithMatchObjectPath(pc.session),
		dbus.WithMatchInterface(portalSession), dbus.WithMatchMember("Closed")); err != nil {
		return fmt.Errorf("%w: watch the cast session: %w", ErrNoScreenCapture, err)
	}
	ch := make(chan *dbus.Signal, 4)
	pc.conn.Signal(ch)
	go func() {
		// Ends when the connection closes (Close): godbus closes ch.
		for sig := range ch {
			if sig.Path == pc.session && sig.Name == portalSession+".Closed" {
				select {
				case <-pc.ended:
				default:
					close(pc.ended)
				}
			}
		}
	}()
	return nil
}

// Ended reports whether the desktop ended the cast.
func (pc *PortalCast) Ended() bool {
	select {
	case <-pc.ended:
		return true
	default:
		return false
	}
}

// takeFD hands the PipeWire remote over to its reader.
func (pc *PortalCast) takeFD() int {
	fd := pc.fd
	pc.fd = -1
	return fd
}

// Close ends the cast (the desktop's "sharing" indicator goes away) and
// closes the remote unless a reader took it.
func (pc *PortalCast) Close() error {
	pc.once.Do(func() {
		if pc.fd >= 0 {
			_ = os.NewFile(uintptr(pc.fd), "pipewire").Close()
			pc.fd = -1
		}
		if pc.session != "" {
			_ = pc.conn.Object(portalBus, pc.session).Call(portalSession+".Close", 0).Err
		}
		_ = pc.conn.Close()
	})
	return nil
}

// portalCall calls a ScreenCast method that answers through a Request
// object, and waits for its Response. The handle_token added to the last
// argument (the options) names the request object in advance, so the
// response cannot be missed.
func portalCall(ctx context.Context, conn *dbus.Conn, obj dbus.BusObject, method string, args ...any) (map[string]dbus.Variant, error) {
	token := portalToken()
	opts, _ := args[len(args)-1].(map[string]dbus.Variant)
	opts["handle_token"] = dbus.MakeVariant(token)
	sender := strings.ReplaceAll(strings.TrimPrefix(conn.Names()[0], ":"), ".", "_")
	path := dbus.ObjectPath("/org/freedesktop/portal/desktop/request/" + sender + "/" + token)
	match := []dbus.MatchOption{dbus.WithMatchObjectPath(path), dbus.WithMatchInterface(portalRequest), dbus.WithMatchMember("Response")}
	if err := conn.AddMatchSignalContext(ctx, match...); err != nil {
		return nil, fmt.Errorf("%w: watch the portal: %w", ErrNoScreenCapture, err)
	}
	defer func() { _ = conn.RemoveMatchSignal(match...) }()
	ch := make(chan *dbus.Signal, 4)
	conn.Signal(ch)
	defer conn.RemoveSignal(ch)

	var got dbus.ObjectPath
	if err := obj.CallWithContext(ctx, portalScreenCast+"."+method, 0, args...).Store(&got); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrNoScreenCapture, method, err)
	}
	if got != path {
		return nil, fmt.Errorf("%w: %s answered on %s (a portal older than 0.9)", ErrNoScreenCapture, method, got)
	}
	for {
		select {
		case <-ctx.Done():
			_ = conn.Object(portalBus, path).Call(portalRequest+".Close", 0).Err
			return nil, fmt.Errorf("%s: %w", method, ctx.Err())
		case sig, ok := <-ch:
			if !ok {
				return nil, fmt.Errorf("%w: the session bus closed", ErrNoScreenCapture)
			}
			if sig.Path != path || sig.Name != portalRequest+".Response" || len(sig.Body) != 2 {
				continue
			}
			code, _ := sig.Body[0].(uint32)
			res, _ := sig.Body[1].(map[string]dbus.Variant)
			switch code {
			case 0:
				return res, nil
			case 1:
				return nil, ErrShareCanceled
			default:
				return nil, fmt.Errorf("%w: the portal refused %s", ErrNoScreenCapture, method)
			}
		}
	}
}

// portalToken is a fresh request or session token (letters and digits).
func portalToken() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(errors.New("crypto/rand failed"))
	}
	return "peercall" + hex.EncodeToString(b[:])
}
