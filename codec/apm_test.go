//go:build cgo

package codec

import (
	"errors"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/peercall/peercall/capture/pulsetest"
)

// Figures measured on the development machine (Debian 12, libwebrtc-audio-
// processing 0.3-1+b1, 48 kHz mono) are in comments at each assertion.

const (
	apmRate  = 48000
	apmFrame = apmRate / 100
	// apmConverge is how long the tests let the module adapt before they
	// measure.
	apmConverge = 2 * apmRate
	farText     = "The quick brown fox jumps over the lazy dog while the radio plays an old song about the sea."
	nearText    = "Can you hear me now? I think the connection is much better than it was this morning."
)

var (
	apmSpeechMu sync.Mutex
	apmSpeech   = map[string][]int16{}
)

// spoken is text spoken by espeak-ng at 48 kHz (peak -3 dBFS), repeated with
// 300 ms pauses until it is n samples long. Cached: several tests use it.
func spoken(t testing.TB, text string, n int) []int16 {
	t.Helper()
	apmSpeechMu.Lock()
	pcm, ok := apmSpeech[text]
	if !ok {
		pcm = pulsetest.Speech(t, text, apmRate, 1)
		apmSpeech[text] = pcm
	}
	apmSpeechMu.Unlock()
	out := make([]int16, 0, n+len(pcm))
	for len(out) < n {
		out = append(out, pcm...)
		out = append(out, make([]int16, apmRate*3/10)...)
	}
	return out[:n]
}

// echoRoom is a simulated speaker-to-microphone path: the direct sound delay
// later at gain, then a dozen reflections over the next 40 ms decaying
// exponentially (a small office). drift > 0 makes the capture clock that
// much faster than the playback clock (0.001 = 0.1 %): the far signal is
// read at (1+drift) × the sample index, by linear interpolation.
type echoRoom struct {
	delay time.Duration
	gain  float64 // linear, of the direct sound
	drift float64
}

func (r echoRoom) echo(far []int16) []float64 {
	d := int(r.delay.Seconds() * apmRate)
	type tap struct {
		at int
		g  float64
	}
	taps := []tap{{d, r.gain}}
	seed := uint32(7)
	for k := 1; k <= 12; k++ {
		seed = seed*1664525 + 1013904223
		at := d + k*apmRate*40/1000/12 - int(seed>>28)
		sign := 1.0
		if seed&1 == 1 {
			sign = -1
		}
		taps = append(taps, tap{at, sign * r.gain * 0.5 * math.Exp(-float64(k)/4)})
	}
	src := make([]float64, len(far))
	for i := range far {
		pos := float64(i) * (1 + r.drift)
		j := int(pos)
		if j+1 >= len(far) {
			break
		}
		f := pos - float64(j)
		src[i] = (1-f)*float64(far[j]) + f*float64(far[j+1])
	}
	out := make([]float64, len(far))
	for _, tp := range taps {
		for i := tp.at; i < len(out); i++ {
			out[i] += tp.g * src[i-tp.at]
		}
	}
	return out
}

// whiteNoise is n samples of uniform white noise at level dBFS rms.
func whiteNoise(n int, level float64, seed uint32) []float64 {
	amp := 32768 * math.Pow(10, level/20) * math.Sqrt(3) // uniform: rms = amp/√3
	out := make([]float64, n)
	for i := range out {
		seed = seed*1664525 + 1013904223
		out[i] = amp * (2*float64(seed>>8)/float64(1<<24) - 1)
	}
	return out
}

func mixPCM(parts ...[]float64) []int16 {
	out := make([]int16, len(parts[0]))
	for i := range out {
		var v float64
		for _, p := range parts {
			v += p[i]
		}
		out[i] = int16(max(-32768, min(32767, math.Round(v))))
	}
	return out
}

func floats(x []int16) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

func sumSquares(x []int16) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return s
}

// ratioDB is the energy of a over the energy of b, in dB.
func ratioDB(a, b []int16) float64 { return 10 * math.Log10(sumSquares(a)/sumSquares(b)) }

func dBFS(x []int16) float64 { return 20 * math.Log10(rms(x)/32768) }

// lagOf is the delay (0..maxLag samples) of got behind ref that correlates
// best over ref[from:from+n], and that correlation.
func lagOf(ref, got []int16, from, n, maxLag int) (int, float64) {
	r := floats(ref[from : from+n])
	g := floats(got[from : from+n+maxLag])
	best, bestLag := math.Inf(-1), 0
	for lag := 0; lag <= maxLag; lag++ {
		if c := correlation(r, g[lag:lag+n]); c > best {
			best, bestLag = c, lag
		}
	}
	return bestLag, best
}

