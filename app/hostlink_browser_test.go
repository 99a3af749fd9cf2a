package app_test

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/peercall/peercall/app"
	"github.com/peercall/peercall/signalserver"
)

// TestHostBrowserLinkInChromium opens the hosting side's browser link in
// chromium, trusting exactly the hosted certificate (as a person does who
// accepts the warning): the page is a secure context (camera and
// microphone allowed), signals over wss on the TLS port, passes the
// same-origin check and meets the desktop side in the same room.
func TestHostBrowserLinkInChromium(t *testing.T) {
	skipUnlessBrowser(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	hs, err := app.NewEngine(app.EngineOptions{HostAddr: "127.0.0.1:0"}).Host(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer hs.Stop()
	spki := pinnedSPKI(t, hs.HTTPSAddr, hs.Fingerprint)

	desk, err := signalserver.Dial(ctx, hs.URL, signalserver.ClientOptions{Room: "linkroom", Name: "desk", NoReconnect: true})
	if err != nil {
		t.Fatal(err)
	}
	defer desk.Close()
	<-desk.Messages() // joined

	tab := newBrowser(t, chromedp.Flag("ignore-certificate-errors-spki-list", spki))
	joinPage(t, tab, app.BrowserLink(hs.HTTPSAddr, "linkroom")+"?loopback=1&name=Web")
	secure, err := chromedp.Run(tab, chromedp.Evaluate[bool](`window.isSecureContext && !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia)`))
	if err != nil {
		t.Fatal(err)
	}
	if !secure {
		t.Error("the page over the browser link is not a secure context: no camera or microphone")
	}
	v := waitView(t, tab, "page joined over wss", 15*time.Second, func(v pageView) bool { return v.PeerID != "" })
	select {
	case m := <-desk.Messages():
		if m.Type != signalserver.TypePeerJoined || m.Name != "Web" || m.PeerID != v.PeerID {
			t.Errorf("desktop side got %s %q %s, want peer-joined Web %s", m.Type, m.Name, m.PeerID, v.PeerID)
		}
	case <-time.After(10 * time.Second):
		t.Error("the desktop side never saw the browser join")
	}
}

// pinnedSPKI fetches the certificate at addr, checks it against the
// fingerprint the app shows, and returns its public key hash in the form
// chromium's --ignore-certificate-errors-spki-list takes.
func pinnedSPKI(t *testing.T, addr, fingerprint string) string {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}) // checked below
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cert := conn.ConnectionState().PeerCertificates[0]
	if got := signalserver.Fingerprint(cert.Raw); got != fingerprint {
		t.Fatalf("certificate %s, app shows %s", got, fingerprint)
	}
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}
