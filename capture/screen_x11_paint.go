//go:build linux && cgo

package capture

/*
#cgo pkg-config: x11
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <X11/Xatom.h>

static int pp_xerr;

static int pp_on_error(Display *d, XErrorEvent *e) {
	(void)d;
	if (!pp_xerr)
		pp_xerr = e->error_code;
	return 0;
}

// pp_begin traps X errors until pp_sync, which flushes the requests and
// returns the first error (the painter is single-threaded, test-only).
static XErrorHandler pp_old;

static void pp_begin(void) {
	pp_xerr = 0;
	pp_old = XSetErrorHandler(pp_on_error);
}

static int pp_sync(Display *d) {
	XSync(d, False);
	XSetErrorHandler(pp_old);
	int e = pp_xerr;
	pp_xerr = 0;
	return e;
}

// pp_image wraps packed 0x00RRGGBB pixels (little-endian B, G, R, x) as
// an XImage; the caller keeps pix alive and frees only the XImage struct.
static XImage *pp_image(Display *d, uint32_t *pix, int w, int h) {
	int s = DefaultScreen(d);
	return XCreateImage(d, DefaultVisual(d, s), DefaultDepth(d, s), ZPixmap, 0, (char *)pix, w, h, 32, w * 4);
}

static void pp_free_image(XImage *im) {
	im->data = NULL;
	XDestroyImage(im);
}

// pp_background makes pix the background of win and repaints it: the
// picture stays on screen without a client redrawing it.
static int pp_background(Display *d, Window win, uint32_t *pix, int w, int h) {
	pp_begin();
	int s = DefaultScreen(d);
	Pixmap pm = XCreatePixmap(d, win, w, h, DefaultDepth(d, s));
	GC gc = XCreateGC(d, pm, 0, NULL);
	XImage *im = pp_image(d, pix, w, h);
	XPutImage(d, pm, gc, im, 0, 0, 0, 0, w, h);
	pp_free_image(im);
	XSetWindowBackgroundPixmap(d, win, pm);
	XClearWindow(d, win);
	XFreeGC(d, gc);
	XFreePixmap(d, pm);
	return pp_sync(d);
}

static int pp_put(Display *d, Window win, uint32_t *pix, int x, int y, int w, int h) {
	pp_begin();
	GC gc = XCreateGC(d, win, 0, NULL);
	XImage *im = pp_image(d, pix, w, h);
	XPutImage(d, win, gc, im, 0, 0, x, y, w, h);
	pp_free_image(im);
	XFreeGC(d, gc);
	return pp_sync(d);
}

static int pp_fill(Display *d, Window win, unsigned long rgb, int x, int y, int w, int h) {
	pp_begin();
	GC gc = XCreateGC(d, win, 0, NULL);
	XSetForeground(d, gc, rgb);
	XFillRectangle(d, win, gc, x, y, w, h);
	XFreeGC(d, gc);
	return pp_sync(d);
}

static Window pp_window(Display *d, int x, int y, int w, int h, const char *title, int *err) {
	pp_begin();
	Window root = DefaultRootWindow(d);
	Window win = XCreateSimpleWindow(d, root, x, y, w, h, 0, 0, 0);
	XStoreName(d, win, title);
	XChangeProperty(d, win, XInternAtom(d, "_NET_WM_NAME", False), XInternAtom(d, "UTF8_STRING", False), 8,
			PropModeReplace, (const unsigned char *)title, strlen(title));
	XMapWindow(d, win);
	*err = pp_sync(d);
	return win;
}

static int pp_destroy(Display *d, Window win) {
	pp_begin();
	XDestroyWindow(d, win);
	return pp_sync(d);
}

static int pp_move(Display *d, Window win, int x, int y, int map) {
	pp_begin();
	XMoveWindow(d, win, x, y);
	if (map)
		XMapRaised(d, win);
	else
		XUnmapWindow(d, win);
	return pp_sync(d);
}

static int pp_resize(Display *d, Window win, int w, int h) {
	pp_begin();
	XResizeWindow(d, win, w, h);
	return pp_sync(d);
}

static int pp_warp(Display *d, int x, int y) {
	pp_begin();
	XWarpPointer(d, None, DefaultRootWindow(d), 0, 0, 0, 0, x, y);
	return pp_sync(d);
}
*/
import "C"

