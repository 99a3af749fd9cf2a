package app_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/peercall/peercall/app"
)

// File transfer between the browser page (signalserver/web/files.js) and
// the desktop app, and between two pages, in chromium (docs/protocol.md
// "File transfer").

// pageFile is one transfer as window.peercall.view.files has it.
type pageFile struct {
	ID, PeerID, PeerName, Name, State, Error string
	Outgoing                                 bool
	Size, Bytes                              int64
	SHA256                                   string `json:"sha256"`
	GotSHA256                                string `json:"gotSha256"`
	HashOK                                   *bool  `json:"hashOk"`
	DownloadName                             string
	Download                                 bool
}

func readFiles(ctx context.Context) ([]pageFile, error) {
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify(window.peercall ? window.peercall.view.files : [])`))
	if err != nil {
		return nil, err
	}
	var fs []pageFile
	if err := json.Unmarshal([]byte(raw), &fs); err != nil {
		return nil, fmt.Errorf("page files %q: %w", raw, err)
	}
	return fs, nil
}

// waitPageFile polls the page's transfers until one satisfies ok, and returns it.
func waitPageFile(t *testing.T, tab context.Context, what string, timeout time.Duration, ok func(pageFile) bool) pageFile {
	t.Helper()
	fs := pollPage(t, what, timeout, func() ([]pageFile, error) { return readFiles(tab) }, func(fs []pageFile) bool {
		for _, f := range fs {
			if ok(f) {
				return true
			}
		}
		return false
	}, func(fs []pageFile) string { return fmt.Sprintf("page transfers %+v", fs) })
	for _, f := range fs {
		if ok(f) {
			return f
		}
	}
	return pageFile{}
}

// writeRandomFile writes n random bytes to dir/name and returns its path and
// SHA-256.
func writeRandomFile(t *testing.T, dir, name string, n int) (string, string) {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return p, hex.EncodeToString(sum[:])
}

// clickIn clicks sel in the page.
func clickIn(t *testing.T, tab context.Context, sel string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 5*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Click(sel)); err != nil {
		t.Fatalf("click %s: %v", sel, err)
	}
}

// uploadFile picks path in the page's file input, as the Send file
// button's dialog does.
func uploadFile(t *testing.T, tab context.Context, path string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 5*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.SetUploadFiles("#file-input", []string{path})); err != nil {
		t.Fatalf("pick %s: %v", path, err)
	}
}

// TestBrowserFileHelpers: the page names received files exactly as
// app.SanitizeFileName does (hostile names included), and checks file
// control messages like call/ (malformed ones marked bad, with the id
// when it is readable).
func TestBrowserFileHelpers(t *testing.T) {
	skipUnlessBrowser(t)
	addr := startWebSignal(t)
	tab := newBrowser(t)
	ctx, cancel := context.WithTimeout(tab, 10*time.Second)
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+addr+"/")); err != nil {
		cancel()
		t.Fatal(err)
	}
	cancel()
	names := []string{
		"report.pdf", "../../.bashrc", "/etc/passwd", `C:\Windows\evil.exe`, "CON", "con.txt", "lpt9.tar.gz", "COM10.txt",
		"nul .txt", "a\x00b\x1fc\x7f.txt", "x<y>z:\"|?*.doc", "...", "..", ". .", "  x.  ", "a..b...c", ".hidden",
		"a\u202egnp.exe", "a\u0085b", "\ufffd.bin", strings.Repeat("x", 300) + ".pdf", strings.Repeat("é", 150) + ".txt",
		strings.Repeat("y", 250) + "." + strings.Repeat("e", 20), "日本語のファイル.txt", "",
	}
	for _, n := range names {
		var got string
		evalJSON(t, tab, "window.peercall.sanitizeName("+jsString(n)+")", &got)
		if want := app.SanitizeFileName(n); got != want {
			t.Errorf("sanitizeName(%q) = %q, app.SanitizeFileName gives %q", n, got, want)
		}
	}

	id := strings.Repeat("ab", 16)
	sha := strings.Repeat("0f", 32)
	msgs := []struct{ in, want string }{
		{`{"type":"file-offer","id":"` + id + `","name":"a.txt","size":3,"sha256":"` + sha + `","extra":1}`,
			`{"type":"file-offer","id":"` + id + `","name":"a.txt","size":3,"sha256":"` + sha + `"}`},
		{`{"type":"file-offer","id":"` + id + `","name":"a.txt","size":-1,"sha256":"` + sha + `"}`, `{"type":"file-offer","bad":true,"id":"` + id + `"}`},
		{`{"type":"file-offer","id":"` + id + `","name":"a.txt","size":1.5,"sha256":"` + sha + `"}`, `{"type":"file-offer","bad":true,"id":"` + id + `"}`},
		{`{"type":"file-offer","id":"` + id + `","name":"` + strings.Repeat("n", 256) + `","size":1,"sha256":"` + sha + `"}`, `{"type":"file-offer","bad":true,"id":"` + id + `"}`},
		{`{"type":"file-offer","id":"` + id + `","name":"a","size":1,"sha256":"` + strings.ToUpper(sha) + `"}`, `{"type":"file-offer","bad":true,"id":"` + id + `"}`},
		{`{"type":"file-offer","id":"XYZ","name":"a","size":1,"sha256":"` + sha + `"}`, `{"type":"file-offer","bad":true,"id":""}`},
		{`{"type":"file-accept","id":"` + id + `","offset":0}`, `{"type":"file-accept","id":"` + id + `","offset":0}`},
		{`{"type":"file-accept","id":"` + id + `"}`, `{"type":"file-accept","bad":true,"id":"` + id + `"}`},
		{`{"type":"file-ack","id":"` + id + `","offset":1048576}`, `{"type":"file-ack","id":"` + id + `","offset":1048576}`},
		{`{"type":"file-decline","id":"` + id + `","reason":"too-large"}`, `{"type":"file-decline","id":"` + id + `","reason":"too-large"}`},
		{`{"type":"file-cancel","id":"` + id + `","reason":"canceled"}`, `{"type":"file-cancel","id":"` + id + `","reason":"canceled"}`},
		{`{"type":"file-done","id":"` + id + `","ok":false,"reason":"hash-mismatch"}`, `{"type":"file-done","id":"` + id + `","ok":false,"reason":"hash-mismatch"}`},
		{`{"type":"file-done","id":"` + id + `"}`, `{"type":"file-done","bad":true,"id":"` + id + `"}`},
		{`{"type":"file-dance","id":"` + id + `"}`, `{"type":"file-dance","bad":true,"id":"` + id + `"}`},
	}
	for _, m := range msgs {
		var got json.RawMessage
		evalJSON(t, tab, "window.peercall.decodeFileMessage(JSON.parse("+jsString(m.in)+"))", &got)
		if string(got) != m.want {
			t.Errorf("decodeFileMessage(%s) = %s, want %s", m.in, got, m.want)
		}
	}
	// The chat channel's decoder hands every file-* message on.
	var got json.RawMessage
	evalJSON(t, tab, "window.peercall.decodeDataMessage("+jsString(`{"type":"file-ack","id":"`+id+`","offset":1}`)+").kind", &got)
	if string(got) != `"file"` {
		t.Errorf("decodeDataMessage(file-ack).kind = %s", got)
	}
}

// TestBrowserFilesBetweenPages: Ann picks a file (the file input, as the
// Send file button does); Bob sees the offer with Ann's name and the size,
// accepts, and gets a verified download link under the file's name,
// which downloads the same bytes; a second file Bob declines ends
// declined on Ann's side, a third Ann cancels ends canceled on Bob's.
func TestBrowserFilesBetweenPages(t *testing.T) {
	skipUnlessBrowser(t)
	a, b, _, _ := callTwoPages(t, "browser-files", 43000)
	dir := t.TempDir()
	path, sum := writeRandomFile(t, dir, "holiday photos.bin", 3<<20+12345)

	uploadFile(t, a, path)
	offer := waitPageFile(t, b, "Bob sees Ann's offer", 15*time.Second, func(f pageFile) bool { return !f.Outgoing && f.State == "pending" })
	if offer.Name != "holiday photos.bin" || offer.Size != 3<<20+12345 || offer.PeerName != "Ann" || offer.SHA256 != sum {
		t.Errorf("offer %+v", offer)
	}
	var shown struct{ Dir, Name, Size string }
	evalJSON(t, b, `(() => { const li = document.querySelector('li[data-transfer="`+offer.ID+`"]');
		return {Dir: li.querySelector('.file-dir').textContent, Name: li.querySelector('.file-name').textContent,
			Size: li.querySelector('.file-size').textContent}; })()`, &shown)
	if shown.Dir != "From Ann:" || shown.Name != "holiday photos.bin" || shown.Size != "3.0 MB" {
		t.Errorf("offer shown as %+v", shown)
	}
	start := time.Now()
	clickIn(t, b, `li[data-transfer="`+offer.ID+`"] .file-accept`)
	got := waitPageFile(t, b, "Bob has the file", 60*time.Second, func(f pageFile) bool { return f.ID == offer.ID && f.State == "done" })
	took := time.Since(start)
	if got.HashOK == nil || !*got.HashOK || got.GotSHA256 != sum || !got.Download || got.Bytes != got.Size {
		t.Errorf("received %+v", got)
	}
	sent := waitPageFile(t, a, "Ann told it arrived", 10*time.Second, func(f pageFile) bool { return f.ID == offer.ID && f.State == "done" })
	if !sent.Outgoing || sent.Bytes != sent.Size {
		t.Errorf("sent %+v", sent)
	}
	var link struct{ Download, Href string }
	evalJSON(t, b, `(() => { const a = document.querySelector('li[data-transfer="`+offer.ID+`"] .file-save');
		return {Download: a.hidden ? '' : a.download, Href: a.href}; })()`, &link)
	if link.Download != "holiday photos.bin" || !strings.HasPrefix(link.Href, "blob:") {
		t.Errorf("download link %+v", link)
	}
	t.Logf("3 MB page to page (relay through TURN on loopback) in %v: %.1f Mbit/s", took.Round(time.Millisecond),
		float64(got.Size)*8/took.Seconds()/1e6)

	// The link downloads the very bytes under the page's CSP (a blob:
	// download is a navigation, which the policy leaves alone).
	saved := t.TempDir()
	progress := chromedp.Events(b, browser.DownloadProgress)
	ctx, cancel := context.WithTimeout(b, 30*time.Second)
	err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: saved, EventsEnabled: ptr(true),
		})
		return err
	}), chromedp.Click(`li[data-transfer="`+offer.ID+`"] .file-save`))
	if err != nil {
		cancel()
		t.Fatalf("download: %v", err)
	}
	for ev, err := range progress {
		if err != nil {
			cancel()
			t.Fatalf("download: %v", err)
		}
		if ev.State == browser.DownloadProgressStateCompleted {
			data, err := os.ReadFile(filepath.Join(saved, ev.GUID))
			if h := sha256.Sum256(data); err != nil || hex.EncodeToString(h[:]) != sum {
				t.Errorf("downloaded %d bytes (%v), not the file", len(data), err)
			}
			break
		}
		if ev.State == browser.DownloadProgressStateCanceled {
			t.Errorf("download canceled")
			break
		}
	}
	cancel()

	// Declined: the sender says so.
	path2, _ := writeRandomFile(t, dir, "second.bin", 1000)
	uploadFile(t, a, path2)
	offer2 := waitPageFile(t, b, "Bob sees the second offer", 15*time.Second, func(f pageFile) bool { return f.Name == "second.bin" && f.State == "pending" })
	clickIn(t, b, `li[data-transfer="`+offer2.ID+`"] .file-decline`)
	waitPageFile(t, a, "Ann told Bob declined", 10*time.Second, func(f pageFile) bool { return f.ID == offer2.ID && f.State == "declined" })

	// Canceled by the sender before Bob answers: Bob's offer goes.
	uploadFile(t, a, path2)
	offer3 := waitPageFile(t, b, "Bob sees the third offer", 15*time.Second, func(f pageFile) bool { return f.Name == "second.bin" && f.State == "pending" })
	waitPageFile(t, a, "Ann's third offer", 5*time.Second, func(f pageFile) bool { return f.ID == offer3.ID && f.State == "pending" })
	clickIn(t, a, `li[data-transfer="`+offer3.ID+`"] .file-cancel`)
	c3 := waitPageFile(t, b, "Bob told Ann canceled", 10*time.Second, func(f pageFile) bool { return f.ID == offer3.ID && f.State == "canceled" })
	if c3.Error != "Canceled by Ann" {
		t.Errorf("canceled offer reads %q", c3.Error)
	}
}

// TestBrowserFilesWithDesktop: the desktop app's controller over the real
// engine sends a few MB of random data to the page, which accepts and
// checks the hash; the page sends a file back, which the desktop accepts
// into its download folder: the same bytes.
func TestBrowserFilesWithDesktop(t *testing.T) {
	skipUnlessBrowser(t)
	downloads := t.TempDir()
	c, tab := desktopWithPage(t, "desk-files", func(s *app.Settings) { s.DownloadDir, s.MaxFileMB = downloads, 64 })
	waitView(t, tab, "page connected", 30*time.Second, func(v pageView) bool { return v.State == "connected" })

	// Desktop → page.
	src := t.TempDir()
	path, sum := writeRandomFile(t, src, "from desk.bin", 4<<20+777)
	start := time.Now()
	if err := c.SendFile(path); err != nil {
		t.Fatal(err)
	}
	offer := waitPageFile(t, tab, "page sees the desktop's offer", 20*time.Second, func(f pageFile) bool { return !f.Outgoing && f.State == "pending" })
	if offer.Name != "from desk.bin" || offer.Size != 4<<20+777 || offer.PeerName != "Desk" || offer.SHA256 != sum {
		t.Errorf("offer %+v", offer)
	}
	screenshot(t, tab, "page_file_offer.png")
	clickIn(t, tab, `li[data-transfer="`+offer.ID+`"] .file-accept`)
	got := waitPageFile(t, tab, "page has the file", 60*time.Second, func(f pageFile) bool { return f.ID == offer.ID && f.State == "done" })
	took := time.Since(start)
	if got.HashOK == nil || !*got.HashOK || got.GotSHA256 != sum || got.Bytes != got.Size || !got.Download {
		t.Errorf("page received %+v", got)
	}
	waitSnapshot(t, c, "desktop's transfer done", 10*time.Second, func(n app.Notify) bool {
		return len(n.Files) == 1 && n.Files[0].Outgoing && n.Files[0].State == app.FileDone
	})
	t.Logf("desktop → page: %d bytes in %v (%.1f Mbit/s)", got.Size, took.Round(time.Millisecond), float64(got.Size)*8/took.Seconds()/1e6)

	// Page → desktop.
	back, backSum := writeRandomFile(t, src, "from web.bin", 3<<20+4321)
	start = time.Now()
	uploadFile(t, tab, back)
	in := waitSnapshot(t, c, "desktop sees the page's offer", 20*time.Second, func(n app.Notify) bool {
		for _, f := range n.Files {
			if !f.Outgoing && f.State == app.FilePending {
				return true
			}
		}
		return false
	})
	var id string
	for _, f := range in.Files {
		if !f.Outgoing && f.State == app.FilePending {
			id = f.ID
			if f.Name != "from web.bin" || f.Size != 3<<20+4321 || f.PeerName != "Web" {
				t.Errorf("desktop's offer %+v", f)
			}
		}
	}
	if err := c.AcceptFile(id); err != nil {
		t.Fatal(err)
	}
	done := waitSnapshot(t, c, "desktop has the file", 60*time.Second, func(n app.Notify) bool {
		for _, f := range n.Files {
			if f.ID == id && f.State.Terminal() {
				return true
			}
		}
		return false
	})
	took = time.Since(start)
	var path2 string
	for _, f := range done.Files {
		if f.ID == id {
			if f.State != app.FileDone {
				t.Fatalf("desktop's transfer ended %v: %s", f.State, f.Error)
			}
			path2 = f.Path
		}
	}
	if filepath.Dir(path2) != downloads || filepath.Base(path2) != "from web.bin" {
		t.Errorf("saved as %q, want in %s", path2, downloads)
	}
	b, err := os.ReadFile(path2)
	if err != nil {
		t.Fatal(err)
	}
	if h := sha256.Sum256(b); hex.EncodeToString(h[:]) != backSum {
		t.Errorf("the desktop's copy differs from the page's file")
	}
	waitPageFile(t, tab, "page told it arrived", 10*time.Second, func(f pageFile) bool { return f.Outgoing && f.ID == id && f.State == "done" })
	screenshot(t, tab, "page_files_done.png")
	t.Logf("page → desktop: %d bytes in %v (%.1f Mbit/s)", len(b), took.Round(time.Millisecond), float64(len(b))*8/took.Seconds()/1e6)
	c.HangUp()
	waitSnapshot(t, c, "ended", 10*time.Second, func(n app.Notify) bool { return n.Phase.Terminal() })
}
