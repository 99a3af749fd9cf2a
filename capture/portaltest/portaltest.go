// Package portaltest runs a private desktop for screen-cast tests: a
// session bus, a PipeWire daemon with WirePlumber, Debian's
// xdg-desktop-portal (the real front end applications talk to) and, as
// its ScreenCast back end, a stand-in for the compositor that "picks" its
// screen: a PipeWire video source node showing a picture the test sets.
//
// The stand-in replaces the compositor's own portal back end (GNOME's,
// KDE's or wlroots'): those need a running compositor with a GPU, which
// test machines lack (xdg-desktop-portal-wlr 0.7 refuses sway's
// software renderer). Everything the application touches — the portal's
// D-Bus API, the PipeWire remote it hands out, the stream negotiation —
// is the real thing.
package portaltest

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/prop"
)

// Tools the desktop needs, with the Debian package of each.
var tools = map[string]string{
	"dbus-daemon":                     "dbus",
	"pipewire":                        "pipewire-bin",
	"wireplumber":                     "wireplumber",
	"pw-dump":                         "pipewire-bin",
	"/usr/libexec/xdg-desktop-portal": "xdg-desktop-portal",
}

// backendName is the stand-in back end's bus name.
const backendName = "org.peercall.test.ScreenCast"

// Desktop is the running private desktop.
type Desktop struct {
	Dir    string
	Node   uint32 // the PipeWire node the stand-in picks
	env    []string
	conn   *dbus.Conn
	scr    *screen
	procs  []*proc
	mu     sync.Mutex
	starts int
	closed int
	// Cancel makes the picker answer "canceled" (the user closed it).
	cancel bool
	// sessions are the open sessions, by handle: true once a cast
	// started in them.
	sessions map[dbus.ObjectPath]bool
}

type proc struct {
	name string
	cmd  *exec.Cmd
	log  *bytes.Buffer
	mu   sync.Mutex
	done chan struct{}
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.Write(b)
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// Need fails t loudly when a tool is missing.
func Need(t testing.TB) {
	t.Helper()
	for tool, pkg := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: install Debian package %s (make deps)", tool, pkg)
		}
	}
}

