//go:build linux && cgo

package capture

/*
#cgo pkg-config: libpipewire-0.3
#cgo LDFLAGS: -lyuv
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <pipewire/pipewire.h>
#include <spa/param/video/format-utils.h>
#include <spa/buffer/meta.h>
#include <spa/utils/result.h>
#include <libyuv/convert.h>
#include <libyuv/scale.h>

// One PipeWire video stream read on PipeWire's own thread loop. Each new
// buffer is converted to I420 at once (the newest wins) into a picture of
// the size the stream first had; a later size (a resized window) is
// scaled into it, so the encoder keeps one size.
typedef struct {
	struct pw_thread_loop *loop;
	struct pw_context *ctx;
	struct pw_core *core;
	struct pw_stream *stream;
	struct spa_hook stream_listener;
	struct spa_hook core_listener;

	pthread_mutex_t mu;
	pthread_cond_t cond;
	uint32_t format;   // SPA_VIDEO_FORMAT_*, 0 until negotiated
	int sw, sh;        // the stream's current size
	int w, h;          // the picture's size (the first stream size, even)
	uint8_t *y, *u, *v; // the picture, I420 w x h
	uint8_t *ty, *tu, *tv; // the stream size in I420 when it differs
	int tw, th;
	uint64_t seq;      // pictures so far
	int failed;        // the stream or the remote ended
} pc_pw;

static void pc_pw_fail(pc_pw *p) {
	pthread_mutex_lock(&p->mu);
	p->failed = 1;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->mu);
}

static void pc_on_state(void *data, enum pw_stream_state old, enum pw_stream_state state, const char *error) {
	(void)old; (void)error;
	pc_pw *p = data;
	if (state == PW_STREAM_STATE_ERROR || state == PW_STREAM_STATE_UNCONNECTED)
		pc_pw_fail(p);
}

static void pc_on_param(void *data, uint32_t id, const struct spa_pod *param) {
	pc_pw *p = data;
	if (param == NULL || id != SPA_PARAM_Format)
		return;
	uint32_t mtype, msub;
	if (spa_format_parse(param, &mtype, &msub) < 0 || mtype != SPA_MEDIA_TYPE_video || msub != SPA_MEDIA_SUBTYPE_raw)
		return;
	struct spa_video_info_raw raw;
	memset(&raw, 0, sizeof raw);
	if (spa_format_video_raw_parse(param, &raw) < 0)
		return;
	pthread_mutex_lock(&p->mu);
	p->format = raw.format;
	p->sw = (int)raw.size.width;
	p->sh = (int)raw.size.height;
	if (p->w == 0) {
		p->w = p->sw & ~1;
		p->h = p->sh & ~1;
		if (p->w > 0 && p->h > 0) {
			size_t n = (size_t)p->w * p->h;
			p->y = malloc(n + n / 2);
			if (p->y == NULL) {
				p->failed = 1;
			} else {
				memset(p->y, 16, n);
				memset(p->y + n, 128, n / 2);
				p->u = p->y + n;
				p->v = p->u + n / 4;
			}
		}
	}
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->mu);

	// Memory the CPU can read (no DMA-BUF: we convert on the CPU), and
	// the header that flags corrupt buffers.
	uint8_t buf[512];
	struct spa_pod_builder b = SPA_POD_BUILDER_INIT(buf, sizeof buf);
	const struct spa_pod *params[1];
	params[0] = spa_pod_builder_add_object(&b, SPA_TYPE_OBJECT_ParamMeta, SPA_PARAM_Meta,
		SPA_PARAM_META_type, SPA_POD_Id(SPA_META_Header),
		SPA_PARAM_META_size, SPA_POD_Int(sizeof(struct spa_meta_header)));
	pw_stream_update_params(p->stream, params, 1);
}

// pc_to_i420 converts one packed 32-bit picture; libyuv names formats by
// their order in a little-endian word, so BGRx in memory is its "ARGB".
static int pc_to_i420(uint32_t fmt, const uint8_t *src, int stride, uint8_t *y, uint8_t *u, uint8_t *v, int w, int h) {
	switch (fmt) {
	case SPA_VIDEO_FORMAT_BGRx:
	case SPA_VIDEO_FORMAT_BGRA:
		return ARGBToI420(src, stride, y, w, u, w / 2, v, w / 2, w, h);
	case SPA_VIDEO_FORMAT_RGBx:
	case SPA_VIDEO_FORMAT_RGBA:
		return ABGRToI420(src, stride, y, w, u, w / 2, v, w / 2, w, h);
	case SPA_VIDEO_FORMAT_xRGB:
	case SPA_VIDEO_FORMAT_ARGB:
		return BGRAToI420(src, stride, y, w, u, w / 2, v, w / 2, w, h);
	case SPA_VIDEO_FORMAT_xBGR:
	case SPA_VIDEO_FORMAT_ABGR:
		return RGBAToI420(src, stride, y, w, u, w / 2, v, w / 2, w, h);
	}
	return -1;
}

static void pc_on_process(void *data) {
	pc_pw *p = data;
	struct pw_buffer *b = NULL, *t;
	while ((t = pw_stream_dequeue_buffer(p->stream)) != NULL) {
		if (b != NULL)
			pw_stream_queue_buffer(p->stream, b);
		b = t;
	}
	if (b == NULL)
		return;
	struct spa_buffer *buf = b->buffer;

	struct spa_meta_header *hd = spa_buffer_find_meta_data(buf, SPA_META_Header, sizeof *hd);
	struct spa_data *d = &buf->datas[0];
	if ((hd != NULL && (hd->flags & SPA_META_HEADER_FLAG_CORRUPTED)) || d->data == NULL || d->chunk == NULL || d->chunk->size == 0) {
		pw_stream_queue_buffer(p->stream, b);
		return;
	}
	pthread_mutex_lock(&p->mu);
	int sw = p->sw & ~1, sh = p->sh & ~1;
	int stride = d->chunk->stride > 0 ? d->chunk->stride : p->sw * 4;
	const uint8_t *src = (const uint8_t *)d->data + d->chunk->offset;
	if (p->y != NULL && sw > 0 && sh > 0 && (size_t)stride * sh <= d->maxsize) {
		int rc;
		if (sw == p->w && sh == p->h) {
			rc = pc_to_i420(p->format, src, stride, p->y, p->u, p->v, p->w, p->h);
		} else {
			if (p->tw != sw || p->th != sh) {
				free(p->ty);
				size_t n = (size_t)sw * sh;
				p->ty = malloc(n + n / 2);
				p->tw = p->ty ? sw : 0;
				p->th = p->ty ? sh : 0;
				if (p->ty) {
					p->tu = p->ty + n;
					p->tv = p->tu + n / 4;
				}
			}
			rc = p->ty == NULL ? -1 : pc_to_i420(p->format, src, stride, p->ty, p->tu, p->tv, sw, sh);
			if (rc == 0)
				rc = I420Scale(p->ty, sw, p->tu, sw / 2, p->tv, sw / 2, sw, sh,
					p->y, p->w, p->u, p->w / 2, p->v, p->w / 2, p->w, p->h, kFilterBilinear);
		}
		if (rc == 0) {
			p->seq++;
			pthread_cond_broadcast(&p->cond);
		}
	}
	pthread_mutex_unlock(&p->mu);
	pw_stream_queue_buffer(p->stream, b);
}

static void pc_on_core_error(void *data, uint32_t id, int seq, int res, const char *message) {
	(void)seq; (void)res; (void)message;
	if (id == PW_ID_CORE)
		pc_pw_fail(data);
}

static const struct pw_stream_events pc_stream_events = {
	PW_VERSION_STREAM_EVENTS,
	.state_changed = pc_on_state,
	.param_changed = pc_on_param,
	.process = pc_on_process,
};

static const struct pw_core_events pc_core_events = {
	PW_VERSION_CORE_EVENTS,
	.error = pc_on_core_error,
};

static void pw_init_noargs(void) { pw_init(NULL, NULL); }

static void pc_pw_close(pc_pw *p) {
	if (p->loop)
		pw_thread_loop_stop(p->loop);
	if (p->stream)
		pw_stream_destroy(p->stream);
	if (p->core)
		pw_core_disconnect(p->core);
	if (p->ctx)
		pw_context_destroy(p->ctx);
	if (p->loop)
		pw_thread_loop_destroy(p->loop);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cond);
	free(p->y);
	free(p->ty);
	free(p);
}

// pc_pw_open connects to the remote fd (taken over) and the stream node.
static pc_pw *pc_pw_open(int fd, uint32_t node, int max_fps) {
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, (void (*)(void))pw_init_noargs);
	pc_pw *p = calloc(1, sizeof *p);
	if (p == NULL) {
		close(fd);
		return NULL;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->loop = pw_thread_loop_new("peercall-screen", NULL);
	if (p->loop == NULL) {
		close(fd);
		pc_pw_close(p);
		return NULL;
	}
	p->ctx = pw_context_new(pw_thread_loop_get_loop(p->loop), NULL, 0);
	if (p->ctx == NULL || pw_thread_loop_start(p->loop) < 0) {
		close(fd);
		pc_pw_close(p);
		return NULL;
	}
	pw_thread_loop_lock(p->loop);
	p->core = pw_context_connect_fd(p->ctx, fd, NULL, 0);
	if (p->core == NULL) {
		pw_thread_loop_unlock(p->loop);
		pc_pw_close(p);
		return NULL;
	}
	pw_core_add_listener(p->core, &p->core_listener, &pc_core_events, p);
	p->stream = pw_stream_new(p->core, "Peercall screen share",
		pw_properties_new(PW_KEY_MEDIA_TYPE, "Video", PW_KEY_MEDIA_CATEGORY, "Capture", PW_KEY_MEDIA_ROLE, "Screen", NULL));
	if (p->stream == NULL) {
		pw_thread_loop_unlock(p->loop);
		pc_pw_close(p);
		return NULL;
	}
	pw_stream_add_listener(p->stream, &p->stream_listener, &pc_stream_events, p);
	uint8_t buf[1024];
	struct spa_pod_builder b = SPA_POD_BUILDER_INIT(buf, sizeof buf);
	const struct spa_pod *params[1];
	params[0] = spa_pod_builder_add_object(&b, SPA_TYPE_OBJECT_Format, SPA_PARAM_EnumFormat,
		SPA_FORMAT_mediaType, SPA_POD_Id(SPA_MEDIA_TYPE_video),
		SPA_FORMAT_mediaSubtype, SPA_POD_Id(SPA_MEDIA_SUBTYPE_raw),
		SPA_FORMAT_VIDEO_format, SPA_POD_CHOICE_ENUM_Id(9,
			SPA_VIDEO_FORMAT_BGRx, SPA_VIDEO_FORMAT_BGRx, SPA_VIDEO_FORMAT_BGRA,
			SPA_VIDEO_FORMAT_RGBx, SPA_VIDEO_FORMAT_RGBA, SPA_VIDEO_FORMAT_xRGB,
			SPA_VIDEO_FORMAT_ARGB, SPA_VIDEO_FORMAT_xBGR, SPA_VIDEO_FORMAT_ABGR),
		SPA_FORMAT_VIDEO_size, SPA_POD_CHOICE_RANGE_Rectangle(
			&SPA_RECTANGLE(1280, 720), &SPA_RECTANGLE(2, 2), &SPA_RECTANGLE(8192, 8192)),
		SPA_FORMAT_VIDEO_framerate, SPA_POD_CHOICE_RANGE_Fraction(
			&SPA_FRACTION(max_fps, 1), &SPA_FRACTION(0, 1), &SPA_FRACTION(max_fps, 1)));
	int rc = pw_stream_connect(p->stream, PW_DIRECTION_INPUT, node,
		PW_STREAM_FLAG_AUTOCONNECT | PW_STREAM_FLAG_MAP_BUFFERS, params, 1);
	pw_thread_loop_unlock(p->loop);
	if (rc < 0) {
		pc_pw_close(p);
		return NULL;
	}
	return p;
}

// pc_pw_wait waits up to ms for the picture size (seq == -1) or for a
// picture newer than seq; it returns the current seq, or -1 once failed.
static int64_t pc_pw_wait(pc_pw *p, int64_t seq, int ms, int *w, int *h) {
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += ms / 1000;
	dl.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&p->mu);
	while (!p->failed && (seq < 0 ? p->w == 0 : (int64_t)p->seq == seq)) {
		if (pthread_cond_timedwait(&p->cond, &p->mu, &dl) == ETIMEDOUT)
			break;
	}
	int64_t out = p->failed ? -1 : (int64_t)p->seq;
	*w = p->w;
	*h = p->h;
	pthread_mutex_unlock(&p->mu);
	return out;
}

// pc_pw_copy copies the picture into y, u, v (I420 of the picture's size).
static void pc_pw_copy(pc_pw *p, uint8_t *y, int ys, uint8_t *u, uint8_t *v, int cs) {
	pthread_mutex_lock(&p->mu);
	if (p->y != NULL)
		I420Copy(p->y, p->w, p->u, p->w / 2, p->v, p->w / 2, y, ys, u, cs, v, cs, p->w, p->h);
	pthread_mutex_unlock(&p->mu);
}
*/
import "C"

