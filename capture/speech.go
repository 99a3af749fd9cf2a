package capture

import (
	"math"
	"math/rand/v2"
)

// NewSpeechSource is a speech-like signal: a glottal pulse train with a
// moving pitch contour, shaped by formant resonators that glide between vowel
// targets, chopped into syllables (~4/s) and words by an envelope, with
// fricative onsets. Opus' classifier treats it as speech, which matters
// because Opus in-band FEC is only produced for speech frames. Output is
// deterministic.
func NewSpeechSource(cfg AudioConfig) (*AudioSource, error) {
	rate := cfg.SampleRate
	if rate == 0 {
		rate = 48000
	}
	return newAudioSource(cfg, newSpeechGen(rate, 1))
}

// vowel formant targets (Hz), after Peterson & Barney averages.
var vowels = [][3]float64{
	{730, 1090, 2440}, // a
	{270, 2290, 3010}, // i
	{300, 870, 2240},  // u
	{530, 1840, 2480}, // e
	{570, 840, 2410},  // o
}

var formantBW = [4]float64{80, 100, 140, 220}

// resonator is a two-pole filter normalised to unit gain at DC.
type resonator struct {
	a1, a2, b0 float64
	y1, y2     float64
}

func (r *resonator) set(freq, bw, rate float64) {
	rr := math.Exp(-math.Pi * bw / rate)
	c := 2 * rr * math.Cos(2*math.Pi*freq/rate)
	r.a1, r.a2 = c, -rr*rr
	r.b0 = 1 - c + rr*rr
}

func (r *resonator) step(x float64) float64 {
	y := r.b0*x + r.a1*r.y1 + r.a2*r.y2
	r.y2, r.y1 = r.y1, y
	return y
}

type speechGen struct {
	rate float64
	rnd  *rand.Rand

	t         float64 // seconds since start
	glotPhase float64 // 0..1 within a pitch period
	prevGlot  float64

	// current syllable
	sylLeft, sylLen int
	pause           bool
	fricLen         int
	from, to        [3]float64
	cur             [3]float64
	form            [4]resonator
	fric            resonator
	hp              float64
	updateCountdown int
}

func newSpeechGen(rate int, seed uint64) *speechGen {
	g := &speechGen{rate: float64(rate), rnd: rand.New(rand.NewPCG(seed, 0x5eec4))}
	g.to = vowels[0]
	g.cur = g.to
	g.fric.set(min(4500, 0.4*g.rate), 1500, g.rate)
	g.setFormants()
	return g
}

func (g *speechGen) setFormants() {
	for i := range 3 {
		g.form[i].set(g.cur[i], formantBW[i], g.rate)
	}
	g.form[3].set(min(3500, 0.45*g.rate), formantBW[3], g.rate)
}

func (g *speechGen) nextSyllable() {
	ms := func(lo, hi int) int { return int(float64(lo+g.rnd.IntN(hi-lo+1)) * g.rate / 1000) }
	// Words of 2-5 syllables separated by pauses, like running speech.
	if !g.pause && g.rnd.IntN(4) == 0 {
		g.pause = true
		g.sylLen = ms(150, 350)
	} else {
		g.pause = false
		g.sylLen = ms(170, 280)
		g.from = g.cur
		g.to = vowels[g.rnd.IntN(len(vowels))]
		g.fricLen = 0
		if g.rnd.IntN(3) == 0 {
			g.fricLen = ms(30, 60)
		}
	}
	g.sylLeft = g.sylLen
}

func (g *speechGen) fill(buf []float64) error {
	dt := 1 / g.rate
	glide := int(0.06 * g.rate)
	for i := range buf {
		if g.sylLeft <= 0 {
			g.nextSyllable()
		}
		el := g.sylLen - g.sylLeft // samples into syllable
		g.sylLeft--
		g.t += dt
		if g.pause {
			// Quiet room noise rather than digital silence.
			buf[i] = 0.0005 * (g.rnd.Float64()*2 - 1)
			continue
		}
		// Formant glide, recomputed every 32 samples: cheap and smooth.
		if g.updateCountdown--; g.updateCountdown <= 0 {
			g.updateCountdown = 32
			f := min(1, float64(el)/float64(glide))
			f = 0.5 - 0.5*math.Cos(math.Pi*f)
			for k := range 3 {
				g.cur[k] = g.from[k] + (g.to[k]-g.from[k])*f
			}
			g.setFormants()
		}
		// Pitch: declining contour with slow intonation and a little jitter.
		f0 := 125 + 25*math.Sin(2*math.Pi*0.9*g.t) - 10*math.Sin(2*math.Pi*0.13*g.t) + 2*(g.rnd.Float64()-0.5)
		g.glotPhase += f0 * dt
		if g.glotPhase >= 1 {
			g.glotPhase -= 1
		}
		// Rosenberg glottal pulse; its derivative models lip radiation.
		var glot float64
		switch p := g.glotPhase; {
		case p < 0.4:
			glot = 0.5 * (1 - math.Cos(math.Pi*p/0.4))
		case p < 0.56:
			glot = math.Cos(math.Pi * (p - 0.4) / 0.32)
		}
		src := (glot - g.prevGlot) * g.rate / (f0 * 6)
		g.prevGlot = glot
		src += 0.02 * (g.rnd.Float64()*2 - 1) // aspiration
		y := src
		for k := range g.form {
			y = g.form[k].step(y)
		}
		// Syllable envelope: raised-cosine attack and release.
		env := 1.0
		att, rel := int(0.025*g.rate), int(0.045*g.rate)
		if el < att {
			env = 0.5 - 0.5*math.Cos(math.Pi*float64(el)/float64(att))
		} else if g.sylLeft < rel {
			env = 0.5 - 0.5*math.Cos(math.Pi*float64(g.sylLeft)/float64(rel))
		}
		v := 0.25 * y * env
		if el < g.fricLen {
			// Fricative onset: high-passed noise through a high resonance.
			n := g.rnd.Float64()*2 - 1
			hpOut := n - g.hp
			g.hp = n
			fe := math.Sin(math.Pi * float64(el) / float64(g.fricLen))
			v = v*float64(el)/float64(g.fricLen) + 0.15*fe*g.fric.step(hpOut)
		}
		buf[i] = math.Tanh(v*1.2) / 1.2
	}
	return nil
}
