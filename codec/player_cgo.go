//go:build cgo

package codec

/*
#include <stdlib.h>
#ifdef __linux__
#include <pthread.h>
#include <sched.h>
#endif

// peercall_audio_rt moves the calling (audio) thread to a low real-time
// priority where the system allows it; elsewhere it stays as it was.
static void peercall_audio_rt(void) {
#ifdef __linux__
	struct sched_param p = { .sched_priority = 5 };
	pthread_setschedparam(pthread_self(), SCHED_RR, &p);
#endif
}
*/
import "C"

import (
	"fmt"
	"log/slog"
	"unsafe"

	"github.com/gen2brain/malgo"
)

// playbackPeriodMS is how much audio the device asks for at a time. With
// PulseAudio (and PipeWire's pulse server) miniaudio makes it the whole
// server-side buffer, so it is also the time the callback thread may be
// late without an underrun. At 10 ms a 3 s tone on a loaded 2-core machine
// underran in 7 of 12 runs, at 40 ms in 2 of 12: 40 ms of output latency
// is the price. Two periods keep ALSA's own buffer at 80 ms.
const playbackPeriodMS = 40

// devicePlayer is a malgo (miniaudio) playback device.
type devicePlayer struct {
	ctx *malgo.AllocatedContext
	dev *malgo.Device
}

func (d *devicePlayer) close() error {
	d.dev.Uninit()
	err := d.ctx.Uninit()
	d.ctx.Free()
	if err != nil {
		return fmt.Errorf("audio context: %v: %w", err, ErrCodec)
	}
	return nil
}

func newAudioContext() (*malgo.AllocatedContext, error) {
	ctx, err := malgo.InitContext(nil, malgo.ContextConfig{}, func(msg string) {
		slog.Debug("miniaudio", "msg", msg)
	})
	if err != nil {
		return nil, fmt.Errorf("audio context: %v: %w", err, ErrNoDevice)
	}
	return ctx, nil
}

// ListOutputDevices lists the playback devices. A machine without sound
// hardware returns an empty list (or an error wrapping ErrNoDevice).
func ListOutputDevices() ([]Device, error) {
	ctx, err := newAudioContext()
	if err != nil {
		return nil, err
	}
	defer func() {
		_ = ctx.Uninit()
		ctx.Free()
	}()
	return listDevices(ctx)
}

// listDevices lists the usable playback devices.
func listDevices(ctx *malgo.AllocatedContext) ([]Device, error) {
	all, _, err := enumerate(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Device, 0, len(all))
	for _, d := range all {
		if d.ID != miniaudioNullID {
			out = append(out, d)
		}
	}
	return out, nil
}

// enumerate is miniaudio's playback device list as it stands, null device
// included, with the IDs to open them by at the same indexes.
func enumerate(ctx *malgo.AllocatedContext) ([]Device, []malgo.DeviceInfo, error) {
	infos, err := ctx.Devices(malgo.Playback)
	if err != nil {
		return nil, nil, fmt.Errorf("list audio devices: %v: %w", err, ErrNoDevice)
	}
	all := make([]Device, len(infos))
	for i := range infos {
		all[i] = Device{ID: infos[i].ID.String(), Name: infos[i].Name(), Default: infos[i].IsDefault != 0}
	}
	return all, infos, nil
}

// NewPlayer plays src on the output device with the given ID or name ("" for
// the default device, NullDeviceID for the null sink) as interleaved 16-bit
// PCM. With deviceID "" and no usable device it falls back to the null sink
// (see Player.Null); a named device that does not exist is ErrNoDevice.
func NewPlayer(deviceID string, sampleRate, channels int, src AudioSource) (*Player, error) {
	if err := validPlayerFormat(sampleRate, channels, src); err != nil {
		return nil, err
	}
	if deviceID == NullDeviceID {
		return newNullPlayer(sampleRate, channels, src), nil
	}
	ctx, err := newAudioContext()
	if err != nil {
		if deviceID == "" {
			return newNullPlayer(sampleRate, channels, src), nil
		}
		return nil, err
	}
	p, err := openDevice(ctx, deviceID, sampleRate, channels, src)
	if err != nil {
		_ = ctx.Uninit()
		ctx.Free()
		if deviceID == "" {
			slog.Info("no audio output device, using the null sink", "err", err)
			return newNullPlayer(sampleRate, channels, src), nil
		}
		return nil, err
	}
	return p, nil
}

func openDevice(ctx *malgo.AllocatedContext, deviceID string, sampleRate, channels int, src AudioSource) (*Player, error) {
	// One enumeration: the device is opened by the ID at the index picked.
	all, infos, err := enumerate(ctx)
	if err != nil {
		return nil, err
	}
	var id *malgo.DeviceID
	name := ""
	if i := pickOutput(all, deviceID); i >= 0 {
		id, name = &infos[i].ID, all[i].Name
	} else if deviceID != "" || !hasUsable(all) {
		// With "" and no device marked default, miniaudio's default will do.
		return nil, fmt.Errorf("audio output %q: %w", deviceID, ErrNoDevice)
	}

	cfg := malgo.DefaultDeviceConfig(malgo.Playback)
	cfg.Playback.Format = malgo.FormatS16
	cfg.Playback.Channels = uint32(channels)
	cfg.SampleRate = uint32(sampleRate)
	cfg.PeriodSizeInMilliseconds = playbackPeriodMS
	cfg.Periods = 2
	if id != nil {
		// malgo hands out a C copy of the ID; the device copies it at init.
		cid := id.Pointer()
		defer C.free(cid)
		cfg.Playback.DeviceID = cid
	}
	// The device thread must refill within one period however busy the
	// encoders keep the CPU: real-time priority 5 (PulseAudio's own level,
	// far under the kernel's threads) where allowed. miniaudio's own
	// "realtime" would be priority 99.
	var prioritized bool
	onData := func(out, _ []byte, frames uint32) {
		if !prioritized {
			prioritized = true
			C.peercall_audio_rt()
		}
		n := int(frames) * channels
		if n == 0 || len(out) < 2*n {
			return
		}
		src(unsafe.Slice((*int16)(unsafe.Pointer(&out[0])), n))
	}
	dev, err := malgo.InitDevice(ctx.Context, cfg, malgo.DeviceCallbacks{Data: onData})
	if err != nil {
		return nil, fmt.Errorf("open audio output %q: %v: %w", deviceID, err, ErrNoDevice)
	}
	if err := dev.Start(); err != nil {
		dev.Uninit()
		return nil, fmt.Errorf("start audio output %q: %v: %w", deviceID, err, ErrNoDevice)
	}
	if name == "" {
		name = "default"
	}
	return &Player{sampleRate: sampleRate, channels: channels, name: name,
		out: &devicePlayer{ctx: ctx, dev: dev}}, nil
}

func hasUsable(all []Device) bool {
	for _, d := range all {
		if d.ID != miniaudioNullID {
			return true
		}
	}
	return false
}
