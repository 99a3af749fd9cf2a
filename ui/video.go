package ui

import (
	"image"
	"sync"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"

	"github.com/peercall/peercall/app"
)

// videoView shows a stream of YCbCr frames in a canvas.Image. Frames are
// converted to RGBA on the producer's goroutine (never the main thread)
// into one of three reused buffers; the latest frame wins, so a slow UI
// drops frames instead of queueing them.
type videoView struct {
	img    *canvas.Image
	sched  *swapper
	lazy   bool // self-view: ride along with the remote view's repaint
	maxW   int  // shrink frames wider than this before converting (0: never)
	onShow func(first bool)

	mu      sync.Mutex
	bufs    [3]*image.RGBA
	shown   int // index on screen, -1 none
	pending int // index converted and waiting for the main thread, -1 none
	small   *image.YCbCr

	frames  atomic.Int64 // frames shown
	dropped atomic.Int64 // frames replaced before they were shown

	// The picture may be shown in a window of its own instead
	// (surface.go): surf is set and placed on the main thread; while
	// onSurf is set, Push draws there and Fyne paints nothing.
	surf   videoSurface
	onSurf atomic.Bool
	// picSize is the last pushed picture's size (0: none since Clear),
	// read by the main thread to place the surface.
	picSize atomic.Uint64
	scaled  *image.YCbCr // the picture at the surface's size (producer's)
	// count, when set, counts every frame shown, by either path.
	count *atomic.Int64
}

// swapper batches the views' swaps into one fyne.Do: at most one is
// pending for all views together, so the window repaints once per remote
// frame and the self-view never causes a repaint of its own while the
// remote video is flowing. Each repaint is a full-window paint in Fyne's
// GL driver, which is where the CPU goes under software GL.
type swapper struct {
	do func(func())
	// extra runs on the main thread at every swap, before the views (the
	// UI's latest snapshot rides along with video repaints this way);
	// after runs after them.
	extra, after func()

	// minGap caps the repaint rate (0: none): each repaint costs a full
	// window paint, so a software-GL user may trade smoothness for CPU.
	minGap time.Duration

	mu        sync.Mutex
	views     []*videoView
	scheduled bool
	armed     bool // a fallback timer will schedule a swap
	capArmed  bool // a timer will schedule the swap the cap held back
	lastEager time.Time
	// lastElsewhere: a remote frame was last shown on a surface of its
	// own, which repaints nothing for lazy work to ride along with.
	lastElsewhere time.Time
	lastSwap      time.Time
}

// lazyWait is how long a self-view frame waits for a remote repaint
// before it schedules one itself (remote video stalled or absent).
const lazyWait = 150 * time.Millisecond

// lazyGap is how often lazy work (snapshots, a self-view Fyne paints)
// repaints the window while the remote pictures are on surfaces of their
// own: about 11 times a second, as when it rode along with painted video.
const lazyGap = 90 * time.Millisecond

func newSwapper(do func(func())) *swapper { return &swapper{do: do} }

func (s *swapper) newView(lazy bool, maxW int) *videoView {
	img := canvas.NewImageFromImage(nil)
	img.FillMode = canvas.ImageFillContain
	// Fastest and Pixels scale on the GPU, never in software: swap picks
	// one of them for each frame by the display scale.
	img.ScaleMode = canvas.ImageScaleFastest
	v := &videoView{img: img, sched: s, lazy: lazy, maxW: maxW, shown: -1, pending: -1}
	s.mu.Lock()
	s.views = append(s.views, v)
	s.mu.Unlock()
	return v
}

// removeView stops swapping v (its tile is gone). The slice is replaced,
// not changed: swapAll iterates a copy of its header outside the lock.
func (s *swapper) removeView(v *videoView) {
	s.mu.Lock()
	defer s.mu.Unlock()
	views := make([]*videoView, 0, len(s.views))
	for _, o := range s.views {
		if o != v {
			views = append(views, o)
		}
	}
	s.views = views
}

