//go:build linux && cgo

package capture

/*
#cgo pkg-config: x11 xext xdamage xfixes xrandr
#cgo LDFLAGS: -lyuv
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <X11/Xatom.h>
#include <X11/extensions/XShm.h>
#include <X11/extensions/Xdamage.h>
#include <X11/extensions/Xfixes.h>
#include <X11/extensions/Xrandr.h>
#include <libyuv/convert.h>
#include <libyuv/scale.h>

// X errors arrive asynchronously and, unhandled, end the process. Every
// entry point that sends requests traps them: it installs pc_on_error,
// syncs before it returns and puts the previous handler back, so an error
// caused by our requests lands in pc_xerr of the calling thread. (The
// handler is process-wide; another thread's X error in that window is
// swallowed, never fatal.)
static __thread int pc_xerr;

static int pc_on_error(Display *d, XErrorEvent *e) {
	(void)d;
	if (!pc_xerr)
		pc_xerr = e->error_code;
	return 0;
}

typedef int (*pc_handler)(Display *, XErrorEvent *);

static pc_handler pc_trap(void) {
	pc_xerr = 0;
	return XSetErrorHandler(pc_on_error);
}

static int pc_untrap(Display *d, pc_handler old) {
	XSync(d, False);
	XSetErrorHandler(old);
	return pc_xerr;
}

typedef struct {
	Display *dpy;
	Window win, root;
	Visual *visual;
	int depth;
	int x, y, w, h; // captured rectangle, in win's coordinates
	int shm;
	int attached[2];
	XShmSegmentInfo seg[2];
	XImage *img[2]; // double buffer: the last capture and the spare
	int cur, grabbed;
	int dmg_base; // DAMAGE event base, -1 without the extension
	Damage dmg;
	int io_lost;
	// Pointer, fetched by pc_cursor: premultiplied ARGB, top-left in
	// capture coordinates.
	uint32_t *cpix;
	int cx, cy, cw, ch;
	unsigned long cserial;
	// Pixels under the pointer while it is drawn in.
	uint32_t *under;
	int ux, uy, uw, uh, ucap;
} pc_cap;

// A lost connection must not end the process, which is what Xlib's
// default I/O error handler does. For our displays the process-wide
// handler returns instead; then the per-display exit handler flags the
// loss and Xlib turns further calls on that display into no-ops. Other
// displays (the GUI's) keep the handler they had.
#define PC_MAX_DISPLAYS 64
static pthread_mutex_t pc_mu = PTHREAD_MUTEX_INITIALIZER;
static Display *pc_ours[PC_MAX_DISPLAYS];
static XIOErrorHandler pc_prev_io;
static int pc_io_installed;

static int pc_on_io(Display *d) {
	int ours = 0;
	pthread_mutex_lock(&pc_mu);
	for (int i = 0; i < PC_MAX_DISPLAYS && !ours; i++)
		ours = pc_ours[i] == d;
	XIOErrorHandler prev = pc_prev_io;
	pthread_mutex_unlock(&pc_mu);
	if (!ours && prev)
		return prev(d);
	return 0;
}

static int pc_register(Display *d, int add) {
	int ok = 0;
	pthread_mutex_lock(&pc_mu);
	if (add && !pc_io_installed) {
		pc_prev_io = XSetIOErrorHandler(pc_on_io);
		pc_io_installed = 1;
	}
	for (int i = 0; i < PC_MAX_DISPLAYS && !ok; i++) {
		if (pc_ours[i] == (add ? NULL : d)) {
			pc_ours[i] = add ? d : NULL;
			ok = 1;
		}
	}
	pthread_mutex_unlock(&pc_mu);
	return ok;
}

static void pc_on_io_exit(Display *d, void *p) {
	(void)d;
	((pc_cap *)p)->io_lost = 1;
}

static pc_cap *pc_open(const char *name) {
	Display *d = XOpenDisplay(name[0] ? name : NULL);
	if (!d)
		return NULL;
	pc_cap *c = calloc(1, sizeof *c);
	if (!c || !pc_register(d, 1)) {
		free(c);
		XCloseDisplay(d);
		return NULL;
	}
	c->dpy = d;
	c->root = DefaultRootWindow(d);
	c->dmg_base = -1;
	XSetIOErrorExitHandler(d, pc_on_io_exit, c);
	return c;
}

// pc_target looks up the window to capture (the root when w is 0).
// Returns an X error code (BadWindow when there is no such window).
static int pc_target(pc_cap *c, Window w, int *ww, int *wh, int *viewable) {
	if (!w)
		w = c->root;
	XWindowAttributes a;
	pc_handler old = pc_trap();
	Status ok = XGetWindowAttributes(c->dpy, w, &a);
	int err = pc_untrap(c->dpy, old);
	if (c->io_lost)
		return -1;
	if (!err && !ok)
		err = BadWindow;
	if (err)
		return err;
	c->win = w;
	c->visual = a.visual;
	c->depth = a.depth;
	*ww = a.width;
	*wh = a.height;
	*viewable = a.map_state == IsViewable;
	return 0;
}

// pc_place finds where window w is inside the captured rectangle: its
// top-level frame (the root's child that holds it, so the window
// manager's decorations count too), in the capture's coordinates.
// Returns 0, an X error code (BadWindow: gone) or -1 when the connection
// is lost.
static int pc_place(pc_cap *c, Window w, int *x, int *y, int *ww, int *wh, int *viewable) {
	pc_handler old = pc_trap();
	Window top = w, root, parent, child, *kids = NULL;
	unsigned int n;
	while (XQueryTree(c->dpy, top, &root, &parent, &kids, &n)) {
		if (kids)
			XFree(kids);
		kids = NULL;
		if (parent == root || parent == None)
			break;
		top = parent;
	}
	XWindowAttributes a;
	Status ok = XGetWindowAttributes(c->dpy, top, &a);
	int rx = 0, ry = 0;
	if (ok)
		XTranslateCoordinates(c->dpy, top, c->win, 0, 0, &rx, &ry, &child);
	int err = pc_untrap(c->dpy, old);
	if (c->io_lost)
		return -1;
	if (!err && !ok)
		err = BadWindow;
	if (err)
		return err;
	*x = rx - c->x;
	*y = ry - c->y;
	*ww = a.width + 2 * a.border_width;
	*wh = a.height + 2 * a.border_width;
	*viewable = a.map_state == IsViewable;
	return 0;
}

static void pc_free_images(pc_cap *c) {
	for (int i = 0; i < 2; i++) {
		XImage *im = c->img[i];
		if (!im)
			continue;
		if (c->shm) {
			if (c->attached[i])
				XShmDetach(c->dpy, &c->seg[i]);
			XDestroyImage(im); // frees the XImage only
			if (c->seg[i].shmaddr)
				shmdt(c->seg[i].shmaddr);
			c->seg[i].shmaddr = NULL;
			c->attached[i] = 0;
		} else {
			XDestroyImage(im); // and its malloc'd data
		}
		c->img[i] = NULL;
	}
	c->grabbed = 0;
}

// pc_make_shm sets up two images in shared memory. Returns 0, an X error
// code (a remote display refuses the attach) or -1.
static int pc_make_shm(pc_cap *c) {
	c->shm = 1;
	for (int i = 0; i < 2; i++) {
		XImage *im = XShmCreateImage(c->dpy, c->visual, c->depth, ZPixmap, NULL, &c->seg[i], c->w, c->h);
		if (!im)
			return -1;
		c->img[i] = im;
		int id = shmget(IPC_PRIVATE, (size_t)im->bytes_per_line * im->height, IPC_CREAT | 0600);
		if (id < 0)
			return -1;
		c->seg[i].shmid = id;
		void *p = shmat(id, NULL, 0);
		if (p == (void *)-1) {
			shmctl(id, IPC_RMID, NULL);
			return -1;
		}
		c->seg[i].shmaddr = im->data = p;
		c->seg[i].readOnly = False;
		pc_handler old = pc_trap();
		XShmAttach(c->dpy, &c->seg[i]);
		int err = pc_untrap(c->dpy, old);
		// Both sides are attached (or the server refused): the segment
		// goes away with its last user, even if we crash.
		shmctl(id, IPC_RMID, NULL);
		if (err)
			return err;
		c->attached[i] = 1;
	}
	return 0;
}

static int pc_make_plain(pc_cap *c) {
	c->shm = 0;
	for (int i = 0; i < 2; i++) {
		XImage *im = XCreateImage(c->dpy, c->visual, c->depth, ZPixmap, 0, NULL, c->w, c->h, 32, 0);
		if (!im)
			return -1;
		im->data = malloc((size_t)im->bytes_per_line * im->height);
		if (!im->data) {
			XDestroyImage(im);
			return -1;
		}
		c->img[i] = im;
	}
	return 0;
}

// pc_setup prepares the buffers for the rectangle set in c (SHM unless
// try_shm is 0 or the server refuses it) and watches the window for
// damage. Returns 0, -1 on no memory, -2 for a pixel layout other than
// 32-bit xRGB, -3 when the connection is lost.
static int pc_setup(pc_cap *c, int try_shm, int watch) {
	int maj, min;
	Bool pix;
	if (!(try_shm && XShmQueryVersion(c->dpy, &maj, &min, &pix) && pc_make_shm(c) == 0)) {
		pc_free_images(c);
		if (pc_make_plain(c) != 0)
			return -1;
	}
	if (c->io_lost)
		return -3;
	XImage *im = c->img[0];
	if (im->bits_per_pixel != 32 || im->byte_order != LSBFirst || im->red_mask != 0xff0000 ||
	    im->green_mask != 0xff00 || im->blue_mask != 0xff)
		return -2;
	int ev, er;
	if (XDamageQueryExtension(c->dpy, &ev, &er)) {
		pc_handler old = pc_trap();
		c->dmg = XDamageCreate(c->dpy, c->win, XDamageReportNonEmpty);
		if (watch)
			XSelectInput(c->dpy, c->win, StructureNotifyMask);
		if (pc_untrap(c->dpy, old) == 0)
			c->dmg_base = ev;
		else
			c->dmg = 0;
	}
	return c->io_lost ? -3 : 0;
}

// pc_resize makes the capture buffers anew for a w x h window (a shared
// window was resized). Returns 0, or -1 on no memory.
static int pc_resize(pc_cap *c, int w, int h) {
	pc_handler old = pc_trap();
	pc_free_images(c);
	pc_untrap(c->dpy, old);
	c->w = w;
	c->h = h;
	c->grabbed = 0;
	if (c->shm && pc_make_shm(c) == 0)
		return c->io_lost ? -1 : 0;
	pc_free_images(c);
	return pc_make_plain(c);
}

// pc_fit scales src (I420 sw x sh) into the middle of dst (I420 dw x dh)
// keeping its shape, with black bars where it does not fill dst.
static int pc_fit(const uint8_t *sy, const uint8_t *su, const uint8_t *sv, int sw, int sh,
		  uint8_t *dy, int dys, uint8_t *du, uint8_t *dv, int dcs, int dw, int dh) {
	int fw = dw, fh = (int)((long long)sh * dw / sw);
	if (fh > dh) {
		fh = dh;
		fw = (int)((long long)sw * dh / sh);
	}
	fw = fw < 2 ? 2 : fw & ~1;
	fh = fh < 2 ? 2 : fh & ~1;
	int ox = ((dw - fw) / 2) & ~1, oy = ((dh - fh) / 2) & ~1;
	for (int y = 0; y < dh; y++)
		memset(dy + (size_t)y * dys, 16, dw);
	for (int y = 0; y < dh / 2; y++) {
		memset(du + (size_t)y * dcs, 128, dw / 2);
		memset(dv + (size_t)y * dcs, 128, dw / 2);
	}
	return I420Scale(sy, sw, su, sw / 2, sv, sw / 2, sw, sh,
			 dy + (size_t)oy * dys + ox, dys, du + (size_t)(oy / 2) * dcs + ox / 2, dcs,
			 dv + (size_t)(oy / 2) * dcs + ox / 2, dcs, fw, fh, kFilterBilinear);
}

// pc_poll drains the event queue without blocking: bit 0 set when the
// window was drawn to, bit 1 when it was destroyed or unmapped, bit 2
// when it was moved or resized; -1 when the connection is lost.
static int pc_poll(pc_cap *c) {
	int r = 0;
	while (!c->io_lost && XPending(c->dpy) > 0) {
		XEvent ev;
		XNextEvent(c->dpy, &ev);
		if (c->dmg_base >= 0 && ev.type == c->dmg_base + XDamageNotify)
			r |= 1;
		else if (ev.type == DestroyNotify || ev.type == UnmapNotify)
			r |= 2;
		else if (ev.type == ConfigureNotify)
			r |= 4;
	}
	if (c->io_lost)
		return -1;
	if (r & 1) {
		// Re-arm before capturing, so drawing from now on reports again.
		pc_handler old = pc_trap();
		XDamageSubtract(c->dpy, c->dmg, None, None);
		pc_untrap(c->dpy, old);
	}
	return c->io_lost ? -1 : r;
}

// pc_grab captures into the spare buffer and compares it with the last
// capture: rows [*y0, *y1) differ (all of them the first time). Returns 0,
// an X error code, or -1 when the connection is lost.
static int pc_grab(pc_cap *c, int *y0, int *y1) {
	int n = c->cur ^ 1;
	XImage *im = c->img[n];
	pc_handler old = pc_trap();
	if (c->shm)
		XShmGetImage(c->dpy, c->win, im, c->x, c->y, AllPlanes);
	else
		XGetSubImage(c->dpy, c->win, c->x, c->y, c->w, c->h, AllPlanes, ZPixmap, im, 0, 0);
	int err = pc_untrap(c->dpy, old);
	if (c->io_lost)
		return -1;
	if (err)
		return err;
	if (!c->grabbed) {
		*y0 = 0;
		*y1 = c->h;
	} else {
		const char *a = im->data, *b = c->img[c->cur]->data;
		size_t bpl = im->bytes_per_line, row = (size_t)c->w * 4;
		int top = 0, bot = c->h;
		while (top < bot && memcmp(a + top * bpl, b + top * bpl, row) == 0)
			top++;
		while (bot > top && memcmp(a + (bot - 1) * bpl, b + (bot - 1) * bpl, row) == 0)
			bot--;
		*y0 = top;
		*y1 = bot;
	}
	c->grabbed = 1;
	c->cur = n;
	return 0;
}

// pc_cursor fetches the pointer image and where it is. Returns 0, an X
// error code or -1 when the connection is lost.
static int pc_cursor(pc_cap *c) {
	int ox = c->x, oy = c->y;
	Window child;
	pc_handler old = pc_trap();
	XFixesCursorImage *ci = XFixesGetCursorImage(c->dpy);
	if (c->win != c->root)
		XTranslateCoordinates(c->dpy, c->win, c->root, c->x, c->y, &ox, &oy, &child);
	int err = pc_untrap(c->dpy, old);
	if (c->io_lost)
		err = -1;
	if (err || !ci) {
		if (ci)
			XFree(ci);
		return err ? err : BadImplementation;
	}
	int n = ci->width * ci->height;
	if (ci->cursor_serial != c->cserial || ci->width != c->cw || ci->height != c->ch || !c->cpix) {
		uint32_t *p = realloc(c->cpix, (size_t)(n ? n : 1) * 4);
		if (!p) {
			XFree(ci);
			return BadAlloc;
		}
		c->cpix = p;
		for (int i = 0; i < n; i++)
			p[i] = (uint32_t)ci->pixels[i]; // unsigned long per pixel
		c->cw = ci->width;
		c->ch = ci->height;
		c->cserial = ci->cursor_serial;
	}
	c->cx = ci->x - ci->xhot - ox;
	c->cy = ci->y - ci->yhot - oy;
	XFree(ci);
	return 0;
}

// pc_cursor_draw blends the pointer into the last capture, keeping what
// it covers for pc_cursor_undraw: the capture stays clean for comparing.
static int pc_cursor_draw(pc_cap *c) {
	XImage *im = c->img[c->cur];
	int x0 = c->cx > 0 ? c->cx : 0, y0 = c->cy > 0 ? c->cy : 0;
	int x1 = c->cx + c->cw < c->w ? c->cx + c->cw : c->w;
	int y1 = c->cy + c->ch < c->h ? c->cy + c->ch : c->h;
	c->uw = c->uh = 0;
	if (!c->cpix || x1 <= x0 || y1 <= y0)
		return 0;
	int n = (x1 - x0) * (y1 - y0);
	if (n > c->ucap) {
		uint32_t *p = realloc(c->under, (size_t)n * 4);
		if (!p)
			return -1;
		c->under = p;
		c->ucap = n;
	}
	c->ux = x0;
	c->uy = y0;
	c->uw = x1 - x0;
	c->uh = y1 - y0;
	for (int y = y0; y < y1; y++) {
		uint32_t *d = (uint32_t *)(im->data + (size_t)y * im->bytes_per_line) + x0;
		const uint32_t *s = c->cpix + (size_t)(y - c->cy) * c->cw + (x0 - c->cx);
		memcpy(c->under + (size_t)(y - y0) * c->uw, d, (size_t)c->uw * 4);
		for (int x = 0; x < c->uw; x++) {
			uint32_t sp = s[x], a = sp >> 24;
			if (a == 0)
				continue;
			if (a == 255) {
				d[x] = sp;
				continue;
			}
			uint32_t dp = d[x], out = 0;
			for (int sh = 0; sh < 24; sh += 8) {
				uint32_t v = ((sp >> sh) & 255) + (((dp >> sh) & 255) * (255 - a) + 127) / 255;
				out |= (v > 255 ? 255 : v) << sh;
			}
			d[x] = out;
		}
	}
	return 0;
}

static void pc_cursor_undraw(pc_cap *c) {
	XImage *im = c->img[c->cur];
	for (int y = 0; y < c->uh; y++)
		memcpy((uint32_t *)(im->data + (size_t)(c->uy + y) * im->bytes_per_line) + c->ux,
		       c->under + (size_t)y * c->uw, (size_t)c->uw * 4);
	c->uw = c->uh = 0;
}

// pc_convert converts rows [y0, y1) (even) of the last capture to I420.
// libyuv's "ARGB" is B, G, R, A in memory: 32-bit little-endian xRGB.
static int pc_convert(pc_cap *c, int y0, int y1, uint8_t *Y, int ys, uint8_t *U, uint8_t *V, int cs) {
	XImage *im = c->img[c->cur];
	size_t co = (size_t)(y0 / 2) * cs;
	return ARGBToI420((const uint8_t *)im->data + (size_t)y0 * im->bytes_per_line, im->bytes_per_line,
			  Y + (size_t)y0 * ys, ys, U + co, cs, V + co, cs, c->w, y1 - y0);
}

static void pc_close(pc_cap *c) {
	if (!c->io_lost) {
		pc_handler old = pc_trap();
		if (c->dmg)
			XDamageDestroy(c->dpy, c->dmg);
		pc_free_images(c);
		pc_untrap(c->dpy, old);
	} else {
		for (int i = 0; i < 2; i++)
			c->attached[i] = 0;
		pc_free_images(c);
	}
	XCloseDisplay(c->dpy);
	pc_register(c->dpy, 0);
	free(c->cpix);
	free(c->under);
	free(c);
}

typedef struct {
	char name[128];
	int x, y, w, h;
	int primary;
	unsigned long win;
} pc_info;

// pc_monitors lists RandR 1.5 monitors; -1 without RandR 1.5.
static int pc_monitors(Display *d, pc_info *out, int n) {
	int ev, er, maj = 0, min = 0;
	if (!XRRQueryExtension(d, &ev, &er) || !XRRQueryVersion(d, &maj, &min) || maj < 1 || (maj == 1 && min < 5))
		return -1;
	int cnt = 0;
	pc_handler old = pc_trap();
	XRRMonitorInfo *m = XRRGetMonitors(d, DefaultRootWindow(d), True, &cnt);
	if (pc_untrap(d, old) || !m) {
		if (m)
			XRRFreeMonitors(m);
		return -1;
	}
	int k = 0;
	old = pc_trap();
	for (int i = 0; i < cnt && k < n; i++, k++) {
		char *name = m[i].name ? XGetAtomName(d, m[i].name) : NULL;
		snprintf(out[k].name, sizeof out[k].name, "%s", name ? name : "");
		if (name)
			XFree(name);
		out[k].x = m[i].x;
		out[k].y = m[i].y;
		out[k].w = m[i].width;
		out[k].h = m[i].height;
		out[k].primary = m[i].primary;
		out[k].win = 0;
	}
	XRRFreeMonitors(m);
	pc_untrap(d, old);
	return k;
}

static int pc_title(Display *d, Window w, char *buf, size_t n) {
	Atom utf8 = XInternAtom(d, "UTF8_STRING", False), net = XInternAtom(d, "_NET_WM_NAME", False);
	Atom type;
	int fmt;
	unsigned long cnt, after;
	unsigned char *p = NULL;
	buf[0] = 0;
	if (XGetWindowProperty(d, w, net, 0, 256, False, utf8, &type, &fmt, &cnt, &after, &p) == Success && p) {
		if (type == utf8 && fmt == 8)
			snprintf(buf, n, "%.*s", (int)cnt, (char *)p);
		XFree(p);
	}
	if (!buf[0]) {
		char *name = NULL;
		if (XFetchName(d, w, &name) && name) {
			snprintf(buf, n, "%s", name);
			XFree(name);
		}
	}
	return buf[0] != 0;
}

// pc_windows lists named, viewable top-level windows: the window manager's
// _NET_CLIENT_LIST, or the root's children without one.
static int pc_windows(Display *d, pc_info *out, int n) {
	Window root = DefaultRootWindow(d), *list = NULL;
	unsigned long cnt = 0;
	int fromWM = 0;
	Atom client = XInternAtom(d, "_NET_CLIENT_LIST", True);
	pc_handler old = pc_trap();
	if (client != None) {
		Atom type;
		int fmt;
		unsigned long after;
		unsigned char *p = NULL;
		if (XGetWindowProperty(d, root, client, 0, 4096, False, XA_WINDOW, &type, &fmt, &cnt, &after, &p) == Success && p) {
			if (type == XA_WINDOW && fmt == 32 && cnt > 0) {
				list = (Window *)p;
				fromWM = 1;
			} else {
				XFree(p);
			}
		}
	}
	if (!fromWM) {
		Window r, parent;
		unsigned int nc = 0;
		cnt = 0;
		if (XQueryTree(d, root, &r, &parent, &list, &nc))
			cnt = nc;
	}
	int k = 0;
	for (unsigned long i = 0; i < cnt && k < n; i++) {
		XWindowAttributes a;
		int x, y;
		Window child;
		if (!XGetWindowAttributes(d, list[i], &a) || a.map_state != IsViewable || (!fromWM && a.override_redirect))
			continue;
		if (!pc_title(d, list[i], out[k].name, sizeof out[k].name))
			continue;
		if (!XTranslateCoordinates(d, list[i], root, 0, 0, &x, &y, &child))
			continue;
		out[k].x = x;
		out[k].y = y;
		out[k].w = a.width;
		out[k].h = a.height;
		out[k].primary = 0;
		out[k].win = list[i];
		k++;
	}
	if (list)
		XFree(list);
	pc_untrap(d, old);
	return k;
}
*/
import "C"

