package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// fakeVP8 builds frames that pass the key-frame checks; content is opaque
// to the file layer.
func fakeVP8(key bool, n int, fill byte) []byte {
	b := bytes.Repeat([]byte{fill}, max(n, 10))
	if key {
		b[0] = 0x10
		b[3], b[4], b[5] = 0x9d, 0x01, 0x2a
	} else {
		b[0] = 0x11
	}
	return b
}

func fakeIVFFrames() []EncodedFrame {
	var fs []EncodedFrame
	for i := range 10 {
		fs = append(fs, EncodedFrame{Data: fakeVP8(i%5 == 0, 50+i*300, byte(i)), Duration: time.Second / 30, Keyframe: i%5 == 0})
	}
	return fs
}

func ivfBytes(t testing.TB, frames []EncodedFrame) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteIVF(&buf, 320, 240, frames); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// opusPkt makes a packet with a valid TOC: SILK WB 20 ms, one frame.
func opusPkt(n int, fill byte) []byte {
	b := bytes.Repeat([]byte{fill}, n)
	b[0] = 9 << 3
	return b
}

func fakeOggPackets() []EncodedFrame {
	var ps []EncodedFrame
	// Sizes around the 255-byte lacing boundary.
	for i, n := range []int{3, 254, 255, 256, 510, 600, 40, 1000} {
		ps = append(ps, EncodedFrame{Data: opusPkt(n, byte(i+1)), Duration: 20 * time.Millisecond})
	}
	return ps
}

