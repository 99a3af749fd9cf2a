package codec

import (
	"slices"
	"testing"
	"time"
)

// TestVP8AssemblerMaxHoleWait: with a time-based hole wait, a burst of
// packets far longer than the packet window does not give up on a hole that
// NACK can still repair; the hole is declared lost only once the wait is over.
func TestVP8AssemblerMaxHoleWait(t *testing.T) {
	// A keyframe and 5 interframes, then an interframe of ~60 packets (a
	// burst) that loses its 4th packet, then 10 interframes.
	frames := append(gop(6, 0), testFrame{size: 60 * 90})
	frames = append(frames, gop(10)...)
	tests := []struct {
		name        string
		repairAfter time.Duration // when the missing packet is retransmitted; 0 = never
		wantFrames  int           // frames handed out after everything was pushed
		wantGap     bool
	}{
		{"repaired in time", 50 * time.Millisecond, 17, false},
		{"repaired too late", 400 * time.Millisecond, 6, true},
		{"never repaired", 0, 6, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := packetize(t, 65500, frames, 100)
			now := time.Unix(1000, 0)
			a := NewVP8Assembler(WithMaxHoleWait(150*time.Millisecond), withClock(func() time.Time { return now }))
			missing := st.packetOf(6, 3)
			start := now
			got := 0
			repaired := false
			for i, p := range st.packets {
				if i == missing {
					continue
				}
				now = now.Add(time.Millisecond)
				if st.owner[i] != 6 {
					now = now.Add(30 * time.Millisecond) // small frames paced at ~30 fps
				}
				if i == missing+1 {
					start = now
				}
				if !repaired && tt.repairAfter > 0 && i > missing && now.Sub(start) >= tt.repairAfter {
					out, err := a.Push(st.packets[missing])
					if err != nil {
						t.Fatal(err)
					}
					got += len(out)
					repaired = true
				}
				out, err := a.Push(p)
				if err != nil {
					t.Fatal(err)
				}
				got += len(out)
			}
			if got != tt.wantFrames {
				t.Errorf("frames = %d, want %d", got, tt.wantFrames)
			}
			if gap := a.Stats().Gaps > 0; gap != tt.wantGap {
				t.Errorf("gap = %v, want %v (stats %+v)", gap, tt.wantGap, a.Stats())
			}
			if a.NeedKeyFrame() != tt.wantGap {
				t.Errorf("NeedKeyFrame = %v, want %v", a.NeedKeyFrame(), tt.wantGap)
			}
		})
	}
}

// TestVP8AssemblerKeyFrameArriving: while a keyframe is needed, one whose
// packets are still coming in (or whose missing packet is still waited
// for) counts as on its way; a stalled one, one whose gap was waited out,
// or one whose first packet is missing does not.
func TestVP8AssemblerKeyFrameArriving(t *testing.T) {
	const wait = 150 * time.Millisecond
	// Two interframes (the stream joined mid-GOP: a keyframe is needed),
	// a keyframe of several packets, an interframe.
	frames := []testFrame{{size: 300}, {size: 300}, {key: true, size: 1000}, {size: 300}}
	tests := []struct {
		name     string
		noWait   bool
		keyUpTo  int   // keyframe packets pushed (-1: all)
		keyLose  []int // keyframe packets lost
		after    bool  // the interframe after the keyframe arrives
		idle     time.Duration
		want     bool
		wantNeed bool
	}{
		{name: "no keyframe yet", keyUpTo: 0, want: false, wantNeed: true},
		{name: "keyframe streaming in", keyUpTo: 5, want: true, wantNeed: true},
		{name: "keyframe stalled past the wait", keyUpTo: 5, idle: wait + time.Millisecond, want: false, wantNeed: true},
		{name: "gap in the keyframe, within the wait", keyUpTo: -1, keyLose: []int{3}, after: true, idle: wait / 2, want: true, wantNeed: true},
		{name: "gap in the keyframe, waited out", keyUpTo: -1, keyLose: []int{3}, after: true, idle: wait + time.Millisecond, want: false, wantNeed: true},
		{name: "first packet of the keyframe lost", keyUpTo: -1, keyLose: []int{0}, after: true, want: false, wantNeed: true},
		{name: "keyframe complete", keyUpTo: -1, after: true, want: false, wantNeed: false},
		{name: "no hole wait", noWait: true, keyUpTo: 5, want: false, wantNeed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := packetize(t, 100, frames, 100)
			now := time.Unix(1000, 0)
			opts := []AssemblerOption{withClock(func() time.Time { return now })}
			if !tt.noWait {
				opts = append(opts, WithMaxHoleWait(wait))
			}
			a := NewVP8Assembler(opts...)
			key := st.packetOf(2, 0)
			keyPackets := st.packetOf(3, 0) - key
			for i, p := range st.packets {
				k := i - key
				switch {
				case st.owner[i] == 2 && (tt.keyUpTo >= 0 && k >= tt.keyUpTo || slices.Contains(tt.keyLose, k)):
					continue
				case st.owner[i] == 3 && !tt.after:
					continue
				}
				now = now.Add(time.Millisecond)
				if _, err := a.Push(p); err != nil {
					t.Fatal(err)
				}
			}
			if keyPackets < 6 {
				t.Fatalf("keyframe of %d packets, the cases need 6 or more", keyPackets)
			}
			now = now.Add(tt.idle)
			if got := a.NeedKeyFrame(); got != tt.wantNeed {
				t.Fatalf("NeedKeyFrame = %v, want %v", got, tt.wantNeed)
			}
			if got := a.KeyFrameArriving(); got != tt.want {
				t.Errorf("KeyFrameArriving = %v, want %v", got, tt.want)
			}
		})
	}
}