import (
	"context"
	"fmt"
	"image"
	"sync"
	"sync/atomic"
	"time"
)

// PortalScreen is a screen (or window) the desktop portal casts, read from
// PipeWire: the way to share a Wayland desktop. It behaves as Screen does:
// at most FPS pictures a second, new pictures only when the desktop sends
// them (a still screen sends none; Next repeats the last about every
// second), always of the size the cast started with.
type PortalScreen struct {
	cast     *PortalCast
	interval time.Duration
	w, h     int

	mu       sync.Mutex
	c        *C.pc_pw
	pace     pacer
	seq      int64
	lastEmit time.Time
	refresh  atomic.Bool // see Refresh
	closed   chan struct{}
	once     sync.Once
}

var _ VideoSource = (*PortalScreen)(nil)

// portalFirstFrame bounds the wait for the stream's format after the
// user chose what to share.
const portalFirstFrame = 5 * time.Second

// OpenPortalScreen asks the desktop portal for a screen cast (its picker
// appears; ctx bounds the user's choice) and starts reading it. fps 0
// means 15.
func OpenPortalScreen(ctx context.Context, cfg PortalConfig, fps float64) (*PortalScreen, error) {
	interval, err := screenInterval(fps)
	if err != nil {
		return nil, err
	}
	cast, err := StartPortalCast(ctx, cfg)
	if err != nil {
		return nil, err
	}
	maxFPS := max(1, int(time.Second/interval))
	c := C.pc_pw_open(C.int(cast.takeFD()), C.uint32_t(cast.Node), C.int(maxFPS))
	if c == nil {
		cast.Close()
		return nil, fmt.Errorf("%w: cannot read the cast from PipeWire", ErrNoScreenCapture)
	}
	var w, h C.int
	if C.pc_pw_wait(c, -1, C.int(portalFirstFrame/time.Millisecond), &w, &h) < 0 || w == 0 {
		C.pc_pw_close(c)
		cast.Close()
		return nil, fmt.Errorf("%w: PipeWire sent no picture format", ErrNoScreenCapture)
	}
	return &PortalScreen{cast: cast, interval: interval, w: int(w), h: int(h), c: c, seq: 0, closed: make(chan struct{})}, nil
}