func oggBytes(t testing.TB, packets []EncodedFrame) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteOgg(&buf, 1, packets); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestIVFRoundTrip(t *testing.T) {
	want := fakeIVFFrames()
	data := ivfBytes(t, want)
	path := filepath.Join(t.TempDir(), "x.ivf")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := OpenIVF(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if src.Width != 320 || src.Height != 240 || src.Frames() != len(want) {
		t.Fatalf("%dx%d, %d frames", src.Width, src.Height, src.Frames())
	}
	for i, w := range want {
		f, err := src.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(f.Data, w.Data) || f.Keyframe != w.Keyframe {
			t.Fatalf("frame %d differs (key %v)", i, f.Keyframe)
		}
		if d := f.Duration - w.Duration; d < -time.Microsecond || d > time.Microsecond {
			t.Fatalf("frame %d duration %v, want %v", i, f.Duration, w.Duration)
		}
	}
	if _, err := src.Next(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
}

func TestFileSourceLoopPaceClose(t *testing.T) {
	packets := fakeOggPackets()
	src, err := NewOggSource(oggBytes(t, packets), FileOptions{Loop: true, Paced: true})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	n := 2*len(packets) + 1
	for i := range n {
		p, err := src.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(p.Data, packets[i%len(packets)].Data) {
			t.Fatalf("packet %d differs", i)
		}
	}
	// n packets of 20 ms each: the last is released after n-1 durations.
	if el := time.Since(start); el < time.Duration(n-1)*20*time.Millisecond {
		t.Fatalf("%d paced packets took %v", n, el)
	}
	src.Close()
	if _, err := src.Next(); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
}

func TestOggRoundTrip(t *testing.T) {
	want := fakeOggPackets()
	path := filepath.Join(t.TempDir(), "x.ogg")
	if err := os.WriteFile(path, oggBytes(t, want), 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := OpenOgg(path)
	if err != nil {
		t.Fatal(err)
	}
	if src.Channels != 1 || src.Packets() != len(want) {
		t.Fatalf("channels %d packets %d", src.Channels, src.Packets())
	}
	for i, w := range want {
		p, err := src.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(p.Data, w.Data) || p.Duration != 20*time.Millisecond {
			t.Fatalf("packet %d: %d bytes %v, want %d bytes", i, len(p.Data), p.Duration, len(w.Data))
		}
	}
	if _, err := src.Next(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
}

func TestBadIVF(t *testing.T) {
	good := ivfBytes(t, fakeIVFFrames())
	mod := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrBadFile},
		{"short header", good[:20], ErrBadFile},
		{"bad signature", mod(func(b []byte) []byte { b[0] = 'X'; return b }), ErrBadFile},
		{"vp9", mod(func(b []byte) []byte { copy(b[8:], "VP90"); return b }), ErrUnsupportedFormat},
		{"zero time base", mod(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[16:], 0); return b }), ErrBadFile},
		{"no frames", good[:32], ErrBadFile},
		{"truncated frame header", good[:32+5], ErrBadFile},
		{"truncated frame", good[:len(good)-3], ErrBadFile},
		{"huge frame size", mod(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[32:], 0xFFFFFFF0); return b }), ErrBadFile},
		{"starts with inter frame", mod(func(b []byte) []byte { b[32+12] |= 1; return b }), ErrBadFile},
		{"key frame without start code", mod(func(b []byte) []byte { b[32+12+3] = 0; return b }), ErrBadFile},
		{"pts not increasing", mod(func(b []byte) []byte {
			off := 32 + 12 + int(binary.LittleEndian.Uint32(b[32:]))
			binary.LittleEndian.PutUint64(b[off+4:], 0)
			return b
		}), ErrBadFile},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewIVFSource(tc.data); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := OpenIVF(filepath.Join(t.TempDir(), "missing.ivf")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

func TestBadOgg(t *testing.T) {
	good := oggBytes(t, fakeOggPackets())
	mod := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	headLen, err := oggPageLen(good, 0)
	if err != nil {
		t.Fatal(err)
	}
	tagsLen, err := oggPageLen(good, headLen)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrBadFile},
		{"not ogg", []byte("RIFF0000WAVE"), ErrBadFile},
		{"header only", good[:headLen], ErrBadFile},
		{"no audio", good[:headLen+tagsLen], ErrBadFile},
		{"truncated", good[:len(good)-7], ErrBadFile},
		{"crc mismatch", mod(func(b []byte) []byte { b[len(b)-1] ^= 0xff; return b }), ErrBadFile},
		{"stereo ok", oggStereo(t), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewOggSource(tc.data); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func oggStereo(t *testing.T) []byte {
	var buf bytes.Buffer
	if err := WriteOgg(&buf, 2, fakeOggPackets()[:2]); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestOpusPacketDuration(t *testing.T) {
	tests := []struct {
		pkt  []byte
		want time.Duration
		err  bool
	}{
		{[]byte{0 << 3}, 10 * time.Millisecond, false},
		{[]byte{3 << 3}, 60 * time.Millisecond, false},
		{[]byte{13 << 3}, 20 * time.Millisecond, false},
		{[]byte{16 << 3}, 2500 * time.Microsecond, false},
		{[]byte{31<<3 | 1}, 40 * time.Millisecond, false},
		{[]byte{31<<3 | 3, 6}, 120 * time.Millisecond, false},
		{[]byte{3<<3 | 3, 3}, 0, true}, // 180 ms
		{[]byte{31<<3 | 3}, 0, true},
		{[]byte{31<<3 | 3, 0}, 0, true},
		{nil, 0, true},
	}
	for _, tc := range tests {
		d, err := OpusPacketDuration(tc.pkt)
		if (err != nil) != tc.err || d != tc.want {
			t.Errorf("%x: %v %v, want %v err %v", tc.pkt, d, err, tc.want, tc.err)
		}
	}
}

func FuzzIVF(f *testing.F) {
	f.Add(ivfBytes(f, fakeIVFFrames()[:3]))
	f.Add([]byte("DKIF\x00\x00\x20\x00VP80"))
	f.Fuzz(func(t *testing.T, data []byte) {
		src, err := NewIVFSource(data)
		if err != nil {
			return
		}
		for range src.Frames() {
			if f, err := src.Next(); err != nil || f.Duration <= 0 {
				t.Fatalf("accepted file fails to play: %v", err)
			}
		}
	})
}

func FuzzOgg(f *testing.F) {
	f.Add(oggBytes(f, fakeOggPackets()[:3]))
	f.Add([]byte("OggS"))
	f.Fuzz(func(t *testing.T, data []byte) {
		src, err := NewOggSource(data)
		if err != nil {
			return
		}
		for range src.Packets() {
			if p, err := src.Next(); err != nil || p.Duration <= 0 {
				t.Fatalf("accepted file fails to play: %v", err)
			}
		}
	})
}
