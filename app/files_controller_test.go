package app

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// waitFiles polls c's snapshot until ok holds for its Files.
func waitFiles(t *testing.T, c *Controller, what string, d time.Duration, ok func([]FileView) bool) []FileView {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		n := c.Snapshot()
		if ok(n.Files) {
			return n.Files
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; files: %+v", what, n.Files)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func oneFile(st FileState, outgoing bool) func([]FileView) bool {
	return func(fs []FileView) bool {
		return len(fs) == 1 && fs[0].State == st && fs[0].Outgoing == outgoing
	}
}

// TestControllerFileTransfer drives the Controller API the desktop uses
// over the real engine: one side sends, the other sees the offer, accepts
// it into its download folder; both end FileDone with the same bytes.
// A second offer is declined and a third canceled by the sender.
func TestControllerFileTransfer(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end call")
	}
	a := newSyntheticController(t)
	b := newSyntheticController(t)
	dl := t.TempDir()
	s := b.Settings()
	s.DownloadDir = dl
	if err := b.ApplySettings(s); err != nil {
		t.Fatal(err)
	}
	if err := a.SendFile("/etc/hostname"); !errors.Is(err, ErrNotInCall) {
		t.Fatalf("SendFile outside a call: %v", err)
	}
	if err := a.StartCall(JoinParams{Room: "files", Name: "alice"}); err != nil {
		t.Fatal(err)
	}
	var join string
	for deadline := time.Now().Add(10 * time.Second); join == ""; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no join string")
		}
		join = a.Snapshot().JoinString
	}
	srv := a.Snapshot().ServerURL
	if err := b.Join(JoinParams{Server: srv, Room: "files", Name: "bob"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*Controller{a, b} {
		for deadline := time.Now().Add(20 * time.Second); c.Snapshot().Phase != PhaseConnected; time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("not connected: %v", c.Snapshot().Phase)
			}
		}
	}

	src := filepath.Join(t.TempDir(), "report.pdf")
	data := make([]byte, 3<<20+17)
	_, _ = rand.Read(data)
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := a.SendFile(t.TempDir()); err == nil {
		t.Fatal("a folder was offered")
	}
	if err := a.SendFile(src); err != nil {
		t.Fatal(err)
	}
	offer := waitFiles(t, b, "the offer", 10*time.Second, oneFile(FilePending, false))[0]
	if offer.Name != "report.pdf" || offer.Size != int64(len(data)) || offer.PeerName != "alice" {
		t.Fatalf("offer %+v", offer)
	}
	if err := b.AcceptFile("nope"); !errors.Is(err, ErrUnknownFile) {
		t.Fatalf("unknown id: %v", err)
	}
	if err := b.AcceptFile(offer.ID); err != nil {
		t.Fatal(err)
	}
	got := waitFiles(t, b, "received", 20*time.Second, oneFile(FileDone, false))[0]
	waitFiles(t, a, "sent", 10*time.Second, oneFile(FileDone, true))
	if got.Path != filepath.Join(dl, "report.pdf") || got.Bytes != int64(len(data)) {
		t.Fatalf("done view %+v", got)
	}
	if on, err := os.ReadFile(got.Path); err != nil || !bytes.Equal(on, data) {
		t.Fatalf("file on disk differs (%v)", err)
	}
	if err := b.AcceptFile(offer.ID); !errors.Is(err, ErrFileState) {
		t.Fatalf("accepting a finished transfer: %v", err)
	}

	// Declined.
	if err := a.SendFile(src); err != nil {
		t.Fatal(err)
	}
	second := waitFiles(t, b, "second offer", 10*time.Second, func(fs []FileView) bool {
		return len(fs) == 2 && fs[1].State == FilePending
	})[1]
	if err := b.DeclineFile(second.ID); err != nil {
		t.Fatal(err)
	}
	waitFiles(t, a, "declined", 10*time.Second, func(fs []FileView) bool {
		return len(fs) == 2 && fs[1].State == FileDeclined && fs[1].Error != ""
	})

	// Canceled by the sender while pending.
	if err := a.SendFile(src); err != nil {
		t.Fatal(err)
	}
	third := waitFiles(t, b, "third offer", 10*time.Second, func(fs []FileView) bool {
		return len(fs) == 3 && fs[2].State == FilePending
	})[2]
	if err := a.CancelFile(third.ID); err != nil {
		t.Fatal(err)
	}
	waitFiles(t, b, "canceled", 10*time.Second, func(fs []FileView) bool {
		return len(fs) == 3 && fs[2].State == FileCanceled
	})
	entries, _ := os.ReadDir(dl)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 2 || names[0] != partialDirName || names[1] != "report.pdf" {
		t.Fatalf("download folder holds %v", names)
	}
	a.HangUp()
	b.HangUp()
}
