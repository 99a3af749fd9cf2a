package signalserver

import (
	"strings"
	"testing"
)

// TestSTUNOnly: the STUN server an app hosts in-process answers binding
// requests, is handed out as a stun: URL without credentials, and refuses
// every relay allocation (even with credentials minted for a TURN server
// sharing the secret).
func TestSTUNOnly(t *testing.T) {
	ts := startServer(t, WithSecret(testSecret), WithTURN(TURNConfig{Listen: "127.0.0.1:0", STUNOnly: true}))
	c := dialClient(t, ts.url, ClientOptions{Room: "stun", Name: "a"})
	servers := c.ICEServers()
	if len(servers) != 1 || len(servers[0].URLs) != 1 {
		t.Fatalf("ice servers %+v, want one stun: URL", servers)
	}
	s := servers[0]
	addr, ok := strings.CutPrefix(s.URLs[0], "stun:")
	if !ok || s.Username != "" || s.Credential != "" {
		t.Fatalf("ice server %+v, want a stun: URL without credentials", s)
	}
	if addr != ts.s.TURNAddr().String() {
		t.Fatalf("stun URL %s, server on %s", s.URLs[0], ts.s.TURNAddr())
	}

	// Credentials as a TURN server with this secret would accept them.
	user, pass, err := TURNCredentials(testSecret, c.PeerID(), defaultConfig().turnCredTTL)
	if err != nil {
		t.Fatal(err)
	}
	tc := turnClient(t, addr, user, pass)
	mapped, err := tc.SendBindingRequest()
	if err != nil {
		t.Fatalf("STUN binding: %v", err)
	}
	if !strings.HasPrefix(mapped.String(), "127.0.0.1:") {
		t.Fatalf("mapped address %v", mapped)
	}
	if relay, err := tc.Allocate(); err == nil {
		_ = relay.Close()
		t.Fatal("a STUN-only server granted a relay allocation")
	}
}
