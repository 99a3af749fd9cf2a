package pulsetest

import (
	"math"
	"math/rand/v2"
	"testing"
)

// speechLike is noise in syllable-like bursts (4 Hz on/off, varying level).
func speechLike(rate, n int) []float64 {
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float64, n)
	for i := range x {
		t := float64(i) / float64(rate)
		env := math.Max(0, math.Sin(2*math.Pi*4*t)) * (0.3 + 0.2*math.Sin(2*math.Pi*0.7*t))
		x[i] = env * (rng.Float64()*2 - 1)
	}
	return x
}

func TestCompareSpeech(t *testing.T) {
	const rate = 48000
	ref := speechLike(rate, 8*rate)
	cut := func(f func(x []float64)) []float64 {
		got := append([]float64(nil), ref[rate:6*rate]...)
		f(got)
		return got
	}
	tests := []struct {
		name string
		got  []float64
		ok   func(SpeechReport) bool
	}{
		{"identical", cut(func([]float64) {}), func(r SpeechReport) bool {
			return r.EnvCorr > 0.999 && r.WaveCorr > 0.999 && r.Gaps == 0 && math.Abs(r.Gain) < 0.01 && r.Offset.Seconds() == 1
		}},
		{"6 dB quieter", cut(func(x []float64) {
			for i := range x {
				x[i] /= 2
			}
		}), func(r SpeechReport) bool { return math.Abs(r.Gain+6.02) < 0.1 && r.Within3dB == 1 && r.Gaps == 0 }},
		{"100 ms lost", cut(func(x []float64) { clear(x[rate+rate/16 : rate+rate/16+rate/10]) }), func(r SpeechReport) bool { return r.Gaps == 1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := CompareSpeech(ref, tt.got, rate)
			t.Log(r)
			if !tt.ok(r) {
				t.Fatalf("unexpected report %v", r)
			}
		})
	}
}
