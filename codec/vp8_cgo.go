//go:build cgo

package codec

// #cgo pkg-config: vpx
// #include <malloc.h>
// #include <stdlib.h>
// #include <string.h>
// #include <vpx/vpx_encoder.h>
// #include <vpx/vpx_decoder.h>
// #include <vpx/vp8cx.h>
// #include <vpx/vp8dx.h>
//
// // The encoder state lives in C memory so that no Go pointer is ever kept by
// // libvpx; Go only passes plane pointers for the duration of one call.
// typedef struct {
//   vpx_codec_ctx_t ctx;
//   vpx_codec_enc_cfg_t cfg;
//   vpx_codec_iter_t iter;
// } pc_vp8enc;
//
// static vpx_codec_err_t pc_vp8enc_init(pc_vp8enc *e, unsigned w, unsigned h,
//     unsigned kbps, unsigned threads, unsigned kf_max, int err_res, int cpu_used,
//     int partitions, int screen, int drop) {
//   vpx_codec_err_t rc = vpx_codec_enc_config_default(vpx_codec_vp8_cx(), &e->cfg, 0);
//   if (rc != VPX_CODEC_OK) return rc;
//   e->cfg.g_w = w;
//   e->cfg.g_h = h;
//   e->cfg.g_timebase.num = 1;
//   e->cfg.g_timebase.den = 90000; // the RTP video clock
//   e->cfg.g_threads = threads;
//   e->cfg.g_lag_in_frames = 0;   // realtime: no look-ahead, no extra latency
//   e->cfg.g_pass = VPX_RC_ONE_PASS;
//   e->cfg.g_error_resilient = err_res ? VPX_ERROR_RESILIENT_DEFAULT : 0;
//   e->cfg.rc_end_usage = VPX_CBR;
//   e->cfg.rc_target_bitrate = kbps;
//   e->cfg.rc_resize_allowed = 0;
//   // Frames are skipped rather than the rate overrun when the rate
//   // control's buffer runs low (VP8Config.DropFrames; a screen always).
//   e->cfg.rc_dropframe_thresh = (screen || drop) ? 30 : 0;
//   e->cfg.rc_min_quantizer = 2;
//   e->cfg.rc_max_quantizer = 56;
//   e->cfg.rc_undershoot_pct = 100;
//   e->cfg.rc_overshoot_pct = 15;
//   e->cfg.rc_buf_initial_sz = 500;
//   e->cfg.rc_buf_optimal_sz = 600;
//   e->cfg.rc_buf_sz = 1000;
//   e->cfg.kf_mode = VPX_KF_AUTO;
//   e->cfg.kf_min_dist = 0;
//   e->cfg.kf_max_dist = kf_max;
//   rc = vpx_codec_enc_init(&e->ctx, vpx_codec_vp8_cx(), &e->cfg, 0);
//   if (rc != VPX_CODEC_OK) return rc;
//   vpx_codec_control(&e->ctx, VP8E_SET_CPUUSED, cpu_used);
//   vpx_codec_control(&e->ctx, VP8E_SET_NOISE_SENSITIVITY, 0u);
//   vpx_codec_control(&e->ctx, VP8E_SET_STATIC_THRESHOLD, 1u);
//   vpx_codec_control(&e->ctx, VP8E_SET_TOKEN_PARTITIONS, partitions);
//   // Bound keyframe size (percent of a mean frame) so a PLI does not cause a
//   // burst that the network then has to drain. A camera's keyframe at 3
//   // frames' worth (libwebrtc's floor) fits a 100 ms link queue at the
//   // target; at 4.5 it overflowed one at 1 Mbit/s (issue 16).
//   vpx_codec_control(&e->ctx, VP8E_SET_MAX_INTRA_BITRATE_PCT, screen ? 1000u : 300u);
//   // Screen content tools (and its rate control with frame dropping).
//   if (screen) vpx_codec_control(&e->ctx, VP8E_SET_SCREEN_CONTENT_MODE, 2u);
//   return VPX_CODEC_OK;
// }
//
// static vpx_codec_err_t pc_vp8enc_set_rate(pc_vp8enc *e, unsigned kbps) {
//   e->cfg.rc_target_bitrate = kbps;
//   return vpx_codec_enc_config_set(&e->ctx, &e->cfg);
// }
//
// static vpx_codec_err_t pc_vp8enc_set_cpu(pc_vp8enc *e, int cpu_used) {
//   return vpx_codec_control(&e->ctx, VP8E_SET_CPUUSED, cpu_used);
// }
//
// // From the next frame on, codes only the macroblocks whose byte in map
// // (one per macroblock, row by row) is 1, the others as unchanged from
// // the last frame; a NULL map codes all. libvpx copies the map.
// static vpx_codec_err_t pc_vp8enc_set_active(pc_vp8enc *e, unsigned char *map) {
//   vpx_active_map_t m;
//   m.rows = (e->cfg.g_h + 15) / 16;
//   m.cols = (e->cfg.g_w + 15) / 16;
//   m.active_map = map;
//   return vpx_codec_control(&e->ctx, VP8E_SET_ACTIVEMAP, &m);
// }
//
// static vpx_codec_err_t pc_vp8enc_encode(pc_vp8enc *e,
//     unsigned char *y, unsigned char *u, unsigned char *v, int ys, int cs,
//     long long pts, unsigned long dur, int force_kf) {
//   vpx_image_t img;
//   if (!vpx_img_wrap(&img, VPX_IMG_FMT_I420, e->cfg.g_w, e->cfg.g_h, 1, y)) {
//     return VPX_CODEC_INVALID_PARAM;
//   }
//   img.planes[VPX_PLANE_Y] = y;
//   img.planes[VPX_PLANE_U] = u;
//   img.planes[VPX_PLANE_V] = v;
//   img.stride[VPX_PLANE_Y] = ys;
//   img.stride[VPX_PLANE_U] = cs;
//   img.stride[VPX_PLANE_V] = cs;
//   e->iter = NULL;
//   // With g_lag_in_frames = 0 libvpx copies the picture before returning,
//   // so the Go planes are not referenced after this call.
//   return vpx_codec_encode(&e->ctx, &img, (vpx_codec_pts_t)pts, dur,
//       force_kf ? VPX_EFLAG_FORCE_KF : 0, VPX_DL_REALTIME);
// }
//
// // Returns the next compressed frame of the last encode call, or NULL.
// static const void *pc_vp8enc_next(pc_vp8enc *e, size_t *sz, int *key) {
//   const vpx_codec_cx_pkt_t *pkt;
//   while ((pkt = vpx_codec_get_cx_data(&e->ctx, &e->iter)) != NULL) {
//     if (pkt->kind == VPX_CODEC_CX_FRAME_PKT) {
//       *sz = pkt->data.frame.sz;
//       *key = (pkt->data.frame.flags & VPX_FRAME_IS_KEY) != 0;
//       return pkt->data.frame.buf;
//     }
//   }
//   return NULL;
// }
//
// typedef struct {
//   vpx_codec_ctx_t ctx;
//   vpx_codec_iter_t iter;
// } pc_vp8dec;
//
// static vpx_codec_err_t pc_vp8dec_init(pc_vp8dec *d, unsigned threads) {
//   vpx_codec_dec_cfg_t cfg = {0};
//   cfg.threads = threads;
//   return vpx_codec_dec_init(&d->ctx, vpx_codec_vp8_dx(), &cfg, 0);
// }
//
// static vpx_codec_err_t pc_vp8dec_decode(pc_vp8dec *d, const unsigned char *data,
//     unsigned int n, int *corrupted) {
//   d->iter = NULL;
//   vpx_codec_err_t rc = vpx_codec_decode(&d->ctx, data, n, NULL, 0);
//   *corrupted = 0;
//   if (rc == VPX_CODEC_OK) {
//     vpx_codec_control(&d->ctx, VP8D_GET_FRAME_CORRUPTED, corrupted);
//   }
//   return rc;
// }
//
// static const vpx_image_t *pc_vp8dec_frame(pc_vp8dec *d) {
//   return vpx_codec_get_frame(&d->ctx, &d->iter);
// }
//
// static void pc_copy_plane(unsigned char *dst, int dst_stride,
//     const unsigned char *src, int src_stride, int w, int h) {
//   for (int r = 0; r < h; r++) {
//     memcpy(dst + (size_t)r * dst_stride, src + (size_t)r * src_stride, (size_t)w);
//   }
// }
//
// static void pc_copy_image(const vpx_image_t *img, unsigned char *y, int ys,
//     unsigned char *u, unsigned char *v, int cs) {
//   int w = (int)img->d_w, h = (int)img->d_h;
//   int cw = (w + 1) / 2, ch = (h + 1) / 2;
//   pc_copy_plane(y, ys, img->planes[VPX_PLANE_Y], img->stride[VPX_PLANE_Y], w, h);
//   pc_copy_plane(u, cs, img->planes[VPX_PLANE_U], img->stride[VPX_PLANE_U], cw, ch);
//   pc_copy_plane(v, cs, img->planes[VPX_PLANE_V], img->stride[VPX_PLANE_V], cw, ch);
// }
//
// static const char *pc_vpx_err(vpx_codec_err_t rc) { return vpx_codec_err_to_string(rc); }
import "C"