func (s *swapper) request(lazy bool) {
	now := time.Now()
	s.mu.Lock()
	if !lazy {
		s.lastEager = now
	}
	if s.scheduled {
		s.mu.Unlock()
		return
	}
	if lazy && now.Sub(s.lastEager) < lazyWait {
		// A remote frame is due and will carry this along; if it does
		// not come, the timer makes sure the work is still shown. With
		// the remote frames on surfaces, none will: the work is shown
		// lazyGap after the last repaint.
		wait := lazyWait
		if now.Sub(s.lastElsewhere) < lazyWait {
			wait = lazyGap - now.Sub(s.lastSwap)
		}
		if wait > 0 {
			if !s.armed {
				s.armed = true
				time.AfterFunc(wait, s.fallback)
			}
			s.mu.Unlock()
			return
		}
	}
	if s.minGap > 0 {
		if wait := s.minGap - now.Sub(s.lastSwap); wait > 0 {
			if !s.capArmed {
				s.capArmed = true
				time.AfterFunc(wait, func() {
					s.mu.Lock()
					s.capArmed = false
					s.mu.Unlock()
					s.fallback()
				})
			}
			s.mu.Unlock()
			return
		}
	}
	s.scheduled = true
	s.mu.Unlock()
	s.do(s.swapAll)
}

// shownElsewhere notes a remote frame shown without a repaint (on its
// own surface): lazy work waits for the next repaint as it would behind a
// painted one.
func (s *swapper) shownElsewhere() {
	now := time.Now()
	s.mu.Lock()
	s.lastEager, s.lastElsewhere = now, now
	s.mu.Unlock()
}

func (s *swapper) fallback() {
	s.mu.Lock()
	s.armed = false
	if s.scheduled || s.capArmed {
		s.mu.Unlock()
		return
	}
	s.scheduled = true
	s.mu.Unlock()
	s.do(s.swapAll)
}

// swapAll runs on the main thread.
func (s *swapper) swapAll() {
	s.mu.Lock()
	s.scheduled = false
	s.lastSwap = time.Now()
	views := s.views
	s.mu.Unlock()
	if s.extra != nil {
		s.extra()
	}
	for _, v := range views {
		v.swap()
	}
	if s.after != nil {
		s.after()
	}
}

// Push converts src and schedules it for display. Call it from one producer
// goroutine; src is only read during the call.
func (v *videoView) Push(src *image.YCbCr) {
	if src == nil {
		return
	}
	if v.maxW > 0 && src.Rect.Dx() > v.maxW {
		v.small = shrink(v.small, src, (src.Rect.Dx()+v.maxW-1)/v.maxW)
		src = v.small
	}
	size := packSize(src.Rect.Size())
	if v.onSurf.Load() {
		v.picSize.Store(size)
		if v.drawOnSurface(src) {
			return
		}
	}
	v.mu.Lock()
	idx := 0
	for idx == v.shown || idx == v.pending {
		idx++
	}
	dst := v.bufs[idx]
	v.mu.Unlock()

	dst = app.ToRGBA(dst, src)

	v.mu.Lock()
	v.bufs[idx] = dst
	if v.pending >= 0 {
		v.dropped.Add(1)
	}
	v.pending = idx
	v.mu.Unlock()
	// Told once the picture is ready: a view moved to its surface then
	// has it to show there (surfaceSet.place).
	v.picSize.Store(size)
	v.sched.request(v.lazy)
}

// swap shows the latest converted frame, if any. Main thread.
func (v *videoView) swap() {
	v.mu.Lock()
	if v.pending < 0 {
		v.mu.Unlock()
		return
	}
	if v.onSurf.Load() {
		// Converted for Fyne just before the view moved to its surface.
		v.pending = -1
		v.mu.Unlock()
		return
	}
	v.shown, v.pending = v.pending, -1
	img := v.bufs[v.shown]
	v.mu.Unlock()
	first := v.img.Image == nil
	v.showImage(img)
	v.shownFrame()
	if v.onShow != nil {
		v.onShow(first)
	}
}

