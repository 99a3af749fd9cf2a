package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/transport/v4/vnet"

	"github.com/peercall/peercall/call"
)

// The transfer engine over two real call.Sessions (the conference's
// routing in small): loopback for speed figures, a vnet for a path cut,
// and a hostile sender that speaks the protocol by hand.

type hubEnd struct {
	sess *call.Session
	hub  *fileHub
	// hook, when set, sees every update first; true swallows it (the
	// hostile sender answers by hand).
	hook func(call.Update) bool
	done chan struct{}

	mu      sync.Mutex
	emitted []FileView // every view the hub emitted, in order
}

func (e *hubEnd) record(v FileView) {
	e.mu.Lock()
	e.emitted = append(e.emitted, v)
	e.mu.Unlock()
}

// views is a copy of what the hub emitted so far.
func (e *hubEnd) views() []FileView {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.emitted)
}

type hubPair struct {
	a, b   *hubEnd
	wanCut atomic.Bool
	router *vnet.Router
}

// newHubPair connects a (sender, named "alice") and b (receiver into dir,
// accepting everything) over loopback or, with useVNet, a vnet whose
// packets the test can cut.
func newHubPair(t testing.TB, dir string, useVNet bool, hookA func(call.Update) bool) *hubPair {
	t.Helper()
	hp := &hubPair{}
	sa, sb := call.NewPipeSignalers("alice", "bob")
	ca := call.Config{LocalID: "alice", RemoteID: "bob", Signaler: sa, ICE: call.ICEOptions{Loopback: true}, InterfacePoll: -1}
	cb := call.Config{LocalID: "bob", RemoteID: "alice", Signaler: sb, ICE: call.ICEOptions{Loopback: true}, InterfacePoll: -1}
	if useVNet {
		r, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "10.0.0.0/24", LoggerFactory: call.NewSlogLoggerFactory(nil)})
		if err != nil {
			t.Fatal(err)
		}
		r.AddChunkFilter(func(vnet.Chunk) bool { return !hp.wanCut.Load() })
		na, _ := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{"10.0.0.2"}})
		nb, _ := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{"10.0.0.3"}})
		if err := r.AddNet(na); err != nil {
			t.Fatal(err)
		}
		if err := r.AddNet(nb); err != nil {
			t.Fatal(err)
		}
		if err := r.Start(); err != nil {
			t.Fatal(err)
		}
		hp.router = r
		ice := func(n *vnet.Net) call.ICEOptions {
			return call.ICEOptions{Net: n, DisconnectedTimeout: time.Second, FailedTimeout: 2 * time.Second, KeepAliveInterval: 250 * time.Millisecond}
		}
		ca.ICE, cb.ICE = ice(na), ice(nb)
	}
	end := func(cfg call.Config, name string, pol FilePolicy, hook func(call.Update) bool) *hubEnd {
		s, err := call.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		e := &hubEnd{sess: s, hook: hook, done: make(chan struct{})}
		e.hub = newFileHub(nil, pol, nil, e.record)
		go func() {
			defer close(e.done)
			peer := &filePeer{id: cfg.RemoteID, name: name, link: s}
			for up := range s.Updates() {
				if e.hook != nil && e.hook(up) {
					continue
				}
				switch {
				case up.Kind == call.UpdateState && up.State == call.StateConnected:
					e.hub.PeerUp(peer)
				case up.Kind == call.UpdateState && up.State.Terminal():
					e.hub.PeerDown(peer.id)
				case up.Kind == call.UpdateFile:
					e.hub.OnControl(peer.id, *up.File)
				case up.Kind == call.UpdateFileChannel:
					e.hub.OnChannel(peer.id, up.FileChannel)
				}
			}
		}()
		return e
	}
	hp.a = end(ca, "bob", FilePolicy{}, hookA)
	hp.b = end(cb, "alice", FilePolicy{Dir: dir, MaxBytes: 1 << 40, AutoAccept: true}, nil)
	for _, e := range []*hubEnd{hp.a, hp.b} {
		if err := e.sess.Start(); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(hp.close)
	for deadline := time.Now().Add(15 * time.Second); len(hp.a.hub.livePeers()) == 0 || len(hp.b.hub.livePeers()) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the pair never connected")
		}
	}
	// The chat channel carries the control messages: wait for it.
	for deadline := time.Now().Add(10 * time.Second); hp.a.sess.SendFileControl(call.FileControl{Type: call.FileAck, ID: strings.Repeat("0", 32)}) != nil; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("chat channel never opened")
		}
	}
	return hp
}

func (hp *hubPair) close() {
	for _, e := range []*hubEnd{hp.a, hp.b} {
		_ = e.sess.Close()
		<-e.done
		e.hub.Close()
	}
	if hp.router != nil {
		_ = hp.router.Stop()
	}
}

