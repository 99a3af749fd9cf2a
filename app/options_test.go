package app

import (
	"errors"
	"testing"
	"time"
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
