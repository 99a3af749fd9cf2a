package ui

import (
	"image"
	"image/color"
	"math"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"

	"github.com/peercall/peercall/app"
)

// videoSurface is a window of a picture's own over the app's window
// (xvideo.Surface; tests fake it).
type videoSurface interface {
	Place(r image.Rectangle, holes []image.Rectangle) error
	Hide() error
	Shown() (image.Rectangle, bool)
	Draw(w, h, dx, dy int, fill func(pix []byte, stride int) error) error
	Picture() *image.RGBA
	Close() error
}

// surfaceMaker creates surfaces over the app's window; Options.surfaces
// opens one when the window is on screen (nil: Fyne paints all video).
type surfaceMaker struct {
	New   func() (videoSurface, error)
	Close func()
}

// surfacePlaceEvery is how often the surfaces are checked against the
// window's layout (a resize, a popup, a badge shown over the picture) when
// nothing else triggers it.
const surfacePlaceEvery = 100 * time.Millisecond

// surfaceSet shows the remote cameras' pictures and the self-view in
// windows of their own when the window system allows (package xvideo):
// Fyne's GL driver then neither paints them nor repaints the window for
// their frames. Whatever
// Fyne draws over a picture (the self-view inset, badges, name plates,
// the speaker's border, panels) is cut out of the surface so that it
// shows, and while a popup or dialog is open the pictures go back to
// Fyne. All of it runs on the main thread.
type surfaceSet struct {
	u     *UI
	open  func() (surfaceMaker, error)
	maker *surfaceMaker
	off   bool // unavailable: Fyne paints everything
	views []*videoView
	stop  func()
}

func (s *surfaceSet) add(v *videoView) {
	if s.off {
		return
	}
	s.views = append(s.views, v)
}

// remove closes v's surface (its tile is gone).
func (s *surfaceSet) remove(v *videoView) {
	for i, o := range s.views {
		if o == v {
			s.views = append(s.views[:i:i], s.views[i+1:]...)
			break
		}
	}
	s.drop(v)
}

// drop hands v's picture back to Fyne and closes its surface. Closed
// before the connection: a producer drawing now is waited for, later
// draws do nothing.
func (s *surfaceSet) drop(v *videoView) {
	v.leaveSurface()
	if v.surf != nil {
		if err := v.surf.Close(); err != nil {
			s.u.log.Debug("video surface", "err", err)
		}
	}
}

// start places the surfaces every surfacePlaceEvery until close.
func (s *surfaceSet) start() {
	if s.open == nil || s.off {
		s.off = true
		return
	}
	t := time.NewTicker(surfacePlaceEvery)
	done := make(chan struct{})
	s.stop = func() { t.Stop(); close(done) }
	go func() {
		for {
			select {
			case <-done:
				return
			case <-t.C:
				s.u.do(s.place)
			}
		}
	}()
}

// close ends the surfaces; Fyne paints what follows.
func (s *surfaceSet) close() {
	if s.stop != nil {
		s.stop()
		s.stop = nil
	}
	for _, v := range s.views {
		s.drop(v)
	}
	s.views = nil
	if s.maker != nil && s.maker.Close != nil {
		s.maker.Close()
	}
	s.maker = nil
	s.off = true
}

// surfaceFor gives v its surface, opening the window system on first use.
func (s *surfaceSet) surfaceFor(v *videoView) videoSurface {
	if v.surf != nil || s.off {
		return v.surf
	}
	if s.maker == nil {
		m, err := s.open()
		if err != nil {
			s.u.log.Info("video painted by the GUI toolkit", "reason", err)
			s.off = true
			return nil
		}
		s.maker = &m
	}
	surf, err := s.maker.New()
	if err != nil {
		s.u.log.Info("video painted by the GUI toolkit", "reason", err)
		s.close()
		return nil
	}
	v.surf = surf
	return surf
}

