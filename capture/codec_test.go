package capture

import (
	"testing"
	"time"

	"github.com/peercall/peercall/codec"
)

// TestVideoMarkerThroughVP8 is the marker's reason to exist: stamped frames
// encoded by our VP8 encoder at call bitrates and decoded again must give
// back every sequence number and capture time.
func TestVideoMarkerThroughVP8(t *testing.T) {
	tests := []struct {
		name    string
		w, h    int
		fps     int
		bitrate int
		frames  int
	}{
		{"640x480 800k", 640, 480, 30, 800_000, 90},
		{"320x240 150k", 320, 240, 15, 150_000, 45},
		{"odd 322x182 250k", 322, 182, 30, 250_000, 30},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			interval := time.Second / time.Duration(tc.fps)
			src, err := NewPatternSource(PatternConfig{Width: tc.w, Height: tc.h, FPS: float64(tc.fps),
				Now: fixedClock(testEpoch, interval)})
			if err != nil {
				t.Fatal(err)
			}
			enc, err := codec.NewVP8Encoder(codec.VP8Config{Width: tc.w, Height: tc.h, FPS: tc.fps, BitRate: tc.bitrate})
			if err != nil {
				t.Fatal(err)
			}
			defer enc.Close()
			dec, err := codec.NewVP8Decoder()
			if err != nil {
				t.Fatal(err)
			}
			defer dec.Close()
			var bytesOut, decoded int
			for i := range tc.frames {
				f, err := src.NextFrame()
				if err != nil {
					t.Fatal(err)
				}
				data, _, err := enc.Encode(f.Image, time.Duration(i)*interval)
				if err != nil {
					t.Fatal(err)
				}
				if data == nil {
					continue // encoder dropped the frame
				}
				bytesOut += len(data)
				img, err := dec.Decode(data)
				if err != nil {
					t.Fatalf("frame %d: decode: %v", i, err)
				}
				decoded++
				m, err := readVideoMarkerAt(img, testEpoch)
				if err != nil {
					t.Fatalf("frame %d (%d bytes): %v", i, len(data), err)
				}
				if m.Seq != f.Seq || !m.CaptureTime.Equal(f.CaptureTime) {
					t.Fatalf("frame %d: read seq %d at %v, wrote %d at %v", i, m.Seq, m.CaptureTime, f.Seq, f.CaptureTime)
				}
			}
			if decoded < tc.frames*9/10 {
				t.Fatalf("only %d of %d frames came out of the encoder", decoded, tc.frames)
			}
			kbps := bytesOut * 8 * tc.fps / tc.frames / 1000
			t.Logf("%d frames, %d kbit/s", decoded, kbps)
		})
	}
}

// TestAudioMarkerThroughOpus checks the audio markers survive Opus at the
// call's 32 kbit/s (and a lower rate for margin), and that their offsets
// shift by the codec delay only.
func TestAudioMarkerThroughOpus(t *testing.T) {
	tests := []struct {
		name    string
		open    func(AudioConfig) (*AudioSource, error)
		rate    int
		bitrate int
	}{
		{"speech 48k 32kbps", NewSpeechSource, 48000, 32000},
		{"speech 48k 24kbps", NewSpeechSource, 48000, 24000},
		{"tone 48k 32kbps", func(c AudioConfig) (*AudioSource, error) { return NewToneSource(440, c) }, 48000, 32000},
		{"speech 16k 32kbps", func(c AudioConfig) (*AudioSource, error) { c.SampleRate = 16000; return NewSpeechSource(c) }, 16000, 32000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := AudioConfig{SampleRate: tc.rate, MarkerInterval: 300 * time.Millisecond, Now: fixedClock(testEpoch, 20*time.Millisecond)}
			src, err := tc.open(cfg)
			if err != nil {
				t.Fatal(err)
			}
			ocfg := codec.DefaultOpusConfig()
			ocfg.SampleRate, ocfg.BitRate = tc.rate, tc.bitrate
			enc, err := codec.NewOpusEncoder(ocfg)
			if err != nil {
				t.Fatal(err)
			}
			defer enc.Close()
			dec, err := codec.NewOpusDecoder(tc.rate, 1)
			if err != nil {
				t.Fatal(err)
			}
			defer dec.Close()
			if enc.FrameSamples() != src.FrameLen() {
				t.Fatalf("encoder frame %d, source frame %d", enc.FrameSamples(), src.FrameLen())
			}
			var out []int16
			buf := make([]int16, tc.rate*120/1000)
			const chunks = 250 // 5 s
			for range chunks {
				pcm, err := src.Next()
				if err != nil {
					t.Fatal(err)
				}
				pkt, err := enc.Encode(pcm)
				if err != nil {
					t.Fatal(err)
				}
				n, err := dec.Decode(pkt, buf)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, buf[:n]...)
			}
			ms, err := readAudioMarkersAt(out, tc.rate, testEpoch)
			if err != nil {
				t.Fatal(err)
			}
			// Markers at 0, 0.3 ... 4.8 s; the codec delay keeps the last
			// one inside the 5 s.
			const want = 17
			if len(ms) != want {
				t.Fatalf("found %d markers after Opus, want %d", len(ms), want)
			}
			interval := tc.rate * 3 / 10
			delay := ms[0].Offset
			if delay < 0 || delay > tc.rate/50 {
				t.Fatalf("codec delay %d samples", delay)
			}
			for i, m := range ms {
				at := testEpoch.Add(time.Duration(i) * 300 * time.Millisecond)
				if m.Seq != uint32(i) || !m.CaptureTime.Equal(at) {
					t.Fatalf("marker %d: seq %d at %v, want %d at %v", i, m.Seq, m.CaptureTime, i, at)
				}
				if d := m.Offset - i*interval - delay; d < -tc.rate/500 || d > tc.rate/500 {
					t.Fatalf("marker %d: offset %d, want %d±2 ms", i, m.Offset, i*interval+delay)
				}
			}
			t.Logf("codec delay %.2f ms", float64(delay)*1000/float64(tc.rate))
		})
	}
}

func BenchmarkVP8MarkerRoundTrip(b *testing.B) {
	src, err := NewPatternSource(PatternConfig{Width: 640, Height: 480, FPS: 30})
	if err != nil {
		b.Fatal(err)
	}
	enc, err := codec.NewVP8Encoder(codec.VP8Config{Width: 640, Height: 480, FPS: 30, BitRate: 800_000})
	if err != nil {
		b.Fatal(err)
	}
	defer enc.Close()
	dec, err := codec.NewVP8Decoder()
	if err != nil {
		b.Fatal(err)
	}
	defer dec.Close()
	i := 0
	for b.Loop() {
		img, err := src.Next()
		if err != nil {
			b.Fatal(err)
		}
		data, _, err := enc.Encode(img, time.Duration(i)*time.Second/30)
		i++
		if err != nil || data == nil {
			continue
		}
		out, err := dec.Decode(data)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ReadVideoMarker(out); err != nil {
			b.Fatal(err)
		}
	}
}
