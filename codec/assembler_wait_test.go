package codec

import (
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
