package app_test

import (
	"crypto/rand"
	"crypto/sha256"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/peercall/peercall/app"
	"github.com/peercall/peercall/app/cli"
	"github.com/peercall/peercall/call"
)

// randomFile writes n random bytes to dir/name and returns the path and
// its SHA-256.
func randomFile(t *testing.T, dir, name string, n int64) (string, [32]byte) {
	t.Helper()
	p := filepath.Join(dir, name)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if _, err := io.CopyN(io.MultiWriter(f, h), rand.Reader, n); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return p, sum
}

func fileSum(t *testing.T, p string) [32]byte {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum
}

func onlyFile(t *testing.T, rep app.Report, dir string) app.FileReport {
	t.Helper()
	if len(rep.Files) != 1 {
		t.Fatalf("report lists %d transfers, want 1: %+v", len(rep.Files), rep.Files)
	}
	f := rep.Files[0]
	if f.Direction != dir || f.State != "done" || f.SHA256OK == nil || !*f.SHA256OK {
		t.Fatalf("transfer %+v, want %s done with the hash checked", f, dir)
	}
	return f
}

// TestHeadlessFileTransfer100MB sends 100 MB of random data between two
// headless peers on 127.0.0.1 while 640x480 synthetic video runs both
// ways: the file arrives with the same hash, both reports list it, the
// video keeps at least 25 fps meanwhile and the audio keeps flowing: at
// least 40 of its 50 packets a second and at most 5 % concealed over the
// call (the report has no audio figures per second; a stall of 0.4 s
// shows in the concealment).
func TestHeadlessFileTransfer100MB(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end call")
	}
	url, _ := startSignal(t)
	bin := buildHeadless(t, true)
	src, want := randomFile(t, t.TempDir(), "random.bin", 100<<20)
	recv := t.TempDir()
	res := runPair(t, url, [2]peerSpec{
		{bin, []string{"--send-file", src, "--duration", "8s"}},
		{bin, []string{"--receive-dir", recv, "--duration", "8s"}},
	}, 0, nil)
	for i, r := range res {
		if r.code != 0 {
			t.Fatalf("peer %d exit %d: %s\nfiles: %+v", i, r.code, r.rep.Error, r.rep.Files)
		}
		if r.rep.VideoIn.FPS < 25 {
			t.Errorf("peer %d: video %.1f fps during the transfer, want >= 25", i, r.rep.VideoIn.FPS)
		}
		a := r.rep.AudioIn
		if pps := float64(a.PacketsReceived) / r.rep.CallS; r.rep.CallS <= 0 || pps < 40 {
			t.Errorf("peer %d: %d audio packets in the %.1f s call with the transfer, want >= 40/s", i, a.PacketsReceived, r.rep.CallS)
		}
		if a.ConcealedRatio > 0.05 {
			t.Errorf("peer %d: %.3f of the audio concealed in the call with the transfer, want <= 0.05", i, a.ConcealedRatio)
		}
	}
	sent := onlyFile(t, res[0].rep, "send")
	got := onlyFile(t, res[1].rep, "receive")
	if sent.ID != got.ID || got.Name != "random.bin" || got.Size != 100<<20 || got.Bytes != 100<<20 {
		t.Errorf("sent %+v, received %+v", sent, got)
	}
	if fileSum(t, filepath.Join(recv, "random.bin")) != want {
		t.Fatal("received file differs")
	}
	t.Logf("100 MB: sender %.1f Mbit/s over %.2f s, receiver %.1f Mbit/s; video %.1f / %.1f fps; audio %.1f / %.1f packets/s, %.3f / %.3f concealed",
		sent.MbitS, sent.DurationS, got.MbitS, res[0].rep.VideoIn.FPS, res[1].rep.VideoIn.FPS,
		float64(res[0].rep.AudioIn.PacketsReceived)/res[0].rep.CallS, float64(res[1].rep.AudioIn.PacketsReceived)/res[1].rep.CallS,
		res[0].rep.AudioIn.ConcealedRatio, res[1].rep.AudioIn.ConcealedRatio)
}

