package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/pion/mediadevices/pkg/wave"
)

// collect pulls n chunks from src into one buffer.
func collect(t testing.TB, src *AudioSource, n int) []int16 {
	t.Helper()
	var out []int16
	for range n {
		pcm, err := src.Next()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, pcm...)
	}
	return out
}

// makeWAV builds a WAV file; fmtTag/bits let tests build unsupported ones.
func makeWAV(rate, channels, bits int, fmtTag uint16, samples []int16) []byte {
	var data bytes.Buffer
	for _, s := range samples {
		for range channels {
			binary.Write(&data, binary.LittleEndian, s)
		}
	}
	var b bytes.Buffer
	b.WriteString("RIFF")
	binary.Write(&b, binary.LittleEndian, uint32(4+8+16+8+data.Len()+8+2))
	b.WriteString("WAVE")
	// An unknown chunk with odd size first, to exercise padding.
	b.WriteString("LIST")
	binary.Write(&b, binary.LittleEndian, uint32(1))
	b.Write([]byte{0, 0})
	b.WriteString("fmt ")
	binary.Write(&b, binary.LittleEndian, uint32(16))
	binary.Write(&b, binary.LittleEndian, fmtTag)
	binary.Write(&b, binary.LittleEndian, uint16(channels))
	binary.Write(&b, binary.LittleEndian, uint32(rate))
	binary.Write(&b, binary.LittleEndian, uint32(rate*channels*bits/8))
	binary.Write(&b, binary.LittleEndian, uint16(channels*bits/8))
	binary.Write(&b, binary.LittleEndian, uint16(bits))
	b.WriteString("data")
	binary.Write(&b, binary.LittleEndian, uint32(data.Len()))
	b.Write(data.Bytes())
	return b.Bytes()
}

func sine(rate int, freq float64, n int) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(8000 * math.Sin(2*math.Pi*freq*float64(i)/float64(rate)))
	}
	return out
}

func TestAudioMarkerRoundTrip(t *testing.T) {
	wav44 := makeWAV(44100, 2, 16, 1, sine(44100, 300, 44100))
	tests := []struct {
		name  string
		open  func(cfg AudioConfig) (*AudioSource, error)
		rate  int
		noise int
	}{
		{"tone 48k", func(c AudioConfig) (*AudioSource, error) { return NewToneSource(440, c) }, 48000, 0},
		{"speech 48k", NewSpeechSource, 48000, 0},
		{"speech 48k noisy", NewSpeechSource, 48000, 1500},
		{"speech 16k", func(c AudioConfig) (*AudioSource, error) { c.SampleRate = 16000; return NewSpeechSource(c) }, 16000, 0},
		{"tone 24k", func(c AudioConfig) (*AudioSource, error) { c.SampleRate = 24000; return NewToneSource(1000, c) }, 24000, 0},
		{"wav 44.1k stereo looped", func(c AudioConfig) (*AudioSource, error) { return NewWAVSource(wav44, true, c) }, 44100, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := AudioConfig{MarkerInterval: 300 * time.Millisecond, Now: fixedClock(testEpoch, 20*time.Millisecond)}
			src, err := tc.open(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			if src.SampleRate() != tc.rate {
				t.Fatalf("rate %d, want %d", src.SampleRate(), tc.rate)
			}
			pcm := collect(t, src, 150) // 3 s
			if tc.noise > 0 {
				r := rand.New(rand.NewPCG(1, 2))
				for i := range pcm {
					pcm[i] = int16(max(-32768, min(32767, int(pcm[i])+r.IntN(2*tc.noise+1)-tc.noise)))
				}
			}
			ms, err := readAudioMarkersAt(pcm, tc.rate, testEpoch)
			if err != nil {
				t.Fatal(err)
			}
			// Markers at 0, 0.3, ... 2.7 s; the last one ends at 2.81 s.
			if len(ms) != 10 {
				t.Fatalf("found %d markers, want 10: %+v", len(ms), ms)
			}
			interval := tc.rate * 3 / 10
			for i, m := range ms {
				wantAt := testEpoch.Add(time.Duration(i) * 300 * time.Millisecond)
				if m.Seq != uint32(i) || !m.CaptureTime.Equal(wantAt) {
					t.Errorf("marker %d: seq %d at %v, want %d at %v", i, m.Seq, m.CaptureTime, i, wantAt)
				}
				if d := m.Offset - i*interval; d < -tc.rate/1000 || d > tc.rate/1000 {
					t.Errorf("marker %d: offset %d, want %d±1ms", i, m.Offset, i*interval)
				}
			}
		})
	}
}

