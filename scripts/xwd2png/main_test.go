package main

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// xwd builds a dump of w x h pixels with the given 0xRRGGBB values.
func xwd(w, h int, lsb bool, px func(x, y int) uint32) []byte {
	name := []byte("Xvfb\x00")
	hdr := make([]uint32, 25)
	hdr[0] = uint32(100 + len(name))
	hdr[1], hdr[2], hdr[3] = 7, 2, 24
	hdr[4], hdr[5] = uint32(w), uint32(h)
	if !lsb {
		hdr[7] = 1
	}
	hdr[11], hdr[12] = 32, uint32(w*4+8) // padded lines
	hdr[13] = 4                          // TrueColor
	hdr[14], hdr[15], hdr[16] = 0xff0000, 0x00ff00, 0x0000ff
	hdr[19] = 2 // two colour map entries to skip
	b := make([]byte, 0, 200)
	for _, v := range hdr {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	b = append(b, name...)
	b = append(b, make([]byte, 2*12)...)
	for y := range h {
		for x := range w {
			if lsb {
				b = binary.LittleEndian.AppendUint32(b, px(x, y))
			} else {
				b = binary.BigEndian.AppendUint32(b, px(x, y))
			}
		}
		b = append(b, make([]byte, 8)...)
	}
	return b
}

func TestDecode(t *testing.T) {
	px := func(x, y int) uint32 { return uint32(x*0x400000 + y*0x80 + 0x000011) }
	for _, lsb := range []bool{true, false} {
		img, err := decode(xwd(3, 2, lsb, px))
		if err != nil {
			t.Fatalf("lsb=%v: %v", lsb, err)
		}
		for y := range 2 {
			for x := range 3 {
				v := px(x, y)
				got := img.Pix[y*img.Stride+x*4 : y*img.Stride+x*4+4]
				want := []uint8{uint8(v >> 16), uint8(v >> 8), uint8(v), 0xff}
				if string(got) != string(want) {
					t.Errorf("lsb=%v (%d,%d) = %v, want %v", lsb, x, y, got, want)
				}
			}
		}
		if n := colours(img); n != 6 {
			t.Errorf("lsb=%v: %d colours, want 6", lsb, n)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	good := xwd(4, 4, true, func(x, y int) uint32 { return 0 })
	set := func(field int, v uint32) []byte {
		b := append([]byte(nil), good...)
		binary.BigEndian.PutUint32(b[field*4:], v)
		return b
	}
	tests := map[string][]byte{
		"short header":    good[:40],
		"truncated rows":  good[:len(good)-10],
		"old version":     set(1, 6),
		"XY bitmap":       set(2, 0),
		"8-bit":           set(11, 8),
		"palette visual":  set(13, 3),
		"line too short":  set(12, 8),
		"absurd width":    set(4, 1<<20),
		"huge colour map": set(19, 1<<30),
	}
	for name, b := range tests {
		if _, err := decode(b); !errors.Is(err, errFormat) {
			t.Errorf("%s: %v, want errFormat", name, err)
		}
	}
}

func TestRunCropAndBlankCheck(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "screen.xwd")
	// Left half varied, right half black.
	b := xwd(64, 16, true, func(x, y int) uint32 {
		if x >= 32 {
			return 0
		}
		return uint32(x*16+y) * 0x010203
	})
	if err := os.WriteFile(in, b, 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.png")
	if err := run([]string{"-crop", "32x16", "-min-colours", "100", in, out}); err != nil {
		t.Errorf("varied half: %v", err)
	}
	if st, err := os.Stat(out); err != nil || st.Size() == 0 {
		t.Errorf("no PNG written: %v", err)
	}
	blank := xwd(64, 16, true, func(x, y int) uint32 { return 0x202020 })
	if err := os.WriteFile(in, blank, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"-min-colours", "100", in, out}); err == nil || !strings.Contains(err.Error(), "blank") {
		t.Errorf("blank screen: %v, want a blank-window error", err)
	}
	if err := run([]string{"-crop", "nope", in, out}); err == nil {
		t.Error("bad -crop accepted")
	}
}

// A real dump, from `Xvfb -screen 0 16x16x24 -fbdir`: the header layout
// (visual class, then the red, green and blue masks) is the X server's, not
// this test's idea of it.
func TestDecodeXvfbDump(t *testing.T) {
	b, err := os.ReadFile("testdata/xvfb-16x16.xwd")
	if err != nil {
		t.Fatal(err)
	}
	// Paint the first pixel (after the 160-byte header and 256 colour map
	// entries) 0x123456, stored least significant byte first.
	off := 160 + 256*12
	binary.LittleEndian.PutUint32(b[off:], 0x00123456)
	img, err := decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if img.Rect.Dx() != 16 || img.Rect.Dy() != 16 {
		t.Errorf("size %v, want 16x16", img.Rect)
	}
	if got := img.Pix[:4]; string(got) != string([]uint8{0x12, 0x34, 0x56, 0xff}) {
		t.Errorf("first pixel %v, want 12 34 56 ff", got)
	}
}
