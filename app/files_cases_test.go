package app

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/transport/v4/test"
	"go.uber.org/goleak"

	"github.com/peercall/peercall/call"
)

// Requirements of the file transfer (issue 17) over the real engine and
// two real sessions on loopback (newHubPair): transfers side by side,
// cancels mid-way, the receiver's size limit, name clashes and a damaged
// partial file on resume.

// guard bounds a test that runs sessions and checks, after newHubPair's
// cleanup, that none of their goroutines stayed behind (goleak, counting
// from what ran at the start, so a goroutine an earlier test of this
// package left is not blamed on this one).
func guard(t *testing.T) {
	t.Helper()
	tm := test.TimeOut(30 * time.Second)
	current := goleak.IgnoreCurrent()
	t.Cleanup(func() {
		defer tm.Stop()
		goleak.VerifyNone(t, current)
	})
}

// writeNamed writes n random bytes to a new temp folder under name.
func writeNamed(t testing.TB, name string, n int) (string, []byte) {
	t.Helper()
	data := make([]byte, n)
	_, _ = rand.Read(data)
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p, data
}

// viewOf is the latest transfer of that direction and name in h, if any.
func viewOf(h *fileHub, outgoing bool, name string) (FileView, bool) {
	vs := h.Views()
	for i := len(vs) - 1; i >= 0; i-- {
		if vs[i].Outgoing == outgoing && vs[i].Name == name {
			return vs[i], true
		}
	}
	return FileView{}, false
}

// waitOf polls h until the transfer of that direction and name satisfies ok.
func waitOf(t *testing.T, h *fileHub, outgoing bool, name, what string, d time.Duration, ok func(FileView) bool) FileView {
	t.Helper()
	for deadline := time.Now().Add(d); ; time.Sleep(5 * time.Millisecond) {
		if v, found := viewOf(h, outgoing, name); found && ok(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %+v", what, h.Views())
		}
	}
}

func reportOf(h *fileHub, id string) FileReport {
	for _, r := range h.Reports() {
		if r.ID == id {
			return r
		}
	}
	return FileReport{}
}

// ends waits for the latest transfer of that name, a to b, to end on
// both sides.
func ends(t *testing.T, hp *hubPair, name string) (sent, got FileView) {
	t.Helper()
	terminal := func(v FileView) bool { return v.State.Terminal() }
	sent = waitOf(t, hp.a.hub, true, name, "the sender's end", 10*time.Second, terminal)
	got = waitOf(t, hp.b.hub, false, name, "the receiver's end", 10*time.Second, terminal)
	return sent, got
}

// wantDone fails unless both sides ended done and want is in place.
func wantDone(t *testing.T, sent, got FileView, want []byte) {
	t.Helper()
	if sent.State != FileDone || got.State != FileDone {
		t.Fatalf("sender %s, receiver %s (%q), want both done", sent.State, got.State, got.Error)
	}
	checkSaved(t, got.Path, want)
}

// checkSaved fails unless path holds want.
func checkSaved(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%s: %d bytes differ from the %d sent (%v)", path, len(got), len(want), err)
	}
}

