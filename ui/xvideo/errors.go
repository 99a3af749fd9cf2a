package xvideo

import "errors"

// ErrUnavailable means there is no X11 display this package can draw on:
// no DISPLAY, no MIT-SHM (a remote display), or a pixel format other than
// 32-bit little-endian true colour. Callers paint the picture themselves.
var ErrUnavailable = errors.New("xvideo: no local X11 display with shared memory")
