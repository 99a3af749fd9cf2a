//go:build cgo

package codec

// #include <stdlib.h>
import "C"

import (
	"fmt"
	"log/slog"
	"unsafe"

	"github.com/gen2brain/malgo"
)

// miniaudioNullID is the ID ("null" in hex) of the device of miniaudio's
// null backend, which it falls back to on machines without sound.
const miniaudioNullID = "6e756c6c"

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

func listDevices(ctx *malgo.AllocatedContext) ([]Device, error) {
	infos, err := ctx.Devices(malgo.Playback)
	if err != nil {
		return nil, fmt.Errorf("list audio devices: %v: %w", err, ErrNoDevice)
	}
	out := make([]Device, 0, len(infos))
	for i := range infos {
		if infos[i].ID.String() == miniaudioNullID {
			continue // miniaudio's own null backend: NullDeviceID does that
		}
		out = append(out, Device{ID: infos[i].ID.String(), Name: infos[i].Name(), Default: infos[i].IsDefault != 0})
	}
	return out, nil
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
	devs, err := listDevices(ctx)
	if err != nil {
		return nil, err
	}
	infos, _ := ctx.Devices(malgo.Playback)
	var id *malgo.DeviceID
	name := ""
	for i, d := range devs {
		if (deviceID == "" && d.Default) || (deviceID != "" && (d.ID == deviceID || d.Name == deviceID)) {
			id, name = &infos[i].ID, d.Name
			break
		}
	}
	if id == nil && (deviceID != "" || len(devs) == 0) {
		return nil, fmt.Errorf("audio output %q: %w", deviceID, ErrNoDevice)
	}

	cfg := malgo.DefaultDeviceConfig(malgo.Playback)
	cfg.Playback.Format = malgo.FormatS16
	cfg.Playback.Channels = uint32(channels)
	cfg.SampleRate = uint32(sampleRate)
	cfg.PeriodSizeInMilliseconds = 10
	if id != nil {
		// malgo hands out a C copy of the ID; the device copies it at init.
		cid := id.Pointer()
		defer C.free(cid)
		cfg.Playback.DeviceID = cid
	}
	onData := func(out, _ []byte, frames uint32) {
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