import (
	"fmt"
	"image"
	"runtime"
	"slices"
	"sync"
	"time"
	"unsafe"
)

func vpxError(op string, rc C.vpx_codec_err_t) error {
	return fmt.Errorf("%s: %s: %w", op, C.GoString(C.pc_vpx_err(rc)), ErrCodec)
}

// VP8Encoder is a realtime VP8 encoder on libvpx. Encode, SetBitRate,
// SetCPUUsed, ForceKeyFrame and Close may be called from different
// goroutines; settings are applied before the next encoded frame.
type VP8Encoder struct {
	mu      sync.Mutex // guards the C encoder and everything below
	enc     *C.pc_vp8enc
	cfg     VP8Config // applied configuration (size follows the input)
	conv    *image.YCbCr
	lastPTS int64 // 90 kHz ticks
	// A camera's encoders at the other sizes it has coded (spareEncoders
	// at most, the latest last): a size step of the bitrate ladder takes
	// one back instead of creating it again. tickOff is what the current
	// encoder's timestamps lag lastPTS's (it was parked meanwhile), and
	// resumeAt, when not -1, the last timestamp it coded before it was.
	spare    []spareVP8
	tickOff  int64
	resumeAt int64
	closed   bool
	// A screen's (ScreenContent) macroblocks to code, and whether libvpx
	// has a map of them (else it codes all).
	screen    screenMap
	screenSet bool

	ctlMu    sync.Mutex // guards the pending settings, never held across C calls
	wantRate int
	wantCPU  int
	forceKF  bool
}

