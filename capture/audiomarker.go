package capture

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"time"
)

// AudioMarker is one stamp recovered from PCM: the marker's sequence number,
// its capture wall-clock time (ms) and where it starts in the analysed PCM.
type AudioMarker struct {
	Seq         uint32
	CaptureTime time.Time
	// Offset is the sample index in the analysed buffer where the marker
	// starts: exact on clean PCM, within ~1 ms after a lossy codec.
	Offset int
}

// Audio marker: 16-ary FSK, one 5 ms tone per symbol, 4 bits per symbol.
// Tones sit on exact DFT bins of the symbol window (200 Hz apart, 600-3600
// Hz), the band speech codecs spend their bits on. Opus at 32 kbit/s with
// FEC on (which takes bits from the primary encoding) still garbles up to
// ~3 of 22 symbols now and then, so the payload is protected by two
// interleaved Reed-Solomon RS(15,9) codewords over GF(16): each corrects 3
// wrong symbols, or 6 unreadable ones. Layout: a two-symbol preamble, then 30
// code symbols carrying seq (32 bits), capture time in ms (low 32 bits,
// unwrapped to the instant nearest to now) and an 8-bit check that catches
// the rare miscorrection. 32 symbols = 160 ms.
const (
	amSymbolDur = 5 * time.Millisecond
	amLowHz     = 600.0
	amAmplitude = 0.4 // of full scale
	amTones     = 16
	amDataSyms  = 18 // 72 bits
	amRSn       = 15
	amRSk       = 9
	amCodeSyms  = 2 * amRSn
	amPreamble0 = 15
	amPreamble1 = 2
	amSyms      = 2 + amCodeSyms
	amRamp      = 0.001 // s, fade in/out of the whole marker
	// amMinPurity is the share of a window's energy the strongest tone must
	// hold for the window to count as a readable symbol; below it the
	// symbol is an erasure.
	amMinPurity = 0.3
	amTimeBits  = 32
	amCheckXor  = 0xA5
)

// amGeom is the marker geometry for one sample rate.
type amGeom struct {
	rate   int
	n      int       // samples per symbol
	bin0   int       // DFT bin of tone 0
	coeffs []float64 // Goertzel 2cos(w) per tone
	omegas []float64
}

func newAMGeom(rate int) (amGeom, error) {
	n := int(math.Round(float64(rate) * amSymbolDur.Seconds()))
	binHz := float64(rate) / float64(n)
	bin0 := int(math.Ceil(amLowHz / binHz))
	if float64(bin0+amTones) >= float64(n)/2*0.95 || rate < 8000 {
		return amGeom{}, fmt.Errorf("audio marker at %d Hz: %w", rate, ErrBadConfig)
	}
	g := amGeom{rate: rate, n: n, bin0: bin0}
	for k := range amTones {
		w := 2 * math.Pi * float64(bin0+k) / float64(n)
		g.omegas = append(g.omegas, w)
		g.coeffs = append(g.coeffs, 2*math.Cos(w))
	}
	return g, nil
}

// Len is the marker length in samples.
func (g amGeom) Len() int { return amSyms * g.n }

// AudioMarkerDuration is how long one audio marker lasts.
func AudioMarkerDuration() time.Duration { return amSyms * amSymbolDur }

// amCheck is the 8-bit check over seq and time.
func amCheck(b []byte) byte { return byte(crc32.ChecksumIEEE(b)) ^ amCheckXor }

func amSymbols(seq uint32, ms uint64) [amSyms]int {
	var b [9]byte
	binary.BigEndian.PutUint32(b[0:4], seq)
	binary.BigEndian.PutUint32(b[4:8], uint32(ms))
	b[8] = amCheck(b[:8])
	var a, c [amRSk]byte
	for i := range amDataSyms {
		nib := b[i/2] >> 4
		if i%2 == 1 {
			nib = b[i/2] & 0xF
		}
		if i%2 == 0 {
			a[i/2] = nib
		} else {
			c[i/2] = nib
		}
	}
	ca, cc := rsEncode(a[:], amRSn-amRSk), rsEncode(c[:], amRSn-amRSk)
	var s [amSyms]int
	s[0], s[1] = amPreamble0, amPreamble1
	for j := range amRSn {
		s[2+2*j] = int(ca[j])
		s[3+2*j] = int(cc[j])
	}
	return s
}