// place puts every picture that is on screen in its surface, or back in
// Fyne's hands. Main thread.
func (s *surfaceSet) place() {
	if s.off || len(s.views) == 0 {
		return
	}
	c := s.u.win.Canvas()
	popup := c.Overlays().Top() != nil
	scale := c.Scale()
	type spot struct {
		pic   image.Rectangle // the picture, window pixels
		holes []image.Rectangle
	}
	spots := map[*videoView]*spot{}
	var order []*spot
	walkPainted(c.Content(), fyne.Position{}, func(o fyne.CanvasObject, pos fyne.Position) {
		painted := paintedRects(o, pos, scale)
		var mine *spot
		if img, ok := o.(*canvas.Image); ok {
			for _, v := range s.views {
				if v.img != img {
					continue
				}
				if size := unpackSize(v.picSize.Load()); size.X > 0 {
					// Its picture covers what is below, on a surface
					// or not (Fyne's image may be empty meanwhile).
					mine = &spot{pic: containedPixels(pos, o.Size(), size, scale)}
					spots[v] = mine
					painted = []image.Rectangle{mine.pic}
				}
				break
			}
		}
		for _, h := range painted {
			for _, sp := range order {
				if h.Overlaps(sp.pic) {
					sp.holes = append(sp.holes, h.Intersect(sp.pic))
				}
			}
		}
		if mine != nil {
			order = append(order, mine)
		}
	})
	for _, v := range s.views {
		sp := spots[v]
		if sp == nil || popup || sp.pic.Dx() < 2 || sp.pic.Dy() < 2 {
			v.leaveSurface()
			continue
		}
		if !v.onSurf.Load() {
			// A frame converted for Fyne is shown first, as a repaint
			// would (its tile learns of its first picture), and then
			// moves with the view.
			v.swap()
			if v.picSize.Load() == 0 {
				continue // cleared: its camera went off
			}
		}
		surf := s.surfaceFor(v)
		if surf == nil {
			return
		}
		if err := surf.Place(sp.pic, sp.holes); err != nil {
			s.u.log.Info("video surface", "err", err)
			v.leaveSurface()
			continue
		}
		if !v.onSurf.Load() {
			// The surface shows Fyne's last picture until the next
			// frame, which a still screen's share sends rarely: on
			// screen the X server keeps what Fyne painted below, but a
			// screenshot takes the surface's own picture. Drawn before
			// the producer may draw there, so never over a newer frame.
			if err := v.drawLast(surf); err != nil {
				s.u.log.Debug("video surface", "err", err)
			}
			v.onSurf.Store(true)
			// Fyne no longer paints it (it is covered); a popup or a
			// move back gives it the next frame.
			v.img.Image = nil
			v.img.Refresh()
		}
	}
}

// withPictures runs f (a software paint of the window for a screenshot)
// with the surfaces' pictures in their views. Main thread.
func (s *surfaceSet) withPictures(f func()) {
	var back []*videoView
	for _, v := range s.views {
		if v.onSurf.Load() && v.surf != nil && v.img.Image == nil {
			if pic := v.surf.Picture(); pic != nil {
				v.img.Image = pic
				back = append(back, v)
			}
		}
	}
	f()
	for _, v := range back {
		v.img.Image = nil
	}
}

// leaveSurface hands v's picture back to Fyne (the next frame is painted
// there). Main thread.
func (v *videoView) leaveSurface() {
	if !v.onSurf.Swap(false) || v.surf == nil {
		return
	}
	if v.img.Image == nil {
		// Fyne shows the surface's last picture until the next frame
		// (a frozen or still picture under a popup stays on screen).
		if pic := v.surf.Picture(); pic != nil && !pic.Rect.Empty() {
			v.mu.Lock()
			v.shown = -1 // none of the buffers is on screen
			v.mu.Unlock()
			v.showImage(pic)
		}
	}
	_ = v.surf.Hide()
}

// drawOnSurface shows src in v's surface, scaled to its size, and reports
// whether it did. The producer's goroutine.
func (v *videoView) drawOnSurface(src *image.YCbCr) bool {
	surf := v.surf
	if surf == nil {
		return false
	}
	at, shown := surf.Shown()
	if !shown {
		return false
	}
	w, h, dx, dy := fitSurface(at, src.Rect.Size())
	pic := src
	if w != src.Rect.Dx() || h != src.Rect.Dy() {
		scaled, err := app.ScalePicture(v.scaled, src, w, h)
		if err != nil {
			return false
		}
		v.scaled, pic = scaled, scaled
	}
	err := surf.Draw(w, h, dx, dy, func(pix []byte, stride int) error {
		return app.ToBGRA(pix, stride, pic)
	})
	if err != nil {
		return false // painted by Fyne instead
	}
	v.shownFrame()
	// The self-view and snapshots wait for a repaint as they would
	// behind a painted remote frame, instead of each causing one.
	v.sched.shownElsewhere()
	return true
}

// drawLast draws the picture Fyne last showed for v on surf, at the size
// a frame of its size would take there. Main thread, before v is on surf.
func (v *videoView) drawLast(surf videoSurface) error {
	last, ok := v.img.Image.(*image.RGBA)
	if !ok || last == nil || last.Rect.Empty() {
		return nil
	}
	at, shown := surf.Shown()
	if !shown {
		return nil
	}
	w, h, dx, dy := fitSurface(at, last.Rect.Size())
	return surf.Draw(w, h, dx, dy, func(pix []byte, stride int) error {
		nearestBGRA(pix, stride, w, h, last)
		return nil
	})
}

// fitSurface is the size of a picture of size pic drawn in a surface at
// at, and its offset there. A picture a hair larger than its place is
// shown pixel for pixel, its edges cropped, rather than resampled (0.35 ms
// a 640x480 frame); any other is scaled to the place (even sides, for
// 4:2:0).
func fitSurface(at image.Rectangle, pic image.Point) (w, h, dx, dy int) {
	w, h = at.Dx()&^1, at.Dy()&^1
	if crops(pic.X, w) && crops(pic.Y, h) {
		w, h = pic.X, pic.Y
	}
	return w, h, (at.Dx() - w) / 2, (at.Dy() - h) / 2
}

