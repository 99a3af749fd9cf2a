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
	// starts (within about half a millisecond).
	Offset int
}

// Audio marker: 16-ary FSK, one 5 ms tone per symbol, 4 bits per symbol.
// Tones sit on exact DFT bins of the symbol window (200 Hz apart, 600-3600
// Hz), the band speech codecs spend their bits on, so Opus keeps the dominant
// tone of each symbol at 32 kbps (measured: every marker survives; 4 ms
// symbols or tones up to 4.75 kHz lost some). A two-symbol preamble, a
// purity test per symbol and a 16-bit check make false detections in speech
// negligible. Payload: seq (32 bits), capture time ms (low 32 bits, unwrapped
// to the instant nearest to now), check (16 bits) = 20 symbols.
const (
	amSymbolDur   = 5 * time.Millisecond
	amLowHz       = 600.0
	amAmplitude   = 0.4 // of full scale
	amTones       = 16
	amPayloadSyms = 20
	amPreamble0   = 15
	amPreamble1   = 2
	amSyms        = 2 + amPayloadSyms
	amRamp        = 0.001 // s, fade in/out of the whole marker
	// amMinPurity is the share of a window's energy the strongest tone must
	// hold for the window to count as a marker symbol.
	amMinPurity = 0.3
	amTimeBits  = 32
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

func amPayload(seq uint32, ms uint64) [10]byte {
	var b [10]byte
	binary.BigEndian.PutUint32(b[0:4], seq)
	binary.BigEndian.PutUint32(b[4:8], uint32(ms))
	binary.BigEndian.PutUint16(b[8:10], uint16(crc32.ChecksumIEEE(b[:8])^0xA5C3))
	return b
}

func amSymbols(seq uint32, ms uint64) [amSyms]int {
	var s [amSyms]int
	s[0], s[1] = amPreamble0, amPreamble1
	p := amPayload(seq, ms)
	for i, b := range p {
		s[2+2*i] = int(b >> 4)
		s[3+2*i] = int(b & 0xF)
	}
	return s
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

// symbolAt classifies the window pcm[p:p+n]: the strongest tone and whether
// it is pure enough to be a marker symbol.
func (g amGeom) symbolAt(pcm []int16, p int) (int, bool) {
	x := pcm[p : p+g.n]
	var energy float64
	for _, v := range x {
		f := float64(v)
		energy += f * f
	}
	// Ignore near-silence: a marker is loud by construction.
	if energy < float64(g.n)*100*100 {
		return 0, false
	}
	best, bestP := 0, 0.0
	for k, c := range g.coeffs {
		var s1, s2 float64
		for _, v := range x {
			s0 := float64(v) + c*s1 - s2
			s2, s1 = s1, s0
		}
		pw := s1*s1 + s2*s2 - c*s1*s2
		if pw > bestP {
			best, bestP = k, pw
		}
	}
	// A pure tone of energy E gives Goertzel power E*n/2.
	purity := bestP / (energy * float64(g.n) / 2)
	return best, purity >= amMinPurity
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
			s, ok := g.symbolAt(pcm, i*step)
			c.sym, c.ok, c.done = int8(s), ok, true
		}
		return int(c.sym), c.ok
	}
	var out []AudioMarker
	lastIdx := nPos - 1 - (amSyms-1)*perSym
	for i := 0; i <= lastIdx; i++ {
		if s, ok := at(i); !ok || s != amPreamble0 {
			continue
		}
		if s, ok := at(i + perSym); !ok || s != amPreamble1 {
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
	var first [10]byte
	dFirst, dLast := -1, -1
	for d := 0; d <= perSym; d++ {
		var p [10]byte
		good := true
		for j := range amPayloadSyms {
			s, ok := at(i + d + (2+j)*perSym)
			if !ok {
				good = false
				break
			}
			if j%2 == 0 {
				p[j/2] = byte(s) << 4
			} else {
				p[j/2] |= byte(s)
			}
		}
		good = good && binary.BigEndian.Uint16(p[8:10]) == uint16(crc32.ChecksumIEEE(p[:8])^0xA5C3)
		if dFirst >= 0 && (!good || p != first) {
			break
		}
		if good {
			if dFirst < 0 {
				dFirst, first = d, p
			}
			dLast = d
		}
	}
	if dFirst < 0 {
		return AudioMarker{}, 0, false
	}
	ms := unwrapMillis(uint64(binary.BigEndian.Uint32(first[4:8])), amTimeBits, now.UnixMilli())
	return AudioMarker{
		Seq:         binary.BigEndian.Uint32(first[0:4]),
		CaptureTime: time.UnixMilli(ms),
		Offset:      (2*i + dFirst + dLast) * step / 2,
	}, i + dLast, true
}