// NewVP8Encoder creates an encoder. Width and Height are the expected picture
// size; a picture of another size is a keyframe, from another libvpx
// encoder (see resize).
func NewVP8Encoder(cfg VP8Config) (*VP8Encoder, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	e := &VP8Encoder{cfg: cfg, wantRate: cfg.BitRate, wantCPU: cfg.CPUUsed, lastPTS: -1, resumeAt: -1}
	if err := e.open(); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *VP8Encoder) open() error {
	enc := (*C.pc_vp8enc)(C.calloc(1, C.size_t(unsafe.Sizeof(C.pc_vp8enc{}))))
	if enc == nil {
		return fmt.Errorf("vp8 encoder: out of memory: %w", ErrCodec)
	}
	threads := e.cfg.threads()
	partitions := 0
	if threads > 1 {
		partitions = 1 // two token partitions let a receiver decode on two threads
	}
	errRes := 0
	if e.cfg.ErrorResilient {
		errRes = 1
	}
	screen, drop := 0, 0
	if e.cfg.ScreenContent {
		screen = 1
	}
	if e.cfg.DropFrames {
		drop = 1
	}
	rc := C.pc_vp8enc_init(enc, C.uint(e.cfg.Width), C.uint(e.cfg.Height), C.uint(kbps(e.cfg.BitRate)),
		C.uint(threads), C.uint(e.cfg.KeyFrameInterval), C.int(errRes), C.int(e.cfg.CPUUsed), C.int(partitions), C.int(screen), C.int(drop))
	if rc != C.VPX_CODEC_OK {
		C.free(unsafe.Pointer(enc))
		return vpxError("vp8 encoder init", rc)
	}
	e.enc = enc
	e.screenSet = false
	return nil
}

