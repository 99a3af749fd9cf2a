package capture

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// y4mFile builds a 4:2:0 Y4M stream of n frames: frame i has luma i*10+1
// plus the column index (so rows are not all alike), Cb 100+i, Cr 200-i.
// frameHdr is the text after "FRAME" (e.g. " Ip"), tail is appended as is.
func y4mFile(header string, w, h, n int, frameHdr string, tail []byte) []byte {
	var b bytes.Buffer
	b.WriteString(header + "\n")
	cw, ch := (w+1)/2, (h+1)/2
	for i := range n {
		b.WriteString("FRAME" + frameHdr + "\n")
		for range h {
			for x := range w {
				b.WriteByte(byte(i*10 + 1 + x))
			}
		}
		b.Write(bytes.Repeat([]byte{byte(100 + i)}, cw*ch))
		b.Write(bytes.Repeat([]byte{byte(200 - i)}, cw*ch))
	}
	b.Write(tail)
	return b.Bytes()
}

func newY4M(t *testing.T, data []byte, cfg Y4MConfig) *Y4MSource {
	t.Helper()
	s, err := NewY4MSource(bytes.NewReader(data), int64(len(data)), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestParseY4MHeader(t *testing.T) {
	tests := []struct {
		line    string
		want    Y4MHeader
		wantErr error
	}{
		{"YUV4MPEG2 W640 H480 F30:1 Ip A1:1 C420jpeg XYSCSS=420JPEG", Y4MHeader{640, 480, 30, 1, "420jpeg"}, nil},
		{"YUV4MPEG2 W320 H240 F30000:1001", Y4MHeader{320, 240, 30000, 1001, "420jpeg"}, nil},
		{"YUV4MPEG2 C420 W33 H17 F25:1", Y4MHeader{33, 17, 25, 1, "420"}, nil},
		{"YUV4MPEG2 W16 H16 F15:1 C420paldv", Y4MHeader{16, 16, 15, 1, "420paldv"}, nil},
		{"YUV4MPEG2  W16  H16 F15:1 C420mpeg2 Zunknown", Y4MHeader{16, 16, 15, 1, "420mpeg2"}, nil},
		{"YUV4MPEG2 W16 H16 F30:1 C444", Y4MHeader{}, ErrUnsupportedFormat},
		{"YUV4MPEG2 W16 H16 F30:1 C422", Y4MHeader{}, ErrUnsupportedFormat},
		{"YUV4MPEG2 W16 H16 F30:1 Cmono", Y4MHeader{}, ErrUnsupportedFormat},
		{"YUV4MPEG2 W16 H16 F30:1 C420p10", Y4MHeader{}, ErrUnsupportedFormat},
		{"YUV4MPEG W16 H16 F30:1", Y4MHeader{}, ErrBadFile},
		{"YUV4MPEG2X W16 H16 F30:1", Y4MHeader{}, ErrBadFile},
		{"", Y4MHeader{}, ErrBadFile},
		{"YUV4MPEG2", Y4MHeader{}, ErrBadFile},
		{"YUV4MPEG2 H16 F30:1", Y4MHeader{}, ErrBadFile},
		{"YUV4MPEG2 W0 H16 F30:1", Y4MHeader{}, ErrBadFile},
		{"YUV4MPEG2 W-4 H16 F30:1", Y4MHeader{}, ErrBadFile},
		{"YUV4MPEG2 Wx H16 F30:1", Y4MHeader{}, ErrBadFile},
		{"YUV4MPEG2 W99999 H16 F30:1", Y4MHeader{}, ErrBadFile},
		{"YUV4MPEG2 W16 H16", Y4MHeader{}, ErrBadFile},
		{"YUV4MPEG2 W16 H16 F30", Y4MHeader{}, ErrBadFile},
		{"YUV4MPEG2 W16 H16 F0:0", Y4MHeader{}, ErrBadFile},
		{"YUV4MPEG2 W16 H16 F1000:1", Y4MHeader{}, ErrBadFile},
		{"YUV4MPEG2 W16 H16 F1:100", Y4MHeader{}, ErrBadFile},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			got, err := ParseY4MHeader([]byte(tt.line))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err == nil && got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestY4MSourceFrames reads every frame back, looping, for sizes with odd
// sides (chroma rounds up) and FRAME lines with parameters.
func TestY4MSourceFrames(t *testing.T) {
	tests := []struct {
		name     string
		w, h, n  int
		frameHdr string
	}{
		{"even", 64, 48, 3, ""},
		{"odd sides", 33, 17, 2, ""},
		{"frame params", 16, 16, 4, " Ip XFOO=1"},
		{"one frame", 18, 2, 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := y4mFile(fmt.Sprintf("YUV4MPEG2 W%d H%d F30:1 Ip C420jpeg", tt.w, tt.h), tt.w, tt.h, tt.n, tt.frameHdr, nil)
			s := newY4M(t, data, Y4MConfig{Loop: true})
			if s.Frames() != tt.n {
				t.Fatalf("Frames() = %d, want %d", s.Frames(), tt.n)
			}
			var first *VideoFrame
			for k := range 2*tt.n + 1 {
				f, err := s.NextFrame()
				if err != nil {
					t.Fatal(err)
				}
				if first == nil {
					first = &f
				} else if f.Image != first.Image {
					t.Fatal("a new picture per frame; want the one picture reused")
				}
				i := k % tt.n
				img := f.Image
				if f.Seq != uint32(k) || img.Rect.Dx() != tt.w || img.Rect.Dy() != tt.h {
					t.Fatalf("frame %d: seq %d size %v", k, f.Seq, img.Rect)
				}
				// Too small for a marker: the content is the file's.
				x, y := tt.w-1, tt.h-1
				if got, want := img.Y[img.YOffset(x, y)], byte(i*10+1+x); got != want {
					t.Errorf("frame %d: Y(%d,%d) = %d, want %d", k, x, y, got, want)
				}
				if c := img.COffset(x, y); img.Cb[c] != byte(100+i) || img.Cr[c] != byte(200-i) {
					t.Errorf("frame %d: CbCr(%d,%d) = %d,%d", k, x, y, img.Cb[c], img.Cr[c])
				}
			}
		})
	}
}

func TestY4MSourceEndWithoutLoop(t *testing.T) {
	s := newY4M(t, y4mFile("YUV4MPEG2 W16 H16 F30:1", 16, 16, 2, "", nil), Y4MConfig{})
	for range 2 {
		if _, err := s.Next(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last frame: %v, want io.EOF", err)
	}
}

// TestY4MSourceMarker: each frame carries its sequence number and capture
// time, as the pattern source's do, so latency stays measurable.
func TestY4MSourceMarker(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_123)
	s := newY4M(t, y4mFile("YUV4MPEG2 W320 H240 F30:1", 320, 240, 2, "", nil), Y4MConfig{Loop: true, Now: func() time.Time { return now }})
	for k := range 3 {
		f, err := s.NextFrame()
		if err != nil {
			t.Fatal(err)
		}
		m, err := readVideoMarkerAt(f.Image, now)
		if err != nil {
			t.Fatalf("frame %d: %v", k, err)
		}
		if m.Seq != uint32(k) || !m.CaptureTime.Equal(now) {
			t.Errorf("frame %d: marker %+v", k, m)
		}
		// Outside the marker the file's content is untouched.
		if got := f.Image.Y[f.Image.YOffset(300, 200)]; got != byte((k%2)*10+1+300) {
			t.Errorf("frame %d: Y(300,200) = %d", k, got)
		}
	}
	plain := newY4M(t, y4mFile("YUV4MPEG2 W320 H240 F30:1", 320, 240, 1, "", nil), Y4MConfig{NoMarker: true})
	f, err := plain.NextFrame()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ReadVideoMarker(f.Image); err == nil {
		t.Error("NoMarker frame carries a marker")
	}
}

// TestY4MSourceNoAllocs: no picture per frame. The marker's checksum
// costs one 12-byte allocation (crc32 takes its buffer through a function
// pointer, so it escapes), as it does for the pattern source.
func TestY4MSourceNoAllocs(t *testing.T) {
	for _, tt := range []struct {
		noMarker bool
		max      float64
	}{{true, 0}, {false, 1}} {
		s := newY4M(t, y4mFile("YUV4MPEG2 W320 H240 F30:1", 320, 240, 3, "", nil), Y4MConfig{Loop: true, NoMarker: tt.noMarker})
		if n := testing.AllocsPerRun(50, func() {
			if _, err := s.Next(); err != nil {
				t.Fatal(err)
			}
		}); n > tt.max {
			t.Errorf("NoMarker %v: %v allocations per frame, want at most %v", tt.noMarker, n, tt.max)
		}
	}
}

func TestY4MSourceBadFiles(t *testing.T) {
	const hdr = "YUV4MPEG2 W16 H16 F30:1"
	good := y4mFile(hdr, 16, 16, 2, "", nil)
	tests := []struct {
		name    string
		data    []byte
		wantErr error
	}{
		{"empty", nil, ErrBadFile},
		{"no newline", []byte(hdr), ErrBadFile},
		{"header line too long", []byte(hdr + " X" + string(bytes.Repeat([]byte{'a'}, 2000)) + "\n"), ErrBadFile},
		{"no frames", []byte(hdr + "\n"), ErrBadFile},
		{"truncated frame", good[:len(good)-1], ErrBadFile},
		{"frame header only", y4mFile(hdr, 16, 16, 1, "", []byte("FRAME\n")), ErrBadFile},
		{"trailing garbage", y4mFile(hdr, 16, 16, 1, "", []byte("junk\n")), ErrBadFile},
		{"FRAMEX", y4mFile(hdr, 16, 16, 1, "X", nil), ErrBadFile},
		{"not y4m", []byte("RIFF....WAVEfmt \n"), ErrBadFile},
		{"4:4:4", y4mFile(hdr+" C444", 16, 16, 1, "", nil), ErrUnsupportedFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewY4MSource(bytes.NewReader(tt.data), int64(len(tt.data)), Y4MConfig{})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			t.Log(err)
		})
	}
}

func TestOpenY4M(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "clip.y4m")
	if err := os.WriteFile(path, y4mFile("YUV4MPEG2 W16 H16 F30:1", 16, 16, 2, "", nil), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := OpenY4M(path, Y4MConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Header.Width != 16 || s.Frames() != 2 {
		t.Errorf("header %+v, %d frames", s.Header, s.Frames())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Next(); !errors.Is(err, ErrClosed) {
		t.Errorf("Next after Close: %v, want ErrClosed", err)
	}
	if _, err := OpenY4M(filepath.Join(dir, "missing.y4m"), Y4MConfig{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	bad := filepath.Join(dir, "bad.y4m")
	if err := os.WriteFile(bad, []byte("YUV4MPEG2 W16 H16 F30:1\nFRAME\nshort"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenY4M(bad, Y4MConfig{}); !errors.Is(err, ErrBadFile) {
		t.Errorf("truncated file: %v, want ErrBadFile", err)
	}
}

// TestY4MSourcePaced: frames come at the header's rate, and Close ends a
// wait for the next slot.
func TestY4MSourcePaced(t *testing.T) {
	s := newY4M(t, y4mFile("YUV4MPEG2 W16 H16 F50:1", 16, 16, 2, "", nil), Y4MConfig{Loop: true, Paced: true})
	start := time.Now()
	for range 6 { // the first is released at once, then 5 slots of 20 ms
		if _, err := s.Next(); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d < 95*time.Millisecond || d > 2*time.Second {
		t.Errorf("6 frames at 50 fps took %v, want about 100 ms", d)
	}

	slow := newY4M(t, y4mFile("YUV4MPEG2 W16 H16 F1:5", 16, 16, 1, "", nil), Y4MConfig{Loop: true, Paced: true})
	if _, err := slow.Next(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := slow.Next(); done <- err }()
	time.Sleep(20 * time.Millisecond)
	if err := slow.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("Next during Close: %v, want ErrClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not end the wait for the next slot")
	}
}

// FuzzParseY4MHeader: any header line either parses into something a
// reader can size frames from, or fails with one of the two sentinels.
func FuzzParseY4MHeader(f *testing.F) {
	for _, s := range []string{
		"YUV4MPEG2 W640 H480 F30:1 Ip A1:1 C420jpeg XYSCSS=420JPEG",
		"YUV4MPEG2 W33 H17 F30000:1001 C420mpeg2",
		"YUV4MPEG2 W16 H16 F30:1 C444",
		"YUV4MPEG2 W16 H16 F:",
		"YUV4MPEG2 W H F",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		h, err := ParseY4MHeader(line)
		if err != nil {
			if !errors.Is(err, ErrBadFile) && !errors.Is(err, ErrUnsupportedFormat) {
				t.Fatalf("error without a sentinel: %v", err)
			}
			return
		}
		if h.Width < 1 || h.Height < 1 || h.Width > y4mMaxSide || h.Height > y4mMaxSide {
			t.Fatalf("size %dx%d accepted", h.Width, h.Height)
		}
		if fps := h.FPS(); !(fps >= 0.1 && fps <= 240) {
			t.Fatalf("frame rate %v accepted", fps)
		}
		if h.frameSize() <= 0 {
			t.Fatalf("frame size %d", h.frameSize())
		}
		// A stream of one frame with this header reads back (a line the
		// stream cannot hold as one line is the stream's business).
		if h.frameSize() > 1<<20 || len(line) >= y4mMaxLine || bytes.IndexByte(line, '\n') >= 0 {
			return
		}
		data := y4mFile(string(line), 0, 0, 0, "", nil)
		data = append(data, "FRAME\n"...)
		data = append(data, make([]byte, h.frameSize())...)
		s, err := NewY4MSource(bytes.NewReader(data), int64(len(data)), Y4MConfig{NoMarker: true})
		if err != nil {
			t.Fatalf("header %q parses but the stream does not: %v", line, err)
		}
		if _, err := s.Next(); err != nil {
			t.Fatal(err)
		}
	})
}
