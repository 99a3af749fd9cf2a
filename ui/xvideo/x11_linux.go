package xvideo

import (
	"fmt"
	"image"
	"io"
	"log"
	"log/slog"
	"slices"
	"sync"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/shape"
	"github.com/jezek/xgb/shm"
	"github.com/jezek/xgb/xproto"
	"golang.org/x/sys/unix"
)

func init() {
	// xgb logs protocol trouble on its own logger; ours go through slog.
	xgb.Logger = log.New(io.Discard, "", 0)
}

// Conn is a connection to the X server, shared by the surfaces.
type Conn struct {
	x      *xgb.Conn
	log    *slog.Logger
	events sync.WaitGroup
}

// Open connects to display ("" is $DISPLAY) and checks that it can take
// pictures through shared memory.
func Open(display string, log *slog.Logger) (*Conn, error) {
	x, err := xgb.NewConnDisplay(display)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	c := &Conn{x: x, log: log}
	if err := c.check(); err != nil {
		x.Close()
		return nil, err
	}
	c.events.Add(1)
	go c.drain()
	return c, nil
}

func (c *Conn) check() error {
	setup := xproto.Setup(c.x)
	if setup.ImageByteOrder != xproto.ImageOrderLSBFirst {
		return fmt.Errorf("%w: big-endian image byte order", ErrUnavailable)
	}
	ok := false
	for _, f := range setup.PixmapFormats {
		if f.Depth == 24 && f.BitsPerPixel == 32 {
			ok = true
		}
	}
	if !ok {
		return fmt.Errorf("%w: depth 24 is not stored in 32 bits", ErrUnavailable)
	}
	if err := shm.Init(c.x); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if err := shape.Init(c.x); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	// A segment the server cannot attach (a display on another machine)
	// shows here rather than at the first frame.
	seg, err := newSegment(c.x, 4)
	if err != nil {
		return err
	}
	seg.free(c.x)
	return nil
}

// drain reads the connection's events and errors (unchecked requests
// report theirs there) so that they do not pile up.
func (c *Conn) drain() {
	defer c.events.Done()
	for {
		ev, err := c.x.WaitForEvent()
		if ev == nil && err == nil {
			return
		}
		if err != nil && c.log != nil {
			c.log.Debug("x11 video", "err", err)
		}
	}
}

// Close closes the connection; the surfaces' windows go with it.
func (c *Conn) Close() {
	c.x.Close()
	c.events.Wait()
}

// segment is a shared memory buffer the server has attached.
type segment struct {
	id  shm.Seg
	buf []byte
}

func newSegment(x *xgb.Conn, size int) (*segment, error) {
	shmid, err := unix.SysvShmGet(unix.IPC_PRIVATE, size, unix.IPC_CREAT|0o600)
	if err != nil {
		return nil, fmt.Errorf("%w: shmget: %w", ErrUnavailable, err)
	}
	buf, err := unix.SysvShmAttach(shmid, 0, 0)
	if err != nil {
		_, _ = unix.SysvShmCtl(shmid, unix.IPC_RMID, nil)
		return nil, fmt.Errorf("%w: shmat: %w", ErrUnavailable, err)
	}
	id, err := shm.NewSegId(x)
	if err == nil {
		err = shm.AttachChecked(x, id, uint32(shmid), true).Check()
	}
	// Marked for removal now: it goes when both sides have detached, also
	// if this process dies.
	_, _ = unix.SysvShmCtl(shmid, unix.IPC_RMID, nil)
	if err != nil {
		_ = unix.SysvShmDetach(buf)
		return nil, fmt.Errorf("%w: the server cannot attach shared memory: %w", ErrUnavailable, err)
	}
	return &segment{id: id, buf: buf}, nil
}

func (s *segment) free(x *xgb.Conn) {
	_ = shm.DetachChecked(x, s.id).Check()
	_ = unix.SysvShmDetach(s.buf)
}

// Surface is one child window showing pictures.
type Surface struct {
	c     *Conn
	win   xproto.Window
	gc    xproto.Gcontext
	depth byte

	mu     sync.Mutex // the window's place and the buffer
	mapped bool
	at     image.Rectangle // in the parent, pixels
	holes  []image.Rectangle
	seg    *segment
	w, h   int // the buffer's picture size
	closed bool
}

// NewSurface creates an unmapped child window of parent (an X window id)
// with the parent's visual. It takes no input: pointer events go to the
// parent as if the child were not there.
func (c *Conn) NewSurface(parent uint32) (*Surface, error) {
	p := xproto.Window(parent)
	attr, err := xproto.GetWindowAttributes(c.x, p).Reply()
	if err != nil {
		return nil, fmt.Errorf("%w: parent window: %w", ErrUnavailable, err)
	}
	geo, err := xproto.GetGeometry(c.x, xproto.Drawable(p)).Reply()
	if err != nil {
		return nil, fmt.Errorf("%w: parent window: %w", ErrUnavailable, err)
	}
	if geo.Depth != 24 && geo.Depth != 32 {
		return nil, fmt.Errorf("%w: parent depth %d", ErrUnavailable, geo.Depth)
	}
	win, err := xproto.NewWindowId(c.x)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	// A background of None: the server does not clear what is exposed
	// (the next frame paints it), and the parent's colormap and visual so
	// that a 32-bit parent works too.
	err = xproto.CreateWindowChecked(c.x, geo.Depth, win, p, 0, 0, 1, 1, 0,
		xproto.WindowClassInputOutput, attr.Visual,
		xproto.CwBackPixmap|xproto.CwBorderPixel|xproto.CwColormap,
		[]uint32{xproto.BackPixmapNone, 0, uint32(attr.Colormap)}).Check()
	if err != nil {
		return nil, fmt.Errorf("%w: create window: %w", ErrUnavailable, err)
	}
	gc, err := xproto.NewGcontextId(c.x)
	if err == nil {
		err = xproto.CreateGCChecked(c.x, gc, xproto.Drawable(win), xproto.GcGraphicsExposures, []uint32{0}).Check()
	}
	if err != nil {
		xproto.DestroyWindow(c.x, win)
		return nil, fmt.Errorf("%w: create gc: %w", ErrUnavailable, err)
	}
	return &Surface{c: c, win: win, gc: gc, depth: geo.Depth}, nil
}