// showImage has Fyne paint img for v. Main thread.
func (v *videoView) showImage(img *image.RGBA) {
	v.img.Image = img
	v.img.ScaleMode = scaleModeFor(img.Rect.Size(), v.img.Size(), v.canvasScale())
	v.img.Refresh()
}

// shownFrame counts a frame shown, painted by Fyne or on a surface.
func (v *videoView) shownFrame() {
	v.frames.Add(1)
	if v.count != nil {
		v.count.Add(1)
	}
}

// canvasScale is the device pixels per canvas unit of the window showing v
// (1 while it is not in a window yet).
func (v *videoView) canvasScale() float32 {
	if a := fyne.CurrentApp(); a != nil {
		if c := a.Driver().CanvasForObject(v.img); c != nil {
			return c.Scale()
		}
	}
	return 1
}

// Near its own size a picture is shown pixel for pixel (GL nearest): at
// scales from 0.8 to 1.25 bilinear filtering only blurs, and in software GL
// (llvmpipe, which Xvfb and GPU-less machines use) it costs four texel
// fetches per screen pixel instead of one, the largest single cost of
// showing video there. Further from 1:1, bilinear keeps edges smooth.
const nearestMin, nearestMax = 0.8, 1.25

// scaleModeFor picks the filter for a picture of size pic shown contained
// in area (canvas units) at the given canvas scale.
func scaleModeFor(pic image.Point, area fyne.Size, scale float32) canvas.ImageScale {
	if pic.X <= 0 || pic.Y <= 0 || area.Width <= 0 || area.Height <= 0 {
		return canvas.ImageScaleFastest
	}
	f := min(area.Width*scale/float32(pic.X), area.Height*scale/float32(pic.Y))
	if f >= nearestMin && f <= nearestMax {
		return canvas.ImageScalePixels
	}
	return canvas.ImageScaleFastest
}

// Clear removes the picture (call ended). Main thread.
func (v *videoView) Clear() {
	v.mu.Lock()
	v.shown, v.pending = -1, -1
	v.mu.Unlock()
	v.picSize.Store(0)
	v.leaveSurface()
	if v.img.Image != nil {
		v.img.Image = nil
		v.img.Refresh()
	}
}

// shrink subsamples a 4:2:0 picture by n in both directions (nearest
// neighbour) into dst, reused when the size fits. The self-view inset is
// small: converting and uploading a full 640x480 texture for it is waste.
func shrink(dst, src *image.YCbCr, n int) *image.YCbCr {
	w, h := src.Rect.Dx()/n&^1, src.Rect.Dy()/n&^1
	r := image.Rect(0, 0, w, h)
	if dst == nil || dst.Rect != r || dst.SubsampleRatio != image.YCbCrSubsampleRatio420 {
		dst = image.NewYCbCr(r, image.YCbCrSubsampleRatio420)
	}
	if src.SubsampleRatio != image.YCbCrSubsampleRatio420 {
		// Rare (cameras give I420 after capture.ToI420): keep luma only.
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				dst.Y[y*dst.YStride+x] = src.Y[src.YOffset(src.Rect.Min.X+x*n, src.Rect.Min.Y+y*n)-src.YOffset(src.Rect.Min.X, src.Rect.Min.Y)]
			}
		}
		for i := range dst.Cb {
			dst.Cb[i], dst.Cr[i] = 128, 128
		}
		return dst
	}
	y0 := src.YOffset(src.Rect.Min.X, src.Rect.Min.Y)
	c0 := src.COffset(src.Rect.Min.X, src.Rect.Min.Y)
	for y := 0; y < h; y++ {
		srow := src.Y[y0+y*n*src.YStride:]
		drow := dst.Y[y*dst.YStride : y*dst.YStride+w]
		for x := range drow {
			drow[x] = srow[x*n]
		}
	}
	for y := 0; y < h/2; y++ {
		cbRow := src.Cb[c0+y*n*src.CStride:]
		crRow := src.Cr[c0+y*n*src.CStride:]
		o := y * dst.CStride
		for x := 0; x < w/2; x++ {
			dst.Cb[o+x] = cbRow[x*n]
			dst.Cr[o+x] = crRow[x*n]
		}
	}
	return dst
}
