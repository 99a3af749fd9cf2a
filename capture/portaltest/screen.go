package portaltest

/*
#cgo pkg-config: libpipewire-0.3
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <pipewire/pipewire.h>
#include <spa/param/video/format-utils.h>

// A screen as a compositor's portal back end offers it: a PipeWire video
// source node driving its own clock, sending the current picture (BGRx)
// fps times a second.
typedef struct {
	struct pw_thread_loop *loop;
	struct pw_context *ctx;
	struct pw_core *core;
	struct pw_stream *stream;
	struct spa_hook listener;
	struct spa_source *timer;
	pthread_mutex_t mu;
	uint8_t *pic;
	int w, h, fps;
	uint32_t node;
	int state; // pw_stream_state
} pt_screen;

static void pt_on_state(void *data, enum pw_stream_state old, enum pw_stream_state state, const char *error) {
	(void)old; (void)error;
	pt_screen *s = data;
	s->state = state;
	if (state == PW_STREAM_STATE_PAUSED)
		s->node = pw_stream_get_node_id(s->stream);
	pw_thread_loop_signal(s->loop, false);
}

static void pt_on_param(void *data, uint32_t id, const struct spa_pod *param) {
	pt_screen *s = data;
	if (param == NULL || id != SPA_PARAM_Format)
		return;
	uint8_t buf[256];
	struct spa_pod_builder b = SPA_POD_BUILDER_INIT(buf, sizeof buf);
	const struct spa_pod *params[1];
	params[0] = spa_pod_builder_add_object(&b, SPA_TYPE_OBJECT_ParamBuffers, SPA_PARAM_Buffers,
		SPA_PARAM_BUFFERS_buffers, SPA_POD_CHOICE_RANGE_Int(4, 2, 8),
		SPA_PARAM_BUFFERS_blocks, SPA_POD_Int(1),
		SPA_PARAM_BUFFERS_size, SPA_POD_Int(s->w * s->h * 4),
		SPA_PARAM_BUFFERS_stride, SPA_POD_Int(s->w * 4),
		SPA_PARAM_BUFFERS_dataType, SPA_POD_CHOICE_FLAGS_Int((1 << SPA_DATA_MemPtr) | (1 << SPA_DATA_MemFd)));
	pw_stream_update_params(s->stream, params, 1);
}

static void pt_on_timeout(void *data, uint64_t expirations) {
	(void)expirations;
	pt_screen *s = data;
	if (s->state != PW_STREAM_STATE_STREAMING)
		return;
	struct pw_buffer *b = pw_stream_dequeue_buffer(s->stream);
	if (b == NULL)
		return;
	struct spa_data *d = &b->buffer->datas[0];
	if (d->data != NULL && d->maxsize >= (uint32_t)(s->w * s->h * 4)) {
		pthread_mutex_lock(&s->mu);
		memcpy(d->data, s->pic, (size_t)s->w * s->h * 4);
		pthread_mutex_unlock(&s->mu);
		d->chunk->offset = 0;
		d->chunk->stride = s->w * 4;
		d->chunk->size = s->w * s->h * 4;
	}
	pw_stream_queue_buffer(s->stream, b);
}

static const struct pw_stream_events pt_events = {
	PW_VERSION_STREAM_EVENTS,
	.state_changed = pt_on_state,
	.param_changed = pt_on_param,
};

static void pt_init(void) { pw_init(NULL, NULL); }

static void pt_close(pt_screen *s) {
	if (s->loop)
		pw_thread_loop_stop(s->loop);
	if (s->stream)
		pw_stream_destroy(s->stream);
	if (s->core)
		pw_core_disconnect(s->core);
	if (s->ctx)
		pw_context_destroy(s->ctx);
	if (s->loop)
		pw_thread_loop_destroy(s->loop);
	pthread_mutex_destroy(&s->mu);
	free(s->pic);
	free(s);
}

// pt_open starts the node; it returns NULL (and *err a step) on failure.
static pt_screen *pt_open(const char *remote, int w, int h, int fps, const char **err) {
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, pt_init);
	pt_screen *s = calloc(1, sizeof *s);
	s->w = w; s->h = h; s->fps = fps;
	pthread_mutex_init(&s->mu, NULL);
	s->pic = calloc((size_t)w * h, 4);
	s->loop = pw_thread_loop_new("peercall-test-screen", NULL);
	s->ctx = pw_context_new(pw_thread_loop_get_loop(s->loop), NULL, 0);
	if (pw_thread_loop_start(s->loop) < 0) {
		*err = "start loop";
		pt_close(s);
		return NULL;
	}
	pw_thread_loop_lock(s->loop);
	s->core = pw_context_connect(s->ctx, pw_properties_new(PW_KEY_REMOTE_NAME, remote, NULL), 0);
	if (s->core == NULL) {
		pw_thread_loop_unlock(s->loop);
		*err = "connect to PipeWire";
		pt_close(s);
		return NULL;
	}
	s->stream = pw_stream_new(s->core, "peercall-test-screen",
		pw_properties_new(PW_KEY_MEDIA_CLASS, "Video/Source", PW_KEY_NODE_NAME, "peercall-test-screen", NULL));
	pw_stream_add_listener(s->stream, &s->listener, &pt_events, s);
	uint8_t buf[512];
	struct spa_pod_builder b = SPA_POD_BUILDER_INIT(buf, sizeof buf);
	const struct spa_pod *params[1];
	params[0] = spa_pod_builder_add_object(&b, SPA_TYPE_OBJECT_Format, SPA_PARAM_EnumFormat,
		SPA_FORMAT_mediaType, SPA_POD_Id(SPA_MEDIA_TYPE_video),
		SPA_FORMAT_mediaSubtype, SPA_POD_Id(SPA_MEDIA_SUBTYPE_raw),
		SPA_FORMAT_VIDEO_format, SPA_POD_Id(SPA_VIDEO_FORMAT_BGRx),
		SPA_FORMAT_VIDEO_size, SPA_POD_Rectangle(&SPA_RECTANGLE(w, h)),
		SPA_FORMAT_VIDEO_framerate, SPA_POD_Fraction(&SPA_FRACTION(fps, 1)));
	if (pw_stream_connect(s->stream, PW_DIRECTION_OUTPUT, PW_ID_ANY,
			PW_STREAM_FLAG_DRIVER | PW_STREAM_FLAG_MAP_BUFFERS, params, 1) < 0) {
		pw_thread_loop_unlock(s->loop);
		*err = "connect the stream";
		pt_close(s);
		return NULL;
	}
	s->timer = pw_loop_add_timer(pw_thread_loop_get_loop(s->loop), pt_on_timeout, s);
	struct timespec iv = {0, 1000000000L / fps};
	pw_loop_update_timer(pw_thread_loop_get_loop(s->loop), s->timer, &iv, &iv, false);
	while (s->node == 0 && s->state != PW_STREAM_STATE_ERROR)
		pw_thread_loop_wait(s->loop);
	pw_thread_loop_unlock(s->loop);
	if (s->node == 0) {
		*err = "stream failed";
		pt_close(s);
		return NULL;
	}
	return s;
}

static void pt_set(pt_screen *s, const uint8_t *bgrx) {
	pthread_mutex_lock(&s->mu);
	memcpy(s->pic, bgrx, (size_t)s->w * s->h * 4);
	pthread_mutex_unlock(&s->mu);
}
*/
import "C"