// Place puts the surface at r in its parent (pixels) with the holes (in
// the parent's coordinates) cut out of it, and shows it; an empty r hides
// it. Unchanged places cost nothing.
func (s *Surface) Place(r image.Rectangle, holes []image.Rectangle) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	if r.Empty() {
		return s.hideLocked()
	}
	if r == s.at && slices.Equal(holes, s.holes) && s.mapped {
		return nil
	}
	if r.Min.X < -1<<15 || r.Min.Y < -1<<15 || r.Max.X >= 1<<15 || r.Max.Y >= 1<<15 {
		return fmt.Errorf("xvideo: place %v", r)
	}
	x := s.c.x
	if r != s.at {
		err := xproto.ConfigureWindowChecked(x, s.win,
			xproto.ConfigWindowX|xproto.ConfigWindowY|xproto.ConfigWindowWidth|xproto.ConfigWindowHeight,
			[]uint32{uint32(int32(r.Min.X)), uint32(int32(r.Min.Y)), uint32(r.Dx()), uint32(r.Dy())}).Check()
		if err != nil {
			return fmt.Errorf("xvideo: place: %w", err)
		}
	}
	var rects []xproto.Rectangle
	for _, q := range subtract(r, holes) {
		q = q.Sub(r.Min)
		rects = append(rects, xproto.Rectangle{X: int16(q.Min.X), Y: int16(q.Min.Y), Width: uint16(q.Dx()), Height: uint16(q.Dy())})
	}
	err := shape.RectanglesChecked(x, shape.SoSet, shape.SkBounding, xproto.ClipOrderingUnsorted, s.win, 0, 0, rects).Check()
	if err != nil {
		return fmt.Errorf("xvideo: shape: %w", err)
	}
	s.at, s.holes = r, append(s.holes[:0], holes...)
	if !s.mapped {
		if err := xproto.MapWindowChecked(x, s.win).Check(); err != nil {
			return fmt.Errorf("xvideo: map: %w", err)
		}
		s.mapped = true
	}
	return nil
}

// Hide unmaps the surface; the parent's own painting shows again.
func (s *Surface) Hide() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hideLocked()
}

func (s *Surface) hideLocked() error {
	if !s.mapped || s.closed {
		return nil
	}
	s.mapped = false
	s.at, s.holes = image.Rectangle{}, nil
	return xproto.UnmapWindowChecked(s.c.x, s.win).Check()
}

// Shown reports whether the surface is mapped, and where.
func (s *Surface) Shown() (image.Rectangle, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.at, s.mapped
}

// Draw shows a w x h picture that fill writes into a buffer of 32-bit
// pixels (B, G, R, X in memory, stride 4w), placed with its top-left
// corner at (dx, dy) in the surface (negative crops). It returns when the
// server has copied the picture, so one producer goroutine may draw again
// at once. Drawing a hidden surface does nothing.
func (s *Surface) Draw(w, h, dx, dy int, fill func(pix []byte, stride int) error) error {
	if w <= 0 || h <= 0 || w > 1<<15 || h > 1<<15 {
		return fmt.Errorf("xvideo: picture %dx%d", w, h)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.mapped || s.closed {
		return nil
	}
	if s.seg == nil || s.w != w || s.h != h {
		if s.seg != nil {
			s.seg.free(s.c.x)
			s.seg = nil
		}
		seg, err := newSegment(s.c.x, w*h*4)
		if err != nil {
			return err
		}
		s.seg, s.w, s.h = seg, w, h
	}
	if err := fill(s.seg.buf[:w*h*4], 4*w); err != nil {
		return err
	}
	// The part of the picture inside the window.
	src := image.Rect(0, 0, w, h).Intersect(image.Rect(-dx, -dy, s.at.Dx()-dx, s.at.Dy()-dy))
	if src.Empty() {
		return nil
	}
	err := shm.PutImageChecked(s.c.x, xproto.Drawable(s.win), s.gc, uint16(w), uint16(h),
		uint16(src.Min.X), uint16(src.Min.Y), uint16(src.Dx()), uint16(src.Dy()),
		int16(src.Min.X+dx), int16(src.Min.Y+dy), s.depth, xproto.ImageFormatZPixmap, 0, s.seg.id, 0).Check()
	if err != nil {
		return fmt.Errorf("xvideo: put image: %w", err)
	}
	return nil
}

// Picture is a copy of the last picture drawn, R, G, B, A (nil if none):
// what the surface shows, for a screenshot.
func (s *Surface) Picture() *image.RGBA {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seg == nil || s.closed {
		return nil
	}
	img := image.NewRGBA(image.Rect(0, 0, s.w, s.h))
	copy(img.Pix, s.seg.buf[:4*s.w*s.h])
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+2], img.Pix[i+3] = img.Pix[i+2], img.Pix[i], 0xff
	}
	return img
}

// Close destroys the window and frees the buffer.
func (s *Surface) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.seg != nil {
		s.seg.free(s.c.x)
		s.seg = nil
	}
	xproto.FreeGC(s.c.x, s.gc)
	if err := xproto.DestroyWindowChecked(s.c.x, s.win).Check(); err != nil {
		return fmt.Errorf("xvideo: destroy window: %w", err)
	}
	return nil
}
