package ui

import (
	"errors"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/test"

	"github.com/peercall/peercall/app"
)

// fakeFiles stands in for the controller's file commands: it records
// them ("send /path", "accept ID", …) and answers with fail.
type fakeFiles struct {
	mu   sync.Mutex
	got  []string
	fail error
}

func (f *fakeFiles) record(s string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, s)
	return f.fail
}

func (f *fakeFiles) SendFile(path string) error  { return f.record("send " + path) }
func (f *fakeFiles) AcceptFile(id string) error  { return f.record("accept " + id) }
func (f *fakeFiles) DeclineFile(id string) error { return f.record("decline " + id) }
func (f *fakeFiles) CancelFile(id string) error  { return f.record("cancel " + id) }

func (f *fakeFiles) calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.got)
}

// The fake call transfers files like the engine's call: it records the
// commands, and the test sends the transfers' changes as events.
func (f *fakeCall) fileCmd(s string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fileCmds = append(f.fileCmds, s)
	return nil
}

func (f *fakeCall) SendFile(path string) error  { return f.fileCmd("send " + path) }
func (f *fakeCall) AcceptFile(id string) error  { return f.fileCmd("accept " + id) }
func (f *fakeCall) DeclineFile(id string) error { return f.fileCmd("decline " + id) }
func (f *fakeCall) CancelFile(id string) error  { return f.fileCmd("cancel " + id) }

func (f *fakeCall) SetFilePolicy(p app.FilePolicy) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.policies = append(f.policies, p)
}

func (f *fakeCall) fileCalls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.fileCmds)
}

const (
	offerID = "0123456789abcdef0123456789abcdef"
	sendID  = "fedcba9876543210fedcba9876543210"
)

// offer is Bob's pending offer of a 5 MiB report.
func offer() app.FileView {
	return app.FileView{ID: offerID, PeerID: bob.ID, PeerName: "Bob", Name: "report.pdf", Size: 5 << 20, State: app.FilePending}
}

// rowOf is the panel's row for f, nil when not shown.
func rowOf(c *callScreen, f app.FileView) *fileRow {
	r := c.files.rows[fileKey(f)]
	if r == nil || !c.files.panel.Visible() || !slices.Contains(c.files.box.Objects, r.obj) {
		return nil
	}
	return r
}

// withFiles renders a connected call with Bob and files.
func withFiles(h *harness, files ...app.FileView) {
	n := groupNotify(bob)
	n.Files = files
	h.u.render(n)
	h.pump()
}

// TestFileOffer: an incoming offer shows name, size and sender with
// Accept and Decline, which reach the controller; no Cancel yet.
func TestFileOffer(t *testing.T) {
	h := newHarness(t, nil, app.GUIOptions{})
	ff := &fakeFiles{}
	h.u.files = ff
	c := h.u.call
	withFiles(h)
	if c.files.panel.Visible() {
		t.Fatal("transfers panel shown without transfers")
	}
	withFiles(h, offer())
	r := rowOf(c, offer())
	if r == nil {
		t.Fatal("offer not shown")
	}
	if r.title.Text != "report.pdf (5.0 MB)" || r.peer.Text != "Bob wants to send you this file" {
		t.Errorf("offer reads %q / %q", r.title.Text, r.peer.Text)
	}
	if !r.accept.Visible() || !r.decline.Visible() || r.cancel.Visible() || r.open.Visible() || r.bar.Visible() {
		t.Errorf("offer buttons: accept %v decline %v cancel %v open %v, bar %v",
			r.accept.Visible(), r.decline.Visible(), r.cancel.Visible(), r.open.Visible(), r.bar.Visible())
	}
	test.Tap(r.accept)
	test.Tap(r.decline)
	if got, want := ff.calls(), []string{"accept " + offerID, "decline " + offerID}; !slices.Equal(got, want) {
		t.Errorf("commands %q, want %q", got, want)
	}

	// A refusal (say, no download folder) shows as a flash.
	ff.fail = &app.UserError{Msg: "Choose a download folder in Settings first.", Err: errors.New("no folder")}
	test.Tap(r.accept)
	if !c.flashLabel.Visible() || c.flashLabel.Text != "Choose a download folder in Settings first." {
		t.Errorf("refusal flash %q (shown %v)", c.flashLabel.Text, c.flashLabel.Visible())
	}

	// Declined: the answer buttons go, the row can be dismissed.
	d := offer()
	d.State, d.Error = app.FileDeclined, ""
	withFiles(h, d)
	r = rowOf(c, d)
	if r == nil || r.accept.Visible() || r.decline.Visible() || r.info.Text != "Declined" || !r.remove.Visible() {
		t.Fatalf("declined row: %+v", r)
	}
	test.Tap(r.remove)
	if c.files.panel.Visible() {
		t.Error("dismissed transfer still shown")
	}
}