func (e *VP8Encoder) destroy() {
	if e.enc != nil {
		destroyVP8(e.enc)
		e.enc = nil
	}
}

// mapLargeAllocations(true) has each large C allocation mapped afresh
// (glibc's threshold fixed at its starting 128 KB) and its pages faulted
// in when first written, as a long call's allocations mostly are: glibc
// raises the threshold by itself, but per arena, and cgo calls run on
// many threads. (false) sets it to glibc's largest, where freed memory is
// reused. For BenchmarkVP8SizeStep only: it is process-wide.
func mapLargeAllocations(on bool) {
	if on {
		C.mallopt(C.M_MMAP_THRESHOLD, 128<<10)
	} else {
		C.mallopt(C.M_MMAP_THRESHOLD, 32<<20)
	}
}

func destroyVP8(enc *C.pc_vp8enc) {
	C.vpx_codec_destroy(&enc.ctx)
	C.free(unsafe.Pointer(enc))
}

func kbps(bps int) int {
	k := (bps + 500) / 1000
	if k < 1 {
		k = 1
	}
	return k
}

// SetBitRate sets the target bitrate in bits per second. It takes effect on the
// next frame; libvpx is reconfigured only when the value changes.
func (e *VP8Encoder) SetBitRate(bps int) error {
	if bps < MinVP8BitRate || bps > maxVP8BitRate {
		return fmt.Errorf("vp8 bitrate %d: %w", bps, ErrInvalidConfig)
	}
	e.ctlMu.Lock()
	e.wantRate = bps
	e.ctlMu.Unlock()
	return nil
}

// SetCPUUsed changes the speed/quality trade-off (VP8E_SET_CPUUSED, -16..16;
// larger magnitude is faster) from the next frame.
func (e *VP8Encoder) SetCPUUsed(n int) error {
	if n < -16 || n > 16 {
		return fmt.Errorf("vp8 cpu-used %d: %w", n, ErrInvalidConfig)
	}
	e.ctlMu.Lock()
	e.wantCPU = n
	e.ctlMu.Unlock()
	return nil
}

// ForceKeyFrame makes the next encoded frame a keyframe (a PLI or FIR from
// the receiver ends up here).
func (e *VP8Encoder) ForceKeyFrame() {
	e.ctlMu.Lock()
	e.forceKF = true
	e.ctlMu.Unlock()
}

// KeyFramePending reports whether the next encoded frame is to be a
// keyframe on request (ForceKeyFrame), which a sender must not skip.
func (e *VP8Encoder) KeyFramePending() bool {
	e.ctlMu.Lock()
	defer e.ctlMu.Unlock()
	return e.forceKF
}

// BitRate returns the target bitrate last requested, in bits per second.
func (e *VP8Encoder) BitRate() int {
	e.ctlMu.Lock()
	defer e.ctlMu.Unlock()
	return e.wantRate
}

