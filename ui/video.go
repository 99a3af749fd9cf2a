package ui

import (
	"image"
	"sync"
	"sync/atomic"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"

	"github.com/peercall/peercall/codec"
)

// videoView shows a stream of YCbCr frames in a canvas.Image. Frames are
// converted to RGBA on the producer's goroutine (never the main thread)
// into one of three reused buffers; at most one fyne.Do is pending and the
// latest frame wins, so a slow UI drops frames instead of queueing them.
type videoView struct {
	img *canvas.Image

	mu        sync.Mutex
	bufs      [3]*image.RGBA
	shown     int // index on screen, -1 none
	pending   int // index converted and waiting for the main thread, -1 none
	scheduled bool
	onShow    func(first bool) // main thread, after a new frame is shown (optional)
	frames    atomic.Int64     // frames shown
	dropped   atomic.Int64     // frames replaced before they were shown
	do        func(func())     // fyne.Do; tests may run it inline
}

func newVideoView() *videoView {
	img := canvas.NewImageFromImage(nil)
	img.FillMode = canvas.ImageFillContain
	// Fastest: nearest-neighbour on the GPU, no smoothing pass per frame.
	img.ScaleMode = canvas.ImageScaleFastest
	return &videoView{img: img, shown: -1, pending: -1, do: fyne.Do}
}

// Push converts src and schedules it for display. Call it from one producer
// goroutine; src is only read during the call.
func (v *videoView) Push(src *image.YCbCr) {
	if src == nil {
		return
	}
	v.mu.Lock()
	idx := 0
	for idx == v.shown || idx == v.pending {
		idx++
	}
	dst := v.bufs[idx]
	v.mu.Unlock()

	dst = codec.YCbCrToRGBA(dst, src)

	v.mu.Lock()
	v.bufs[idx] = dst
	if v.pending >= 0 {
		v.dropped.Add(1)
	}
	v.pending = idx
	schedule := !v.scheduled
	v.scheduled = true
	v.mu.Unlock()
	if schedule {
		v.do(v.swap)
	}
}

// swap runs on the main thread: show the latest converted frame.
func (v *videoView) swap() {
	v.mu.Lock()
	v.scheduled = false
	if v.pending < 0 {
		v.mu.Unlock()
		return
	}
	v.shown, v.pending = v.pending, -1
	img := v.bufs[v.shown]
	v.mu.Unlock()
	first := v.img.Image == nil
	v.img.Image = img
	v.img.Refresh()
	v.frames.Add(1)
	if v.onShow != nil {
		v.onShow(first)
	}
}

// Clear removes the picture (call ended, camera off). Main thread.
func (v *videoView) Clear() {
	v.mu.Lock()
	v.shown, v.pending = -1, -1
	v.mu.Unlock()
	if v.img.Image != nil {
		v.img.Image = nil
		v.img.Refresh()
	}
}