// TestFileProgress: a running transfer shows its progress bar, speed,
// time left and Cancel; paused, failed and done read as such, and a
// received file offers "Open folder", which opens its folder (never the
// file).
func TestFileProgress(t *testing.T) {
	h := newHarness(t, nil, app.GUIOptions{})
	ff := &fakeFiles{}
	h.u.files = ff
	var opened []string
	h.u.openURL = func(l *url.URL) error { opened = append(opened, l.String()); return nil }
	c := h.u.call

	in := offer()
	in.State, in.Bytes, in.Rate, in.ETA = app.FileActive, 2<<20+512<<10, 1<<20, 2500*time.Millisecond
	out := app.FileView{ID: sendID, Outgoing: true, PeerID: bob.ID, PeerName: "Bob", Name: "holiday.jpg", Size: 800 << 10,
		State: app.FilePending}
	withFiles(h, in, out)
	r := rowOf(c, in)
	if r == nil {
		t.Fatal("transfer not shown")
	}
	if !r.bar.Visible() || r.bar.Value != 0.5 {
		t.Errorf("bar shown %v at %v, want 0.5", r.bar.Visible(), r.bar.Value)
	}
	if want := "2.5 MB of 5.0 MB · 1.0 MB/s · 3 s left"; r.info.Text != want {
		t.Errorf("info %q, want %q", r.info.Text, want)
	}
	if r.peer.Text != "From Bob" || !r.cancel.Visible() || r.accept.Visible() || r.remove.Visible() {
		t.Errorf("running row: peer %q cancel %v accept %v remove %v", r.peer.Text, r.cancel.Visible(), r.accept.Visible(), r.remove.Visible())
	}
	o := rowOf(c, out)
	if o == nil || o.peer.Text != "To Bob" || o.info.Text != "Waiting for them to accept…" || !o.cancel.Visible() || o.bar.Visible() {
		t.Fatalf("outgoing offer row: %+v", o)
	}
	test.Tap(r.cancel)
	test.Tap(o.cancel)
	if got, want := ff.calls(), []string{"cancel " + offerID, "cancel " + sendID}; !slices.Equal(got, want) {
		t.Errorf("commands %q, want %q", got, want)
	}
	h.golden("call_files.xml")
	if dir := os.Getenv("PEERCALL_UI_SHOTS"); dir != "" {
		// For a person to look at: an offer over a running transfer each way.
		o2 := out
		o2.State, o2.Bytes, o2.Rate, o2.ETA = app.FileActive, 300<<10, 2<<20, 250*time.Millisecond
		n := groupNotify(bob)
		n.Files = []app.FileView{in, o2, {ID: sendID, PeerID: "p-cleo", PeerName: "Cleo", Name: "minutes.odt", Size: 48 << 10}}
		h.u.render(n)
		h.pump()
		h.w.Content().Refresh()
		screenshot(h.w, filepath.Join(dir, "call_files.png"), slog.Default())
	}

	tests := []struct {
		name        string
		f           app.FileView
		info        string
		bar, cancel bool
	}{
		{"paused", app.FileView{State: app.FilePaused, Bytes: 1 << 20}, "Paused at 1.0 MB of 5.0 MB: waiting for Bob to come back", true, true},
		{"hash mismatch", app.FileView{State: app.FileFailed, Error: "The file arrived damaged and was deleted."}, "The file arrived damaged and was deleted.", false, false},
		{"canceled", app.FileView{State: app.FileCanceled}, "Canceled", false, false},
		{"done", app.FileView{State: app.FileDone, Bytes: 5 << 20, Path: "/home/ann/Downloads/report (1).pdf"}, "Received and checked: report (1).pdf", false, false},
	}
	for _, tt := range tests {
		f := offer()
		f.State, f.Bytes, f.Error, f.Path = tt.f.State, tt.f.Bytes, tt.f.Error, tt.f.Path
		withFiles(h, f)
		r := rowOf(c, f)
		if r == nil {
			t.Fatalf("%s: not shown", tt.name)
		}
		if r.info.Text != tt.info || r.bar.Visible() != tt.bar || r.cancel.Visible() != tt.cancel || r.remove.Visible() == tt.cancel {
			t.Errorf("%s: info %q bar %v cancel %v remove %v", tt.name, r.info.Text, r.bar.Visible(), r.cancel.Visible(), r.remove.Visible())
		}
		if r.open.Visible() != (f.State == app.FileDone) {
			t.Errorf("%s: Open folder shown %v", tt.name, r.open.Visible())
		}
		if f.State == app.FileDone {
			test.Tap(r.open)
		}
	}
	if want := []string{"file:///home/ann/Downloads"}; !slices.Equal(opened, want) {
		t.Errorf("opened %q, want %q", opened, want)
	}
}

