package codec

import (
	"testing"
	"time"
)

// TestVP8AssemblerSetMaxHoleWait: a wait changed while packets flow (the
// receiver follows the round trip) decides whether a repair 400 ms after
// the hole still counts.
func TestVP8AssemblerSetMaxHoleWait(t *testing.T) {
	frames := append(gop(6, 0), testFrame{size: 3 * 90})
	frames = append(frames, gop(10)...)
	for _, tt := range []struct {
		name       string
		wait       time.Duration
		wantFrames int
		wantGap    bool
	}{
		{"longer wait keeps the frame", 500 * time.Millisecond, 17, false},
		{"shorter wait gives up", 150 * time.Millisecond, 6, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := packetize(t, 100, frames, 100)
			now := time.Unix(1000, 0)
			a := NewVP8Assembler(WithMaxHoleWait(holeWaitDefault), withClock(func() time.Time { return now }))
			missing := st.packetOf(6, 1)
			got, start, repaired := 0, time.Time{}, false
			push := func(i int) {
				out, err := a.Push(st.packets[i])
				if err != nil {
					t.Fatal(err)
				}
				got += len(out)
			}
			for i := range st.packets {
				if i == 3 {
					a.SetMaxHoleWait(tt.wait)
				}
				if i == missing {
					continue
				}
				now = now.Add(30 * time.Millisecond)
				if i == missing+1 {
					start = now
				}
				if !repaired && start != (time.Time{}) && now.Sub(start) >= 400*time.Millisecond {
					push(missing)
					repaired = true
				}
				push(i)
			}
			if got != tt.wantFrames {
				t.Errorf("frames = %d, want %d", got, tt.wantFrames)
			}
			if gap := a.Stats().Gaps > 0; gap != tt.wantGap {
				t.Errorf("gap = %v, want %v (stats %+v)", gap, tt.wantGap, a.Stats())
			}
		})
	}
}

// holeWaitDefault is the receiver's wait before the round trip is known.
const holeWaitDefault = 150 * time.Millisecond
