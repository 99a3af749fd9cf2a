package app

import (
	"sync"
	"time"

	"github.com/peercall/peercall/capture"
	"github.com/peercall/peercall/codec"
)

// PlaySound plays a mono PCM16 WAV once on the output device (the null sink
// when there is none) and releases the device when it ends. stop cuts it short.
func PlaySound(wav []byte, device string) (stop func(), err error) {
	src, err := capture.NewWAVSource(wav, false, capture.AudioConfig{MarkerInterval: -1})
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	var buf []int16
	var ended bool
	pull := func(pcm []int16) {
		mu.Lock()
		defer mu.Unlock()
		for i := range pcm {
			for len(buf) == 0 && !ended {
				next, err := src.Next()
				if err != nil {
					ended = true
					break
				}
				buf = next
			}
			if len(buf) == 0 {
				pcm[i] = 0
				continue
			}
			pcm[i], buf = buf[0], buf[1:]
		}
	}
	p, err := codec.NewPlayer(device, src.SampleRate(), 1, pull)
	if err != nil {
		return nil, err
	}
	// The WAV header gives the length: data bytes / 2 / rate.
	dur := time.Duration(float64(len(wav)-44)/2/float64(src.SampleRate())*float64(time.Second)) + 200*time.Millisecond
	var once sync.Once
	stop = func() { once.Do(func() { _ = p.Close(); _ = src.Close() }) }
	time.AfterFunc(dur, stop)
	return stop, nil
}