// TestFilePanelRows: offers waiting for an answer always show; of the
// others only the newest, maxFileRows in all.
func TestFilePanelRows(t *testing.T) {
	h := newHarness(t, nil, app.GUIOptions{})
	c := h.u.call
	var files []app.FileView
	for i := range 6 {
		f := app.FileView{ID: sendID[:31] + string(rune('0'+i)), Outgoing: true, PeerID: bob.ID, PeerName: "Bob",
			Name: "f" + string(rune('0'+i)), Size: 10, State: app.FileDone}
		files = append(files, f)
	}
	files = append(files[:1], append([]app.FileView{offer()}, files[1:]...)...)
	withFiles(h, files...)
	var names []string
	for _, o := range c.files.box.Objects {
		for _, r := range c.files.rows {
			if r.obj == o {
				names = append(names, r.view.Name)
			}
		}
	}
	if want := []string{"report.pdf", "f3", "f4", "f5"}; !slices.Equal(names, want) {
		t.Errorf("rows %q, want %q", names, want)
	}
}

// TestFileDropAndButton: files dropped on the window are offered
// (folders and the like are the controller's to refuse, other schemes
// are ignored), only in a call; the Send file button works once
// connected; a refusal shows as a flash.
func TestFileDropAndButton(t *testing.T) {
	h := newHarness(t, nil, app.GUIOptions{})
	ff := &fakeFiles{}
	h.u.files = ff
	c := h.u.call
	web, _ := storage.ParseURI("https://example.com/x.txt")
	drop := []fyne.URI{storage.NewFileURI("/home/ann/a.txt"), web, storage.NewFileURI("/home/ann/b c.png")}

	c.dropped(fyne.NewPos(10, 10), drop) // not in a call
	if got := ff.calls(); len(got) != 0 {
		t.Fatalf("dropped outside a call: %q", got)
	}
	n := groupNotify(bob)
	n.Phase = app.PhaseWaiting
	h.u.render(n)
	if !c.sendFileBtn.Disabled() {
		t.Error("Send file usable before anyone is connected")
	}
	withFiles(h)
	if c.sendFileBtn.Disabled() {
		t.Error("Send file disabled in a connected call")
	}
	c.dropped(fyne.NewPos(10, 10), drop)
	if got, want := ff.calls(), []string{"send /home/ann/a.txt", "send /home/ann/b c.png"}; !slices.Equal(got, want) {
		t.Errorf("dropped: %q, want %q", got, want)
	}
	ff.fail = &app.UserError{Msg: "That is a folder, not a file.", Err: errors.New("dir")}
	c.dropped(fyne.NewPos(10, 10), drop[:1])
	if c.flashLabel.Text != "That is a folder, not a file." {
		t.Errorf("flash %q", c.flashLabel.Text)
	}
	// The button opens the file dialog over the call.
	test.Tap(c.sendFileBtn)
	if ov := h.w.Canvas().Overlays().Top(); ov == nil {
		t.Error("Send file opened no dialog")
	}
}

