// Package xvideo shows video in X11 child windows of the app's window,
// written through shared memory (MIT-SHM), the way video players draw on
// X11 without a GPU.
//
// The GUI toolkit repaints its whole window with GL for any change, and
// under software GL (Mesa's llvmpipe: Xvfb, virtual machines, machines
// without a GPU driver) each painted pixel of a picture runs a texture
// shader, about 10 ns apiece: a 640x480 call picture at 30 fps was a tenth
// of a core on its own. A child window shows the picture with one copy in
// the X server instead, and the toolkit does not repaint at all for a
// video frame. Parts of the toolkit's window drawn over the picture (badges,
// the self-view inset, popups) are cut out of the child window's shape so
// that they show through.
//
// The package speaks the X protocol itself (github.com/jezek/xgb, pure Go):
// it needs no cgo and no X library. It is for Linux; Open fails elsewhere.
package xvideo

import "image"

// subtract returns r minus the holes as a list of disjoint rectangles.
func subtract(r image.Rectangle, holes []image.Rectangle) []image.Rectangle {
	if r.Empty() {
		return nil
	}
	out := []image.Rectangle{r}
	for _, h := range holes {
		var next []image.Rectangle
		for _, p := range out {
			c := p.Intersect(h)
			if c.Empty() {
				next = append(next, p)
				continue
			}
			// Above, below, then left and right of the cut, within its rows.
			for _, q := range []image.Rectangle{
				image.Rect(p.Min.X, p.Min.Y, p.Max.X, c.Min.Y),
				image.Rect(p.Min.X, c.Max.Y, p.Max.X, p.Max.Y),
				image.Rect(p.Min.X, c.Min.Y, c.Min.X, c.Max.Y),
				image.Rect(c.Max.X, c.Min.Y, p.Max.X, c.Max.Y),
			} {
				if !q.Empty() {
					next = append(next, q)
				}
			}
		}
		out = next
	}
	return out
}