// TestFileTwoAtOnce: two transfers at the same time between the same two
// peers, one way or one each way, the second offered once the first is
// under way. Both arrive with their own bytes and a checked hash, and
// each one's progress is its own: both move at one moment, the smaller
// ends while the larger goes on, and no figure either side shows or
// emits for a transfer goes back or past that transfer's size.
func TestFileTwoAtOnce(t *testing.T) {
	tests := []struct {
		name     string
		bothWays bool // the second file goes from b to a
	}{
		{"same way", false},
		{"both ways", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			guard(t)
			dirA, dirB := t.TempDir(), t.TempDir()
			hp := newHubPair(t, dirB, false, nil)
			hp.a.hub.SetPolicy(FilePolicy{Dir: dirA, MaxBytes: 1 << 40, AutoAccept: true})
			type file struct {
				from, to *hubEnd
				dir      string
				name     string
				data     []byte
				src      string
			}
			files := []*file{
				{from: hp.a, to: hp.b, dir: dirB, name: "first.bin"},
				{from: hp.a, to: hp.b, dir: dirB, name: "second.bin"},
			}
			if tt.bothWays {
				files[1].from, files[1].to, files[1].dir = hp.b, hp.a, dirA
			}
			sizes := []int{16 << 20, 4<<20 + 1} // the second ends while the first still runs
			for i, f := range files {
				f.src, f.data = writeNamed(t, f.name, sizes[i])
			}
			// The second starts once the first is well under way, so the
			// two progress figures differ all along.
			if err := files[0].from.hub.SendFile(files[0].src); err != nil {
				t.Fatal(err)
			}
			waitOf(t, files[0].to.hub, false, files[0].name, "the first under way", 20*time.Second, func(v FileView) bool { return v.Bytes >= 2<<20 })
			if err := files[1].from.hub.SendFile(files[1].src); err != nil {
				t.Fatal(err)
			}

			// Sampled as fast as the test can: each transfer's figure only
			// goes up to its own size; both move at one moment; the second
			// ends while the first is still on its way.
			seen := map[*fileHub]map[string]int64{}
			var together bool
			ended := -1 // the one that ended first
			for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("timed out: %+v %+v", hp.a.hub.Views(), hp.b.hub.Views())
				}
				var in [2]FileView
				for i, f := range files {
					for _, h := range []*fileHub{f.from.hub, f.to.hub} {
						v, ok := viewOf(h, h == f.from.hub, f.name)
						if !ok {
							continue
						}
						if seen[h] == nil {
							seen[h] = map[string]int64{}
						}
						if last := seen[h][v.ID]; v.Size != int64(len(f.data)) || v.Bytes > v.Size || v.Bytes < last {
							t.Fatalf("%s (outgoing %v): progress %d of %d after %d", f.name, v.Outgoing, v.Bytes, v.Size, last)
						}
						seen[h][v.ID] = v.Bytes
						if h == f.to.hub {
							in[i] = v
						}
					}
				}
				mid := func(v FileView) bool { return v.State == FileActive && v.Bytes > 0 && v.Bytes < v.Size }
				together = together || (mid(in[0]) && mid(in[1]))
				for i, v := range in {
					// The first to end leaves the other one moving.
					if ended < 0 && v.State.Terminal() {
						ended = i
						if !together || !mid(in[1-i]) {
							t.Fatalf("%s ended %s while the other did not move alongside: %+v", files[i].name, v.State, in)
						}
					}
				}
				if in[0].State.Terminal() && in[1].State.Terminal() {
					break
				}
			}
			for _, f := range files {
				got := waitOf(t, f.to.hub, false, f.name, f.name+" received", 30*time.Second, stateIs(FileDone))
				if got.Path != filepath.Join(f.dir, f.name) || got.Bytes != int64(len(f.data)) {
					t.Errorf("%s: done as %+v", f.name, got)
				}
				checkSaved(t, got.Path, f.data)
				sent := waitOf(t, f.from.hub, true, f.name, f.name+" sent", 10*time.Second, stateIs(FileDone))
				if sent.ID != got.ID {
					t.Errorf("%s: sent as %s, received as %s", f.name, sent.ID, got.ID)
				}
				for _, r := range []FileReport{reportOf(f.from.hub, got.ID), reportOf(f.to.hub, got.ID)} {
					if r.SHA256OK == nil || !*r.SHA256OK || r.Bytes != int64(len(f.data)) {
						t.Errorf("%s: report %+v", f.name, r)
					}
				}
			}
			// What each side emitted per transfer: its own figures only,
			// ending at its size.
			for _, e := range []*hubEnd{hp.a, hp.b} {
				last := map[string]int64{}
				for _, v := range e.views() {
					if v.Bytes > v.Size || v.Bytes < last[v.ID] {
						t.Errorf("%s (outgoing %v): emitted %d of %d after %d", v.Name, v.Outgoing, v.Bytes, v.Size, last[v.ID])
					}
					last[v.ID] = v.Bytes
				}
				for _, f := range files {
					if v, _ := viewOf(e.hub, f.from == e, f.name); last[v.ID] != int64(len(f.data)) {
						t.Errorf("%s (outgoing %v): last emitted %d of %d", f.name, f.from == e, last[v.ID], len(f.data))
					}
				}
			}
		})
	}
}

// ctlLog records the file messages a session receives, without taking
// them from its hub (a newHubPair hook).
type ctlLog struct {
	mu   sync.Mutex
	msgs []call.FileControl
}

