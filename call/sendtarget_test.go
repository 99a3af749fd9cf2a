package call

import (
	"testing"
	"time"
)

// TestSendTarget: the encoders get GCC's estimate less the (smoothed) rate
// of resent bytes, never under the minimum, and small changes between
// estimates are held back; the pacer's target is the whole estimate.
func TestSendTarget(t *testing.T) {
	t0 := time.Unix(1000, 0)
	type step struct {
		at      time.Duration
		gcc     int   // > 0: an estimate arrives; else a video packet leaves
		resent  int64 // bytes resent since the previous step
		wantEnc int   // last target handed to the encoders (0: none yet)
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"estimates pass through without repairs", []step{
			{at: 0, wantEnc: 0},
			{at: 100 * time.Millisecond, gcc: 600_000, wantEnc: 600_000},
			{at: time.Second, gcc: 2_000_000, wantEnc: 2_000_000},
		}},
		{"repairs come out of the media's share", []step{
			{at: 0, gcc: 1_000_000, wantEnc: 1_000_000},
			// 25 000 bytes in 500 ms: 400 kbit/s, smoothed by half.
			{at: 500 * time.Millisecond, resent: 25_000, gcc: 1_000_000, wantEnc: 800_000},
			{at: time.Second, resent: 25_000, wantEnc: 700_000},
			// Repairs stop: the share comes back as the smoothing decays.
			{at: 1500 * time.Millisecond, wantEnc: 850_000},
			{at: 2 * time.Second, gcc: 1_000_000, wantEnc: 925_000},
		}},
		{"never under the minimum", []step{
			{at: 0, gcc: 150_000, wantEnc: 150_000},
			{at: 500 * time.Millisecond, resent: 50_000, gcc: 150_000, wantEnc: 100_000},
		}},
		{"small changes between estimates are held back", []step{
			{at: 0, gcc: 1_000_000, wantEnc: 1_000_000},
			// 1 250 bytes in 200 ms: 50 kbit/s, 25 smoothed: under 5 %.
			{at: 200 * time.Millisecond, resent: 1250, wantEnc: 1_000_000},
			// Looked at no more than every 100 ms.
			{at: 250 * time.Millisecond, resent: 50_000, wantEnc: 1_000_000},
			// 100 ms on, the burst counts: 4 Mbit/s, 2.0 smoothed, and the
			// media fall to the minimum at once.
			{at: 300 * time.Millisecond, wantEnc: 100_000},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hooks := &mediaHooks{}
			var got []int
			st := newSendTarget(hooks, DefaultStartBitrate, DefaultMinBitrate, func(bps int) { got = append(got, bps) })
			if v := hooks.target.Load(); v != DefaultStartBitrate {
				t.Fatalf("the pacer starts at %d, want %d", v, DefaultStartBitrate)
			}
			gcc := DefaultStartBitrate
			for i, s := range tt.steps {
				hooks.repaired.Add(s.resent)
				if s.gcc > 0 {
					gcc = s.gcc
					st.estimate(t0.Add(s.at), s.gcc)
				} else {
					st.sent(t0.Add(s.at))
				}
				enc := 0
				if len(got) > 0 {
					enc = got[len(got)-1]
				}
				if enc != s.wantEnc || hooks.target.Load() != int64(gcc) {
					t.Errorf("step %d at %v: encoders %d, pacer %d; want %d, %d", i, s.at, enc, hooks.target.Load(), s.wantEnc, gcc)
				}
			}
		})
	}
}
