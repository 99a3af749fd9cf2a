package capture

import (
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"time"

	"github.com/pion/mediadevices/pkg/io/audio"
	"github.com/pion/mediadevices/pkg/wave"
)

// AudioConfig describes a synthetic or file audio source. Output is mono
// PCM16.
type AudioConfig struct {
	// SampleRate in Hz; 0 means 48000 (for WAV: the file's rate).
	SampleRate int
	// FrameDuration is the chunk length returned by Next; 0 means 20 ms.
	FrameDuration time.Duration
	// Paced makes Next wait for each chunk's slot on the real-time clock.
	Paced bool
	// MarkerInterval spaces audio markers; 0 means 500 ms, negative
	// disables them. It must exceed AudioMarkerDuration.
	MarkerInterval time.Duration
	// Now overrides the wall clock stamped into markers (tests).
	Now func() time.Time
}

// DefaultMarkerInterval is the audio marker spacing when none is set.
const DefaultMarkerInterval = 500 * time.Millisecond

// AudioFrame is one chunk of mono PCM with the capture time of its first
// sample.
type AudioFrame struct {
	PCM         []int16
	SampleRate  int
	CaptureTime time.Time
}

// generator fills buf with the next samples in [-1, 1].
type generator interface {
	fill(buf []float64) error
}

// AudioSource produces mono PCM16 chunks from a generator (tone, speech-like
// signal, WAV file) and overlays audio markers at a fixed interval.
type AudioSource struct {
	cfg      AudioConfig
	gen      generator
	frameLen int
	interval int // marker interval in samples, 0 = none
	geom     amGeom

	mu      sync.Mutex
	pos     int64 // samples produced so far
	seq     uint32
	mkSig   []float64
	mkW     []float64
	mkPos   int // index into mkSig of the next sample, len(mkSig) = idle
	scratch []float64
	pace    pacer
	closed  chan struct{}
	once    sync.Once
}

func newAudioSource(cfg AudioConfig, gen generator) (*AudioSource, error) {
	if cfg.SampleRate == 0 {
		cfg.SampleRate = 48000
	}
	if cfg.SampleRate < 8000 || cfg.SampleRate > 192000 {
		return nil, fmt.Errorf("audio rate %d: %w", cfg.SampleRate, ErrBadConfig)
	}
	if cfg.FrameDuration == 0 {
		cfg.FrameDuration = 20 * time.Millisecond
	}
	frameLen := int(int64(cfg.SampleRate) * int64(cfg.FrameDuration) / int64(time.Second))
	if frameLen < 1 || cfg.FrameDuration > time.Second {
		return nil, fmt.Errorf("audio frame duration %v: %w", cfg.FrameDuration, ErrBadConfig)
	}
	if cfg.MarkerInterval == 0 {
		cfg.MarkerInterval = DefaultMarkerInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &AudioSource{cfg: cfg, gen: gen, frameLen: frameLen, closed: make(chan struct{})}
	if cfg.MarkerInterval > 0 {
		g, err := newAMGeom(cfg.SampleRate)
		if err != nil {
			return nil, err
		}
		if cfg.MarkerInterval <= AudioMarkerDuration() {
			return nil, fmt.Errorf("marker interval %v shorter than marker: %w", cfg.MarkerInterval, ErrBadConfig)
		}
		s.geom = g
		s.interval = int(int64(cfg.SampleRate) * int64(cfg.MarkerInterval) / int64(time.Second))
		s.mkSig = make([]float64, g.Len())
		s.mkW = make([]float64, g.Len())
		s.mkPos = g.Len()
	}
	return s, nil
}

// SampleRate is the rate of the PCM the source returns.
func (s *AudioSource) SampleRate() int { return s.cfg.SampleRate }

// FrameLen is the number of samples per chunk.
func (s *AudioSource) FrameLen() int { return s.frameLen }

// NextFrame returns the next chunk. Markers start at multiples of the
// marker interval (in samples since the first chunk) and may straddle
// chunks; each is stamped with the capture time of its first sample.
func (s *AudioSource) NextFrame() (AudioFrame, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.closed:
		return AudioFrame{}, ErrClosed
	default:
	}
	if s.cfg.Paced {
		if err := s.pace.wait(s.cfg.FrameDuration, s.closed); err != nil {
			return AudioFrame{}, err
		}
	}
	t := s.cfg.Now()
	if s.cfg.Paced {
		// Like a microphone, a paced chunk is released when its last sample
		// is due, so its first sample was captured one chunk earlier.
		t = t.Add(-s.cfg.FrameDuration)
	}
	if cap(s.scratch) < s.frameLen {
		s.scratch = make([]float64, s.frameLen)
	}
	buf := s.scratch[:s.frameLen]
	if err := s.gen.fill(buf); err != nil {
		return AudioFrame{}, err
	}
	out := make([]int16, s.frameLen)
	for i, v := range buf {
		v *= 32767
		if s.interval > 0 {
			if (s.pos+int64(i))%int64(s.interval) == 0 {
				at := t.Add(time.Duration(int64(i) * int64(time.Second) / int64(s.cfg.SampleRate)))
				s.geom.render(s.seq, at, s.mkSig, s.mkW)
				s.seq++
				s.mkPos = 0
			}
			if s.mkPos < len(s.mkSig) {
				// Fade the programme out while the marker fades in.
				v = v*(1-s.mkW[s.mkPos]) + s.mkSig[s.mkPos]
				s.mkPos++
			}
		}
		out[i] = int16(max(-32768, min(32767, math.Round(v))))
	}
	s.pos += int64(s.frameLen)
	return AudioFrame{PCM: out, SampleRate: s.cfg.SampleRate, CaptureTime: t}, nil
}

