// Command xwd2png converts the screen dump of an Xvfb started with -fbdir
// (an XWD file, 24/32-bit TrueColor ZPixmap) to PNG, and prints how many
// distinct colours the picture has, so that the smoke run can tell a real
// painted window from a blank one. The dump is what the X server shows,
// after GL presented it: unlike the app's own screenshot, it proves the
// window was really drawn.
//
//	xwd2png [-crop WxH] [-min-colours N] IN.xwd OUT.png
package main

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/png"
	"os"
)

var errFormat = errors.New("unsupported XWD")

// decode reads an XWD dump: a header of 25 big-endian 32-bit fields, the
// window name, the colour map (12 bytes an entry), then the rows.
func decode(b []byte) (*image.RGBA, error) {
	const fields = 25
	if len(b) < fields*4 {
		return nil, fmt.Errorf("%w: %d bytes", errFormat, len(b))
	}
	h := make([]uint32, fields)
	for i := range h {
		h[i] = binary.BigEndian.Uint32(b[i*4:])
	}
	hdrSize, version, format, depth := h[0], h[1], h[2], h[3]
	w, ht, byteOrder, bpp, bpl, ncolors := h[4], h[5], h[7], h[11], h[12], h[19]
	switch {
	case version != 7 || format != 2:
		return nil, fmt.Errorf("%w: version %d format %d (want 7, ZPixmap)", errFormat, version, format)
	case depth != 24 && depth != 32 || bpp != 32:
		return nil, fmt.Errorf("%w: depth %d, %d bits per pixel (want 24/32 in 32)", errFormat, depth, bpp)
	case w == 0 || ht == 0 || w > 1<<14 || ht > 1<<14 || uint64(bpl) < uint64(w)*4:
		return nil, fmt.Errorf("%w: %dx%d, %d bytes per line", errFormat, w, ht, bpl)
	}
	off := uint64(hdrSize) + uint64(ncolors)*12
	if off+uint64(bpl)*uint64(ht) > uint64(len(b)) {
		return nil, fmt.Errorf("%w: %d bytes for %dx%d", errFormat, len(b), w, ht)
	}
	// Field 13 is the visual class, 14-16 the red, green and blue masks.
	if h[13] != 4 && h[13] != 5 { // TrueColor, DirectColor
		return nil, fmt.Errorf("%w: visual class %d (want TrueColor)", errFormat, h[13])
	}
	shift := func(mask uint32) uint {
		s := uint(0)
		for mask != 0 && mask&1 == 0 {
			mask >>= 1
			s++
		}
		return s
	}
	rs, gs, bs := shift(h[14]), shift(h[15]), shift(h[16])
	img := image.NewRGBA(image.Rect(0, 0, int(w), int(ht)))
	for y := 0; y < int(ht); y++ {
		row := b[off+uint64(y)*uint64(bpl):]
		for x := 0; x < int(w); x++ {
			var p uint32
			if byteOrder == 0 { // LSBFirst
				p = binary.LittleEndian.Uint32(row[x*4:])
			} else {
				p = binary.BigEndian.Uint32(row[x*4:])
			}
			d := img.Pix[y*img.Stride+x*4:]
			d[0], d[1], d[2], d[3] = uint8(p>>rs), uint8(p>>gs), uint8(p>>bs), 0xff
		}
	}
	return img, nil
}

// colours counts the distinct colours of img.
func colours(img *image.RGBA) int {
	seen := make(map[[3]uint8]struct{})
	for i := 0; i+3 < len(img.Pix); i += 4 {
		seen[[3]uint8{img.Pix[i], img.Pix[i+1], img.Pix[i+2]}] = struct{}{}
	}
	return len(seen)
}

func run(args []string) error {
	fs := flag.NewFlagSet("xwd2png", flag.ContinueOnError)
	crop := fs.String("crop", "", "keep the top-left `WxH` (the window: Xvfb has no window manager)")
	minColours := fs.Int("min-colours", 0, "fail when the picture has fewer distinct colours")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return errors.New("usage: xwd2png [-crop WxH] [-min-colours N] IN.xwd OUT.png")
	}
	b, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	img, err := decode(b)
	if err != nil {
		return err
	}
	if *crop != "" {
		var cw, ch int
		if _, err := fmt.Sscanf(*crop, "%dx%d", &cw, &ch); err != nil || cw <= 0 || ch <= 0 {
			return fmt.Errorf("-crop %q: want WxH", *crop)
		}
		img = img.SubImage(image.Rect(0, 0, cw, ch).Intersect(img.Rect)).(*image.RGBA)
		sub := image.NewRGBA(image.Rect(0, 0, img.Rect.Dx(), img.Rect.Dy()))
		for y := range sub.Rect.Dy() {
			copy(sub.Pix[y*sub.Stride:(y+1)*sub.Stride], img.Pix[y*img.Stride:])
		}
		img = sub
	}
	f, err := os.Create(fs.Arg(1))
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	n := colours(img)
	fmt.Printf("screen: %dx%d, %d colours\n", img.Rect.Dx(), img.Rect.Dy(), n)
	if n < *minColours {
		return fmt.Errorf("only %d colours (want at least %d): the window looks blank", n, *minColours)
	}
	return nil
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "xwd2png:", err)
		os.Exit(1)
	}
}
