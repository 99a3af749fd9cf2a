package codec

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestCompress takes a frame's worth out of signals a call carries: a
// periodic one must go on in phase (what is left equals the input from
// the start, because a whole number of periods went), and every one must
// join the audio before and after without a step.
func TestCompress(t *testing.T) {
	const rate, maxLag = 48000, 960
	sine := func(chans int, freqs ...float64) []int16 {
		out := make([]int16, 3*maxLag*chans)
		for i := range 3 * maxLag {
			var v float64
			for _, f := range freqs {
				v += math.Sin(2 * math.Pi * f * float64(i) / rate)
			}
			for c := range chans {
				out[i*chans+c] = int16(8000 * v / float64(len(freqs)))
			}
		}
		return out
	}
	noise := func() []int16 {
		rng := rand.New(rand.NewPCG(3, 4))
		out := make([]int16, 3*maxLag)
		for i := range out {
			out[i] = int16(rng.NormFloat64() * 3000)
		}
		return out
	}
	cases := []struct {
		name     string
		pcm      []int16
		chans    int
		periodic bool
		wantCut  [2]int // range of samples per channel taken out
	}{
		{"440 Hz", sine(1, 440), 1, true, [2]int{maxLag * 3 / 4, maxLag}},
		{"440 Hz stereo", sine(2, 440), 2, true, [2]int{maxLag * 3 / 4, maxLag}},
		{"100 Hz (10 ms period)", sine(1, 100), 1, true, [2]int{maxLag, maxLag}},
		{"chord 1 kHz + 1.5 kHz", sine(1, 1000, 1500), 1, true, [2]int{maxLag * 3 / 4, maxLag}},
		{"230 Hz voice pitch", sine(1, 230, 460, 690), 1, true, [2]int{maxLag * 3 / 4, maxLag}},
		{"silence", make([]int16, 3*maxLag), 1, true, [2]int{maxLag, maxLag}},
		{"noise", noise(), 1, false, [2]int{maxLag / 4, maxLag}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := append([]int16(nil), tc.pcm...)
			out := append([]int16(nil), tc.pcm...)
			cut := compress(out, tc.chans, maxLag)
			if cut < tc.wantCut[0] || cut > tc.wantCut[1] {
				t.Fatalf("took out %d samples, want %d..%d", cut, tc.wantCut[0], tc.wantCut[1])
			}
			out = out[:len(out)-cut*tc.chans]
			// The join to what came before is exact, the join to what
			// follows the cross-fade too.
			if out[0] != in[0] {
				t.Errorf("first sample %d, was %d", out[0], in[0])
			}
			if got, want := out[cut*tc.chans], in[2*cut*tc.chans]; got != want {
				t.Errorf("sample after the fade %d, want %d", got, want)
			}
			if !tc.periodic {
				return // noise has no phase to keep: the joins are what count
			}
			// In phase: what is left is the input itself.
			var worst float64
			for i := range out {
				worst = max(worst, math.Abs(float64(out[i])-float64(in[i])))
			}
			t.Logf("took out %d samples; worst deviation %.0f", cut, worst)
			if limit := 8000 * 0.05; worst > limit { // 5 % of the amplitude
				t.Errorf("worst deviation %.0f (cut %d), want ≤ %.0f", worst, cut, limit)
			}
		})
	}
}

// TestPopKindOfLeftover: after a compression the FIFO can hold more than a
// frame, and the next Pop hands that out without decoding; its kind is
// that of the audio it holds (here concealed), not "decoded".
func TestPopKindOfLeftover(t *testing.T) {
	jb, err := NewAudioJitterBuffer(JitterBufferConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer jb.Close()
	// As a compression leaves it: playing, nothing in the ring, a frame
	// and a half decoded, the newest of it concealed.
	jb.init, jb.playing = true, true
	jb.out = append(jb.out[:0], make([]int16, jb.frameLen*3/2)...)
	jb.outKind = FrameConcealed
	if _, kind := jb.Pop(); kind != FrameConcealed {
		t.Errorf("leftover concealed audio popped as %v", kind)
	}
	if got := len(jb.out); got != jb.frameLen/2 {
		t.Errorf("%d samples left, want %d", got, jb.frameLen/2)
	}
}