// TestFilesThroughController: the panel follows the call's file events
// as the controller folds them into Notify.Files, and its buttons and a
// drop reach the call.
func TestFilesThroughController(t *testing.T) {
	h := newHarness(t, nil, app.GUIOptions{})
	fc := connectedCall(h)
	c := h.u.call
	f := offer()
	fc.events <- app.CallEvent{Peer: bob.ID, File: &f}
	h.until("the offer", func(n app.Notify) bool { return len(n.Files) == 1 })
	r := rowOf(c, f)
	if r == nil || !r.accept.Visible() {
		t.Fatal("offer not shown")
	}
	test.Tap(r.accept)
	f.State, f.Bytes, f.Rate, f.ETA = app.FileActive, 1<<20, 512<<10, 8*time.Second
	fc.events <- app.CallEvent{Peer: bob.ID, File: &f}
	h.until("progress", func(n app.Notify) bool { return len(n.Files) == 1 && n.Files[0].State == app.FileActive })
	if r = rowOf(c, f); r == nil || r.bar.Value != 0.2 || !r.cancel.Visible() {
		t.Fatalf("progress row: %+v", r)
	}
	test.Tap(r.cancel)
	c.dropped(fyne.NewPos(1, 1), []fyne.URI{storage.NewFileURI("/tmp/notes.txt")})
	if got, want := fc.fileCalls(), []string{"accept " + offerID, "cancel " + offerID, "send /tmp/notes.txt"}; !slices.Equal(got, want) {
		t.Errorf("call got %q, want %q", got, want)
	}
}

// TestSettingsFiles: the download folder and the size limit load, save
// and refuse a non-number inline.
func TestSettingsFiles(t *testing.T) {
	h := newHarness(t, nil, app.GUIOptions{})
	h.u.goTo(pageSettings)
	s := h.u.settings
	if s.downloadDir.Text != "/home/ann/Downloads" || s.maxFileMB.Text != "4096" {
		t.Errorf("loaded folder %q, limit %q", s.downloadDir.Text, s.maxFileMB.Text)
	}
	dir := t.TempDir()
	s.downloadDir.SetText(dir)
	s.maxFileMB.SetText("lots")
	test.Tap(findButton(t, s.content, "Save"))
	if !s.errs["max_file_mb"].Visible() || s.saved.Visible() {
		t.Fatal("a non-number size limit saved")
	}
	s.maxFileMB.SetText("0")
	test.Tap(findButton(t, s.content, "Save"))
	if !s.errs["max_file_mb"].Visible() {
		t.Fatal("a zero size limit saved")
	}
	s.downloadDir.SetText("relative/dir")
	s.maxFileMB.SetText("250")
	test.Tap(findButton(t, s.content, "Save"))
	if !s.errs["download_dir"].Visible() {
		t.Fatal("a relative download folder saved")
	}
	s.downloadDir.SetText(dir)
	test.Tap(findButton(t, s.content, "Save"))
	if !s.saved.Visible() || s.errs["max_file_mb"].Visible() || s.errs["download_dir"].Visible() {
		t.Fatalf("valid file settings refused: %q %q", s.errs["max_file_mb"].Text, s.errs["download_dir"].Text)
	}
	if got := h.ctl.Settings(); got.DownloadDir != dir || got.MaxFileMB != 250 {
		t.Errorf("saved folder %q limit %d", got.DownloadDir, got.MaxFileMB)
	}
	// The folder picker opens over the settings.
	test.Tap(findButton(t, s.content, "Choose…"))
	if h.w.Canvas().Overlays().Top() == nil {
		t.Error("Choose… opened no dialog")
	}
}

func TestFormatBytesAndETA(t *testing.T) {
	for _, tt := range []struct {
		n    int64
		want string
	}{{0, "0 B"}, {1023, "1023 B"}, {1536, "1.5 KB"}, {5 << 20, "5.0 MB"}, {3 << 30, "3.0 GB"}} {
		if got := formatBytes(tt.n); got != tt.want {
			t.Errorf("formatBytes(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{{400 * time.Millisecond, "1 s"}, {45 * time.Second, "45 s"}, {185 * time.Second, "3 min 5 s"}, {3720 * time.Second, "1 h 2 min"}} {
		if got := formatETA(tt.d); got != tt.want {
			t.Errorf("formatETA(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}
