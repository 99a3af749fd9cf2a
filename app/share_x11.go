package app

import (
	"fmt"
	"image"
	"slices"
	"strings"

	"github.com/peercall/peercall/capture"
)

// shareFPS is the most a screen share sends; a still screen sends about
// one frame a second.
const shareFPS = 15

// openX11Share captures an X display (capture.OpenScreen): the whole
// screen or a region of it, the pointer drawn in, only changed frames.
func openX11Share(spec shareSpec, hide []uint32) (ShareSource, error) {
	scr, err := capture.OpenScreen(capture.ScreenConfig{Display: spec.Display, Region: spec.Region, Window: spec.Window, FPS: shareFPS, Cursor: true, Hide: hide})
	if err != nil {
		return ShareSource{}, fmt.Errorf("%w: %w", ErrShareSource, err)
	}
	w, h := scr.Size()
	return ShareSource{Next: scr.NextReusing(), Width: w, Height: h, FPS: shareFPS, Close: scr.Close, Refresh: scr.Refresh}, nil
}

// listX11Choices lists the X display's monitors (each a region of the
// screen) and its windows by title.
func listX11Choices(hide []uint32) ([]ShareChoice, error) {
	infos, err := capture.ListScreens("")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrShareSource, err)
	}
	var out []ShareChoice
	n := 0
	for _, in := range infos {
		b := in.Bounds
		if b.Dx() < 16 || b.Dy() < 16 {
			continue
		}
		if in.Window != 0 && slices.Contains(hide, in.Window) {
			continue
		}
		label := strings.TrimSpace(in.Name)
		if in.Window == 0 {
			n++
			label = fmt.Sprintf("Screen %d %s (%dx%d)", n, label, b.Dx(), b.Dy())
			if in.Primary {
				label += ", primary"
			}
		} else if label == "" {
			continue // untitled windows are not worth offering
		} else {
			out = append(out, ShareChoice{Label: "Window: " + label, Spec: fmt.Sprintf("window:%#x", in.Window),
				Thumb: thumbnail(capture.ScreenConfig{Window: in.Window}, len(out))})
			continue
		}
		out = append(out, ShareChoice{Label: label, Spec: regionSpec(b), Thumb: thumbnail(capture.ScreenConfig{Region: b}, len(out))})
	}
	return out, nil
}

// maxThumbs bounds the pictures the picker waits for (a desktop may have
// dozens of windows).
const maxThumbs = 12

// thumbnail is a small picture (at most 192x108) of what cfg captures;
// nil past maxThumbs or when it cannot be captured.
func thumbnail(cfg capture.ScreenConfig, i int) image.Image {
	if i >= maxThumbs {
		return nil
	}
	scr, err := capture.OpenScreen(cfg)
	if err != nil {
		return nil
	}
	defer scr.Close()
	img, err := scr.Next() // the first frame comes at once
	if err != nil {
		return nil
	}
	return shrink(img, 192, 108)
}

// shrink scales img down (nearest neighbour) to fit w x h.
func shrink(img *image.YCbCr, w, h int) *image.RGBA {
	b := img.Bounds()
	scale := max(float64(b.Dx())/float64(w), float64(b.Dy())/float64(h), 1)
	tw, th := max(int(float64(b.Dx())/scale), 1), max(int(float64(b.Dy())/scale), 1)
	out := image.NewRGBA(image.Rect(0, 0, tw, th))
	for y := range th {
		for x := range tw {
			out.Set(x, y, img.At(b.Min.X+int(float64(x)*scale), b.Min.Y+int(float64(y)*scale)))
		}
	}
	return out
}

// regionSpec is the share spec of a region of $DISPLAY.
func regionSpec(b image.Rectangle) string {
	return fmt.Sprintf("screen::%dx%d+%d+%d", b.Dx(), b.Dy(), b.Min.X, b.Min.Y)
}
