package app

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/peercall/peercall/assets"
	"github.com/peercall/peercall/capture"
	"github.com/peercall/peercall/codec"
)

// The embedded UI sounds are short 48 kHz mono clips that are audible and
// do not clip, and the player's pull callback hands out exactly their
// samples followed by silence.
func TestUISounds(t *testing.T) {
	tests := []struct {
		name string
		wav  []byte
		min  time.Duration
		max  time.Duration
	}{
		{"ringing", assets.Ringing, 300 * time.Millisecond, 4 * time.Second},
		{"joined", assets.Joined, 100 * time.Millisecond, 2 * time.Second},
		{"left", assets.Left, 100 * time.Millisecond, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pcm, info, err := capture.ParseWAV(tt.wav)
			if err != nil {
				t.Fatal(err)
			}
			if info.SampleRate != 48000 {
				t.Errorf("sample rate %d, want 48000", info.SampleRate)
			}
			var sum float64
			var peak int
			for _, v := range pcm {
				sum += float64(v) * float64(v)
				peak = max(peak, abs(int(v)))
			}
			rms := math.Sqrt(sum/float64(len(pcm))) / 32768
			if rms < 0.01 {
				t.Errorf("RMS %.4f: too quiet to hear", rms)
			}
			if peak >= 32767 {
				t.Errorf("peak %d: clips", peak)
			}

			s, err := newSound(tt.wav)
			if err != nil {
				t.Fatal(err)
			}
			defer s.src.Close()
			if s.dur < tt.min || s.dur > tt.max {
				t.Errorf("length %v, want %v..%v", s.dur, tt.min, tt.max)
			}
			if want := time.Duration(len(pcm)) * time.Second / 48000; s.dur != want {
				t.Errorf("length from the header %v, from the samples %v", s.dur, want)
			}
			// Pull in device-sized periods (10 ms) past the end.
			var got []int16
			period := make([]int16, 480)
			for len(got) < len(pcm)+4800 {
				s.pull(period)
				got = append(got, period...)
			}
			for i, v := range pcm {
				if got[i] != v {
					t.Fatalf("sample %d = %d, want %d", i, got[i], v)
				}
			}
			for i, v := range got[len(pcm):] {
				if v != 0 {
					t.Fatalf("sample %d after the end = %d, want silence", len(pcm)+i, v)
				}
			}
		})
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func TestPlaySound(t *testing.T) {
	stop, err := PlaySound(assets.Joined, codec.NullDeviceID)
	if err != nil {
		t.Fatal(err)
	}
	stop()
	stop() // idempotent: the timer calls it again later

	if _, err := PlaySound([]byte("RIFF....WAVEjunk"), codec.NullDeviceID); !errors.Is(err, capture.ErrBadFile) {
		t.Errorf("bad WAV: %v, want ErrBadFile", err)
	}
}