// Encode compresses one picture. pts is the capture time of the picture
// relative to the start of the stream; it should grow from frame to frame (if
// it does not, the encoder uses the previous pts plus one frame interval at
// the configured FPS). A *image.YCbCr with 4:2:0 subsampling is passed to
// libvpx without copying; other images are converted first.
//
// It returns the compressed frame (a new slice the caller owns) and whether it
// is a keyframe. When libvpx produces no output for the picture (its rate
// control skipped it: DropFrames, ScreenContent), the error is ErrNoFrame
// and the caller just goes on with the next picture.
func (e *VP8Encoder) Encode(img image.Image, pts time.Duration) (frame []byte, key bool, err error) {
	if img == nil {
		return nil, false, fmt.Errorf("vp8 encode: nil image: %w", ErrUnsupportedImage)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, false, ErrClosed
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= 0 || h <= 0 || w > 16383 || h > 16383 {
		return nil, false, fmt.Errorf("vp8 encode: size %dx%d: %w", w, h, ErrUnsupportedImage)
	}

	e.ctlMu.Lock()
	rate, cpu, force := e.wantRate, e.wantCPU, e.forceKF
	e.forceKF = false
	e.ctlMu.Unlock()
	defer func() {
		if err != nil && force {
			e.ForceKeyFrame() // do not lose the request
		}
	}()

	if w != e.cfg.Width || h != e.cfg.Height || e.enc == nil {
		if err := e.resize(w, h, rate, cpu); err != nil {
			return nil, false, err
		}
		force = true
	}
	if rate != e.cfg.BitRate {
		if rc := C.pc_vp8enc_set_rate(e.enc, C.uint(kbps(rate))); rc != C.VPX_CODEC_OK {
			return nil, false, vpxError("vp8 set bitrate", rc)
		}
		e.cfg.BitRate = rate
	}
	if cpu != e.cfg.CPUUsed {
		if rc := C.pc_vp8enc_set_cpu(e.enc, C.int(cpu)); rc != C.VPX_CODEC_OK {
			return nil, false, vpxError("vp8 set cpu-used", rc)
		}
		e.cfg.CPUUsed = cpu
	}

	yuv := e.toI420(img)
	if !planesCover(yuv, b) {
		// libvpx would read past the end of the Go slices.
		return nil, false, fmt.Errorf("vp8 encode: planes shorter than %v: %w", b, ErrUnsupportedImage)
	}
	// A screen: libvpx codes what changed and, for a few frames after, the
	// same again to sharpen it (screenMap); a still screen's keepalive
	// costs a few hundred bytes.
	if e.cfg.ScreenContent {
		mapped := e.screen.next(yuv, pts) < len(e.screen.active) && !force
		if mapped || e.screenSet {
			var m *C.uchar // all
			if mapped {
				m = (*C.uchar)(unsafe.Pointer(&e.screen.active[0]))
			}
			if rc := C.pc_vp8enc_set_active(e.enc, m); rc != C.VPX_CODEC_OK {
				return nil, false, vpxError("vp8 set active map", rc)
			}
			e.screenSet = mapped
		}
	}
	frameTicks := int64(90000 / e.cfg.FPS)
	ticks := int64(pts) * 9 / int64(100*time.Microsecond) // 90 kHz
	if pts < 0 || ticks <= e.lastPTS {
		ticks = e.lastPTS + frameTicks
		if e.lastPTS < 0 {
			ticks = 0
		}
	}
	dur := frameTicks
	if e.lastPTS >= 0 && ticks-e.lastPTS < 4*frameTicks {
		dur = ticks - e.lastPTS
	}
	e.lastPTS = ticks
	if e.resumeAt >= 0 {
		// A parked encoder goes on one frame after its last: libvpx
		// takes a gap in timestamps for the frame rate, and a frame
		// budget of seconds for its keyframe.
		e.tickOff = ticks - (e.resumeAt + dur)
		e.resumeAt = -1
	}
	ticks -= e.tickOff

	y0 := yuv.YOffset(b.Min.X, b.Min.Y)
	c0 := yuv.COffset(b.Min.X, b.Min.Y)
	kf := 0
	if force {
		kf = 1
	}
	rc := C.pc_vp8enc_encode(e.enc,
		(*C.uchar)(unsafe.Pointer(&yuv.Y[y0])), (*C.uchar)(unsafe.Pointer(&yuv.Cb[c0])), (*C.uchar)(unsafe.Pointer(&yuv.Cr[c0])),
		C.int(yuv.YStride), C.int(yuv.CStride), C.longlong(ticks), C.ulong(dur), C.int(kf))
	runtime.KeepAlive(yuv)
	if rc != C.VPX_CODEC_OK {
		return nil, false, vpxError("vp8 encode", rc)
	}

	var out []byte
	for {
		var sz C.size_t
		var isKey C.int
		p := C.pc_vp8enc_next(e.enc, &sz, &isKey)
		if p == nil {
			break
		}
		out = append(out, unsafe.Slice((*byte)(p), int(sz))...)
		key = key || isKey != 0
	}
	if len(out) == 0 {
		return nil, false, ErrNoFrame
	}
	if e.cfg.ScreenContent {
		e.screen.coded(key, pts)
	}
	return out, key, nil
}

// spareEncoders is how many of a camera's encoders at other sizes are kept:
// the bitrate ladder has four steps. A 640x480 encoder and its first frame
// touch 9 MB (2350 pages, BenchmarkVP8SizeStep's faults/step), so a
// 640x480 camera's spares hold 8-17 MB.
const spareEncoders = 3

// spareVP8 is a parked encoder: its size, the rate and speed it was last
// set to, and the last timestamp it coded.
type spareVP8 struct {
	enc       *C.pc_vp8enc
	w, h      int
	rate, cpu int
	lastTicks int64
}

// resize makes the encoder code w×h pictures (the next frame is a
// keyframe). A camera keeps its encoder at the size it leaves and takes
// back the one at the size it comes to. A new libvpx encoder faults its
// buffers in: from 480x360 up to 640x480 the step's frame took 32 ms
// against 5.5 ms from a kept encoder (BenchmarkVP8SizeStep, idle 2-core
// EPYC), and 60-150 ms in calls on the loaded machine, where the receiver
// saw the stall as a freeze. A screen, whose size changes rarely, gets a
// new encoder.
func (e *VP8Encoder) resize(w, h, rate, cpu int) error {
	if e.enc != nil {
		if e.cfg.ScreenContent {
			e.destroy()
		} else {
			e.spare = append(e.spare, spareVP8{enc: e.enc, w: e.cfg.Width, h: e.cfg.Height,
				rate: e.cfg.BitRate, cpu: e.cfg.CPUUsed, lastTicks: e.lastPTS - e.tickOff})
			e.enc = nil
			if len(e.spare) > spareEncoders {
				destroyVP8(e.spare[0].enc)
				e.spare = slices.Delete(e.spare, 0, 1)
			}
		}
	}
	for i, sp := range e.spare {
		if sp.w == w && sp.h == h {
			e.spare = slices.Delete(e.spare, i, i+1)
			e.enc = sp.enc
			// The rate and speed are brought up to date before the frame.
			e.cfg.Width, e.cfg.Height, e.cfg.BitRate, e.cfg.CPUUsed = w, h, sp.rate, sp.cpu
			e.resumeAt = sp.lastTicks
			return nil
		}
	}
	e.cfg.Width, e.cfg.Height, e.cfg.BitRate, e.cfg.CPUUsed = w, h, rate, cpu
	e.tickOff, e.resumeAt = 0, -1
	return e.open()
}

// toI420 returns img itself when libvpx can read it directly, or a converted
// copy held in e.conv.
func (e *VP8Encoder) toI420(img image.Image) *image.YCbCr {
	if y, ok := img.(*image.YCbCr); ok && y.SubsampleRatio == image.YCbCrSubsampleRatio420 &&
		len(y.Y) > 0 && len(y.Cb) > 0 && len(y.Cr) > 0 {
		return y
	}
	b := img.Bounds()
	if e.conv == nil || e.conv.Rect != b {
		e.conv = image.NewYCbCr(b, image.YCbCrSubsampleRatio420)
	}
	toI420(e.conv, img)
	return e.conv
}

// planesCover reports whether the 4:2:0 planes of y hold every row libvpx
// reads for the rectangle r.
func planesCover(y *image.YCbCr, r image.Rectangle) bool {
	w, h := r.Dx(), r.Dy()
	cw, ch := (w+1)/2, (h+1)/2
	if y.YStride < w || y.CStride < cw {
		return false
	}
	yEnd := y.YOffset(r.Min.X, r.Min.Y) + (h-1)*y.YStride + w
	cEnd := y.COffset(r.Min.X, r.Min.Y) + (ch-1)*y.CStride + cw
	return y.YOffset(r.Min.X, r.Min.Y) >= 0 && y.COffset(r.Min.X, r.Min.Y) >= 0 &&
		yEnd <= len(y.Y) && cEnd <= len(y.Cb) && cEnd <= len(y.Cr)
}

// Close releases the encoder. It is safe to call more than once.
func (e *VP8Encoder) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	e.destroy()
	for _, sp := range e.spare {
		destroyVP8(sp.enc)
	}
	e.spare = nil
	return nil
}