// amDecode turns 30 code symbols (with erasure flags) back into seq and the
// low time bits.
func amDecode(code *[amCodeSyms]byte, erased *[amCodeSyms]bool) (uint32, uint32, bool) {
	var words [2][amRSn]byte
	var eras [2][]int
	for i, v := range code {
		words[i%2][i/2] = v
		if erased[i] {
			eras[i%2] = append(eras[i%2], i/2)
		}
	}
	for w := range words {
		if !rsDecode(words[w][:], amRSn-amRSk, eras[w]) {
			return 0, 0, false
		}
	}
	var b [9]byte
	for i := range amDataSyms {
		nib := words[i%2][i/2]
		if i%2 == 0 {
			b[i/2] = nib << 4
		} else {
			b[i/2] |= nib
		}
	}
	if b[8] != amCheck(b[:8]) {
		return 0, 0, false
	}
	return binary.BigEndian.Uint32(b[0:4]), binary.BigEndian.Uint32(b[4:8]), true
}

// render writes the marker waveform (sig) and its blend weight (w, 0..1) for
// seq/t. Phase runs continuously across symbols so tone changes do not click.
func (g amGeom) render(seq uint32, t time.Time, sig, w []float64) {
	syms := amSymbols(seq, uint64(t.UnixMilli()))
	ramp := max(1, int(amRamp*float64(g.rate)))
	l := g.Len()
	phase := 0.0
	for i := range l {
		k := syms[i/g.n]
		phase += g.omegas[k]
		a := 1.0
		if i < ramp {
			a = float64(i) / float64(ramp)
		} else if l-1-i < ramp {
			a = float64(l-1-i) / float64(ramp)
		}
		sig[i] = amAmplitude * 32767 * a * math.Sin(phase)
		w[i] = a
	}
}

// amAnalyzer classifies symbol windows of one PCM buffer. Window energies
// come from a prefix sum, so the cheap single-tone test used while scanning
// costs one Goertzel filter per window.
type amAnalyzer struct {
	g   amGeom
	pcm []int16
	sq  []float64 // sq[i] = sum of pcm[:i]^2
}

func newAMAnalyzer(g amGeom, pcm []int16) *amAnalyzer {
	sq := make([]float64, len(pcm)+1)
	for i, v := range pcm {
		sq[i+1] = sq[i] + float64(v)*float64(v)
	}
	return &amAnalyzer{g: g, pcm: pcm, sq: sq}
}

// energy of the window at p, or 0 for near-silence (a marker is loud by
// construction).
func (a *amAnalyzer) energy(p int) float64 {
	e := a.sq[p+a.g.n] - a.sq[p]
	if e < float64(a.g.n)*100*100 {
		return 0
	}
	return e
}

func (a *amAnalyzer) power(p, tone int) float64 {
	c := a.g.coeffs[tone]
	var s1, s2 float64
	for _, v := range a.pcm[p : p+a.g.n] {
		s0 := float64(v) + c*s1 - s2
		s2, s1 = s1, s0
	}
	return s1*s1 + s2*s2 - c*s1*s2
}

// A pure tone of energy E gives Goertzel power E*n/2; purity is the share
// of the window's energy in one tone.
func (a *amAnalyzer) purity(pw, e float64) float64 { return pw / (e * float64(a.g.n) / 2) }

// mayBe reports whether the window at p could read as symbol tone: a
// necessary condition for symbolAt(p) == (tone, true).
func (a *amAnalyzer) mayBe(p, tone int) bool {
	e := a.energy(p)
	return e > 0 && a.purity(a.power(p, tone), e) >= amMinPurity
}

// symbolAt classifies the window at p: the strongest tone and whether it is
// pure enough to be a marker symbol.
func (a *amAnalyzer) symbolAt(p int) (int, bool) {
	e := a.energy(p)
	if e == 0 {
		return 0, false
	}
	best, bestP := 0, 0.0
	for k := range a.g.coeffs {
		if pw := a.power(p, k); pw > bestP {
			best, bestP = k, pw
		}
	}
	return best, a.purity(bestP, e) >= amMinPurity
}

// ReadAudioMarkers finds every audio marker in mono PCM at sampleRate. It
// returns the markers in order; a buffer without markers gives an empty
// slice and no error. Damaged markers are skipped, never misreported.
func ReadAudioMarkers(pcm []int16, sampleRate int) ([]AudioMarker, error) {
	return readAudioMarkersAt(pcm, sampleRate, time.Now())
}

