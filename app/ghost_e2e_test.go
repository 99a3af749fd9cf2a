package app_test

import (
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/peercall/peercall/signalserver"
)

// joinRaw joins room as name over a bare WebSocket and returns the
// connection and the server's joined message.
func joinRaw(t *testing.T, url, room, name string) (*websocket.Conn, signalserver.Message) {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	ws, resp, err := d.Dial(url, nil)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ws.Close() })
	b, err := signalserver.Message{Type: signalserver.TypeJoin, V: signalserver.ProtocolVersion, Room: room, Name: name}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	_ = ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := ws.WriteMessage(websocket.TextMessage, b); err != nil {
		t.Fatal(err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, b, err = ws.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	m, err := signalserver.DecodeMessage(b)
	if err != nil || m.Type != signalserver.TypeJoined {
		t.Fatalf("join %s: %+v %v", room, m, err)
	}
	return ws, m
}

// TestCallBesideAGhost: a client that ended without saying bye (crashed,
// or its bye lost) leaves a slot the server holds for a resume. Two people
// joining that room next still call each other at once, in both join
// orders: the one who finds the ghost gives a live newcomer the place
// (another name) or takes the newcomer as the ghost come back (its name).
func TestCallBesideAGhost(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end call")
	}
	bin := buildHeadless(t, true)
	for _, ghost := range []string{"alice", "bob"} { // peer 0 is alice and joins first
		t.Run("ghost_"+ghost, func(t *testing.T) {
			url, _ := startSignal(t, signalserver.WithResumeGrace(60*time.Second))
			ws, j := joinRaw(t, url, "e2e", ghost)
			_ = ws.Close() // no bye, no close frame
			// Wait until the server holds the ghost's slot as away: a probe
			// looks at the room and leaves it at once (bye).
			for deadline := time.Now().Add(5 * time.Second); ; {
				probe, pj := joinRaw(t, url, "e2e", "probe")
				bye, _ := signalserver.Message{Type: signalserver.TypeBye, V: signalserver.ProtocolVersion}.Encode()
				_ = probe.WriteMessage(websocket.TextMessage, bye)
				_ = probe.Close()
				if len(pj.Peers) == 1 && pj.Peers[0].ID == j.PeerID && pj.Peers[0].Away {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the ghost is not listed away: %+v", pj.Peers)
				}
				time.Sleep(10 * time.Millisecond)
			}
			res := runPair(t, url, [2]peerSpec{
				{bin, []string{"--video", "none", "--audio", "none", "--duration", "2s", "--log-level", "info"}},
				{bin, []string{"--video", "none", "--audio", "none", "--duration", "2s", "--log-level", "info"}},
			}, 0, nil)
			for i, r := range res {
				if r.code != 0 || !r.rep.OK {
					t.Fatalf("peer %d exit %d: %s\nother: %s", i, r.code, r.stderr, res[1-i].stderr)
				}
			}
		})
	}
}
