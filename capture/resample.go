package capture

import (
	"fmt"
	"math"
)

// resampler converts mono audio between two fixed rates with a polyphase
// windowed-sinc filter (Kaiser, β = 8: about 80 dB stopband, passband flat
// to 0.45 of the lower rate). Linear interpolation would alias and dull
// everything above a few kHz; microphones at 44.1 kHz feed a 48 kHz encoder.
type resampler struct {
	up, down int       // output/input ratio up/down in lowest terms
	taps     int       // coefficients per phase (even)
	coef     []float64 // phase p: coef[p*taps : (p+1)*taps]
	x        []float64 // input not yet consumed, with history in front
	i        int       // index in x of the input sample at or before the next output
	p        int       // phase of the next output, 0..up-1
}

const (
	resampleZeroCrossings = 16
	resampleBeta          = 8.0
	resampleRolloff       = 0.9 // cutoff as a fraction of the lower Nyquist
	maxResamplePhases     = 4096
)

func newResampler(inRate, outRate int) (*resampler, error) {
	if inRate <= 0 || outRate <= 0 {
		return nil, fmt.Errorf("resample %d to %d Hz: %w", inRate, outRate, ErrBadConfig)
	}
	g := gcd(inRate, outRate)
	up, down := outRate/g, inRate/g
	if up > maxResamplePhases {
		return nil, fmt.Errorf("resample %d to %d Hz: ratio too fine: %w", inRate, outRate, ErrBadConfig)
	}
	// Cutoff in cycles per input sample.
	fc := 0.5 * resampleRolloff * min(1, float64(up)/float64(down))
	half := int(math.Ceil(resampleZeroCrossings / (2 * fc)))
	taps := 2 * half
	r := &resampler{up: up, down: down, taps: taps, coef: make([]float64, up*taps)}
	i0 := besselI0(resampleBeta)
	for p := range up {
		c := r.coef[p*taps : (p+1)*taps]
		var sum float64
		for k := range c {
			// Distance from the output instant to input sample k of the window.
			tau := float64(p)/float64(up) - float64(half) + float64(k)
			c[k] = 2 * fc * sinc(2*fc*tau) * kaiser(tau/float64(half), i0)
			sum += c[k]
		}
		for k := range c {
			c[k] /= sum // unity gain at DC for every phase
		}
	}
	// History of zeros so the first outputs have a full window.
	r.x = make([]float64, taps-1, 4*taps)
	r.i = half - 1
	return r, nil
}

// process appends the outputs that in makes available to out.
func (r *resampler) process(in, out []float64) []float64 {
	r.x = append(r.x, in...)
	half := r.taps / 2
	for r.i+half < len(r.x) {
		c := r.coef[r.p*r.taps : (r.p+1)*r.taps]
		// Input index for coefficient k is i + half - k.
		base := r.i + half
		var y float64
		for k, ck := range c {
			y += ck * r.x[base-k]
		}
		out = append(out, y)
		r.p += r.down
		r.i += r.p / r.up
		r.p %= r.up
	}
	// Keep what the next window reaches back to.
	if drop := r.i - half + 1; drop > 0 {
		n := copy(r.x, r.x[drop:])
		r.x = r.x[:n]
		r.i -= drop
	}
	return out
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	return math.Sin(math.Pi*x) / (math.Pi * x)
}

// kaiser is the Kaiser window at t in [-1, 1].
func kaiser(t, i0beta float64) float64 {
	if t <= -1 || t >= 1 {
		return 0
	}
	return besselI0(resampleBeta*math.Sqrt(1-t*t)) / i0beta
}

// besselI0 is the modified Bessel function of the first kind, order 0.
func besselI0(x float64) float64 {
	sum, term := 1.0, 1.0
	for k := 1; k < 64; k++ {
		term *= (x / (2 * float64(k))) * (x / (2 * float64(k)))
		sum += term
		if term < 1e-12*sum {
			break
		}
	}
	return sum
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