func TestAudioMarkerExtremeValues(t *testing.T) {
	g, err := newAMGeom(48000)
	if err != nil {
		t.Fatal(err)
	}
	sig, w := make([]float64, g.Len()), make([]float64, g.Len())
	for _, tc := range []struct {
		seq uint32
		at  time.Time
	}{
		{0, testEpoch},
		{^uint32(0), testEpoch.Add(-20 * 24 * time.Hour)},
		{0xA5A5A5A5, testEpoch.Add(20 * 24 * time.Hour)},
	} {
		g.render(tc.seq, tc.at, sig, w)
		pcm := make([]int16, 1000+len(sig)+1000)
		for i, v := range sig {
			pcm[1000+i] = int16(v)
		}
		ms, err := readAudioMarkersAt(pcm, 48000, testEpoch)
		if err != nil || len(ms) != 1 {
			t.Fatalf("%+v: %v %v", tc, ms, err)
		}
		if ms[0].Seq != tc.seq || ms[0].CaptureTime.UnixMilli() != tc.at.UnixMilli() {
			t.Fatalf("got %+v, want %+v", ms[0], tc)
		}
	}
}

func TestAudioMarkerNoFalsePositives(t *testing.T) {
	tests := []struct {
		name string
		open func(cfg AudioConfig) (*AudioSource, error)
	}{
		{"speech", NewSpeechSource},
		{"tone 600", func(c AudioConfig) (*AudioSource, error) { return NewToneSource(600, c) }},
		{"tone 3600", func(c AudioConfig) (*AudioSource, error) { return NewToneSource(3600, c) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src, err := tc.open(AudioConfig{MarkerInterval: -1})
			if err != nil {
				t.Fatal(err)
			}
			pcm := collect(t, src, 500) // 10 s
			ms, err := ReadAudioMarkers(pcm, 48000)
			if err != nil || len(ms) != 0 {
				t.Fatalf("unmarked audio gave %d markers (%v)", len(ms), err)
			}
		})
	}
}

// TestAudioMarkerDamage overwrites marker symbols with wrong tones: up to 3
// per codeword are corrected; beyond that the marker may be lost (or still
// recovered, when shifted windows turn damaged symbols into erasures) but is
// never misread.
func TestAudioMarkerDamage(t *testing.T) {
	g, err := newAMGeom(48000)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		syms  []int // indices into the 32 marker symbols
		found int   // 1 must be found, 0 must not, -1 either
	}{
		{"intact", nil, 1},
		{"one symbol", []int{9}, 1},
		{"three in codeword A", []int{2, 10, 30}, 1},
		{"three in each codeword", []int{2, 3, 10, 11, 30, 31}, 1},
		{"preamble symbol", []int{0}, 0},
		{"four in codeword A", []int{2, 4, 10, 30}, -1},
		{"eight in codeword B", []int{3, 5, 7, 9, 11, 13, 15, 17}, -1},
		{"every other symbol", []int{2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30}, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sig, w := make([]float64, g.Len()), make([]float64, g.Len())
			g.render(77, testEpoch, sig, w)
			pcm := make([]int16, 2000+len(sig)+2000)
			for i, v := range sig {
				pcm[2000+i] = int16(v)
			}
			syms := amSymbols(77, uint64(testEpoch.UnixMilli()))
			for _, j := range tc.syms {
				wrong := (syms[j] + 5) % amTones
				for i := range g.n {
					pcm[2000+j*g.n+i] = int16(10000 * math.Sin(g.omegas[wrong]*float64(i)))
				}
			}
			ms, err := readAudioMarkersAt(pcm, 48000, testEpoch)
			if err != nil {
				t.Fatal(err)
			}
			if tc.found == 0 && len(ms) != 0 {
				t.Fatalf("damaged marker read as %+v", ms)
			}
			if tc.found == -1 && len(ms) == 0 || tc.found == 0 {
				return
			}
			if len(ms) != 1 || ms[0].Seq != 77 || !ms[0].CaptureTime.Equal(testEpoch) {
				t.Fatalf("got %+v", ms)
			}
			if d := ms[0].Offset - 2000; d < -48 || d > 48 {
				t.Fatalf("offset %d, want 2000", ms[0].Offset)
			}
		})
	}
}

