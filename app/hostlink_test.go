package app

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/peercall/peercall/signalserver"
)

// pinnedTLS trusts exactly the certificate with this fingerprint, as a
// browser does once its user accepted the warning.
func pinnedTLS(fingerprint string) *tls.Config {
	want := strings.ReplaceAll(fingerprint, ":", "")
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		// The chain is self-signed: the pin below is the whole check.
		InsecureSkipVerify: true,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 {
				return errors.New("no certificate")
			}
			sum := sha256.Sum256(raw[0])
			if !strings.EqualFold(hex.EncodeToString(sum[:]), want) {
				return signalserver.ErrPinMismatch
			}
			return nil
		},
	}
}

// TestHostBrowserLink hosts on loopback and checks the browser side: the
// page over https with the pinned certificate, and signaling over wss on
// the same port into the same rooms as the plain ws:// side.
func TestHostBrowserLink(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	hs, err := NewEngine(EngineOptions{HostAddr: "127.0.0.1:0"}).Host(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			hs.Stop()
		}
	}()
	host, tlsPort, err := net.SplitHostPort(hs.HTTPSAddr)
	if err != nil || host != "127.0.0.1" || tlsPort == "0" {
		t.Fatalf("https address %q (%v)", hs.HTTPSAddr, err)
	}
	if _, port, _ := net.SplitHostPort(hs.LANAddr); port == tlsPort {
		t.Fatalf("https shares the plain port %s", port)
	}
	if len(hs.Fingerprint) != 32*3-1 || strings.ToUpper(hs.Fingerprint) != hs.Fingerprint {
		t.Fatalf("fingerprint %q", hs.Fingerprint)
	}

	// The page, fetched as a browser would after accepting the certificate.
	tr := &http.Transport{TLSClientConfig: pinnedTLS(hs.Fingerprint)}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	link := BrowserLink(hs.HTTPSAddr, "room")
	resp, err := client.Get(link)
	if err != nil {
		t.Fatalf("GET %s: %v", link, err)
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(string(body), "<title>Peercall</title>") {
		t.Fatalf("GET %s: %d %q %v, body %.80q", link, resp.StatusCode, resp.Header.Get("Content-Type"), err, body)
	}
	if resp.TLS == nil || resp.TLS.NegotiatedProtocol == "h2" {
		t.Errorf("page not served over HTTP/1.1 TLS: %+v", resp.TLS)
	}
	// A client pinning another certificate is refused.
	bad := &http.Transport{TLSClientConfig: pinnedTLS(strings.Repeat("00:", 31) + "00")}
	if resp, err := (&http.Client{Transport: bad, Timeout: 5 * time.Second}).Get(link); err == nil {
		_ = resp.Body.Close()
		t.Error("wrong pin accepted")
	}
	bad.CloseIdleConnections()

	// The desktop side waits in the room over plain ws://.
	desk, err := signalserver.Dial(ctx, hs.URL, signalserver.ClientOptions{Room: "room", Name: "desk", NoReconnect: true})
	if err != nil {
		t.Fatal(err)
	}
	defer desk.Close()
	<-desk.Messages() // its own joined

	wss := "wss://" + hs.HTTPSAddr + "/ws"
	tests := []struct {
		name   string
		origin string
		want   signalserver.Type
		code   signalserver.ErrorCode
	}{
		// The page's own origin: what the browser sends from the link.
		{"page origin", "https://" + hs.HTTPSAddr, signalserver.TypeJoined, ""},
		{"foreign origin", "https://attacker.example", signalserver.TypeError, signalserver.CodeOriginNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := websocket.Dialer{TLSClientConfig: pinnedTLS(hs.Fingerprint), HandshakeTimeout: 5 * time.Second}
			ws, _, err := d.DialContext(ctx, wss, http.Header{"Origin": {tt.origin}})
			if err != nil {
				t.Fatalf("dial %s: %v", wss, err)
			}
			defer ws.Close()
			_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
			_ = ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
			join := signalserver.Message{V: signalserver.ProtocolVersion, Type: signalserver.TypeJoin, Room: "room", Name: "browser"}
			if err := ws.WriteJSON(join); err != nil && tt.code == "" {
				t.Fatal(err)
			}
			var m signalserver.Message
			if err := ws.ReadJSON(&m); err != nil {
				t.Fatalf("no reply: %v", err)
			}
			if m.Type != tt.want || m.Code != tt.code {
				t.Fatalf("reply %s %s %q, want %s %s", m.Type, m.Code, m.Text, tt.want, tt.code)
			}
			if tt.code != "" {
				return
			}
			// Same rooms: the browser finds the desktop peer, and the
			// desktop peer hears of the browser.
			if len(m.Peers) != 1 || m.Peers[0].Name != "desk" {
				t.Errorf("joined over wss with peers %+v", m.Peers)
			}
			select {
			case pm := <-desk.Messages():
				if pm.Type != signalserver.TypePeerJoined || pm.Name != "browser" {
					t.Errorf("desktop side got %s %q", pm.Type, pm.Name)
				}
			case <-time.After(5 * time.Second):
				t.Error("desktop side never heard of the browser")
			}
			_ = ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
		})
	}

	// Also through the signaling client's own pinning.
	pc, err := signalserver.Dial(ctx, wss, signalserver.ClientOptions{Room: "room2", Name: "pinned", PinSHA256: hs.Fingerprint, NoReconnect: true})
	if err != nil {
		t.Fatalf("signalserver.Dial %s with pin: %v", wss, err)
	}
	_ = pc.Close()

	// Stop ends both listeners even with a wss connection open.
	d := websocket.Dialer{TLSClientConfig: pinnedTLS(hs.Fingerprint), HandshakeTimeout: 5 * time.Second}
	open, _, err := d.DialContext(ctx, wss, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	// Joined, so the server surely counts it before Stop.
	_ = open.SetReadDeadline(time.Now().Add(5 * time.Second))
	var joined signalserver.Message
	if err := open.WriteJSON(signalserver.Message{V: signalserver.ProtocolVersion, Type: signalserver.TypeJoin, Room: "room3", Name: "late"}); err != nil {
		t.Fatal(err)
	}
	if err := open.ReadJSON(&joined); err != nil || joined.Type != signalserver.TypeJoined {
		t.Fatalf("join over wss: %s %q %v", joined.Type, joined.Text, err)
	}
	_ = desk.Close()
	// Read as a browser does, so the server's goodbye gets its close reply.
	_ = open.SetReadDeadline(time.Now().Add(10 * time.Second)) // a Stop that leaves it open fails below
	got := make(chan signalserver.Type, 16)
	go func() {
		defer close(got)
		for {
			var m signalserver.Message
			if err := open.ReadJSON(&m); err != nil {
				return
			}
			got <- m.Type
		}
	}()
	stopped = true
	hs.Stop()
	var types []signalserver.Type
	for ty := range got {
		types = append(types, ty)
	}
	if !slices.Contains(types, signalserver.TypeServerShutdown) {
		t.Errorf("open wss connection got %v at Stop, want server-shutdown", types)
	}
	for _, addr := range []string{hs.HTTPSAddr, strings.TrimPrefix(strings.TrimSuffix(hs.URL, "/ws"), "ws://")} {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			_ = c.Close()
			t.Errorf("%s still accepts after Stop", addr)
		}
	}
}

// TestAdvertisedHost: others are told the address a hosted server is bound
// to, or the LAN address for a wildcard bind; its STUN URL uses the same.
func TestAdvertisedHost(t *testing.T) {
	wildcard := lanIP()
	if wildcard == "" {
		wildcard = "127.0.0.1"
	}
	for _, tt := range []struct {
		addr net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80}, "127.0.0.1"},
		{&net.TCPAddr{IP: net.IPv4(127, 0, 0, 2), Port: 80}, "127.0.0.2"},
		{&net.TCPAddr{IP: net.IPv6loopback, Port: 80}, "::1"},
		{&net.TCPAddr{IP: net.IPv4zero, Port: 80}, wildcard},
		{&net.TCPAddr{IP: net.IPv6unspecified, Port: 80}, wildcard},
	} {
		if got := advertisedHost(tt.addr); got != tt.want {
			t.Errorf("advertisedHost(%v) = %q, want %q", tt.addr, got, tt.want)
		}
	}
}