// runAPM plays far (rendered) and capture through a processor frame by
// frame, as the speaker callback and the mic reader do, and returns the
// processed capture and the module's stats at the end.
func runAPM(t testing.TB, cfg AudioProcessingConfig, far, capture []int16, hint time.Duration) ([]int16, AudioProcessingStats) {
	t.Helper()
	p, err := NewAudioProcessor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	out := append([]int16(nil), capture...)
	for i := 0; i+apmFrame <= len(out); i += apmFrame {
		if err := p.ProcessRender(far[i : i+apmFrame]); err != nil {
			t.Fatalf("render frame %d: %v", i/apmFrame, err)
		}
		if err := p.ProcessCapture(out[i:i+apmFrame], hint); err != nil {
			t.Fatalf("capture frame %d: %v", i/apmFrame, err)
		}
	}
	st, err := p.Stats()
	if err != nil {
		t.Fatal(err)
	}
	return out, st
}

// TestAudioProcessorEcho plays espeak-ng speech through a simulated room
// (plus a -70 dBFS mic noise floor) and measures the echo return loss
// enhancement, energy(capture) / energy(processed), after 2 s of
// convergence.
func TestAudioProcessorEcho(t *testing.T) {
	n := 12 * apmRate
	far := spoken(t, farText, n)
	floor := whiteNoise(n, -70, 3)
	ms := time.Millisecond
	aec := AudioProcessingConfig{EchoCancel: true}
	tests := []struct {
		name     string
		cfg      AudioProcessingConfig
		room     echoRoom
		hint     time.Duration
		min, max float64 // dB
	}{
		// Measured: 30.9 dB (echo -28.8 dBFS rms at the mic).
		{"aec -9 dB", aec, echoRoom{80 * ms, 0.35, 0}, 80 * ms, 25, 99},
		// Measured: 32.6 dB.
		{"aec -6 dB", aec, echoRoom{80 * ms, 0.5, 0}, 80 * ms, 25, 99},
		// Delay-agnostic: no hint at all. Measured: 30.9 dB.
		{"aec no delay hint", aec, echoRoom{80 * ms, 0.35, 0}, 0, 25, 99},
		// Measured: 34.0 dB. (With a hint of 0 instead: 2.5 dB, not cancelled.)
		{"aec 250 ms room", aec, echoRoom{250 * ms, 0.35, 0}, 250 * ms, 25, 99},
		// Capture clock 0.1 % fast: the delay shrinks by 12 ms over the run.
		// Measured: 31.0 dB.
		{"aec drift 0.1%", aec, echoRoom{80 * ms, 0.35, 0.001}, 80 * ms, 20, 99},
		// The whole chain (AGC may lift what is left). Measured: 31.8 dB.
		{"full chain", DefaultAudioProcessingConfig(), echoRoom{80 * ms, 0.35, 0}, 80 * ms, 25, 99},
		// Nothing on: the module passes frames through. Measured: 0.0 dB.
		{"off", AudioProcessingConfig{}, echoRoom{80 * ms, 0.35, 0}, 80 * ms, -1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			capture := mixPCM(tt.room.echo(far), floor)
			out, st := runAPM(t, tt.cfg, far, capture, tt.hint)
			erle := ratioDB(capture[apmConverge:], out[apmConverge:])
			t.Logf("ERLE %.1f dB (echo %.1f dBFS rms at the mic); module: ERL %.0f ERLE %.0f dB, delay %v±%v",
				erle, dBFS(capture[apmConverge:]), st.ERL, st.ERLE, st.Delay, st.DelayStdDev)
			if erle < tt.min || erle > tt.max {
				t.Errorf("ERLE %.1f dB, want %.0f..%.0f", erle, tt.min, tt.max)
			}
			if tt.cfg.EchoCancel && !st.EchoValid {
				t.Errorf("module reported no echo metrics: %+v", st)
			}
		})
	}
}

