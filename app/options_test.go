package app

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/peercall/peercall/call"
)

// TestOptionsValidate: the option types validate themselves without a
// command line, so callers other than app/cli (tests, the GUI, scripts
// embedding the runner) get the same checks and the same ErrBadFlags.
func TestOptionsValidate(t *testing.T) {
	headless := func(edit func(*HeadlessOptions)) func() error {
		o := HeadlessOptions{Serve: "127.0.0.1:0", Room: "r", Duration: 10 * time.Second, PeerWait: DefaultPeerWait,
			Video: "synthetic", Audio: "synthetic", Width: 640, Height: 480, FPS: 30, ICEPolicy: "no-host"}
		edit(&o)
		return o.Validate
	}
	bench := func(edit func(*BenchOptions)) func() error {
		o := BenchOptions{Calls: 5, SetupDur: time.Second, QualityDur: time.Second, LossDur: time.Second,
			Sizes: []string{"640x480"}, Losses: []float64{0, 10}, Binary: "peercall-headless"}
		edit(&o)
		return o.Validate
	}
	gui := func(edit func(*GUIOptions)) func() error {
		var o GUIOptions
		edit(&o)
		return o.Validate
	}
	tests := []struct {
		name     string
		validate func() error
		ok       bool
	}{
		{"headless minimal", headless(func(*HeadlessOptions) {}), true},
		{"headless no room", headless(func(o *HeadlessOptions) { o.Room = "" }), false},
		{"headless no server", headless(func(o *HeadlessOptions) { o.Serve = "" }), false},
		{"headless http server", headless(func(o *HeadlessOptions) { o.Serve, o.Server = "", "http://h/ws" }), false},
		{"headless bad policy", headless(func(o *HeadlessOptions) { o.ICEPolicy = "leaky" }), false},
		{"headless turn without credentials", headless(func(o *HeadlessOptions) { o.TURN = []string{"turn:127.0.0.1:3478"} }), false},
		{"headless remote stun on loopback", headless(func(o *HeadlessOptions) {
			o.LoopbackOnly, o.STUN = true, []string{"stun:192.0.2.1:3478"}
		}), false},
		{"headless ice ip", headless(func(o *HeadlessOptions) { o.ICEIP, o.ICEPolicy = "10.99.0.1", "all" }), true},
		{"headless ice ip no-host", headless(func(o *HeadlessOptions) { o.ICEIP = "10.99.0.2" }), true},
		{"headless ice ip not an address", headless(func(o *HeadlessOptions) { o.ICEIP = "pcnet0" }), false},
		{"headless ice ip v6", headless(func(o *HeadlessOptions) { o.ICEIP = "fd00::1" }), false},
		{"headless ice ip loopback", headless(func(o *HeadlessOptions) { o.ICEIP = "127.0.0.1" }), false},
		{"headless ice ip and loopback-only", headless(func(o *HeadlessOptions) { o.ICEIP, o.LoopbackOnly = "10.99.0.1", true }), false},
		{"headless ice ip unspecified", headless(func(o *HeadlessOptions) { o.ICEIP = "0.0.0.0" }), false},
		{"headless ice ip mdns", headless(func(o *HeadlessOptions) { o.ICEIP, o.ICEPolicy = "10.99.0.1", "mdns" }), false},
		{"headless peers unset", headless(func(o *HeadlessOptions) { o.Peers = 0 }), true},
		{"headless 3 peers", headless(func(o *HeadlessOptions) { o.Peers = 3 }), true},
		{"headless 4 peers", headless(func(o *HeadlessOptions) { o.Peers = 4 }), true},
		{"headless 5 peers", headless(func(o *HeadlessOptions) { o.Peers = 5 }), false},
		{"headless alone", headless(func(o *HeadlessOptions) { o.Peers = 1 }), false},
		{"headless negative peers", headless(func(o *HeadlessOptions) { o.Peers = -3 }), false},
		{"bench minimal", bench(func(*BenchOptions) {}), true},
		{"bench zero calls", bench(func(o *BenchOptions) { o.Calls = 0 }), false},
		{"bench bad size", bench(func(o *BenchOptions) { o.Sizes = []string{"big"} }), false},
		{"bench loss 100", bench(func(o *BenchOptions) { o.Losses = []float64{100} }), false},
		{"bench negative duration", bench(func(o *BenchOptions) { o.LossDur = -time.Second }), false},
		{"gui zero", gui(func(*GUIOptions) {}), true},
		{"gui host auto-join", gui(func(o *GUIOptions) { o.AutoJoin, o.Host, o.Room = true, true, "r" }), true},
		{"gui webcam", gui(func(o *GUIOptions) { o.Media.Video = "webcam" }), false},
		{"gui display fps", gui(func(o *GUIOptions) { o.MaxDisplayFPS = -1 }), false},
		{"gui auto-join nowhere", gui(func(o *GUIOptions) { o.AutoJoin, o.Room = true, "r" }), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.validate()
			if tt.ok && err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if !tt.ok && !errors.Is(err, ErrBadFlags) {
				t.Fatalf("Validate = %v, want ErrBadFlags", err)
			}
		})
	}
}

