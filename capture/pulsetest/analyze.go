package pulsetest

import (
	"fmt"
	"math"
	"sort"
	"time"
)

// Sine is a tone at freq Hz and level dBFS, the same on every channel,
// interleaved PCM16.
func Sine(freq, dbfs float64, rate, channels int, d time.Duration) []int16 {
	n := int(float64(rate) * d.Seconds())
	amp := 32767 * math.Pow(10, dbfs/20)
	out := make([]int16, n*channels)
	for i := range n {
		v := int16(math.Round(amp * math.Sin(2*math.Pi*freq*float64(i)/float64(rate))))
		for c := range channels {
			out[i*channels+c] = v
		}
	}
	return out
}

// Mono mixes interleaved PCM16 down to mono in [-1, 1].
func Mono(pcm []int16, channels int) []float64 {
	out := make([]float64, len(pcm)/channels)
	for i := range out {
		var s float64
		for c := range channels {
			s += float64(pcm[i*channels+c])
		}
		out[i] = s / float64(channels) / 32768
	}
	return out
}

// ToneReport scores a recorded steady tone.
type ToneReport struct {
	Freq     float64       // Hz, from the rising zero crossings
	SNR      float64       // dB: tone power over the power of everything else
	WorstSNR float64       // dB, of the worst 40 ms window
	WorstAt  time.Duration // where that window starts
	Gaps     int           // runs of 10 ms blocks at under half the median level
	Span     time.Duration // length analysed
}

func (r ToneReport) String() string {
	return fmt.Sprintf("%.2f Hz, SNR %.1f dB (worst 40 ms: %.1f dB at %v), %d gaps over %v",
		r.Freq, r.SNR, r.WorstSNR, r.WorstAt.Round(time.Millisecond), r.Gaps, r.Span.Round(time.Millisecond))
}

// Active trims x to where the signal is: from the first to the last 10 ms
// block above a tenth of the loudest, less margin at each end (codec
// onset, fades).
func Active(x []float64, rate int, margin time.Duration) []float64 {
	bl := rate / 100
	var rms []float64
	for i := 0; i+bl <= len(x); i += bl {
		rms = append(rms, blockRMS(x[i:i+bl]))
	}
	peak := 0.0
	for _, v := range rms {
		peak = max(peak, v)
	}
	first, last := -1, -1
	for i, v := range rms {
		if v > peak/10 {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 {
		return nil
	}
	m := int(margin.Seconds() * float64(rate))
	lo, hi := first*bl+m, (last+1)*bl-m
	if hi <= lo {
		return nil
	}
	return x[lo:hi]
}

func blockRMS(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v * v
	}
	return math.Sqrt(s / float64(max(1, len(x))))
}

// AnalyzeTone measures a steady tone in x (already trimmed with Active).
// The SNR comes from least-squares sine fits at the measured frequency in
// overlapping 40 ms windows, so a dropped or repeated chunk (a phase jump)
// lands inside a window and counts as noise wherever it falls.
func AnalyzeTone(x []float64, rate int) ToneReport {
	r := ToneReport{Span: time.Duration(float64(len(x)) / float64(rate) * float64(time.Second))}
	if len(x) < rate/10 {
		return r
	}
	// Frequency from rising zero crossings, interpolated. Hysteresis (the
	// signal must first fall below -h) keeps low-level ringing or noise
	// around zero from counting.
	h := blockRMS(x) / 2
	var first, last float64
	n := 0
	armed := false
	for i := 1; i < len(x); i++ {
		if x[i] < -h {
			armed = true
		}
		if armed && x[i-1] < 0 && x[i] >= 0 {
			armed = false
			t := float64(i-1) + x[i-1]/(x[i-1]-x[i])
			if n == 0 {
				first = t
			}
			last = t
			n++
		}
	}
	if n < 2 {
		return r
	}
	r.Freq = float64(n-1) / (last - first) * float64(rate)

	win := rate * 40 / 1000
	hop := win / 2
	w := 2 * math.Pi * r.Freq / float64(rate)
	var sig, noise float64
	r.WorstSNR = math.Inf(1)
	for off := 0; off+win <= len(x); off += hop {
		s, e := fitSine(x[off:off+win], w, off)
		sig += s
		noise += e
		if v := db(s, e); v < r.WorstSNR {
			r.WorstSNR = v
			r.WorstAt = time.Duration(float64(off) / float64(rate) * float64(time.Second))
		}
	}
	r.SNR = db(sig, noise)

	// Gaps: 10 ms blocks well under the median level.
	bl := rate / 100
	var levels []float64
	for i := 0; i+bl <= len(x); i += bl {
		levels = append(levels, blockRMS(x[i:i+bl]))
	}
	sorted := append([]float64(nil), levels...)
	sort.Float64s(sorted)
	med := sorted[len(sorted)/2]
	in := false
	for _, v := range levels {
		low := v < med/2
		if low && !in {
			r.Gaps++
		}
		in = low
	}
	return r
}

func db(s, e float64) float64 {
	if e <= 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(s/e)
}

// fitSine fits a·cos(wn)+b·sin(wn)+c to x by least squares and returns the
// energy of the sine and of the residual.
func fitSine(x []float64, w float64, off int) (sig, resid float64) {
	// Normal equations for the 3 basis functions.
	var m [3][3]float64
	var v [3]float64
	basis := func(i int) [3]float64 {
		ph := w * float64(off+i)
		return [3]float64{math.Cos(ph), math.Sin(ph), 1}
	}
	for i, xi := range x {
		b := basis(i)
		for p := range 3 {
			v[p] += b[p] * xi
			for q := range 3 {
				m[p][q] += b[p] * b[q]
			}
		}
	}
	c, ok := solve3(m, v)
	if !ok {
		return 0, 1
	}
	for i, xi := range x {
		b := basis(i)
		s := c[0]*b[0] + c[1]*b[1]
		sig += s * s
		d := xi - s - c[2]
		resid += d * d
	}
	return sig, resid
}

// solve3 solves m·c = v by Gaussian elimination with partial pivoting.
func solve3(m [3][3]float64, v [3]float64) ([3]float64, bool) {
	for col := range 3 {
		p := col
		for r := col + 1; r < 3; r++ {
			if math.Abs(m[r][col]) > math.Abs(m[p][col]) {
				p = r
			}
		}
		if math.Abs(m[p][col]) < 1e-12 {
			return [3]float64{}, false
		}
		m[col], m[p] = m[p], m[col]
		v[col], v[p] = v[p], v[col]
		for r := col + 1; r < 3; r++ {
			f := m[r][col] / m[col][col]
			for k := col; k < 3; k++ {
				m[r][k] -= f * m[col][k]
			}
			v[r] -= f * v[col]
		}
	}
	var c [3]float64
	for r := 2; r >= 0; r-- {
		s := v[r]
		for k := r + 1; k < 3; k++ {
			s -= m[r][k] * c[k]
		}
		c[r] = s / m[r][r]
	}
	return c, true
}
