package pulsetest

import (
	"fmt"
	"math"
	"sort"
	"time"
)

// SpeechReport compares speech that went through the sound path with the
// clean signal it came from.
type SpeechReport struct {
	Offset     time.Duration // where the received speech starts in the clean signal
	EnvCorr    float64       // correlation of the 10 ms level envelopes (dB), aligned
	WaveCorr   float64       // normalised correlation of the aligned waveforms
	LoudFrames int           // 20 ms frames where the clean speech is within 20 dB of its peak
	Gain       float64       // dB, median level difference over the loud frames
	Within3dB  float64       // share of loud frames within 3 dB of that gain
	Worst      float64       // dB, largest level difference from the gain over loud frames
	Gaps       int           // runs of loud frames received 20 dB or more too quiet
	Span       time.Duration // length compared
}

func (r SpeechReport) String() string {
	return fmt.Sprintf("offset %v, envelope corr %.3f, waveform corr %.3f, %d loud 20 ms frames: gain %+.1f dB, %.1f %% within 3 dB, worst %.1f dB, %d gaps over %v",
		r.Offset.Round(time.Millisecond), r.EnvCorr, r.WaveCorr, r.LoudFrames, r.Gain, 100*r.Within3dB, r.Worst, r.Gaps, r.Span.Round(time.Millisecond))
}

// envelope is the level in dB of each bl-sample block, floored 60 dB under
// the loudest.
func envelope(x []float64, bl int) []float64 {
	env := make([]float64, len(x)/bl)
	peak := math.Inf(-1)
	for i := range env {
		env[i] = 20 * math.Log10(blockRMS(x[i*bl:(i+1)*bl])+1e-9)
		peak = max(peak, env[i])
	}
	for i := range env {
		env[i] = max(env[i], peak-60)
	}
	return env
}

func pearson(a, b []float64) float64 {
	var ma, mb float64
	for i := range a {
		ma += a[i]
		mb += b[i]
	}
	ma /= float64(len(a))
	mb /= float64(len(b))
	var sab, saa, sbb float64
	for i := range a {
		da, db := a[i]-ma, b[i]-mb
		sab += da * db
		saa += da * da
		sbb += db * db
	}
	if saa == 0 || sbb == 0 {
		return 0
	}
	return sab / math.Sqrt(saa*sbb)
}

// CompareSpeech finds got (already trimmed with Active) inside ref, both
// mono at rate, and compares them frame by frame. ref must be at least as
// long as got: play the clean speech in a loop and pass the whole loop.
func CompareSpeech(ref, got []float64, rate int) SpeechReport {
	var r SpeechReport
	bl := rate / 100
	re, ge := envelope(ref, bl), envelope(got, bl)
	if len(ge) < 50 || len(re) < len(ge) {
		return r
	}
	// Coarse: the 10 ms envelope lag with the best correlation.
	best := -2.0
	lag := 0
	for l := 0; l+len(ge) <= len(re); l++ {
		if c := pearson(re[l:l+len(ge)], ge); c > best {
			best, lag = c, l
		}
	}
	r.EnvCorr = best
	// Fine: the sample lag within ±10 ms with the best waveform match, over
	// the first 2 s.
	n := min(len(got), 2*rate)
	off, bestDot := lag*bl, math.Inf(-1)
	for o := max(0, lag*bl-bl); o <= lag*bl+bl && o+len(got) <= len(ref); o++ {
		var d float64
		for i := range n {
			d += ref[o+i] * got[i]
		}
		if d > bestDot {
			bestDot, off = d, o
		}
	}
	r.Offset = time.Duration(float64(off) / float64(rate) * float64(time.Second))
	aligned := ref[off : off+len(got)]
	var sab, saa, sbb float64
	for i := range got {
		sab += aligned[i] * got[i]
		saa += aligned[i] * aligned[i]
		sbb += got[i] * got[i]
	}
	if saa > 0 && sbb > 0 {
		r.WaveCorr = sab / math.Sqrt(saa*sbb)
	}
	r.Span = time.Duration(float64(len(got)) / float64(rate) * float64(time.Second))

	// Per 20 ms frame where the clean speech is loud.
	fl := rate / 50
	ra, ga := envelope(aligned, fl), envelope(got, fl)
	peak := math.Inf(-1)
	for _, v := range ra {
		peak = max(peak, v)
	}
	var diffs []float64
	var loud []bool
	for i := range ra {
		l := ra[i] >= peak-20
		loud = append(loud, l)
		if l {
			diffs = append(diffs, ga[i]-ra[i])
		}
	}
	r.LoudFrames = len(diffs)
	if len(diffs) == 0 {
		return r
	}
	sorted := append([]float64(nil), diffs...)
	sort.Float64s(sorted)
	r.Gain = sorted[len(sorted)/2]
	in := 0
	for _, d := range diffs {
		if math.Abs(d-r.Gain) <= 3 {
			in++
		}
		r.Worst = max(r.Worst, math.Abs(d-r.Gain))
	}
	r.Within3dB = float64(in) / float64(len(diffs))
	inGap := false
	for i := range ra {
		if !loud[i] {
			continue // a quiet clean frame neither starts nor ends a gap
		}
		g := ga[i]-ra[i] < r.Gain-20
		if g && !inGap {
			r.Gaps++
		}
		inGap = g
	}
	return r
}
