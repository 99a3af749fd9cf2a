package app

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/peercall/peercall/call"
)

// TestConferenceSharedTarget: the one encoder follows the lowest of the
// peers' targets, but a newcomer's controller, still climbing from the
// start estimate, does not pull everyone's picture down while others have
// measured theirs; it counts once it reaches their lowest, once its link
// is found full (settle), or, when nobody has measured yet, from the
// start.
func TestConferenceSharedTarget(t *testing.T) {
	type peer struct {
		target  int
		settled bool
	}
	type step struct {
		peer    int  // index of the peer whose controller reports
		target  int  // its new target (0: none)
		settle  bool // its link was found full, or its grace is over
		want    int  // the shared encoder's target after the step
		settled bool // the peer's state after the step
	}
	tests := []struct {
		name  string
		peers []peer
		steps []step
	}{
		{"a call's start: nobody has measured", []peer{{250_000, false}, {300_000, false}}, []step{
			{peer: 0, target: 290_000, want: 290_000},
			{peer: 1, target: 280_000, want: 280_000},
		}},
		{"a newcomer is left out while it climbs", []peer{{1_700_000, true}, {1_200_000, true}, {250_000, false}}, []step{
			{peer: 2, target: 290_000, want: 1_200_000},
			{peer: 2, target: 800_000, want: 1_200_000},
			{peer: 2, target: 1_250_000, want: 1_200_000, settled: true}, // reached the others' lowest
			{peer: 2, target: 900_000, want: 900_000, settled: true},     // and counts from now on
		}},
		{"a newcomer whose link is found full counts at once", []peer{{1_700_000, true}, {250_000, false}}, []step{
			{peer: 1, target: 400_000, want: 1_700_000},
			{peer: 1, settle: true, want: 400_000, settled: true},
			{peer: 1, target: 350_000, want: 350_000, settled: true},
		}},
		{"a settled peer falling is followed", []peer{{1_700_000, true}, {1_500_000, true}, {250_000, false}}, []step{
			{peer: 0, target: 600_000, want: 600_000, settled: true},
			{peer: 2, target: 500_000, want: 600_000}, // still under the lowest
			{peer: 2, target: 650_000, want: 600_000, settled: true},
		}},
		{"alone", []peer{{250_000, false}}, []step{
			{peer: 0, target: 287_000, want: 287_000},
			{peer: 0, settle: true, want: 287_000, settled: true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &localMedia{}
			c := &conference{o: conferenceOptions{Media: m}, peers: map[string]*confPeer{}}
			var ps []*confPeer
			for i, p := range tt.peers {
				cp := &confPeer{id: string(rune('a' + i))}
				cp.target.Store(int64(p.target))
				cp.settled.Store(p.settled)
				c.peers[cp.id] = cp
				c.order = append(c.order, cp)
				ps = append(ps, cp)
			}
			for i, s := range tt.steps {
				p := ps[s.peer]
				if s.target > 0 {
					m.setBitRate(c.onTarget(p, s.target)) // as the session's hook does
				}
				if s.settle {
					c.settle(p)
				}
				m.mu.Lock()
				got := m.estimate
				m.mu.Unlock()
				if got != s.want {
					t.Errorf("step %d: shared target %d, want %d", i, got, s.want)
				}
				if p.settled.Load() != s.settled {
					t.Errorf("step %d: peer %d settled %v, want %v", i, s.peer, p.settled.Load(), s.settled)
				}
			}
		})
	}
}

// TestConferenceGrace: a newcomer whose target neither reaches the others'
// lowest nor finds its link full counts toward the shared encoder once
// the grace after its path came up is over, and not before; one that
// goes, or a call that ends, within the grace never settles it.
func TestConferenceGrace(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	const grace = 200 * time.Millisecond
	tests := []struct {
		name   string
		end    func(c *conference, p *confPeer) // within the grace; nil: none
		settle bool
		want   int // the shared encoder's target at the end
	}{
		{"settled when the grace is over", nil, true, 400_000},
		{"gone within the grace", func(c *conference, p *confPeer) {
			c.dropPeer(context.Background(), p, endPeerLeft, "left", nil)
		}, false, 1_700_000},
		{"the call ended within the grace", func(c *conference, _ *confPeer) { c.closeAll() }, false, 1_700_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &localMedia{}
			c := &conference{o: conferenceOptions{Media: m}, peers: map[string]*confPeer{}, events: make(chan CallEvent, 64),
				grace: grace, files: newFileHub(nil, FilePolicy{}, nil, nil)}
			rl := &roomLink{peers: map[string]*peerLink{}}
			add := func(id string, target int, settled bool) *confPeer {
				sa, _ := call.NewPipeSignalers("me", id)
				sess, err := call.New(call.Config{LocalID: "me", RemoteID: id, Signaler: sa, ICE: call.ICEOptions{Loopback: true}, InterfacePoll: -1})
				if err != nil {
					t.Fatal(err)
				}
				p := &confPeer{id: id, name: id, sess: sess, link: &peerLink{l: rl, alias: id, gone: make(chan struct{})}}
				p.target.Store(int64(target))
				p.settled.Store(settled)
				c.peers[id] = p
				c.order = append(c.order, p)
				return p
			}
			add("ann", 1_700_000, true)
			bob := add("bob", 250_000, false)
			defer c.closeAll()
			m.setBitRate(c.onTarget(bob, 400_000))
			shared := func() int {
				m.mu.Lock()
				defer m.mu.Unlock()
				return m.estimate
			}
			if got := shared(); got != 1_700_000 {
				t.Fatalf("shared target %d with the newcomer climbing, want 1700000", got)
			}
			t0 := time.Now()
			connected := peerUpdate{p: bob, ok: true, up: call.Update{Kind: call.UpdateState, State: call.StateConnected}}
			if _, err := c.onUpdate(context.Background(), connected); err != nil {
				t.Fatal(err)
			}
			if bob.settled.Load() && time.Since(t0) < grace {
				t.Fatal("settled before the grace was over")
			}
			if tt.end != nil {
				tt.end(c, bob)
				time.Sleep(3 * grace)
			} else {
				for deadline := time.Now().Add(10 * time.Second); !bob.settled.Load() && time.Now().Before(deadline); {
					time.Sleep(10 * time.Millisecond)
				}
				if el := time.Since(t0); el < grace {
					t.Errorf("settled %s after connecting, before the grace of %s", el, grace)
				}
			}
			if bob.settled.Load() != tt.settle {
				t.Errorf("settled %v, want %v", bob.settled.Load(), tt.settle)
			}
			if got := shared(); got != tt.want {
				t.Errorf("shared target %d, want %d", got, tt.want)
			}
		})
	}
}
