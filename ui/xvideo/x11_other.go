//go:build !linux

package xvideo

import (
	"image"
	"log/slog"
)

// Conn is a connection to the X server (Linux only).
type Conn struct{}

// Open fails: the X11 surfaces are for Linux.
func Open(string, *slog.Logger) (*Conn, error) { return nil, ErrUnavailable }

// Close does nothing.
func (*Conn) Close() {}

// NewSurface fails (Linux only).
func (*Conn) NewSurface(uint32) (*Surface, error) { return nil, ErrUnavailable }

// Surface is a child window showing pictures (Linux only).
type Surface struct{}

func (*Surface) Place(image.Rectangle, []image.Rectangle) error { return ErrUnavailable }
func (*Surface) Hide() error                                    { return nil }
func (*Surface) Shown() (image.Rectangle, bool)                 { return image.Rectangle{}, false }
func (*Surface) Draw(int, int, int, int, func([]byte, int) error) error {
	return ErrUnavailable
}
func (*Surface) Picture() *image.RGBA { return nil }
func (*Surface) Close() error         { return nil }