func (l *ctlLog) hook(up call.Update) bool {
	if up.Kind == call.UpdateFile {
		l.mu.Lock()
		l.msgs = append(l.msgs, *up.File)
		l.mu.Unlock()
	}
	return false
}

// find is the first message of typ about id.
func (l *ctlLog) find(id string, typ call.FileMsgType) (call.FileControl, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range l.msgs {
		if m.ID == id && m.Type == typ {
			return m, true
		}
	}
	return call.FileControl{}, false
}

// partials lists the partial files under dir.
func partials(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(filepath.Join(dir, partialDirName))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

// TestFileCancelActive cancels a transfer once bytes flow, from either
// side: both sides end it canceled (the other side told so), no more
// bytes move, the partial file is removed and nothing is put in place;
// the call goes on and the next file arrives whole.
func TestFileCancelActive(t *testing.T) {
	tests := []struct {
		name   string
		byWhom func(hp *hubPair) *fileHub
	}{
		{"by the sender", func(hp *hubPair) *fileHub { return hp.a.hub }},
		{"by the receiver", func(hp *hubPair) *fileHub { return hp.b.hub }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			guard(t)
			dir := t.TempDir()
			hp := newHubPair(t, dir, false, nil)
			const size = 48 << 20
			src, data := writeNamed(t, "big.bin", size)
			if err := hp.a.hub.SendFile(src); err != nil {
				t.Fatal(err)
			}
			v := waitView(t, hp.b.hub, "bytes arriving", 20*time.Second, func(v FileView) bool { return v.Bytes >= 1<<20 })
			if v.State != FileActive {
				t.Fatalf("not active once bytes arrived: %+v", v)
			}
			canceler := tt.byWhom(hp)
			if err := canceler.CancelFile(v.ID); err != nil {
				t.Fatal(err)
			}
			for _, e := range []*hubEnd{hp.a, hp.b} {
				got := waitView(t, e.hub, "canceled", 10*time.Second, stateIs(FileCanceled))
				if got.Bytes <= 0 || got.Bytes >= size || got.Path != "" {
					t.Errorf("outgoing %v: canceled at %d of %d, path %q", got.Outgoing, got.Bytes, size, got.Path)
				}
				// The side that did not cancel is told who did.
				if want := ""; e.hub != canceler {
					if want = "Canceled by the other person."; got.Error != want {
						t.Errorf("outgoing %v: error %q, want %q", got.Outgoing, got.Error, want)
					}
				} else if got.Error != want {
					t.Errorf("outgoing %v: error %q, want none", got.Outgoing, got.Error)
				}
				if r := e.hub.Reports()[0]; r.SHA256OK != nil {
					t.Errorf("outgoing %v: hash checked on a canceled transfer: %+v", got.Outgoing, r)
				}
			}
			for deadline := time.Now().Add(5 * time.Second); len(partials(t, dir)) > 0; time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("partial file kept after the cancel: %v", partials(t, dir))
				}
			}
			// Nothing moves any more, either way.
			before := [2]int64{hp.a.hub.Reports()[0].Bytes, hp.b.hub.Reports()[0].Bytes}
			time.Sleep(300 * time.Millisecond)
			if after := [2]int64{hp.a.hub.Reports()[0].Bytes, hp.b.hub.Reports()[0].Bytes}; after != before {
				t.Errorf("bytes moved after the cancel: %v, then %v", before, after)
			}
			if es, _ := os.ReadDir(dir); len(es) != 1 || es[0].Name() != partialDirName {
				t.Fatalf("download folder holds %v", es)
			}

			// The call goes on: the next file arrives whole.
			small := data[:4<<20]
			if err := os.WriteFile(src, small, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := hp.a.hub.SendFile(src); err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
				vs := hp.b.hub.Views()
				if len(vs) == 2 && vs[1].State == FileDone {
					checkSaved(t, vs[1].Path, small)
					if r := reportOf(hp.b.hub, vs[1].ID); r.SHA256OK == nil || !*r.SHA256OK {
						t.Errorf("second transfer %+v", r)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the second file did not arrive: %+v", vs)
				}
			}
			if vs := hp.a.hub.Views(); vs[0].State != FileCanceled {
				t.Errorf("the first transfer changed after the second: %+v", vs[0])
			}
		})
	}
}