func readAudioMarkersAt(pcm []int16, sampleRate int, now time.Time) ([]AudioMarker, error) {
	g, err := newAMGeom(sampleRate)
	if err != nil {
		return nil, err
	}
	if len(pcm) < g.Len() {
		return nil, nil
	}
	// Classify windows on a grid finer than a symbol; a marker then starts
	// within step/2 of some grid point.
	an := newAMAnalyzer(g, pcm)
	step := max(1, g.n/8)
	perSym := g.n / step
	nPos := (len(pcm)-g.n)/step + 1
	type cls struct {
		sym  int8
		ok   bool
		done bool
	}
	track := make([]cls, nPos)
	at := func(i int) (int, bool) {
		if i >= nPos {
			return 0, false
		}
		c := &track[i]
		if !c.done {
			s, ok := an.symbolAt(i * step)
			c.sym, c.ok, c.done = int8(s), ok, true
		}
		return int(c.sym), c.ok
	}
	var out []AudioMarker
	lastIdx := nPos - 1 - (amSyms-1)*perSym
	for i := 0; i <= lastIdx; i++ {
		// Cheap scan first: neither preamble tone present means no marker.
		if !an.mayBe(i*step, amPreamble0) && !an.mayBe((i+perSym)*step, amPreamble1) {
			continue
		}
		// One preamble symbol may be unreadable, not wrong: the code
		// and the check reject the rest.
		s0, ok0 := at(i)
		s1, ok1 := at(i + perSym)
		m0, m1 := ok0 && s0 == amPreamble0, ok1 && s1 == amPreamble1
		if !(m0 && m1 || m0 && !ok1 || m1 && !ok0) {
			continue
		}
		m, last, ok := decodeAM(at, i, perSym, step, sampleRate, now)
		if !ok {
			continue
		}
		m.Offset = g.refine(pcm, m, i*step-step, (last+1)*step)
		out = append(out, m)
		i = last + amSyms*perSym - 1
	}
	return out, nil
}

// refine finds the marker's start in [lo, hi] to the sample: the offset where
// the known tone of every symbol collects the most energy (a matched filter
// per symbol, insensitive to the phase changes a codec introduces).
func (g amGeom) refine(pcm []int16, m AudioMarker, lo, hi int) int {
	syms := amSymbols(m.Seq, uint64(m.CaptureTime.UnixMilli()))
	lo = max(lo, 0)
	hi = min(hi, len(pcm)-g.Len())
	score := func(o int) float64 {
		var sum float64
		for j, k := range syms {
			c := g.coeffs[k]
			var s1, s2 float64
			for _, v := range pcm[o+j*g.n : o+(j+1)*g.n] {
				s0 := float64(v) + c*s1 - s2
				s2, s1 = s1, s0
			}
			sum += math.Sqrt(max(0, s1*s1+s2*s2-c*s1*s2))
		}
		return sum
	}
	best, bestS := m.Offset, -1.0
	search := func(from, to, stride int) {
		for o := max(from, lo); o <= min(to, hi); o += stride {
			if sc := score(o); sc > bestS {
				best, bestS = o, sc
			}
		}
	}
	// Coarse then fine.
	const stride = 4
	search(lo, hi, stride)
	search(best-stride+1, best+stride-1, 1)
	return best
}

// decodeAM reads the payload of a marker whose preamble passes at grid index
// i. The first passing grid point is usually early (a window straddling the
// marker's start can already be dominated by it), so it decodes at each later
// grid point within a symbol and places the marker in the middle of the run
// that decodes.
func decodeAM(at func(int) (int, bool), i, perSym, step, rate int, now time.Time) (AudioMarker, int, bool) {
	type result struct{ seq, ms uint32 }
	var first result
	dFirst, dLast := -1, -1
	for d := 0; d <= perSym; d++ {
		var code [amCodeSyms]byte
		var erased [amCodeSyms]bool
		for j := range amCodeSyms {
			s, ok := at(i + d + (2+j)*perSym)
			code[j], erased[j] = byte(s), !ok
		}
		seq, ms, good := amDecode(&code, &erased)
		r := result{seq, ms}
		if dFirst >= 0 && (!good || r != first) {
			break
		}
		if good {
			if dFirst < 0 {
				dFirst, first = d, r
			}
			dLast = d
		}
	}
	if dFirst < 0 {
		return AudioMarker{}, 0, false
	}
	ms := unwrapMillis(uint64(first.ms), amTimeBits, now.UnixMilli())
	return AudioMarker{
		Seq:         first.seq,
		CaptureTime: time.UnixMilli(ms),
		Offset:      (2*i + dFirst + dLast) * step / 2,
	}, i + dLast, true
}
