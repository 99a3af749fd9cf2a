package codec

import "math"

// speechLike returns n samples at rate Hz of a voice-like signal: a glottal
// pulse train (a pitch contour per ~170 ms syllable) shaped by three
// formant resonators that move slowly, amplitude-modulated at a syllable
// rate of ~4 Hz, with a little noise. A pure tone would barely make libopus
// classify frames as speech and add FEC.
func speechLike(n, rate int) []int16 {
	out := make([]int16, n)
	type reson struct{ a1, a2, g, y1, y2 float64 }
	setRes := func(r *reson, f, bw float64) {
		rr := math.Exp(-math.Pi * bw / float64(rate))
		r.a1 = 2 * rr * math.Cos(2*math.Pi*f/float64(rate))
		r.a2 = -rr * rr
		r.g = 1 - rr
	}
	var f1, f2, f3 reson
	phase, lp1, lp2 := 0.0, 0.0, 0.0
	seed := uint32(12345)
	for i := 0; i < n; i++ {
		t := float64(i) / float64(rate)
		// Each ~170 ms syllable has its own pitch contour.
		syl := math.Floor(t / 0.17)
		f0 := 110 + 25*math.Mod(syl*7, 5) + 40*math.Sin(2*math.Pi*(t-syl*0.17)/0.34)
		if i%64 == 0 {
			setRes(&f1, 600+250*math.Sin(2*math.Pi*2.9*t), 90)
			setRes(&f2, 1400+500*math.Sin(2*math.Pi*2.3*t+1), 110)
			setRes(&f3, 2600+300*math.Sin(2*math.Pi*1.7*t+2), 160)
		}
		phase += f0 / float64(rate)
		// Rosenberg-like glottal pulse: smooth opening, abrupt closure.
		p := phase - math.Floor(phase)
		var g float64
		if p < 0.4 {
			g = 0.5 * (1 - math.Cos(math.Pi*p/0.4))
		} else if p < 0.6 {
			g = math.Cos(math.Pi * (p - 0.4) / 0.4)
		}
		seed = seed*1664525 + 1013904223
		noise := (float64(seed>>8)/float64(1<<24) - 0.5) * 0.05
		// Spectral tilt of real voices: little energy above ~4 kHz.
		lp1 += 0.25 * (g + noise - lp1)
		lp2 += 0.25 * (lp1 - lp2)
		x := lp2
		y := 0.0
		for _, r := range []*reson{&f1, &f2, &f3} {
			v := r.g*x + r.a1*r.y1 + r.a2*r.y2
			r.y2, r.y1 = r.y1, v
			y += v
		}
		// Syllables of ~130 ms voice and ~40 ms pause, over faint room noise:
		// real pauses keep libopus' voice activity detector (which gates
		// FEC) calibrated.
		u := t - syl*0.17
		env := 0.0
		if u < 0.13 {
			env = math.Pow(math.Sin(math.Pi*u/0.13), 0.5)
		}
		out[i] = int16(max(-32767, min(32767, 9000*env*y+600*noise)))
	}
	return out
}

// snrDB is the SNR of got against ref, in dB.
func snrDB(ref, got []int16) float64 {
	var s, e float64
	for i := range ref {
		r := float64(ref[i])
		d := r - float64(got[i])
		s += r * r
		e += d * d
	}
	if e == 0 {
		return 99
	}
	return 10 * math.Log10(s/e)
}