// Start runs the desktop until the test ends: a w x h screen whose node
// sends its picture (Show) fps times a second. The test process'
// environment is untouched: Setenv or Env.
func Start(t testing.TB, w, h, fps int) *Desktop {
	t.Helper()
	Need(t)
	dir, err := os.MkdirTemp("", "pcwl") // socket paths stay short
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	run := filepath.Join(dir, "run")
	portals := filepath.Join(dir, "portals")
	for _, d := range []string{run, portals, filepath.Join(dir, "home")} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	d := &Desktop{Dir: dir, sessions: map[dbus.ObjectPath]bool{}}
	bus := "unix:path=" + filepath.Join(run, "bus")
	d.env = []string{
		"XDG_RUNTIME_DIR=" + run,
		"DBUS_SESSION_BUS_ADDRESS=" + bus,
		"HOME=" + filepath.Join(dir, "home"),
		"XDG_CONFIG_HOME=" + filepath.Join(dir, "home"),
		"XDG_CURRENT_DESKTOP=peercalltest",
		"XDG_SESSION_TYPE=wayland",
		"WAYLAND_DISPLAY=wayland-peercalltest", // no compositor: only the portal shares
		"PIPEWIRE_DEBUG=1",
	}
	t.Cleanup(d.stop)

	d.run(t, "dbus-daemon", "--session", "--address="+bus, "--nofork", "--nopidfile")
	d.waitFor(t, filepath.Join(run, "bus"))
	d.run(t, "pipewire")
	d.waitFor(t, filepath.Join(run, "pipewire-0"))
	d.run(t, "wireplumber")

	// The screen: a video source node showing a gray picture until Show.
	scr, err := openScreen(filepath.Join(run, "pipewire-0"), w, h, fps)
	if err != nil {
		t.Fatalf("%v:\n%s", err, d.Logs())
	}
	d.scr = scr
	d.Node = scr.node()
	d.Show(image.NewUniform(color.Gray{Y: 128}))

	// The stand-in back end, then the real front end that finds it.
	conn, err := dbus.Connect(bus)
	if err != nil {
		t.Fatalf("session bus: %v", err)
	}
	d.conn = conn
	if err := d.export(); err != nil {
		t.Fatal(err)
	}
	file := "[portal]\nDBusName=" + backendName + "\nInterfaces=org.freedesktop.impl.portal.ScreenCast;\nUseIn=peercalltest\n"
	if err := os.WriteFile(filepath.Join(portals, "peercalltest.portal"), []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	d.env = append(d.env, "XDG_DESKTOP_PORTAL_DIR="+portals)
	d.run(t, "/usr/libexec/xdg-desktop-portal", "--replace", "--verbose")
	deadline := time.Now().Add(15 * time.Second)
	for {
		var has bool
		if err := conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, "org.freedesktop.portal.Desktop").Store(&has); err == nil && has {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("xdg-desktop-portal did not start:\n%s", d.Logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return d
}

// Show puts img on the screen (from the next frame on).
func (d *Desktop) Show(img image.Image) { d.scr.set(img) }

// Env is the environment of an application on this desktop.
func (d *Desktop) Env() []string { return append([]string(nil), d.env...) }

// Setenv points this test process at the desktop.
func (d *Desktop) Setenv(t *testing.T) {
	for _, kv := range d.env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

// CancelPicker makes the next pickers answer as if the user closed them.
func (d *Desktop) CancelPicker(on bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.cancel = on
}

// Casts is how many casts the picker started, and how many sessions the
// application closed.
func (d *Desktop) Casts() (started, closed int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.starts, d.closed
}

// EndCasts ends every open cast from the desktop's side, as its "Stop
// sharing" indicator does.
func (d *Desktop) EndCasts() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for h := range d.sessions {
		_ = d.conn.Emit(h, "org.freedesktop.impl.portal.Session.Closed")
		delete(d.sessions, h)
	}
}

// Logs is everything the desktop's programs printed.
func (d *Desktop) Logs() string {
	var b strings.Builder
	for _, p := range d.procs {
		fmt.Fprintf(&b, "== %s\n%s\n", p.name, p.output())
	}
	return b.String()
}

func (d *Desktop) run(t testing.TB, name string, args ...string) {
	t.Helper()
	p := &proc{name: filepath.Base(name), log: &bytes.Buffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(name, args...)
	p.cmd.Env = append(os.Environ(), d.env...)
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	d.procs = append(d.procs, p)
}

func (d *Desktop) waitFor(t testing.TB, path string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never appeared:\n%s", path, d.Logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (d *Desktop) stop() {
	if d.conn != nil {
		_ = d.conn.Close()
	}
	if d.scr != nil {
		d.scr.close()
	}
	for i := len(d.procs) - 1; i >= 0; i-- {
		p := d.procs[i]
		_ = p.cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
}

// backend is the stand-in org.freedesktop.impl.portal.ScreenCast.
type backend struct{ d *Desktop }

type session struct {
	d      *Desktop
	handle dbus.ObjectPath
}

// Close is org.freedesktop.impl.portal.Session.Close, called by the front
// end when the application ends the cast.
func (s session) Close() *dbus.Error {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	if s.d.sessions[s.handle] {
		s.d.closed++
	}
	delete(s.d.sessions, s.handle)
	return nil
}

func (b backend) CreateSession(handle, sess dbus.ObjectPath, app string, opts map[string]dbus.Variant) (uint32, map[string]dbus.Variant, *dbus.Error) {
	if err := b.d.conn.Export(session{b.d, sess}, sess, "org.freedesktop.impl.portal.Session"); err != nil {
		return 2, nil, dbus.MakeFailedError(err)
	}
	b.d.mu.Lock()
	b.d.sessions[sess] = false
	b.d.mu.Unlock()
	return 0, map[string]dbus.Variant{"session_id": dbus.MakeVariant(string(sess))}, nil
}

func (b backend) SelectSources(handle, sess dbus.ObjectPath, app string, opts map[string]dbus.Variant) (uint32, map[string]dbus.Variant, *dbus.Error) {
	return 0, map[string]dbus.Variant{}, nil
}

// Start is where a real back end shows its picker; the stand-in picks
// the test screen at once (or answers 1, canceled, when told to).
func (b backend) Start(handle, sess dbus.ObjectPath, app, parent string, opts map[string]dbus.Variant) (uint32, map[string]dbus.Variant, *dbus.Error) {
	b.d.mu.Lock()
	defer b.d.mu.Unlock()
	if b.d.cancel {
		return 1, map[string]dbus.Variant{}, nil
	}
	b.d.starts++
	b.d.sessions[sess] = true
	type stream struct {
		Node  uint32
		Props map[string]dbus.Variant
	}
	streams := []stream{{Node: b.d.Node, Props: map[string]dbus.Variant{
		"source_type": dbus.MakeVariant(uint32(1)),
	}}}
	return 0, map[string]dbus.Variant{"streams": dbus.MakeVariant(streams)}, nil
}

func (d *Desktop) export() error {
	const path = dbus.ObjectPath("/org/freedesktop/portal/desktop")
	const iface = "org.freedesktop.impl.portal.ScreenCast"
	if err := d.conn.Export(backend{d}, path, iface); err != nil {
		return fmt.Errorf("export back end: %w", err)
	}
	if _, err := prop.Export(d.conn, path, prop.Map{iface: {
		"AvailableSourceTypes": {Value: uint32(1 | 2), Emit: prop.EmitFalse},
		"AvailableCursorModes": {Value: uint32(1 | 2), Emit: prop.EmitFalse},
		"version":              {Value: uint32(4), Emit: prop.EmitFalse},
	}}); err != nil {
		return fmt.Errorf("export back end properties: %w", err)
	}
	reply, err := d.conn.RequestName(backendName, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		return fmt.Errorf("own %s: %v (reply %v)", backendName, err, reply)
	}
	return nil
}
