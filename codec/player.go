package codec

import (
	"fmt"
	"sync"
	"time"
)

// NullDeviceID selects the null sink explicitly: it pulls audio at real time
// and throws it away.
const NullDeviceID = "null"

// miniaudioNullID is the ID ("null" in hex) of the device of miniaudio's
// null backend, which it falls back to on machines without sound.
const miniaudioNullID = "6e756c6c"

// Device is an audio output device.
type Device struct {
	ID      string // pass to NewPlayer
	Name    string // for people
	Default bool
}

// AudioSource fills pcm (interleaved 16-bit samples) completely. The player
// calls it from its audio thread: it must not block.
type AudioSource func(pcm []int16)

// Player plays an AudioSource on an output device, or on the null sink when
// there is no device. Close stops it.
type Player struct {
	sampleRate, channels int
	null                 bool
	name                 string

	stop chan struct{}
	done chan struct{}
	once sync.Once
	out  *devicePlayer // nil for the null sink
}

// Null reports whether the player plays into the null sink.
func (p *Player) Null() bool { return p.null }

// DeviceName is the name of the device the player plays on.
func (p *Player) DeviceName() string { return p.name }

// Close stops playback and releases the device. It is safe to call twice.
func (p *Player) Close() error {
	var err error
	p.once.Do(func() {
		if p.out != nil {
			err = p.out.close()
			return
		}
		close(p.stop)
		<-p.done
	})
	return err
}

func validPlayerFormat(sampleRate, channels int, src AudioSource) error {
	if sampleRate < 8000 || sampleRate > 192000 || channels < 1 || channels > 2 {
		return fmt.Errorf("player format %d Hz x %d: %w", sampleRate, channels, ErrInvalidConfig)
	}
	if src == nil {
		return fmt.Errorf("player without source: %w", ErrInvalidConfig)
	}
	return nil
}

// newNullPlayer pulls 20 ms of audio every 20 ms and discards it, so that a
// jitter buffer behind it drains as it would on a real device.
func newNullPlayer(sampleRate, channels int, src AudioSource) *Player {
	p := &Player{
		sampleRate: sampleRate, channels: channels, null: true, name: NullDeviceID,
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	buf := make([]int16, sampleRate/50*channels)
	go func() {
		defer close(p.done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-tick.C:
				src(buf)
			}
		}
	}()
	return p
}

// JitterSource adapts an AudioJitterBuffer to the player's pull: the device
// asks for any number of samples, the buffer hands out whole frames.
func JitterSource(jb *AudioJitterBuffer) AudioSource {
	var rest []int16
	return func(pcm []int16) {
		for len(pcm) > 0 {
			if len(rest) == 0 {
				rest, _ = jb.Pop()
			}
			n := copy(pcm, rest)
			pcm, rest = pcm[n:], rest[n:]
		}
	}
}

// pickOutput returns the index in list (miniaudio's playback devices in its
// order, its own null device included) of the device want names by ID or
// name, or of the default one for want "". It is -1 when there is none:
// for "" that means miniaudio's default, if any. The index is into list
// itself: an index into a filtered copy picked the wrong device whenever
// the null device came first.
func pickOutput(list []Device, want string) int {
	for i, d := range list {
		if d.ID == miniaudioNullID {
			continue // NullDeviceID does that
		}
		if (want == "" && d.Default) || (want != "" && (d.ID == want || d.Name == want)) {
			return i
		}
	}
	return -1
}