func TestSpeechLooksLikeSpeech(t *testing.T) {
	src, err := NewSpeechSource(AudioConfig{MarkerInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	var quiet, loud, clipped int
	for range 250 { // 5 s of 20 ms frames
		pcm, err := src.Next()
		if err != nil {
			t.Fatal(err)
		}
		var e float64
		for _, v := range pcm {
			e += float64(v) * float64(v)
			if v == math.MaxInt16 || v == math.MinInt16 {
				clipped++
			}
		}
		db := 10 * math.Log10(e/float64(len(pcm))/(32768*32768)+1e-12)
		switch {
		case db < -45:
			quiet++
		case db > -30:
			loud++
		}
	}
	// Syllables and pauses: both loud and near-silent frames, no clipping.
	if quiet < 10 || loud < 100 || clipped > 0 {
		t.Fatalf("quiet %d loud %d clipped %d", quiet, loud, clipped)
	}
}

func TestAudioSourceConfig(t *testing.T) {
	tests := []struct {
		name string
		open func() (*AudioSource, error)
		want error
	}{
		{"tone above nyquist", func() (*AudioSource, error) { return NewToneSource(30000, AudioConfig{}) }, ErrBadConfig},
		{"tone zero", func() (*AudioSource, error) { return NewToneSource(0, AudioConfig{}) }, ErrBadConfig},
		{"rate too low", func() (*AudioSource, error) { return NewSpeechSource(AudioConfig{SampleRate: 4000}) }, ErrBadConfig},
		{"marker interval too short", func() (*AudioSource, error) {
			return NewSpeechSource(AudioConfig{MarkerInterval: 50 * time.Millisecond})
		}, ErrBadConfig},
		{"frame too long", func() (*AudioSource, error) { return NewSpeechSource(AudioConfig{FrameDuration: 2 * time.Second}) }, ErrBadConfig},
		{"8 kHz no markers ok", func() (*AudioSource, error) {
			return NewSpeechSource(AudioConfig{SampleRate: 8000, MarkerInterval: -1})
		}, nil},
		{"10 ms frames ok", func() (*AudioSource, error) {
			return NewToneSource(440, AudioConfig{FrameDuration: 10 * time.Millisecond})
		}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src, err := tc.open()
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if err == nil {
				pcm, err := src.Next()
				if err != nil || len(pcm) != src.FrameLen() {
					t.Fatalf("next: %d samples, %v", len(pcm), err)
				}
			}
		})
	}
}

func TestParseWAV(t *testing.T) {
	good := makeWAV(16000, 1, 16, 1, sine(16000, 440, 1600))
	stereo := makeWAV(48000, 2, 16, 1, []int16{100, -200, 300})
	ext := makeWAV(48000, 1, 16, 0xFFFE, nil)
	tests := []struct {
		name   string
		data   []byte
		want   error
		frames int
	}{
		{"mono", good, nil, 1600},
		{"stereo mixdown", stereo, nil, 3},
		{"empty", nil, ErrBadFile, 0},
		{"not riff", []byte("RIFX....WAVEfmt "), ErrBadFile, 0},
		{"8-bit", makeWAV(8000, 1, 8, 1, nil), ErrUnsupportedFormat, 0},
		{"24-bit", makeWAV(8000, 1, 24, 1, nil), ErrUnsupportedFormat, 0},
		{"float", makeWAV(48000, 1, 32, 3, nil), ErrUnsupportedFormat, 0},
		{"mp3 tag", makeWAV(48000, 1, 16, 0x55, nil), ErrUnsupportedFormat, 0},
		{"short extensible", ext, ErrBadFile, 0},
		{"truncated header", good[:30], ErrBadFile, 0},
		{"no data chunk", good[:12+10+24], ErrBadFile, 0},
		{"zero channels", makeWAV(48000, 0, 16, 1, nil), ErrBadFile, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pcm, info, err := ParseWAV(tc.data)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if err == nil && (info.Frames != tc.frames || len(pcm) != tc.frames) {
				t.Fatalf("frames %d (%d samples), want %d", info.Frames, len(pcm), tc.frames)
			}
		})
	}
	pcm, info, err := ParseWAV(stereo)
	if err != nil || info.Channels != 2 || info.SampleRate != 48000 || pcm[1] != -200 {
		t.Fatalf("stereo: %v %+v %v", pcm, info, err)
	}
}