// Size is the picture size (the cast's first size, cropped to even).
func (s *PortalScreen) Size() (w, h int) { return s.w, s.h }

// Refresh makes the next wait return the current picture even if the
// desktop sent no new one (a receiver asked for a keyframe).
func (s *PortalScreen) Refresh() { s.refresh.Store(true) }

// Next returns the next new picture in a fresh image (see NextInto).
func (s *PortalScreen) Next() (*image.YCbCr, error) {
	f, err := s.NextInto(image.NewYCbCr(image.Rect(0, 0, s.w, s.h), image.YCbCrSubsampleRatio420))
	return f.Image, err
}

// NextReusing returns a Next that draws every picture into one image.
func (s *PortalScreen) NextReusing() func() (*image.YCbCr, error) {
	buf := image.NewYCbCr(image.Rect(0, 0, s.w, s.h), image.YCbCrSubsampleRatio420)
	return func() (*image.YCbCr, error) {
		f, err := s.NextInto(buf)
		return f.Image, err
	}
}

// NextInto waits for a new picture (or the keepalive) and copies it into
// dst, I420 of Size. ErrClosed after Close; ErrNoScreenCapture when the
// desktop ended the cast (the user pressed its Stop).
func (s *PortalScreen) NextInto(dst *image.YCbCr) (ScreenFrame, error) {
	if dst.Rect.Dx() != s.w || dst.Rect.Dy() != s.h || dst.SubsampleRatio != image.YCbCrSubsampleRatio420 {
		return ScreenFrame{}, fmt.Errorf("screen frame into %v %v: %w", dst.Rect, dst.SubsampleRatio, ErrBadConfig)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.pace.wait(s.interval, s.closed); err != nil {
		return ScreenFrame{}, err
	}
	for {
		select {
		case <-s.closed:
			return ScreenFrame{}, ErrClosed
		default:
		}
		// Short waits, so Close is noticed quickly.
		var w, h C.int
		seq := int64(C.pc_pw_wait(s.c, C.int64_t(s.seq), 100, &w, &h))
		if seq < 0 || s.cast.Ended() {
			return ScreenFrame{}, fmt.Errorf("%w: the desktop ended the screen cast", ErrNoScreenCapture)
		}
		now := time.Now()
		changed := seq != s.seq
		// Nothing before the first picture; then the same one again
		// about every second while the screen is still.
		if seq == 0 || !changed && !s.refresh.Swap(false) && now.Sub(s.lastEmit) < screenKeepalive {
			continue
		}
		s.seq = seq
		s.lastEmit = now
		C.pc_pw_copy(s.c, (*C.uint8_t)(&dst.Y[0]), C.int(dst.YStride), (*C.uint8_t)(&dst.Cb[0]), (*C.uint8_t)(&dst.Cr[0]), C.int(dst.CStride))
		f := ScreenFrame{Image: dst, Changed: changed, CaptureTime: now}
		if changed {
			f.Dirty = dst.Rect
		}
		return f, nil
	}
}

// Close stops reading and ends the cast. Safe to call more than once.
func (s *PortalScreen) Close() error {
	s.once.Do(func() {
		close(s.closed)
		s.mu.Lock()
		C.pc_pw_close(s.c)
		s.c = nil
		s.mu.Unlock()
		s.cast.Close()
	})
	return nil
}