// TestFileSizeLimit: the receiver's limit (--max-file-size, MaxBytes)
// lets an offer of up to that many bytes in; a larger one is declined
// too-large on the wire, nothing is written, and the sender ends it
// declined with a message that says why.
func TestFileSizeLimit(t *testing.T) {
	guard(t)
	const limit = 256 << 10
	var seen ctlLog
	hp := newHubPair(t, t.TempDir(), false, seen.hook)
	tests := []struct {
		name     string
		size     int
		declined bool
	}{
		{"under the limit", limit - 1, false},
		{"at the limit", limit, false},
		{"one byte over", limit + 1, true},
		{"far over", 4 * limit, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			hp.b.hub.SetPolicy(FilePolicy{Dir: dir, MaxBytes: limit, AutoAccept: true})
			name := fmt.Sprintf("%d.bin", tt.size)
			src, data := writeNamed(t, name, tt.size)
			if err := hp.a.hub.SendFile(src); err != nil {
				t.Fatal(err)
			}
			sent, got := ends(t, hp, name)
			if !tt.declined {
				wantDone(t, sent, got, data)
				return
			}
			if sent.State != FileDeclined || got.State != FileDeclined {
				t.Fatalf("sender %s, receiver %s, want both declined", sent.State, got.State)
			}
			if m, ok := seen.find(sent.ID, call.FileDecline); !ok || m.Reason != call.FileReasonTooLarge {
				t.Errorf("decline on the wire %+v (%v), want reason %q", m, ok, call.FileReasonTooLarge)
			}
			if want := declineText(call.FileReasonTooLarge); sent.Error != want {
				t.Errorf("the sender says %q, want %q", sent.Error, want)
			}
			if want := "Declined: larger than the limit of 256 KB."; got.Error != want {
				t.Errorf("the receiver says %q, want %q", got.Error, want)
			}
			if r := reportOf(hp.a.hub, sent.ID); r.Bytes != 0 || r.SHA256OK != nil {
				t.Errorf("declined, yet the sender's report says %+v", r)
			}
			if es, _ := os.ReadDir(dir); len(es) != 0 {
				t.Errorf("a declined offer wrote %v", es)
			}
		})
	}
}