import (
	"fmt"
	"image"
	"unsafe"
)

// screen is the test desktop's screen node.
type screen struct {
	c    *C.pt_screen
	w, h int
}

// openScreen starts the node on the PipeWire daemon listening at remote
// (a socket path).
func openScreen(remote string, w, h, fps int) (*screen, error) {
	var step *C.char
	cr := C.CString(remote)
	defer C.free(unsafe.Pointer(cr))
	c := C.pt_open(cr, C.int(w), C.int(h), C.int(fps), &step)
	if c == nil {
		return nil, fmt.Errorf("test screen: %s", C.GoString(step))
	}
	return &screen{c: c, w: w, h: h}, nil
}

func (s *screen) node() uint32 { return uint32(s.c.node) }

// set shows img (cropped or padded to the screen's size).
func (s *screen) set(img image.Image) {
	buf := make([]byte, s.w*s.h*4)
	b := img.Bounds()
	for y := 0; y < s.h && y < b.Dy(); y++ {
		for x := 0; x < s.w && x < b.Dx(); x++ {
			r, g, bl, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
			i := (y*s.w + x) * 4
			buf[i], buf[i+1], buf[i+2], buf[i+3] = byte(bl>>8), byte(g>>8), byte(r>>8), 255
		}
	}
	C.pt_set(s.c, (*C.uint8_t)(unsafe.Pointer(&buf[0])))
}

func (s *screen) close() { C.pt_close(s.c) }