// TestAudioProcessorDoubleTalk adds near-end speech (another sentence) for
// 4 s in the middle of the echo and checks that it survives the canceller:
// its level within 6 dB of the near-end alone and a correlation with it of
// at least 0.5, after aligning for the module's own delay.
func TestAudioProcessorDoubleTalk(t *testing.T) {
	n := 12 * apmRate
	far := spoken(t, farText, n)
	r := echoRoom{80 * time.Millisecond, 0.35, 0}
	from, to := 6*apmRate, 10*apmRate
	near := make([]float64, n)
	copy(near[from:to], floats(spoken(t, nearText, to-from)))
	nearPCM := mixPCM(near)
	capture := mixPCM(r.echo(far), near, whiteNoise(n, -70, 3))
	for _, tt := range []struct {
		name string
		cfg  AudioProcessingConfig
	}{
		// Measured: level -4.5 dB, correlation 0.79 (lag 383 samples: the
		// module's own delay); echo before the near-end cancelled by 27.3 dB.
		{"aec", AudioProcessingConfig{EchoCancel: true}},
		// Measured: +0.7 dB, correlation 0.93 (the echo is still in).
		{"off", AudioProcessingConfig{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, _ := runAPM(t, tt.cfg, far, capture, r.delay)
			lag, _ := lagOf(nearPCM, out, from+apmRate/2, apmRate/2, apmFrame)
			got := out[from+lag : to]
			want := nearPCM[from : to-lag]
			lvl := ratioDB(got, want)
			corr := correlation(floats(got), floats(want))
			erle := ratioDB(capture[apmConverge:from], out[apmConverge:from])
			t.Logf("near-end segment: level %+.1f dB vs near alone, correlation %.2f at lag %d; ERLE before it %.1f dB", lvl, corr, lag, erle)
			if math.Abs(lvl) > 6 || corr < 0.5 {
				t.Errorf("near-end level %+.1f dB (want within 6 dB), correlation %.2f (want ≥ 0.5)", lvl, corr)
			}
		})
	}
}

// TestAudioProcessorNoise is speech over stationary white noise at -30 dBFS:
// the noise-only parts must drop by 10 dB or more, the speech part stay
// within 3 dB of the clean speech.
func TestAudioProcessorNoise(t *testing.T) {
	n := 10 * apmRate
	from, to := 4*apmRate, 7*apmRate
	speech := make([]float64, n)
	copy(speech[from:to], floats(spoken(t, nearText, to-from)))
	noise := whiteNoise(n, -30, 99)
	speechPCM, noisePCM := mixPCM(speech), mixPCM(noise)
	capture := mixPCM(speech, noise)
	silence := make([]int16, n)
	quiet := func(x []int16) []int16 {
		return append(append([]int16(nil), x[apmConverge:from]...), x[to+apmRate/2:]...)
	}
	for _, tt := range []struct {
		name      string
		cfg       AudioProcessingConfig
		minReduce float64
	}{
		// Measured: noise down 16.9 dB, speech segment -0.4 dB.
		{"ns", AudioProcessingConfig{NoiseSuppress: true}, 10},
		// Measured: 0.0 dB, +0.6 dB (the noise adds to the speech).
		{"off", AudioProcessingConfig{}, -1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, st := runAPM(t, tt.cfg, silence, capture, 0)
			reduce := ratioDB(quiet(noisePCM), quiet(out))
			lvl := ratioDB(out[from:to], speechPCM[from:to])
			t.Logf("noise %.1f dBFS, reduced by %.1f dB; speech segment %+.1f dB vs clean speech; speech probability %.2f",
				dBFS(quiet(noisePCM)), reduce, lvl, st.SpeechProbability)
			if reduce < tt.minReduce {
				t.Errorf("noise reduced by %.1f dB, want ≥ %.0f", reduce, tt.minReduce)
			}
			if math.Abs(lvl) > 3 {
				t.Errorf("speech segment %+.1f dB vs clean, want within 3 dB", lvl)
			}
		})
	}
}