// TestHeadlessFileResumeAfterReceiverRestart kills the receiving process
// (SIGKILL) half way; a new one with the same name and folder joins, the
// sender offers again, and the receiver resumes from its partial file.
func TestHeadlessFileResumeAfterReceiverRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end call")
	}
	url, _ := startSignal(t)
	bin := buildHeadless(t, true)
	const size = 100 << 20
	src, want := randomFile(t, t.TempDir(), "big.bin", size)
	recv := t.TempDir()
	dir := t.TempDir()
	common := []string{"--server", url, "--room", "resume", "--loopback-only", "--ice-policy", "all",
		"--video", "none", "--audio", "none"}

	sender := startPeer(t, bin, filepath.Join(dir, "sender.json"),
		append(common, "--name", "sender", "--send-file", src, "--duration", "25s", "--ready-file", filepath.Join(dir, "s.ready")))
	waitReady(filepath.Join(dir, "s.ready"))

	// The first receiver, throttled by nothing: killed once half is on disk.
	first := exec.Command(bin, append(common, "--name", "receiver", "--receive-dir", recv, "--duration", "25s")...)
	var firstErr strings.Builder
	first.Stderr = &firstErr
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	partials := filepath.Join(recv, ".peercall-partial")
	var at int64
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			_ = first.Process.Kill()
			t.Fatalf("the partial file never reached half: %s", firstErr.String())
		}
		es, _ := os.ReadDir(partials)
		if len(es) == 1 {
			if fi, err := es[0].Info(); err == nil && fi.Size() >= size/2 {
				at = fi.Size()
				break
			}
		}
	}
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	es, _ := os.ReadDir(partials)
	if len(es) != 1 {
		t.Fatalf("partial folder holds %d files", len(es))
	}
	fi, _ := es[0].Info()
	t.Logf("killed the receiver with %d of %d bytes on disk (seen at %d)", fi.Size(), size, at)
	if _, err := os.Stat(filepath.Join(recv, "big.bin")); err == nil {
		t.Fatal("an incomplete file was moved into place")
	}

	second := startPeer(t, bin, filepath.Join(dir, "receiver2.json"),
		append(common, "--name", "receiver", "--receive-dir", recv, "--duration", "10s"))
	r2 := <-second
	if r2.code != 0 {
		rs := <-sender
		t.Fatalf("second receiver exit %d: %s\n%s\nsender: %s", r2.code, r2.stderr, r2.rep.Error, rs.stderr)
	}
	got := onlyFile(t, r2.rep, "receive")
	if got.ResumedFrom < size/3 {
		t.Errorf("resumed from %d, want about half of %d", got.ResumedFrom, size)
	}
	rs := <-sender
	if rs.code != 0 {
		t.Fatalf("sender exit %d: %s\n%s", rs.code, rs.stderr, rs.rep.Error)
	}
	sent := onlyFile(t, rs.rep, "send")
	if fileSum(t, filepath.Join(recv, "big.bin")) != want {
		t.Fatal("resumed file differs")
	}
	// What is sent twice is what was between the sender and the dead
	// receiver's disk: bounded by what one channel holds in flight, not
	// by the file's size (a resume from zero, or from an old
	// acknowledgement, would exceed it).
	resent := sent.Bytes - size
	limit := call.FileInFlightMax()
	t.Logf("resume: receiver restarted at %d bytes, sender put %d bytes on the channels: %d resent (%.2f %% of the file; a channel holds up to %d)",
		got.ResumedFrom, sent.Bytes, resent, 100*float64(resent)/size, limit)
	if resent < 0 || resent > limit {
		t.Errorf("%d bytes sent twice, want 0 to %d (what one file channel holds in flight)", resent, limit)
	}
	if es, _ := os.ReadDir(partials); len(es) != 0 {
		t.Errorf("partial files left: %d", len(es))
	}
}

// TestHeadlessMaxFileSize: --max-file-size on the receiving run declines
// a larger --send-file too-large; the sender's run then fails with exit
// 6 (a --send-file that did not end done), the receiver's, which
// declined by its own policy, exits 0. A file of exactly the limit
// arrives.
func TestHeadlessMaxFileSize(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end call")
	}
	url, _ := startSignal(t)
	bin := buildHeadless(t, true)
	tests := []struct {
		name      string
		size      int64
		state     string
		senderErr string // in the sender's files[].error
		recvErr   string // in the receiver's files[].error
		code      [2]int // sender, receiver
	}{
		{"one byte over", 1<<20 + 1, "declined", "larger than the other side accepts", "larger than the limit of 1 MB", [2]int{cli.ExitFileFailed, cli.ExitOK}},
		{"at the limit", 1 << 20, "done", "", "", [2]int{cli.ExitOK, cli.ExitOK}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, want := randomFile(t, t.TempDir(), "limit.bin", tt.size)
			recv := t.TempDir()
			media := []string{"--video", "none", "--audio", "none", "--duration", "2s"}
			res := runPair(t, url, [2]peerSpec{
				{bin, append([]string{"--send-file", src}, media...)},
				{bin, append([]string{"--receive-dir", recv, "--max-file-size", "1M"}, media...)},
			}, 0, nil)
			for i, r := range res {
				if r.code != tt.code[i] || r.rep.OK != (tt.code[i] == 0) {
					t.Fatalf("peer %d: exit %d (ok %v), want %d: %s\n%s", i, r.code, r.rep.OK, tt.code[i], r.rep.Error, r.stderr)
				}
				if len(r.rep.Files) != 1 || r.rep.Files[0].State != tt.state || r.rep.Files[0].Size != tt.size {
					t.Fatalf("peer %d: files %+v, want one %s", i, r.rep.Files, tt.state)
				}
			}
			sent, got := res[0].rep.Files[0], res[1].rep.Files[0]
			if !strings.Contains(sent.Error, tt.senderErr) || !strings.Contains(got.Error, tt.recvErr) {
				t.Errorf("errors: sender %q, receiver %q", sent.Error, got.Error)
			}
			if tt.code[0] == cli.ExitFileFailed && !strings.Contains(res[0].rep.Error, "file transfer failed") {
				t.Errorf("sender's report error %q", res[0].rep.Error)
			}
			if tt.state == "done" {
				if fileSum(t, filepath.Join(recv, "limit.bin")) != want {
					t.Fatal("received file differs")
				}
			} else if es, _ := os.ReadDir(recv); len(es) != 0 {
				t.Errorf("a declined offer wrote %v", es)
			}
		})
	}
}
