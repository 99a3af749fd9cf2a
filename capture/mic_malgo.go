//go:build linux && cgo && !peercall_nodevices

package capture

// #include <stdlib.h>
import "C"

import (
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"
	"unsafe"

	"github.com/gen2brain/malgo"
	"github.com/pion/mediadevices/pkg/driver"
	"github.com/pion/mediadevices/pkg/io/audio"
	"github.com/pion/mediadevices/pkg/prop"
	"github.com/pion/mediadevices/pkg/wave"
)

// Microphones on miniaudio (malgo), our own driver rather than
// mediadevices': that one hands the backend's capture buffer to the reader
// through a channel after the callback has returned, so the next period
// overwrites it before it is read (whole 10–20 ms chunks repeated or
// lost), and it opens the sound system from package init.

func init() { probeMicrophones = probeMalgoMicrophones }

func newMalgoContext() (*malgo.AllocatedContext, error) {
	ctx, err := malgo.InitContext(nil, malgo.ContextConfig{}, func(msg string) {
		slog.Debug("miniaudio", "msg", msg)
	})
	if err != nil {
		return nil, fmt.Errorf("audio context: %v: %w", err, ErrDeviceOpen)
	}
	return ctx, nil
}

func freeMalgoContext(ctx *malgo.AllocatedContext) {
	_ = ctx.Uninit()
	ctx.Free()
}

// probeMalgoMicrophones lists the capture devices the sound system has now.
func probeMalgoMicrophones() []micEntry {
	ctx, err := newMalgoContext()
	if err != nil {
		slog.Info("no sound system", "err", err)
		return nil
	}
	defer freeMalgoContext(ctx)
	devs, err := ctx.Devices(malgo.Capture)
	if err != nil {
		slog.Info("cannot list microphones", "err", err)
		return nil
	}
	var out []micEntry
	for _, d := range devs {
		info, err := ctx.DeviceInfo(malgo.Capture, d.ID, malgo.Shared)
		if err != nil {
			info = d
		}
		prio := driver.PriorityNormal
		if d.IsDefault != 0 || info.IsDefault != 0 {
			prio = driver.PriorityHigh
		}
		// Label: hex of the backend's device id, as mediadevices wrote it,
		// so stored settings keep matching.
		out = append(out, micEntry{
			adapter: &malgoMic{id: d.ID, formats: info.Formats},
			info:    driver.Info{Label: d.ID.String(), Name: d.Name(), DeviceType: driver.Microphone, Priority: prio},
		})
	}
	return out
}

// malgoMic is one capture device. Open creates its own miniaudio context
// (Close frees it), so a probe made before the sound server was reachable
// does not stick to another backend.
type malgoMic struct {
	id      malgo.DeviceID
	formats []malgo.DataFormat

	mu   sync.Mutex
	ctx  *malgo.AllocatedContext
	dev  *malgo.Device
	ring *sampleRing
}

// Open asks the sound system for the device's current native formats: a
// rescan keeps a device that is still there, but its format may have
// changed since.
func (m *malgoMic) Open() error {
	ctx, err := newMalgoContext()
	if err != nil {
		return err
	}
	info, err := ctx.DeviceInfo(malgo.Capture, m.id, malgo.Shared)
	if err != nil {
		freeMalgoContext(ctx)
		return fmt.Errorf("microphone info: %v: %w", err, ErrDeviceOpen)
	}
	m.mu.Lock()
	m.ctx, m.formats = ctx, info.Formats
	m.mu.Unlock()
	return nil
}

func (m *malgoMic) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.dev != nil {
		m.dev.Uninit() // stops the callback before the ring closes
		m.dev = nil
	}
	if m.ring != nil {
		m.ring.close()
		m.ring = nil
	}
	if m.ctx != nil {
		freeMalgoContext(m.ctx)
		m.ctx = nil
	}
	return nil
}

// Properties offers the device's native rates and channel counts as float
// samples: miniaudio converts the sample format losslessly, while rate and
// channels are left to us (a resampler of known quality, a plain mix).
func (m *malgoMic) Properties() []prop.Media {
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := map[[2]int]bool{}
	var out []prop.Media
	add := func(rate, ch int) {
		if seen[[2]int{rate, ch}] {
			return
		}
		seen[[2]int{rate, ch}] = true
		out = append(out, prop.Media{Audio: prop.Audio{
			ChannelCount: ch, SampleRate: rate, SampleSize: 4, IsFloat: true, IsInterleaved: true,
			Latency: 10 * time.Millisecond,
		}})
	}
	for _, f := range m.formats {
		rate, ch := int(f.SampleRate), int(f.Channels)
		if rate == 0 { // any rate
			rate = 48000
		}
		if ch == 0 || ch > 8 {
			ch = min(max(ch, 1), 2)
		}
		add(rate, ch)
	}
	if len(out) == 0 {
		add(48000, 1)
	}
	return out
}