// TestHeadlessValidateCanonical: Validate leaves what the runner reads in
// one form: the default call size, the policy by its canonical name.
func TestHeadlessValidateCanonical(t *testing.T) {
	o := HeadlessOptions{Serve: "127.0.0.1:0", Room: "r", Duration: time.Second, PeerWait: time.Second,
		Width: 640, Height: 480, FPS: 30, ICEPolicy: " No-Host "}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if o.Peers != DefaultPeers || o.ICEPolicy != string(call.PolicyNoHost) {
		t.Fatalf("peers %d policy %q", o.Peers, o.ICEPolicy)
	}
	o.Peers = MaxPeers + 1
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("--peers %d: a room holds at most %d people", MaxPeers+1, MaxPeers)) {
		t.Fatalf("too many peers: %v", err)
	}
}

// TestFrontEndsAgree: the settings form and the headless flags accept and
// refuse the same ICE policies, STUN/TURN URLs and video sizes, because
// both go through call.ParsePolicy, call.ParseICEServerURL and ParseSize.
func TestFrontEndsAgree(t *testing.T) {
	headless := func(edit func(*HeadlessOptions)) error {
		o := HeadlessOptions{Serve: "127.0.0.1:0", Room: "r", Duration: time.Second, PeerWait: time.Second,
			Width: 640, Height: 480, FPS: 30, ICEPolicy: "all", TURNUser: "u", TURNPass: "p"}
		edit(&o)
		return o.Validate()
	}
	settings := func(edit func(*Settings)) error {
		s := DefaultSettings()
		s.ICEPolicy = "all"
		edit(&s)
		return s.Validate()
	}
	t.Run("policies", func(t *testing.T) {
		for _, name := range []string{"all", "mdns", "no-host", " MDNS ", "Relay", "public", "none", "mdns,all"} {
			_, want := call.ParsePolicy(name)
			turn := []ICEServerSetting{{URL: "turn:127.0.0.1:3478?transport=tcp", Username: "u", Password: "p"}}
			stunURL := []ICEServerSetting{{URL: "stun:127.0.0.1:3478"}}
			errS := settings(func(s *Settings) { s.ICEPolicy, s.ICEServers = name, append(turn, stunURL...) })
			errH := headless(func(o *HeadlessOptions) {
				o.ICEPolicy, o.TURN, o.STUN = name, []string{turn[0].URL}, []string{stunURL[0].URL}
			})
			if (want == nil) != (errS == nil) || (want == nil) != (errH == nil) {
				t.Errorf("policy %q: ParsePolicy %v, settings %v, headless %v", name, want, errS, errH)
			}
		}
	})
	t.Run("ice server urls", func(t *testing.T) {
		for _, u := range []string{
			"stun:127.0.0.1:3478", "stun:127.0.0.1", "stuns:127.0.0.1:5349", "stun:127.0.0.1?transport=tcp", "stun:",
			"turn:127.0.0.1:3478", "turn:127.0.0.1?transport=tcp", "turns:127.0.0.1:5349", "turns:127.0.0.1?transport=udp",
			"turn:127.0.0.1?transport=sctp", "http://127.0.0.1", "127.0.0.1:3478",
		} {
			_, want := call.ParseICEServerURL(u)
			errS := ValidateICEServer(ICEServerSetting{URL: u, Username: "u", Password: "p"})
			errH := headless(func(o *HeadlessOptions) {
				if strings.HasPrefix(u, "turn") {
					o.TURN = []string{u}
				} else {
					o.STUN = []string{u}
				}
			})
			if (want == nil) != (errS == nil) || (want == nil) != (errH == nil) {
				t.Errorf("%q: ParseICEServerURL %v, settings %v, headless %v", u, want, errS, errH)
			}
		}
	})
	t.Run("video sizes", func(t *testing.T) {
		for _, wh := range [][2]int{{640, 480}, {16, 16}, {4096, 4096}, {641, 480}, {14, 480}, {4098, 480}, {0, 0}} {
			_, _, want := ParseSize(fmt.Sprintf("%dx%d", wh[0], wh[1]))
			errS := settings(func(s *Settings) { s.Width, s.Height = wh[0], wh[1] })
			errV := CheckVideoSize(wh[0], wh[1])
			if (want == nil) != (errS == nil) || (want == nil) != (errV == nil) {
				t.Errorf("%v: ParseSize %v, settings %v, CheckVideoSize %v", wh, want, errS, errV)
			}
		}
	})
}