// waitView polls hub h until its only transfer satisfies ok.
func waitView(t *testing.T, h *fileHub, what string, d time.Duration, ok func(FileView) bool) FileView {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		vs := h.Views()
		if len(vs) == 1 && ok(vs[0]) {
			return vs[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %+v", what, vs)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func stateIs(s FileState) func(FileView) bool { return func(v FileView) bool { return v.State == s } }

func writeRandom(t testing.TB, n int) (string, []byte) {
	t.Helper()
	return writeNamed(t, "data.bin", n)
}

// TestFileResumeAfterPathCut cuts every packet between the peers at about
// half of the file (vnet), restores the path after 3 s: ICE restarts, the
// transfer goes on and ends with the right hash; the bytes put on the
// channel twice stay under 5 %.
func TestFileResumeAfterPathCut(t *testing.T) {
	if testing.Short() {
		t.Skip("vnet transfer")
	}
	dir := t.TempDir()
	hp := newHubPair(t, dir, true, nil)
	const size = 24 << 20
	src, data := writeRandom(t, size)
	if err := hp.a.hub.SendFile(src); err != nil {
		t.Fatal(err)
	}
	waitView(t, hp.b.hub, "half received", 60*time.Second, func(v FileView) bool { return v.Bytes >= size/2 })
	hp.wanCut.Store(true)
	time.Sleep(3 * time.Second)
	hp.wanCut.Store(false)
	got := waitView(t, hp.b.hub, "received", 90*time.Second, stateIs(FileDone))
	waitView(t, hp.a.hub, "sender done", 10*time.Second, stateIs(FileDone))
	on, err := os.ReadFile(got.Path)
	if err != nil || sha256.Sum256(on) != sha256.Sum256(data) {
		t.Fatalf("file differs after the cut (%v)", err)
	}
	rep := hp.a.hub.Reports()[0]
	resent := rep.Bytes - size
	t.Logf("path cut 3 s at half: sender put %d bytes on channels for %d: %d resent (%.2f %%), resumed from %d",
		rep.Bytes, size, resent, 100*float64(resent)/size, rep.ResumedFrom)
	if float64(resent) >= 0.05*size {
		t.Errorf("%d bytes sent twice, want < 5 %%", resent)
	}
}

// hostileSender drives alice's side by hand: its hub sees nothing.
type hostileSender struct {
	t    *testing.T
	sess *call.Session
	ctl  chan call.FileControl
}

func newHostile(t *testing.T, dir string) (*hostileSender, *hubPair) {
	h := &hostileSender{t: t, ctl: make(chan call.FileControl, 64)}
	hp := newHubPair(t, dir, false, func(up call.Update) bool {
		if up.Kind == call.UpdateFile {
			h.ctl <- *up.File
			return true
		}
		return up.Kind == call.UpdateFileChannel
	})
	h.sess = hp.a.sess
	return h, hp
}

func (h *hostileSender) send(m call.FileControl) {
	h.t.Helper()
	if err := h.sess.SendFileControl(m); err != nil {
		h.t.Fatal(err)
	}
}

// expect waits for a control message of typ about id.
func (h *hostileSender) expect(id string, typ call.FileMsgType) call.FileControl {
	h.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case m := <-h.ctl:
			if m.ID == id && m.Type == typ {
				return m
			}
		case <-deadline:
			h.t.Fatalf("no %s for %s", typ, id)
		}
	}
}

func (h *hostileSender) data(id string, chunks ...[]byte) {
	h.t.Helper()
	fc, err := h.sess.OpenFileChannel(id)
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := fc.WaitOpen(ctx); err != nil {
		h.t.Fatal(err)
	}
	for _, c := range chunks {
		if err := fc.Send(ctx, c); err != nil {
			return // the receiver may close it first
		}
	}
	_ = fc.Flush(ctx)
	_ = fc.Close()
}

func hexID(i int) string { return fmt.Sprintf("%032x", i+1) }

func sumHex(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// TestFileHostileSender: names that try to escape, a size that lies both
// ways, a channel nobody accepted and a wrong hash are all refused or
// contained, and nothing is created outside the download folder.
func TestFileHostileSender(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "downloads")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	h, hp := newHostile(t, dir)
	body := []byte("hello, file\n")
	names := []struct{ offered, saved string }{
		{"../../.bashrc", "bashrc"},
		{"/etc/passwd", "passwd"},
		{"CON", "_CON"},
		{"a/b\\c", "c"},
		{"ctl\x07\x1b[31m.txt", "ctl__[31m.txt"},
		{"..", "file"},
	}
	for i, n := range names {
		id := hexID(i)
		h.send(call.FileControl{Type: call.FileOffer, ID: id, Name: n.offered, Size: int64(len(body)), SHA256: sumHex(body)})
		if acc := h.expect(id, call.FileAccept); acc.Offset != 0 {
			t.Fatalf("%q: accepted at %d", n.offered, acc.Offset)
		}
		h.data(id, body)
		if d := h.expect(id, call.FileDone); !d.OK {
			t.Fatalf("%q: done %+v", n.offered, d)
		}
		if b, err := os.ReadFile(filepath.Join(dir, n.saved)); err != nil || string(b) != string(body) {
			t.Errorf("%q: not saved as %q (%v)", n.offered, n.saved, err)
		}
	}
	// A 10 KB name does not fit a control message: dropped, never written.
	long := strings.Repeat("x", 10<<10)
	if b, err := call.EncodeFileControl(call.FileControl{Type: call.FileOffer, ID: hexID(50), Name: long, SHA256: sumHex(nil)}); err == nil {
		t.Fatalf("a 10 KB name encoded: %d bytes", len(b))
	}

	// More data than offered: canceled too-much-data, nothing beyond the
	// size on disk, no file in place.
	id := hexID(100)
	big := []byte(strings.Repeat("A", 100))
	h.send(call.FileControl{Type: call.FileOffer, ID: id, Name: "lies.txt", Size: 10, SHA256: sumHex(big[:10])})
	h.expect(id, call.FileAccept)
	h.data(id, big)
	if c := h.expect(id, call.FileCancel); c.Reason != call.FileReasonTooMuchData {
		t.Fatalf("cancel reason %q", c.Reason)
	}
	// Less data than offered: kept as a partial file, never moved.
	id = hexID(101)
	h.send(call.FileControl{Type: call.FileOffer, ID: id, Name: "short.txt", Size: 1000, SHA256: sumHex(big[:50])})
	h.expect(id, call.FileAccept)
	h.data(id, big[:50])
	// A wrong hash: done ok false, no file.
	id = hexID(102)
	h.send(call.FileControl{Type: call.FileOffer, ID: id, Name: "wrong.txt", Size: 5, SHA256: sumHex([]byte("other"))})
	h.expect(id, call.FileAccept)
	h.data(id, []byte("12345"))
	if d := h.expect(id, call.FileDone); d.OK || d.Reason != call.FileReasonHashMismatch {
		t.Fatalf("done %+v", d)
	}
	// A channel for an id nobody accepted is closed at once.
	fc, err := h.sess.OpenFileChannel(hexID(103))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-fc.Closed():
	case <-time.After(10 * time.Second):
		t.Fatal("an unaccepted channel stayed open")
	}
	waitFor := func(what string, ok func() bool) {
		for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal(what)
			}
		}
	}
	waitFor("short transfer paused", func() bool {
		for _, v := range hp.b.hub.Views() {
			if v.ID == hexID(101) {
				return v.State == FilePaused
			}
		}
		return false
	})

	// The temp tree: only the download folder, the saved names and one
	// partial file (the short one) of at most its size.
	var paths []string
	_ = filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		rel, _ := filepath.Rel(root, p)
		paths = append(paths, rel)
		if strings.HasSuffix(p, ".part") && fi.Size() > 1000 {
			t.Errorf("partial file %s holds %d bytes", rel, fi.Size())
		}
		return nil
	})
	want := map[string]bool{".": true, "downloads": true, "downloads/" + partialDirName: true,
		"downloads/" + partialDirName + "/" + sumHex(big[:50]) + "-1000.part": true}
	for _, n := range names {
		want["downloads/"+n.saved] = true
	}
	for _, p := range paths {
		if !want[p] {
			t.Errorf("unexpected path in the temp tree: %s", p)
		}
		delete(want, p)
	}
	for p := range want {
		t.Errorf("missing: %s", p)
	}
}