// AudioRecord starts capture in format p. The backend's callback only
// copies into a ring; the reader returns whatever has arrived.
func (m *malgoMic) AudioRecord(p prop.Media) (audio.Reader, error) {
	if p.ChannelCount < 1 || p.SampleRate <= 0 {
		return nil, fmt.Errorf("microphone format %d Hz × %d: %w", p.SampleRate, p.ChannelCount, ErrBadConfig)
	}
	m.mu.Lock()
	ctx := m.ctx
	m.mu.Unlock()
	if ctx == nil {
		return nil, fmt.Errorf("microphone not open: %w", ErrDeviceOpen)
	}
	cfg := malgo.DefaultDeviceConfig(malgo.Capture)
	cfg.Capture.Format = malgo.FormatF32
	cfg.Capture.Channels = uint32(p.ChannelCount)
	cfg.SampleRate = uint32(p.SampleRate)
	// 10 ms periods keep latency low; 20 of them let the sound server hold
	// 200 ms for us when this process is not scheduled for a while (a
	// loaded machine) instead of dropping what overflows 30 ms.
	cfg.PeriodSizeInMilliseconds = 10
	cfg.Periods = 20
	cid := m.id.Pointer() // C copy; the device copies it at init
	defer C.free(cid)
	cfg.Capture.DeviceID = cid
	// Half a second of slack: the encoder reads every 20 ms; more than that
	// behind means it is stuck and old audio is worth nothing.
	ring := newSampleRing(p.SampleRate/2*p.ChannelCount, p.ChannelCount)
	onData := func(_, in []byte, frames uint32) {
		n := int(frames) * p.ChannelCount
		if n == 0 || len(in) < 4*n {
			return
		}
		ring.write(unsafe.Slice((*float32)(unsafe.Pointer(&in[0])), n))
	}
	dev, err := malgo.InitDevice(ctx.Context, cfg, malgo.DeviceCallbacks{Data: onData})
	if err != nil {
		return nil, fmt.Errorf("open microphone: %v: %w", err, ErrDeviceOpen)
	}
	if int(dev.SampleRate()) != p.SampleRate || int(dev.CaptureChannels()) != p.ChannelCount {
		dev.Uninit()
		return nil, fmt.Errorf("microphone opened at %d Hz × %d, asked %d × %d: %w",
			dev.SampleRate(), dev.CaptureChannels(), p.SampleRate, p.ChannelCount, ErrDeviceOpen)
	}
	if err := dev.Start(); err != nil {
		dev.Uninit()
		return nil, fmt.Errorf("start microphone: %v: %w", err, ErrDeviceOpen)
	}
	m.mu.Lock()
	m.dev, m.ring = dev, ring
	m.mu.Unlock()
	rate, ch := p.SampleRate, p.ChannelCount
	return audio.ReaderFunc(func() (wave.Audio, func(), error) {
		data, err := ring.read()
		if err != nil {
			return nil, func() {}, io.EOF
		}
		a := &wave.Float32Interleaved{Data: data, Size: wave.ChunkInfo{Len: len(data) / ch, Channels: ch, SamplingRate: rate}}
		return a, func() {}, nil
	}), nil
}

// sampleRing carries interleaved samples from the audio thread to the
// reader. The writer never blocks: when the reader falls behind by the
// whole ring, the oldest samples go (counted and logged), never the
// newest, and never a sample twice.
type sampleRing struct {
	mu       sync.Mutex
	buf      []float32
	r, n     int
	ch       int
	ready    chan struct{} // one token: data arrived or closed
	closed   bool
	overruns int
}

func newSampleRing(size, channels int) *sampleRing {
	size -= size % channels
	return &sampleRing{buf: make([]float32, size), ch: channels, ready: make(chan struct{}, 1)}
}

func (s *sampleRing) write(p []float32) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	if len(p) > len(s.buf) {
		p = p[len(p)-len(s.buf):]
	}
	if over := s.n + len(p) - len(s.buf); over > 0 {
		s.r = (s.r + over) % len(s.buf)
		s.n -= over
		s.overruns++
		micOverruns.Add(1)
		if s.overruns == 1 || s.overruns%100 == 0 {
			slog.Warn("microphone overrun: audio dropped", "samples", over, "overruns", s.overruns)
		}
	}
	w := (s.r + s.n) % len(s.buf)
	k := copy(s.buf[w:], p)
	copy(s.buf, p[k:])
	s.n += len(p)
	s.mu.Unlock()
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

// read blocks until samples are there and returns a copy of all of them
// (whole frames); io.EOF once closed.
func (s *sampleRing) read() ([]float32, error) {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, io.EOF
		}
		if n := s.n - s.n%s.ch; n > 0 {
			out := make([]float32, n)
			k := copy(out, s.buf[s.r:min(len(s.buf), s.r+n)])
			copy(out[k:], s.buf[:n-k])
			s.r = (s.r + n) % len(s.buf)
			s.n -= n
			s.mu.Unlock()
			return out, nil
		}
		s.mu.Unlock()
		<-s.ready
	}
}

func (s *sampleRing) close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	select {
	case s.ready <- struct{}{}:
	default:
	}
}