import (
	"fmt"
	"image"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Screen captures an X11 screen, part of it or one window through
// MIT-SHM (XGetImage when the server cannot share memory, e.g. a remote
// display). With the DAMAGE extension a still screen costs one
// non-blocking poll per frame slot: nothing is copied or compared until
// the server reports drawing.
type Screen struct {
	cfg      ScreenConfig
	interval time.Duration
	w, h     int
	damage   bool
	window   bool
	shm      bool

	mu       sync.Mutex
	c        *C.pc_cap
	pace     pacer
	frame    *image.YCbCr // the picture as last returned, pointer drawn in
	have     bool
	lastEmit time.Time
	// refresh asks for the current picture at the next frame slot even
	// if nothing changed (Refresh).
	refresh atomic.Bool
	cursor  image.Rectangle   // where the pointer was drawn into frame
	hide    []image.Rectangle // where hidden windows are painted over
	// native is the window at its current size when a shared window was
	// resized: it is converted there and scaled into frame (the size the
	// share started with, which the encoder keeps).
	native *image.YCbCr
	// follow: a whole window is captured, so its size is tracked.
	follow  bool
	cserial C.ulong
	// grabs and rows count the captures from the X server and the rows
	// converted to I420, the work a frame slot can do (under mu).
	grabs, rows int
	closed      chan struct{}
	once        sync.Once
}

// OpenScreen connects to the display and prepares the capture. It fails
// with ErrNoScreenCapture when the display cannot be opened, ErrBadConfig
// for a region outside the screen (or window) or a bad rate, and
// ErrWindowGone when the window does not exist or is not mapped.
func OpenScreen(cfg ScreenConfig) (*Screen, error) {
	interval, err := screenInterval(cfg.FPS)
	if err != nil {
		return nil, err
	}
	name := C.CString(cfg.Display)
	defer C.free(unsafe.Pointer(name))
	c := C.pc_open(name)
	if c == nil {
		return nil, fmt.Errorf("open X display %q: %w", displayName(cfg.Display), ErrNoScreenCapture)
	}
	s := &Screen{cfg: cfg, interval: interval, c: c, window: cfg.Window != 0, closed: make(chan struct{})}
	if err := s.setup(); err != nil {
		C.pc_close(c)
		return nil, err
	}
	s.frame = image.NewYCbCr(image.Rect(0, 0, s.w, s.h), image.YCbCrSubsampleRatio420)
	return s, nil
}

func displayName(d string) string {
	if d == "" {
		return "$DISPLAY"
	}
	return d
}

func (s *Screen) setup() error {
	c := s.c
	var ww, wh, viewable C.int
	if rc := C.pc_target(c, C.Window(s.cfg.Window), &ww, &wh, &viewable); rc != 0 {
		return s.xerror("look up window", rc)
	}
	if s.window && viewable == 0 {
		return fmt.Errorf("window %#x not mapped: %w", s.cfg.Window, ErrWindowGone)
	}
	r, err := screenRegion(s.cfg.Region, image.Rect(0, 0, int(ww), int(wh)))
	if err != nil {
		return err
	}
	c.x, c.y, c.w, c.h = C.int(r.Min.X), C.int(r.Min.Y), C.int(r.Dx()), C.int(r.Dy())
	s.w, s.h = r.Dx(), r.Dy()
	watch := C.int(0)
	if s.window {
		watch = 1
	}
	switch rc := C.pc_setup(c, C.int(b2i(!s.cfg.noSHM)), watch); rc {
	case 0:
	case -1:
		return fmt.Errorf("screen capture buffers %dx%d: out of memory", s.w, s.h)
	case -2:
		return fmt.Errorf("screen pixel layout (depth %d): %w", int(c.depth), ErrUnsupportedFormat)
	default:
		return s.xerror("set up capture", -1)
	}
	s.damage = c.dmg_base >= 0
	s.shm = c.shm != 0
	s.follow = s.window && s.cfg.Region == (image.Rectangle{})
	// One capture now, so a bad region or an unviewable window fails here
	// rather than at the first Next.
	var y0, y1 C.int
	if rc := C.pc_grab(c, &y0, &y1); rc != 0 {
		return s.xerror("capture", rc)
	}
	c.grabbed = 0 // the first Next reports everything again
	return nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// xerror wraps an X error code (or -1: connection lost) from call.
func (s *Screen) xerror(call string, rc C.int) error {
	switch {
	case rc < 0:
		return fmt.Errorf("%s: X connection to %q lost: %w", call, displayName(s.cfg.Display), ErrNoScreenCapture)
	case s.window && (rc == C.BadWindow || rc == C.BadDrawable || rc == C.BadMatch):
		return fmt.Errorf("%s: window %#x gone or unmapped: %w", call, s.cfg.Window, ErrWindowGone)
	case rc == C.BadMatch:
		return fmt.Errorf("%s: region outside the screen: %w", call, ErrBadConfig)
	}
	return fmt.Errorf("%s: X error %d: %w", call, int(rc), ErrNoScreenCapture)
}

// Size is the frame size: the region, cropped to even width and height.
func (s *Screen) Size() (w, h int) { return s.w, s.h }

// SHM reports whether the capture goes through shared memory.
func (s *Screen) SHM() bool { return s.shm }

// Next returns the next picture that differs from the previous one (or,
// on a still screen, the same picture again about every second), in a
// fresh image. At most FPS pictures a second. ErrClosed after Close.
func (s *Screen) Next() (*image.YCbCr, error) {
	f, err := s.NextInto(image.NewYCbCr(image.Rect(0, 0, s.w, s.h), image.YCbCrSubsampleRatio420))
	return f.Image, err
}

// NextReusing returns a Next that draws every picture into one image, for
// a reader that is done with each before it asks for the next (an
// encoder). Each returned picture is valid until the following call.
func (s *Screen) NextReusing() func() (*image.YCbCr, error) {
	buf := image.NewYCbCr(image.Rect(0, 0, s.w, s.h), image.YCbCrSubsampleRatio420)
	return func() (*image.YCbCr, error) {
		f, err := s.NextInto(buf)
		return f.Image, err
	}
}

// NextInto is Next copying into dst (I420 of Size) and saying whether the
// picture changed and where.
func (s *Screen) NextInto(dst *image.YCbCr) (ScreenFrame, error) {
	if dst.Rect.Dx() != s.w || dst.Rect.Dy() != s.h || dst.SubsampleRatio != image.YCbCrSubsampleRatio420 {
		return ScreenFrame{}, fmt.Errorf("screen frame into %v %v: %w", dst.Rect, dst.SubsampleRatio, ErrBadConfig)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		select {
		case <-s.closed:
			return ScreenFrame{}, ErrClosed
		default:
		}
		if err := s.pace.wait(s.interval, s.closed); err != nil {
			return ScreenFrame{}, err
		}
		dirty, err := s.update()
		if err != nil {
			return ScreenFrame{}, err
		}
		now := time.Now()
		again := s.refresh.Swap(false)
		if dirty.Empty() && !again && now.Sub(s.lastEmit) < screenKeepalive {
			continue
		}
		s.lastEmit = now
		copyI420(dst, s.frame)
		return ScreenFrame{Image: dst, Changed: !dirty.Empty(), Dirty: dirty, CaptureTime: now}, nil
	}
}

// Refresh makes the next frame slot return the current picture even on a
// still screen (a receiver asked for a keyframe: it should not wait for
// the next keepalive).
func (s *Screen) Refresh() { s.refresh.Store(true) }

// update brings s.frame up to date and returns the rows that changed.
func (s *Screen) update() (image.Rectangle, error) {
	c := s.c
	grab := !s.have || !s.damage
	if s.damage {
		rc := C.pc_poll(c)
		switch {
		case rc < 0:
			return image.Rectangle{}, s.xerror("poll", -1)
		case rc&2 != 0:
			return image.Rectangle{}, fmt.Errorf("window %#x destroyed or unmapped: %w", s.cfg.Window, ErrWindowGone)
		case rc&1 != 0:
			grab = true
		}
		if rc&4 != 0 && s.follow {
			resized, err := s.resize()
			if err != nil {
				return image.Rectangle{}, err
			}
			grab = grab || resized
		}
	}
	var bands []image.Rectangle
	hidden, err := s.hidden()
	if err != nil {
		return image.Rectangle{}, err
	}
	if !slices.Equal(hidden, s.hide) {
		// Where a hidden window was shows the screen again (from a
		// fresh grab: damage may not have arrived yet); where it is now
		// is painted over.
		grab = true
		bands = append(bands, s.hide...)
		bands = append(bands, hidden...)
		s.hide = hidden
	}
	if grab {
		var y0, y1 C.int
		if rc := C.pc_grab(c, &y0, &y1); rc != 0 {
			return image.Rectangle{}, s.xerror("capture", rc)
		}
		s.grabs++
		if y1 > y0 {
			bands = append(bands, image.Rect(0, int(y0), s.w, int(y1)))
		}
	}
	var cur image.Rectangle
	if s.cfg.Cursor {
		if rc := C.pc_cursor(c); rc != 0 {
			return image.Rectangle{}, s.xerror("pointer", rc)
		}
		cur = image.Rect(int(c.cx), int(c.cy), int(c.cx+c.cw), int(c.cy+c.ch)).Intersect(image.Rect(0, 0, s.w, s.h))
		if cur != s.cursor || (!cur.Empty() && c.cserial != s.cserial) {
			bands = append(bands, s.cursor, cur)
		}
	}
	s.have = true
	dirty := s.convert(bands)
	s.cursor, s.cserial = cur, c.cserial
	return dirty, nil
}

// hidden is where the windows of ScreenConfig.Hide are now, inside the
// capture: viewable ones only; one that is gone is skipped.
func (s *Screen) hidden() ([]image.Rectangle, error) {
	var out []image.Rectangle
	for _, w := range s.cfg.Hide {
		if w == 0 || w == s.cfg.Window {
			continue
		}
		var x, y, ww, wh, viewable C.int
		switch rc := C.pc_place(s.c, C.Window(w), &x, &y, &ww, &wh, &viewable); {
		case rc < 0:
			return nil, s.xerror("hidden window", rc)
		case rc != 0 || viewable == 0:
			continue
		}
		r := image.Rect(int(x), int(y), int(x+ww), int(y+wh)).Intersect(image.Rect(0, 0, s.w, s.h))
		// Even edges: chroma covers 2x2 pixels.
		r = image.Rect(r.Min.X&^1, r.Min.Y&^1, (r.Max.X+1)&^1, (r.Max.Y+1)&^1).Intersect(image.Rect(0, 0, s.w, s.h))
		if !r.Empty() {
			out = append(out, r)
		}
	}
	return out, nil
}

// paintHidden covers the hidden windows in s.frame with a flat dark gray.
func (s *Screen) paintHidden() {
	f := s.frame
	for _, r := range s.hide {
		for y := r.Min.Y; y < r.Max.Y; y++ {
			row := f.Y[y*f.YStride+r.Min.X : y*f.YStride+r.Max.X]
			for i := range row {
				row[i] = hiddenLuma
			}
		}
		for y := r.Min.Y / 2; y < r.Max.Y/2; y++ {
			cb := f.Cb[y*f.CStride+r.Min.X/2 : y*f.CStride+r.Max.X/2]
			cr := f.Cr[y*f.CStride+r.Min.X/2 : y*f.CStride+r.Max.X/2]
			for i := range cb {
				cb[i], cr[i] = 128, 128
			}
		}
	}
}

// hiddenLuma is the gray a hidden window shows as (video range).
const hiddenLuma = 48

// convert re-converts the given bands (widened to full, even rows) of the
// last capture into s.frame, with the pointer drawn in, and returns their
// bounds.
func (s *Screen) convert(bands []image.Rectangle) image.Rectangle {
	rows := mergeRows(bands, s.w, s.h)
	if len(rows) == 0 {
		return image.Rectangle{}
	}
	c, f := s.c, s.frame
	if s.native != nil {
		f = s.native
	}
	if s.cfg.Cursor {
		C.pc_cursor_draw(c)
	}
	var dirty image.Rectangle
	for _, r := range rows {
		s.rows += r.Dy()
		C.pc_convert(c, C.int(r.Min.Y), C.int(r.Max.Y),
			(*C.uint8_t)(&f.Y[0]), C.int(f.YStride),
			(*C.uint8_t)(&f.Cb[0]), (*C.uint8_t)(&f.Cr[0]), C.int(f.CStride))
		dirty = dirty.Union(r)
	}
	if s.cfg.Cursor {
		C.pc_cursor_undraw(c)
	}
	if s.native == nil {
		s.paintHidden()
		return dirty
	}
	// A resized window, fitted into the share's size: all of it changes.
	o := s.frame
	C.pc_fit((*C.uint8_t)(&f.Y[0]), (*C.uint8_t)(&f.Cb[0]), (*C.uint8_t)(&f.Cr[0]), C.int(f.Rect.Dx()), C.int(f.Rect.Dy()),
		(*C.uint8_t)(&o.Y[0]), C.int(o.YStride), (*C.uint8_t)(&o.Cb[0]), (*C.uint8_t)(&o.Cr[0]), C.int(o.CStride),
		C.int(s.w), C.int(s.h))
	return image.Rect(0, 0, s.w, s.h)
}

// resize follows a shared window's new size: new capture buffers, and
// frames scaled into the size the share started with. It reports whether
// the size changed.
func (s *Screen) resize() (bool, error) {
	c := s.c
	var ww, wh, viewable C.int
	if rc := C.pc_target(c, C.Window(s.cfg.Window), &ww, &wh, &viewable); rc != 0 {
		return false, s.xerror("look up window", rc)
	}
	w, h := int(ww)&^1, int(wh)&^1
	if w < 2 || h < 2 || (w == int(c.w) && h == int(c.h)) {
		return false, nil
	}
	if C.pc_resize(c, C.int(w), C.int(h)) != 0 {
		return false, fmt.Errorf("screen capture buffers %dx%d: out of memory", w, h)
	}
	s.native = nil
	if w != s.w || h != s.h {
		s.native = image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	}
	// The pointer and hidden windows are tracked in the old geometry.
	s.cursor, s.hide = image.Rectangle{}, nil
	return true, nil
}

// mergeRows turns rectangles into sorted, disjoint bands of full rows,
// starting and ending on even rows (I420 chroma rows pair them).
func mergeRows(bands []image.Rectangle, w, h int) []image.Rectangle {
	var out []image.Rectangle
	for _, b := range bands {
		if b.Empty() {
			continue
		}
		r := image.Rect(0, max(0, b.Min.Y&^1), w, min(h, (b.Max.Y+1)&^1))
		i := 0
		for i < len(out) && out[i].Max.Y < r.Min.Y {
			i++
		}
		// Absorb every band r touches.
		j := i
		for j < len(out) && out[j].Min.Y <= r.Max.Y {
			r = r.Union(out[j])
			j++
		}
		out = append(out[:i], append([]image.Rectangle{r}, out[j:]...)...)
	}
	return out
}

// Close releases the display; a Next waiting for its slot returns
// ErrClosed. Safe to call more than once.
func (s *Screen) Close() error {
	s.once.Do(func() {
		close(s.closed)
		s.mu.Lock()
		defer s.mu.Unlock()
		C.pc_close(s.c)
		s.c = nil
	})
	return nil
}

// ListScreens lists the monitors of a display (RandR; the whole screen
// without RandR 1.5) and then its named top-level windows.
func ListScreens(display string) ([]ScreenInfo, error) {
	name := C.CString(display)
	defer C.free(unsafe.Pointer(name))
	c := C.pc_open(name)
	if c == nil {
		return nil, fmt.Errorf("open X display %q: %w", displayName(display), ErrNoScreenCapture)
	}
	defer C.pc_close(c)
	buf := make([]C.pc_info, 256)
	var out []ScreenInfo
	add := func(n C.int) {
		for _, m := range buf[:max(0, int(n))] {
			out = append(out, ScreenInfo{
				Name:    strings.ToValidUTF8(C.GoString(&m.name[0]), ""),
				Bounds:  image.Rect(int(m.x), int(m.y), int(m.x+m.w), int(m.y+m.h)),
				Primary: m.primary != 0,
				Window:  uint32(m.win),
			})
		}
	}
	if n := C.pc_monitors(c.dpy, &buf[0], 16); n > 0 {
		add(n)
	} else {
		scr := C.XDefaultScreen(c.dpy)
		out = append(out, ScreenInfo{
			Name:    "screen",
			Bounds:  image.Rect(0, 0, int(C.XDisplayWidth(c.dpy, scr)), int(C.XDisplayHeight(c.dpy, scr))),
			Primary: true,
		})
	}
	add(C.pc_windows(c.dpy, &buf[0], C.int(len(buf))))
	if c.io_lost != 0 {
		return nil, fmt.Errorf("list screens: X connection to %q lost: %w", displayName(display), ErrNoScreenCapture)
	}
	return out, nil
}