func TestWAVSourceEndAndRate(t *testing.T) {
	data := makeWAV(48000, 1, 16, 1, sine(48000, 440, 2000)) // 2.08 chunks
	if _, err := NewWAVSource(data, false, AudioConfig{SampleRate: 16000}); !errors.Is(err, ErrUnsupportedFormat) {
		t.Fatalf("rate mismatch: %v", err)
	}
	if _, err := OpenWAV("/nonexistent/x.wav", false, AudioConfig{}); err == nil {
		t.Fatal("missing file opened")
	}
	src, err := NewWAVSource(data, false, AudioConfig{MarkerInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		pcm, err := src.Next()
		if err != nil || len(pcm) != 960 {
			t.Fatalf("chunk %d: %d, %v", i, len(pcm), err)
		}
	}
	if _, err := src.Next(); err != io.EOF {
		t.Fatalf("after end: %v, want io.EOF", err)
	}
	if _, _, err := src.AudioReader().Read(); err != io.EOF {
		t.Fatalf("reader after end: %v, want io.EOF", err)
	}
}

func TestAudioReaderAndPacing(t *testing.T) {
	src, err := NewSpeechSource(AudioConfig{Paced: true, FrameDuration: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	r := src.AudioReader()
	start := time.Now()
	for range 6 {
		a, release, err := r.Read()
		if err != nil {
			t.Fatal(err)
		}
		chunk, ok := a.(*wave.Int16Interleaved)
		if !ok || chunk.ChunkInfo().Len != 480 || chunk.ChunkInfo().Channels != 1 || chunk.ChunkInfo().SamplingRate != 48000 {
			t.Fatalf("chunk %T %+v", a, a.ChunkInfo())
		}
		release()
	}
	if el := time.Since(start); el < 50*time.Millisecond {
		t.Fatalf("6 paced 10 ms chunks took %v", el)
	}
	checkCloseUnblocks(t, func() error { _, err := src.Next(); return err }, src.Close,
		func() error { _, _, err := r.Read(); return err })
}

// checkCloseUnblocks runs next in a loop (a paced source blocks in it),
// closes the source, and checks that next fails with ErrClosed and the
// mediadevices reader ends with io.EOF.
func checkCloseUnblocks(t *testing.T, next, closeSrc, read func() error) {
	t.Helper()
	done := make(chan error)
	go func() {
		for {
			if err := next(); err != nil {
				done <- err
				return
			}
		}
	}()
	time.Sleep(30 * time.Millisecond) // let next block in pacing
	_ = closeSrc()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
	if err := read(); err != io.EOF {
		t.Fatalf("reader after close: %v, want io.EOF", err)
	}
}

func FuzzParseWAV(f *testing.F) {
	f.Add(makeWAV(16000, 1, 16, 1, sine(16000, 440, 100)))
	f.Add(makeWAV(48000, 2, 16, 0xFFFE, nil))
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVEdata\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pcm, info, err := ParseWAV(data)
		if err == nil && len(pcm) != info.Frames {
			t.Fatalf("%d samples, info says %d", len(pcm), info.Frames)
		}
	})
}

func BenchmarkReadAudioMarkers(b *testing.B) {
	src, err := NewSpeechSource(AudioConfig{})
	if err != nil {
		b.Fatal(err)
	}
	pcm := collect(b, src, 50) // 1 s
	b.SetBytes(int64(2 * len(pcm)))
	for b.Loop() {
		if ms, err := ReadAudioMarkers(pcm, 48000); err != nil || len(ms) != 2 {
			b.Fatalf("%d markers, %v", len(ms), err)
		}
	}
}

func BenchmarkSpeechSource(b *testing.B) {
	src, err := NewSpeechSource(AudioConfig{})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := src.Next(); err != nil {
			b.Fatal(err)
		}
	}
}

func TestAudioMarkerScanner(t *testing.T) {
	for _, chunk := range []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 170 * time.Millisecond} {
		src, err := NewSpeechSource(AudioConfig{FrameDuration: chunk, MarkerInterval: 250 * time.Millisecond, Now: fixedClock(testEpoch, chunk)})
		if err != nil {
			t.Fatal(err)
		}
		sc, err := NewAudioMarkerScanner(48000)
		if err != nil {
			t.Fatal(err)
		}
		sc.now = func() time.Time { return testEpoch }
		var got []AudioMarker
		n := int(4 * time.Second / chunk)
		for range n {
			pcm, err := src.Next()
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, sc.Write(pcm)...)
		}
		got = append(got, sc.Flush()...)
		// Markers at 0, 0.25 ... up to the end of the stream.
		total := n * src.FrameLen()
		want := (total-int(AudioMarkerDuration().Milliseconds())*48)/12000 + 1
		if len(got) != want {
			t.Fatalf("chunk %v: %d markers, want %d", chunk, len(got), want)
		}
		for i, m := range got {
			if d := m.Offset - i*12000; m.Seq != uint32(i) || d < -48 || d > 48 {
				t.Fatalf("chunk %v: marker %d = %+v", chunk, i, m)
			}
		}
	}
	if _, err := NewAudioMarkerScanner(4000); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("4 kHz: %v", err)
	}
}