// TestAudioProcessorGainAndHighPass checks the two simple parts: the AGC
// lifts quiet speech, the high-pass filter removes a DC offset, rumble and
// hum but not the voice.
func TestAudioProcessorGainAndHighPass(t *testing.T) {
	n := 8 * apmRate
	speech := floats(spoken(t, nearText, n))
	quiet := make([]float64, n)
	for i, v := range speech {
		quiet[i] = v * 0.1 // -20 dB: peak -23 dBFS
	}
	silence := make([]int16, n)

	t.Run("agc", func(t *testing.T) {
		in := mixPCM(quiet)
		out, _ := runAPM(t, AudioProcessingConfig{GainControl: true}, silence, in, 0)
		gain := ratioDB(out[apmConverge:], in[apmConverge:])
		// Measured: +9.8 dB.
		t.Logf("AGC gain on speech at %.1f dBFS rms: %+.1f dB", dBFS(in[apmConverge:]), gain)
		if gain < 6 {
			t.Errorf("AGC gain %+.1f dB, want ≥ 6 dB", gain)
		}
	})
	t.Run("high-pass", func(t *testing.T) {
		for _, tt := range []struct {
			hz       float64
			min, max float64 // attenuation, dB
		}{
			{0, 40, 99},   // DC offset; measured: 62.9 dB
			{30, 15, 99},  // rumble; measured: 22.3 dB
			{50, 10, 99},  // mains hum; measured: 13.1 dB
			{1000, -1, 1}, // voice; measured: -0.1 dB
		} {
			x := make([]float64, n)
			for i := range x {
				x[i] = 3000 * math.Cos(2*math.Pi*tt.hz*float64(i)/apmRate)
			}
			in := mixPCM(x)
			out, _ := runAPM(t, AudioProcessingConfig{HighPass: true}, silence, in, 0)
			att := ratioDB(in[apmRate:], out[apmRate:])
			t.Logf("%v Hz attenuated by %.1f dB", tt.hz, att)
			if att < tt.min || att > tt.max {
				t.Errorf("%v Hz attenuated by %.1f dB, want %.0f..%.0f", tt.hz, att, tt.min, tt.max)
			}
		}
	})
}

// TestAudioProcessorLatency measures how far the module delays the capture
// signal. The API itself adds nothing (frames are processed in place), but
// the band-split filter bank and the echo canceller's and noise
// suppressor's block processing do.
func TestAudioProcessorLatency(t *testing.T) {
	n := 4 * apmRate
	in := spoken(t, nearText, n)
	silence := make([]int16, n)
	for _, tt := range []struct {
		name string
		cfg  AudioProcessingConfig
		max  int // samples
	}{
		{"off", AudioProcessingConfig{}, 0},                          // measured: 0
		{"high-pass", AudioProcessingConfig{HighPass: true}, 96},     // measured: 46 (1 ms)
		{"ns", AudioProcessingConfig{NoiseSuppress: true}, apmFrame}, // measured: 335 (7 ms)
		{"aec", AudioProcessingConfig{EchoCancel: true}, apmFrame},   // measured: 383 (8 ms)
		{"full chain", DefaultAudioProcessingConfig(), 720},          // measured: 671 (14 ms)
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, _ := runAPM(t, tt.cfg, silence, in, 0)
			lag, corr := lagOf(in, out, apmRate, apmRate/4, 3*apmFrame)
			t.Logf("added latency %d samples (%.1f ms), correlation %.3f", lag, float64(lag)*1000/apmRate, corr)
			if lag > tt.max || corr < 0.8 {
				t.Errorf("lag %d samples (want ≤ %d), correlation %.3f (want ≥ 0.8)", lag, tt.max, corr)
			}
		})
	}
}