// Next returns the next chunk of mono PCM16 (the plain pull API).
func (s *AudioSource) Next() ([]int16, error) {
	f, err := s.NextFrame()
	return f.PCM, err
}

// Close stops the source; a Next blocked in pacing returns ErrClosed.
func (s *AudioSource) Close() error {
	s.once.Do(func() { close(s.closed) })
	return nil
}

// AudioReader exposes the source as a mediadevices audio.Reader producing
// mono Int16Interleaved chunks (io.EOF after Close or at the end of a
// non-looping file).
func (s *AudioSource) AudioReader() audio.Reader {
	return audio.ReaderFunc(func() (wave.Audio, func(), error) {
		pcm, err := s.Next()
		if err != nil {
			if errors.Is(err, ErrClosed) {
				err = io.EOF
			}
			return nil, func() {}, err
		}
		a := wave.NewInt16Interleaved(wave.ChunkInfo{Len: len(pcm), Channels: 1, SamplingRate: s.cfg.SampleRate})
		copy(a.Data, pcm)
		return a, func() {}, nil
	})
}

// toneGen is a plain sine.
type toneGen struct {
	phase, step, amp float64
}

func (g *toneGen) fill(buf []float64) error {
	for i := range buf {
		buf[i] = g.amp * math.Sin(g.phase)
		g.phase += g.step
		if g.phase > 2*math.Pi {
			g.phase -= 2 * math.Pi
		}
	}
	return nil
}

// NewToneSource is a sine at freq Hz, amplitude -10 dBFS.
func NewToneSource(freq float64, cfg AudioConfig) (*AudioSource, error) {
	rate := cfg.SampleRate
	if rate == 0 {
		rate = 48000
	}
	if !(freq > 0 && freq < float64(rate)/2) {
		return nil, fmt.Errorf("tone %v Hz at %d Hz: %w", freq, rate, ErrBadConfig)
	}
	return newAudioSource(cfg, &toneGen{step: 2 * math.Pi * freq / float64(rate), amp: 0.316})
}