// BenchmarkFileTransfer sends 64 MB over loopback between two sessions
// through the engine, for chunk sizes and flow-control watermarks.
func BenchmarkFileTransfer(b *testing.B) {
	for _, c := range []struct {
		chunk     int
		high, low uint64
	}{
		{16 << 10, 1 << 20, 512 << 10},
		{64 << 10, 1 << 20, 512 << 10},
		{64 << 10, 4 << 20, 1 << 20},
		{64 << 10, 8 << 20, 2 << 20},
	} {
		b.Run(fmt.Sprintf("chunk%dK_high%dK_low%dK", c.chunk>>10, c.high>>10, c.low>>10), func(b *testing.B) {
			defer call.SetFileWatermarks(call.SetFileWatermarks(c.high, c.low))
			old := fileChunkSize
			fileChunkSize = c.chunk
			defer func() { fileChunkSize = old }()
			const size = 64 << 20
			src, _ := writeRandom(b, size)
			hp := newHubPair(b, b.TempDir(), false, nil)
			b.SetBytes(size)
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				if err := hp.a.hub.SendFile(src); err != nil {
					b.Fatal(err)
				}
				for done := 0; done <= i; {
					done = 0
					for _, v := range hp.b.hub.Views() {
						if v.State == FileDone {
							done++
						}
					}
					time.Sleep(2 * time.Millisecond)
				}
			}
			b.ReportMetric(float64(size)*float64(b.N)*8/time.Since(start).Seconds()/1e6, "Mbit/s")
		})
	}
}