import (
	"fmt"
	"image"
	"image/color"
	"unsafe"
)

// xPainter draws on an X display for the screen tests and benchmark: a
// picture as a window background, rectangles, windows, pointer moves.
type xPainter struct {
	d *C.Display
}

func openXPainter(display string) (*xPainter, error) {
	name := C.CString(display)
	defer C.free(unsafe.Pointer(name))
	d := C.XOpenDisplay(name)
	if d == nil {
		return nil, fmt.Errorf("open X display %q: %w", display, ErrNoScreenCapture)
	}
	return &xPainter{d: d}, nil
}

func (p *xPainter) close() { C.XCloseDisplay(p.d) }

func (p *xPainter) win(w uint32) C.Window {
	if w == 0 {
		return C.XDefaultRootWindow(p.d)
	}
	return C.Window(w)
}

func xcheck(op string, rc C.int) error {
	if rc != 0 {
		return fmt.Errorf("%s: X error %d", op, int(rc))
	}
	return nil
}

// packRGB lays img out as 32-bit 0x00RRGGBB pixels in C memory (Xlib
// keeps no Go pointers); the caller frees it.
func packRGB(img *image.RGBA) (*C.uint32_t, int, int) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	p := (*C.uint32_t)(C.malloc(C.size_t(max(1, w*h*4))))
	px := unsafe.Slice((*uint32)(unsafe.Pointer(p)), w*h)
	for y := range h {
		row := img.Pix[img.PixOffset(img.Rect.Min.X, img.Rect.Min.Y+y):]
		for x := range w {
			r, g, b := row[4*x], row[4*x+1], row[4*x+2]
			px[y*w+x] = uint32(r)<<16 | uint32(g)<<8 | uint32(b)
		}
	}
	return p, w, h
}

// setBackground makes img the background of window w (0: the root).
func (p *xPainter) setBackground(w uint32, img *image.RGBA) error {
	pix, iw, ih := packRGB(img)
	defer C.free(unsafe.Pointer(pix))
	return xcheck("set background", C.pp_background(p.d, p.win(w), pix, C.int(iw), C.int(ih)))
}

// put draws img into window w (0: the root) at pt.
func (p *xPainter) put(w uint32, img *image.RGBA, pt image.Point) error {
	pix, iw, ih := packRGB(img)
	defer C.free(unsafe.Pointer(pix))
	return xcheck("put image", C.pp_put(p.d, p.win(w), pix, C.int(pt.X), C.int(pt.Y), C.int(iw), C.int(ih)))
}

// fill paints r in window w (0: the root).
func (p *xPainter) fill(w uint32, r image.Rectangle, c color.RGBA) error {
	rgb := C.ulong(c.R)<<16 | C.ulong(c.G)<<8 | C.ulong(c.B)
	return xcheck("fill", C.pp_fill(p.d, p.win(w), rgb, C.int(r.Min.X), C.int(r.Min.Y), C.int(r.Dx()), C.int(r.Dy())))
}

// newWindow maps a black top-level window titled title at r.
func (p *xPainter) newWindow(r image.Rectangle, title string) (uint32, error) {
	t := C.CString(title)
	defer C.free(unsafe.Pointer(t))
	var rc C.int
	w := C.pp_window(p.d, C.int(r.Min.X), C.int(r.Min.Y), C.int(r.Dx()), C.int(r.Dy()), t, &rc)
	return uint32(w), xcheck("create window", rc)
}

func (p *xPainter) destroy(w uint32) error {
	return xcheck("destroy window", C.pp_destroy(p.d, C.Window(w)))
}

// move puts window w at (x, y), mapped (raised) or unmapped.
func (p *xPainter) move(w uint32, x, y int, mapped bool) error {
	return xcheck("move window", C.pp_move(p.d, C.Window(w), C.int(x), C.int(y), C.int(b2i(mapped))))
}

// resize gives window w a new size.
func (p *xPainter) resize(w uint32, width, height int) error {
	return xcheck("resize window", C.pp_resize(p.d, C.Window(w), C.int(width), C.int(height)))
}

// warp moves the pointer to (x, y) on the root window.
func (p *xPainter) warp(x, y int) error {
	return xcheck("warp pointer", C.pp_warp(p.d, C.int(x), C.int(y)))
}
