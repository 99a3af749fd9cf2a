//go:build cgo

package codec

import (
	"math"
	"testing"
	"time"

	"github.com/peercall/peercall/capture/pulsetest"
)

// TestAudioJitterBufferShrinksWithoutClicks: a held note arrives in a
// burst (a queue on the path empties at once), so the buffer starts far
// deeper than its target and has to shrink while the note plays. The note
// must come out whole: in tune and with no 40 ms stretch below 30 dB SNR.
// Dropping whole frames, the buffer made a phase jump each time.
func TestAudioJitterBufferShrinksWithoutClicks(t *testing.T) {
	cfg := DefaultOpusConfig()
	enc, err := NewOpusEncoder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	fs := enc.FrameSamples()
	const frames, pops = 200, 150 // the sender goes on past the end of playout
	tone := pulsetest.Sine(440, -12, 48000, 1, frames*20*time.Millisecond)
	cases := []struct {
		name  string
		burst int // packets that arrive at once at the start
	}{
		{"burst of 8", 8},
		{"burst of 15", 15},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var pkts []sentPacket
			for i := range frames {
				p, err := enc.Encode(tone[i*fs : (i+1)*fs])
				if err != nil {
					t.Fatal(err)
				}
				at := time.Duration(max(0, i-tc.burst+1)) * 20 * time.Millisecond
				pkts = append(pkts, sentPacket{seq: uint16(i), ts: uint32(i * fs), payload: p, arrival: at})
			}
			jb, err := NewAudioJitterBuffer(JitterBufferConfig{})
			if err != nil {
				t.Fatal(err)
			}
			defer jb.Close()
			_, out := playout(t, jb, pkts, pops)
			s := jb.Stats()
			// Leave out the encoder's first 100 ms (its start-up).
			x := pulsetest.Mono(out[4800:], 1)
			rep := pulsetest.AnalyzeTone(x, 48000)
			t.Logf("%v; compressed %d times, %d ms; underruns %d, buffered %v", rep, s.Dropped, s.CompressedMs, s.Underruns, s.Buffered)
			if s.Dropped == 0 || s.CompressedMs < uint64(tc.burst-4)*20*3/4 {
				t.Errorf("compressed %d times, %d ms: the buffer did not shrink", s.Dropped, s.CompressedMs)
			}
			if s.Underruns != 0 {
				t.Errorf("%d underruns", s.Underruns)
			}
			if math.Abs(rep.Freq/440-1) > 0.005 || rep.WorstSNR < 30 || rep.Gaps != 0 {
				t.Errorf("%v; want 440 Hz ± 0.5 %%, no 40 ms under 30 dB, no gaps", rep)
			}
		})
	}
}