// VP8Decoder decodes VP8 frames on libvpx.
type VP8Decoder struct {
	mu     sync.Mutex
	dec    *C.pc_vp8dec
	img    *image.YCbCr
	closed bool
}

// NewVP8Decoder creates a single-threaded decoder: 720p decodes in about
// 2 ms on one core, and libvpx's worker threads spin-wait, which costs far
// more than it saves on a busy two-core machine.
func NewVP8Decoder() (*VP8Decoder, error) {
	d := (*C.pc_vp8dec)(C.calloc(1, C.size_t(unsafe.Sizeof(C.pc_vp8dec{}))))
	if d == nil {
		return nil, fmt.Errorf("vp8 decoder: out of memory: %w", ErrCodec)
	}
	if rc := C.pc_vp8dec_init(d, 1); rc != C.VPX_CODEC_OK {
		C.free(unsafe.Pointer(d))
		return nil, vpxError("vp8 decoder init", rc)
	}
	return &VP8Decoder{dec: d}, nil
}

// Decode decodes one complete VP8 frame. The returned picture is owned by the
// decoder and is overwritten by the next call to Decode: copy it (or convert
// it with YCbCrToRGBA) before decoding the next frame. A frame that libvpx
// rejects or marks as corrupt returns an error wrapping ErrCodec; the caller
// should then ask for a keyframe (VP8Assembler.ReportDecodeError).
func (d *VP8Decoder) Decode(frame []byte) (*image.YCbCr, error) {
	if len(frame) == 0 {
		return nil, fmt.Errorf("vp8 decode: empty frame: %w", ErrMalformedFrame)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, ErrClosed
	}
	var corrupted C.int
	rc := C.pc_vp8dec_decode(d.dec, (*C.uchar)(unsafe.Pointer(&frame[0])), C.uint(len(frame)), &corrupted)
	runtime.KeepAlive(frame)
	if rc != C.VPX_CODEC_OK {
		return nil, vpxError("vp8 decode", rc)
	}
	img := C.pc_vp8dec_frame(d.dec)
	if img == nil {
		return nil, ErrNoFrame
	}
	if corrupted != 0 {
		return nil, fmt.Errorf("vp8 decode: corrupt frame: %w", ErrCodec)
	}
	if img.fmt != C.VPX_IMG_FMT_I420 {
		return nil, fmt.Errorf("vp8 decode: image format %d: %w", int(img.fmt), ErrCodec)
	}
	w, h := int(img.d_w), int(img.d_h)
	if d.img == nil || d.img.Rect.Dx() != w || d.img.Rect.Dy() != h {
		d.img = image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	}
	C.pc_copy_image(img, (*C.uchar)(unsafe.Pointer(&d.img.Y[0])), C.int(d.img.YStride),
		(*C.uchar)(unsafe.Pointer(&d.img.Cb[0])), (*C.uchar)(unsafe.Pointer(&d.img.Cr[0])), C.int(d.img.CStride))
	return d.img, nil
}

// Close releases the decoder. It is safe to call more than once.
func (d *VP8Decoder) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	C.vpx_codec_destroy(&d.dec.ctx)
	C.free(unsafe.Pointer(d.dec))
	d.dec = nil
	return nil
}