// nearestBGRA scales src to w x h, nearest neighbour, into pix (B, G, R,
// A rows of stride bytes): once per move of a picture to its surface, so
// plain Go (about 1 ms for 640x480).
func nearestBGRA(pix []byte, stride, w, h int, src *image.RGBA) {
	sw, sh := src.Rect.Dx(), src.Rect.Dy()
	cols := make([]int, w)
	for x := range cols {
		cols[x] = (x * sw / w) * 4
	}
	for y := range h {
		in := src.Pix[(y*sh/h)*src.Stride:]
		out := pix[y*stride : y*stride+4*w]
		for x, o := range cols {
			out[4*x], out[4*x+1], out[4*x+2], out[4*x+3] = in[o+2], in[o+1], in[o], 0xff
		}
	}
}

// placeAfterLayout lays its objects out as inner does, then places the
// surfaces at once: the pictures of a window being resized move with it
// rather than at the next check (Fyne tells of a resize only through
// layouts). Main thread, as layouts are.
type placeAfterLayout struct {
	inner fyne.Layout
	place func()
}

func (l placeAfterLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	l.inner.Layout(objs, size)
	l.place()
}

func (l placeAfterLayout) MinSize(objs []fyne.CanvasObject) fyne.Size { return l.inner.MinSize(objs) }

// crops reports whether a picture side of n pixels shows in a place of
// m uncut and unscaled but for at most 1 % at each end.
func crops(n, m int) bool { return n >= m && (n-m)*50 <= n }

// walkPainted calls visit for every visible object that is not a plain
// container, in paint order (later ones are drawn over earlier ones),
// with its position in the canvas.
func walkPainted(o fyne.CanvasObject, at fyne.Position, visit func(fyne.CanvasObject, fyne.Position)) {
	if o == nil || !o.Visible() {
		return
	}
	pos := at.Add(o.Position())
	if c, ok := o.(*fyne.Container); ok {
		for _, k := range c.Objects {
			walkPainted(k, pos, visit)
		}
		return
	}
	visit(o, pos)
}

// paintedRects is where o paints, in window pixels (rounded outwards):
// nothing for an empty text, image or see-through rectangle, the four
// sides of an outline.
func paintedRects(o fyne.CanvasObject, pos fyne.Position, scale float32) []image.Rectangle {
	size := o.Size()
	switch o := o.(type) {
	case *canvas.Text:
		if o.Text == "" {
			return nil
		}
	case *canvas.Image:
		if o.Image == nil && o.Resource == nil && o.File == "" {
			return nil
		}
	case *canvas.Rectangle:
		fill := !invisible(o.FillColor)
		stroke := !invisible(o.StrokeColor) && o.StrokeWidth > 0
		switch {
		case fill:
		case stroke:
			w := o.StrokeWidth
			return []image.Rectangle{
				outward(pos, fyne.NewSize(size.Width, w), scale),
				outward(fyne.NewPos(pos.X, pos.Y+size.Height-w), fyne.NewSize(size.Width, w), scale),
				outward(pos, fyne.NewSize(w, size.Height), scale),
				outward(fyne.NewPos(pos.X+size.Width-w, pos.Y), fyne.NewSize(w, size.Height), scale),
			}
		default:
			return nil
		}
	}
	return []image.Rectangle{outward(pos, size, scale)}
}

func invisible(c color.Color) bool {
	if c == nil {
		return true
	}
	_, _, _, a := c.RGBA()
	return a == 0
}

// outward is the pixel rectangle covering pos and size at scale.
func outward(pos fyne.Position, size fyne.Size, scale float32) image.Rectangle {
	return image.Rect(int(math.Floor(float64(pos.X*scale))), int(math.Floor(float64(pos.Y*scale))),
		int(math.Ceil(float64((pos.X+size.Width)*scale))), int(math.Ceil(float64((pos.Y+size.Height)*scale))))
}

// containedPixels is where a picture of size pic shows in an image object
// at pos and size with ImageFillContain, in window pixels, even sized.
func containedPixels(pos fyne.Position, size fyne.Size, pic image.Point, scale float32) image.Rectangle {
	x0, y0 := float64(pos.X*scale), float64(pos.Y*scale)
	bw, bh := float64(size.Width*scale), float64(size.Height*scale)
	f := min(bw/float64(pic.X), bh/float64(pic.Y))
	w, h := int(float64(pic.X)*f)&^1, int(float64(pic.Y)*f)&^1
	x := int(math.Round(x0 + (bw-float64(w))/2))
	y := int(math.Round(y0 + (bh-float64(h))/2))
	return image.Rect(x, y, x+w, y+h)
}

func packSize(p image.Point) uint64 { return uint64(uint32(p.X))<<32 | uint64(uint32(p.Y)) }

func unpackSize(v uint64) image.Point { return image.Pt(int(v>>32), int(uint32(v))) }
