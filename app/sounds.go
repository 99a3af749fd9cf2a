package app

import (
	"fmt"
	"sync"
	"time"

	"github.com/peercall/peercall/capture"
	"github.com/peercall/peercall/codec"
)

// PlaySound plays a mono PCM16 WAV once on the output device (the null sink
// when there is none) and releases the device when it ends. stop cuts it short.
func PlaySound(wav []byte, device string) (stop func(), err error) {
	s, err := newSound(wav)
	if err != nil {
		return nil, err
	}
	p, err := codec.NewPlayer(device, s.rate, 1, s.pull)
	if err != nil {
		_ = s.src.Close()
		return nil, fmt.Errorf("play sound: %w", err)
	}
	var once sync.Once
	stop = func() { once.Do(func() { _ = p.Close(); _ = s.src.Close() }) }
	// A little slack so that the device drains its buffer before it closes.
	time.AfterFunc(s.dur+200*time.Millisecond, stop)
	return stop, nil
}

// sound feeds one WAV to a player's pull callback, then silence.
type sound struct {
	src  *capture.AudioSource
	rate int
	dur  time.Duration

	mu    sync.Mutex
	buf   []int16
	ended bool
}

func newSound(wav []byte) (*sound, error) {
	src, err := capture.NewWAVSource(wav, false, capture.AudioConfig{MarkerInterval: -1})
	if err != nil {
		return nil, fmt.Errorf("sound: %w", err)
	}
	// The WAV header gives the length: data bytes / 2 / rate.
	dur := time.Duration(float64(len(wav)-44) / 2 / float64(src.SampleRate()) * float64(time.Second))
	return &sound{src: src, rate: src.SampleRate(), dur: dur}, nil
}

// pull is the player's callback: it runs on the audio thread.
func (s *sound) pull(pcm []int16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range pcm {
		for len(s.buf) == 0 && !s.ended {
			next, err := s.src.Next()
			if err != nil {
				s.ended = true
				break
			}
			s.buf = next
		}
		if len(s.buf) == 0 {
			pcm[i] = 0
			continue
		}
		pcm[i], s.buf = s.buf[0], s.buf[1:]
	}
}