func TestFileLimitText(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{DefaultMaxFileMB << 20, "4096 MB"},
		{1 << 20, "1 MB"},
		{256 << 10, "256 KB"},
		{1536 << 10, "1536 KB"},
		{1000, "1000 bytes"},
		{1<<20 + 1, "1048577 bytes"},
	}
	for _, tt := range tests {
		if got := limitText(tt.n); got != tt.want {
			t.Errorf("limitText(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

// TestFileNameClash: a file whose name is taken in the download folder
// arrives under the next free "name (N).ext"; what was there (a file, a
// folder, a symlink to outside the folder) is left as it was.
func TestFileNameClash(t *testing.T) {
	guard(t)
	hp := newHubPair(t, t.TempDir(), false, nil)
	outside := filepath.Join(t.TempDir(), "target")
	tests := []struct {
		name  string
		files []string // already there, each holding its own name
		dirs  []string
		links []string // symlinks to outside (which does not exist)
		want  string
	}{
		{"taken", []string{"report.pdf"}, nil, nil, "report (1).pdf"},
		{"taken twice", []string{"invoice.pdf", "invoice (1).pdf"}, nil, nil, "invoice (2).pdf"},
		{"gap", []string{"letter.pdf", "letter (2).pdf"}, nil, nil, "letter (1).pdf"},
		{"no extension", []string{"README"}, nil, nil, "README (1)"},
		{"two dots", []string{"backup.tar.gz"}, nil, nil, "backup.tar (1).gz"},
		{"a folder of that name", nil, []string{"notes.txt"}, nil, "notes (1).txt"},
		{"a symlink of that name", nil, nil, []string{"photo.jpg"}, "photo (1).jpg"},
		{"free", []string{"other.txt"}, nil, nil, "free.txt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			hp.b.hub.SetPolicy(FilePolicy{Dir: dir, MaxBytes: 1 << 30, AutoAccept: true})
			for _, n := range tt.files {
				if err := os.WriteFile(filepath.Join(dir, n), []byte(n), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			for _, n := range tt.dirs {
				if err := os.Mkdir(filepath.Join(dir, n), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			for _, n := range tt.links {
				if err := os.Symlink(outside, filepath.Join(dir, n)); err != nil {
					t.Fatal(err)
				}
			}
			offered := tt.want
			switch {
			case len(tt.files) > 0 && tt.name != "free":
				offered = tt.files[0]
			case len(tt.dirs) > 0:
				offered = tt.dirs[0]
			case len(tt.links) > 0:
				offered = tt.links[0]
			}
			src, data := writeNamed(t, offered, 100<<10)
			if err := hp.a.hub.SendFile(src); err != nil {
				t.Fatal(err)
			}
			sent, got := ends(t, hp, offered)
			wantDone(t, sent, got, data)
			if got.Path != filepath.Join(dir, tt.want) {
				t.Fatalf("saved as %q, want %q", got.Path, tt.want)
			}
			for _, n := range tt.files {
				if b, err := os.ReadFile(filepath.Join(dir, n)); err != nil || string(b) != n {
					t.Errorf("%s changed: %q (%v)", n, b, err)
				}
			}
			for _, n := range tt.dirs {
				if fi, err := os.Stat(filepath.Join(dir, n)); err != nil || !fi.IsDir() {
					t.Errorf("folder %s changed (%v)", n, err)
				}
			}
			for _, n := range tt.links {
				if l, err := os.Readlink(filepath.Join(dir, n)); err != nil || l != outside {
					t.Errorf("symlink %s changed: %q (%v)", n, l, err)
				}
			}
			if _, err := os.Lstat(outside); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("written through a symlink to %s (%v)", outside, err)
			}
			es, _ := os.ReadDir(dir)
			if want := len(tt.files) + len(tt.dirs) + len(tt.links) + 2; len(es) != want { // + the file + the partial folder
				t.Errorf("folder holds %d entries, want %d", len(es), want)
			}
		})
	}
}

// TestFileResumeDamagedPartial: a partial file left by an earlier run is
// resumed from its length (its bytes hashed again); when those bytes
// changed meanwhile the SHA-256 check at the end fails the transfer on
// both sides, nothing is put in place and the partial file goes, so
// sending again starts from byte 0 and arrives whole. A partial file
// longer than the file is not trusted at all.
func TestFileResumeDamagedPartial(t *testing.T) {
	guard(t)
	hp := newHubPair(t, t.TempDir(), false, nil)
	const size = 2 << 20
	tests := []struct {
		name    string
		partial func(data []byte) []byte // what the earlier run left
		from    int64                    // the resume offset
		damaged bool
	}{
		{"intact", func(d []byte) []byte { return slices.Clone(d[:size/2]) }, size / 2, false},
		{"first byte changed", func(d []byte) []byte { p := slices.Clone(d[:size/2]); p[0] ^= 1; return p }, size / 2, true},
		{"last byte changed", func(d []byte) []byte { p := slices.Clone(d[:size/2]); p[len(p)-1] ^= 0x80; return p }, size / 2, true},
		{"a block zeroed", func(d []byte) []byte { p := slices.Clone(d[:size/2]); clear(p[4096:8192]); return p }, size / 2, true},
		{"longer than the file", func(d []byte) []byte { return append(slices.Clone(d), 'x') }, 0, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			hp.b.hub.SetPolicy(FilePolicy{Dir: dir, MaxBytes: 1 << 30, AutoAccept: true})
			name := fmt.Sprintf("resume%d.bin", i)
			src, data := writeNamed(t, name, size)
			part := partialPath(dir, sumHex(data), size)
			if err := os.MkdirAll(filepath.Dir(part), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(part, tt.partial(data), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := hp.a.hub.SendFile(src); err != nil {
				t.Fatal(err)
			}
			sent, got := ends(t, hp, name)
			rr, rs := reportOf(hp.b.hub, got.ID), reportOf(hp.a.hub, sent.ID)
			if rr.ResumedFrom != tt.from || rs.ResumedFrom != tt.from {
				t.Errorf("resumed from %d (receiver) / %d (sender), want %d", rr.ResumedFrom, rs.ResumedFrom, tt.from)
			}
			if !tt.damaged {
				wantDone(t, sent, got, data)
				return
			}
			if got.State != FileFailed || sent.State != FileFailed {
				t.Fatalf("receiver %s at %q, sender %s: a damaged partial file went unnoticed", got.State, got.Path, sent.State)
			}
			for _, r := range []FileReport{rr, rs} {
				if r.SHA256OK == nil || *r.SHA256OK || !strings.Contains(r.Error, "checksum mismatch") {
					t.Errorf("%s: %+v, want a checksum mismatch", r.Direction, r)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a damaged file was put in place (%v)", err)
			}
			if ps := partials(t, dir); len(ps) != 0 {
				t.Errorf("the damaged partial file was kept: %v", ps)
			}
			// Sent again: from byte 0, whole.
			if err := hp.a.hub.SendFile(src); err != nil {
				t.Fatal(err)
			}
			again := waitOf(t, hp.b.hub, false, name, "sent again", 10*time.Second, func(v FileView) bool { return v.ID != got.ID && v.State.Terminal() })
			if r := reportOf(hp.b.hub, again.ID); again.State != FileDone || r.ResumedFrom != 0 {
				t.Fatalf("sent again: %s from %d (%q)", again.State, r.ResumedFrom, again.Error)
			}
			checkSaved(t, again.Path, data)
		})
	}
}

// chunks cuts b into data channel messages.
func chunks(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		n := min(len(b), fileChunkSize)
		out, b = append(out, b[:n]), b[n:]
	}
	return out
}

// TestFileResumeDamagedAfterCut: the data channel closes mid-way (the
// transfer pauses, its partial file kept), the partial file changes on
// disk, the sender offers the same id again: the receiver resumes from
// what the file holds now, and a changed byte ends in hash-mismatch with
// nothing put in place. The sender here speaks the protocol by hand.
func TestFileResumeDamagedAfterCut(t *testing.T) {
	guard(t)
	dir := t.TempDir()
	h, hp := newHostile(t, dir)
	const size, cut = 1 << 20, 600 << 10
	tests := []struct {
		name   string
		change func(f *os.File) error
		from   int64
		ok     bool
	}{
		{"unchanged", func(*os.File) error { return nil }, cut, true},
		{"a byte changed", func(f *os.File) error { _, err := f.WriteAt([]byte{0xff, 0x00}, 1000); return err }, cut, false},
		{"cut shorter", func(f *os.File) error { return f.Truncate(100) }, 100, true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := make([]byte, size)
			_, _ = rand.Read(body)
			id, name := hexID(200+i), fmt.Sprintf("cut%d.bin", i)
			offer := call.FileControl{Type: call.FileOffer, ID: id, Name: name, Size: size, SHA256: sumHex(body)}
			h.send(offer)
			h.expect(id, call.FileAccept)
			h.data(id, chunks(body[:cut])...)
			paused := func(v FileView) bool { return v.State == FilePaused && v.Bytes == cut }
			waitOf(t, hp.b.hub, false, name, "paused at the cut", 10*time.Second, paused)

			f, err := os.OpenFile(partialPath(dir, offer.SHA256, size), os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			err = tt.change(f)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				t.Fatal(err)
			}

			h.send(offer)
			acc := h.expect(id, call.FileAccept)
			if acc.Offset != tt.from {
				t.Fatalf("resumed at %d, want %d", acc.Offset, tt.from)
			}
			h.data(id, chunks(body[acc.Offset:])...)
			done := h.expect(id, call.FileDone)
			got := waitOf(t, hp.b.hub, false, name, "the end", 10*time.Second, func(v FileView) bool { return v.State.Terminal() })
			r := reportOf(hp.b.hub, id)
			if tt.ok {
				if !done.OK || got.State != FileDone || r.SHA256OK == nil || !*r.SHA256OK {
					t.Fatalf("done %+v, view %+v, report %+v", done, got, r)
				}
				checkSaved(t, got.Path, body)
				return
			}
			if done.OK || done.Reason != call.FileReasonHashMismatch {
				t.Errorf("done %+v, want hash-mismatch", done)
			}
			if got.State != FileFailed || r.SHA256OK == nil || *r.SHA256OK {
				t.Errorf("view %+v, report %+v, want failed with the hash checked false", got, r)
			}
			if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a damaged file was put in place (%v)", err)
			}
			if _, err := os.Stat(partialPath(dir, offer.SHA256, size)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the damaged partial file was kept (%v)", err)
			}
		})
	}
}