func TestAudioProcessorBadInput(t *testing.T) {
	for _, cfg := range []AudioProcessingConfig{{SampleRate: 44100}, {SampleRate: -1}} {
		if _, err := NewAudioProcessor(cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("NewAudioProcessor(%+v): %v, want ErrInvalidConfig", cfg, err)
		}
	}
	p, err := NewAudioProcessor(DefaultAudioProcessingConfig())
	if err != nil {
		t.Fatal(err)
	}
	if got := p.FrameSamples(); got != 480 {
		t.Errorf("FrameSamples %d, want 480", got)
	}
	for _, n := range []int{0, 479, 481, 960} {
		pcm := make([]int16, n)
		if err := p.ProcessRender(pcm); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("ProcessRender(%d samples): %v, want ErrInvalidConfig", n, err)
		}
		if err := p.ProcessCapture(pcm, 0); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("ProcessCapture(%d samples): %v, want ErrInvalidConfig", n, err)
		}
	}
	if err := p.SetConfig(AudioProcessingConfig{SampleRate: 16000}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("SetConfig with another rate: %v, want ErrInvalidConfig", err)
	}
	if err := p.SetConfig(AudioProcessingConfig{NoiseSuppress: true}); err != nil {
		t.Errorf("SetConfig: %v", err)
	}
	if got := p.Config(); got != (AudioProcessingConfig{SampleRate: 48000, NoiseSuppress: true}) {
		t.Errorf("Config after SetConfig: %+v", got)
	}
	// Out of range hints are clamped, not errors.
	frame := make([]int16, 480)
	for _, d := range []time.Duration{-time.Second, time.Hour} {
		if err := p.ProcessCapture(frame, d); err != nil {
			t.Errorf("ProcessCapture with hint %v: %v", d, err)
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := p.ProcessRender(frame); !errors.Is(err, ErrClosed) {
		t.Errorf("ProcessRender after Close: %v, want ErrClosed", err)
	}
	if err := p.ProcessCapture(frame, 0); !errors.Is(err, ErrClosed) {
		t.Errorf("ProcessCapture after Close: %v, want ErrClosed", err)
	}
	if err := p.SetConfig(AudioProcessingConfig{}); !errors.Is(err, ErrClosed) {
		t.Errorf("SetConfig after Close: %v, want ErrClosed", err)
	}
	if _, err := p.Stats(); !errors.Is(err, ErrClosed) {
		t.Errorf("Stats after Close: %v, want ErrClosed", err)
	}
}

// TestAudioProcessorConcurrent drives render and capture from two
// goroutines, as the speaker callback and the mic reader do, while a third
// reads stats and toggles parts (run with -race), then closes mid-stream.
func TestAudioProcessorConcurrent(t *testing.T) {
	p, err := NewAudioProcessor(DefaultAudioProcessingConfig())
	if err != nil {
		t.Fatal(err)
	}
	far := speechLike(200*apmFrame, apmRate)
	var wg sync.WaitGroup
	run := func(f func(i int) error) {
		defer wg.Done()
		for i := 0; ; i = (i + 1) % 200 {
			if err := f(i); errors.Is(err, ErrClosed) {
				return
			} else if err != nil {
				t.Error(err)
				return
			}
		}
	}
	wg.Add(3)
	go run(func(i int) error { return p.ProcessRender(far[i*apmFrame : (i+1)*apmFrame]) })
	go run(func(i int) error {
		frame := append([]int16(nil), far[i*apmFrame:(i+1)*apmFrame]...)
		return p.ProcessCapture(frame, 40*time.Millisecond)
	})
	go run(func(i int) error {
		if _, err := p.Stats(); err != nil {
			return err
		}
		cfg := DefaultAudioProcessingConfig()
		cfg.NoiseSuppress = i%2 == 0
		time.Sleep(5 * time.Millisecond)
		return p.SetConfig(cfg)
	})
	time.Sleep(300 * time.Millisecond)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
}

// TestAudioProcessorRenderDuringCapture: the speaker's callback goes on
// while a microphone frame is being processed: a capture preempted
// halfway (here: one holding the capture side) must not hold up the
// render side, whose deadline is the device's buffer. Settings wait for
// both.
func TestAudioProcessorRenderDuringCapture(t *testing.T) {
	p, err := NewAudioProcessor(DefaultAudioProcessingConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	far := speechLike(apmFrame, apmRate)

	// What ProcessCapture holds while the module works on a frame.
	p.mu.RLock()
	p.capMu.Lock()
	var once sync.Once
	release := func() { once.Do(func() { p.capMu.Unlock(); p.mu.RUnlock() }) }
	defer release() // before Close, which waits for it
	rendered := make(chan error, 1)
	go func() { rendered <- p.ProcessRender(far) }()
	select {
	case err := <-rendered:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		release()
		<-rendered
		t.Fatal("ProcessRender waited for a capture in progress")
	}
	configured := make(chan error, 1)
	go func() { configured <- p.SetConfig(DefaultAudioProcessingConfig()) }()
	select {
	case <-configured:
		t.Fatal("SetConfig ran during a capture")
	case <-time.After(50 * time.Millisecond):
	}
	release()
	if err := <-configured; err != nil {
		t.Fatal(err)
	}
	near := append([]int16(nil), far...)
	if err := p.ProcessCapture(near, 0); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkAudioProcessing is the full chain (AEC, NS, AGC, high-pass) per
// 10 ms frame: one ProcessRender and one ProcessCapture. Goal: ≤ 0.5 ms.
// The module adds no buffering (frames are processed in place, 0 extra
// samples at the API), but its filters delay the voice by ~14 ms in the
// full chain (TestAudioProcessorLatency).
func BenchmarkAudioProcessing(b *testing.B) {
	n := 4 * apmRate
	far := spoken(b, farText, n)
	capture := mixPCM(echoRoom{80 * time.Millisecond, 0.35, 0}.echo(far), whiteNoise(n, -60, 5))
	p, err := NewAudioProcessor(DefaultAudioProcessingConfig())
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	frame := make([]int16, apmFrame)
	frames := n / apmFrame
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := (i % frames) * apmFrame
		copy(frame, capture[k:k+apmFrame])
		if err := p.ProcessRender(far[k : k+apmFrame]); err != nil {
			b.Fatal(err)
		}
		if err := p.ProcessCapture(frame, 80*time.Millisecond); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e6/float64(b.N), "ms/frame")
}
