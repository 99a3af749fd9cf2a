package capture

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"log/slog"
	"math"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/mediadevices/pkg/driver"
	"github.com/pion/mediadevices/pkg/frame"
	"github.com/pion/mediadevices/pkg/io/audio"
	"github.com/pion/mediadevices/pkg/io/video"
	"github.com/pion/mediadevices/pkg/prop"
	"github.com/pion/mediadevices/pkg/wave"
)

// Kind tells cameras from microphones.
type Kind int

// Device kinds.
const (
	KindVideo Kind = iota + 1
	KindAudio
)

func (k Kind) String() string {
	switch k {
	case KindVideo:
		return "video"
	case KindAudio:
		return "audio"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Device is one camera or microphone as mediadevices sees it. ID is valid
// for this process only; Label is stable across runs (e.g. "video0;video0"),
// so settings should store Label. Open functions accept either.
type Device struct {
	ID    string
	Label string
	Name  string
	Kind  Kind
}

// Camera drivers register themselves in mediadevices' manager from the
// init() of their packages, imported in drivers_*.go only where they build
// and work; microphones are registered by the first probe
// (ensureMicrophones). Without drivers the lists are simply empty.

// isPlaceholder reports miniaudio's null backend device: it "captures"
// silence on machines without sound hardware and must not pass for a
// microphone.
func isPlaceholder(info driver.Info) bool {
	return info.Label == "6e756c6c" || // hex of "null"
		strings.Contains(info.Name, "generate zero samples")
}

func kindOf(d driver.Driver) Kind {
	switch d.(type) {
	case driver.VideoRecorder:
		return KindVideo
	case driver.AudioRecorder:
		return KindAudio
	}
	return 0
}

// drivers lists usable drivers of a kind, best first (mediadevices'
// priority, then label for a stable order).
func drivers(k Kind) []driver.Driver {
	if k == KindAudio {
		ensureMicrophones(false)
	}
	all := driver.GetManager().Query(func(d driver.Driver) bool {
		return kindOf(d) == k && !isPlaceholder(d.Info())
	})
	sort.SliceStable(all, func(i, j int) bool {
		a, b := all[i].Info(), all[j].Info()
		if a.Priority != b.Priority {
			return a.Priority > b.Priority
		}
		return a.Label < b.Label
	})
	return all
}

func toDevice(d driver.Driver) Device {
	info := d.Info()
	return Device{ID: d.ID(), Label: info.Label, Name: info.Name, Kind: kindOf(d)}
}

// rescanCameras re-runs camera discovery; set where the camera driver is
// compiled in.
var rescanCameras func()

// micEntry is a microphone a probe found.
type micEntry struct {
	adapter driver.Adapter
	info    driver.Info
}

// probeMicrophones lists the microphones of the sound system; set where a
// microphone driver is compiled in. It is called on first need, never at
// package init: opening the sound system prints backend noise and may
// find a server that is only started later (tests, login sessions).
var probeMicrophones func() []micEntry

// mics tracks what the probes registered in mediadevices' manager, by
// label, so that a new probe keeps the IDs of devices still present.
var mics struct {
	sync.Mutex
	probed bool
	ids    map[string]string // label → manager id
	infos  map[string]driver.Info
}

// ensureMicrophones probes once, or again when rescan is set: new devices
// are registered, vanished ones (unless open) removed.
func ensureMicrophones(rescan bool) {
	mics.Lock()
	defer mics.Unlock()
	if probeMicrophones == nil || (mics.probed && !rescan) {
		return
	}
	mics.probed = true
	if mics.ids == nil {
		mics.ids, mics.infos = map[string]string{}, map[string]driver.Info{}
	}
	m := driver.GetManager()
	seen := map[string]bool{}
	for _, e := range probeMicrophones() {
		label := e.info.Label
		seen[label] = true
		if id, ok := mics.ids[label]; ok {
			if mics.infos[label] == e.info || !isClosed(m, id) {
				continue
			}
			m.Delete(id) // name or default changed: register afresh
		}
		before := map[string]bool{}
		for _, d := range m.Query(func(d driver.Driver) bool { return d.Info().Label == label }) {
			before[d.ID()] = true
		}
		if err := m.Register(e.adapter, e.info); err != nil {
			continue
		}
		for _, d := range m.Query(func(d driver.Driver) bool { return d.Info().Label == label && !before[d.ID()] }) {
			mics.ids[label], mics.infos[label] = d.ID(), e.info
		}
	}
	for label, id := range mics.ids {
		if !seen[label] && isClosed(m, id) {
			m.Delete(id)
			delete(mics.ids, label)
			delete(mics.infos, label)
		}
	}
}

func isClosed(m *driver.Manager, id string) bool {
	ds := m.Query(driver.FilterID(id))
	return len(ds) == 0 || ds[0].Status() == driver.StateClosed
}

// RescanDevices looks for cameras and microphones plugged in (or sound
// servers started) since the last look. Do not call it while a camera is
// being opened.
func RescanDevices() {
	if rescanCameras != nil {
		rescanCameras()
	}
	ensureMicrophones(true)
}

// ListDevices returns cameras then microphones. A machine without devices
// gives an empty list and no error.
func ListDevices() ([]Device, error) {
	var out []Device
	for _, k := range []Kind{KindVideo, KindAudio} {
		for _, d := range drivers(k) {
			out = append(out, toDevice(d))
		}
	}
	return out, nil
}

// find picks the driver by id or label, or the best one when id is empty.
func find(k Kind, id string, none error) (driver.Driver, error) {
	ds := drivers(k)
	if len(ds) == 0 {
		return nil, none
	}
	if id == "" {
		return ds[0], nil
	}
	for _, d := range ds {
		if d.ID() == id || d.Info().Label == id {
			return d, nil
		}
	}
	// Both sentinels: callers falling back on "no camera" need not care why.
	return nil, fmt.Errorf("%s %q: %w: %w", k, id, ErrDeviceNotFound, none)
}

// VideoConstraints are the wanted camera mode; zero fields mean "any".
type VideoConstraints struct {
	Width, Height int
	FPS           float64
}

// decodable formats, cheapest first.
var videoFormatCost = map[frame.Format]float64{
	frame.FormatI420: 0, frame.FormatNV12: 0.01, frame.FormatNV21: 0.01,
	frame.FormatYUYV: 0.02, frame.FormatUYVY: 0.02, frame.FormatMJPEG: 0.1,
}

// pickVideoProp chooses the mode closest to c: area first, then frame rate,
// then how costly the pixel format is to decode.
func pickVideoProp(props []prop.Media, c VideoConstraints) (prop.Media, bool) {
	best, bestCost := prop.Media{}, math.Inf(1)
	for _, p := range props {
		fc, ok := videoFormatCost[p.FrameFormat]
		if !ok || p.Width <= 0 || p.Height <= 0 {
			continue
		}
		cost := fc
		if c.Width > 0 && c.Height > 0 {
			want := float64(c.Width * c.Height)
			cost += math.Abs(float64(p.Width*p.Height)-want) / want
			cost += 0.5 * math.Abs(float64(p.Width)/float64(p.Height)-float64(c.Width)/float64(c.Height))
		}
		if c.FPS > 0 && p.FrameRate > 0 {
			cost += 0.5 * math.Abs(float64(p.FrameRate)-c.FPS) / c.FPS
		}
		if cost < bestCost {
			best, bestCost = p, cost
		}
	}
	if math.IsInf(bestCost, 1) {
		return prop.Media{}, false
	}
	if best.FrameRate <= 0 && c.FPS > 0 {
		best.FrameRate = float32(c.FPS)
	}
	return best, true
}

// Camera is an open camera.
type Camera struct {
	dev  Device
	d    driver.Driver
	r    video.Reader
	mode prop.Media
	once sync.Once
}

// OpenCamera opens the camera with the given ID or Label ("" = default) in
// the mode closest to c. With no camera it returns an error matching
// ErrNoCamera, so the caller can fall back to audio-only.
func OpenCamera(id string, c VideoConstraints) (*Camera, error) {
	var r video.Reader
	dev, d, mode, err := openDevice(KindVideo, id, ErrNoCamera,
		func(props []prop.Media) (prop.Media, bool) { return pickVideoProp(props, c) },
		func(d driver.Driver, m prop.Media) (err error) {
			r, err = d.(driver.VideoRecorder).VideoRecord(m)
			return err
		})
	if err != nil {
		return nil, err
	}
	slog.Info("camera opened", "label", dev.Label, "width", mode.Width, "height", mode.Height,
		"fps", mode.FrameRate, "format", string(mode.FrameFormat))
	return &Camera{dev: dev, d: d, r: r, mode: mode}, nil
}

// openDevice finds a driver, opens it, picks a mode and starts recording,
// closing the driver again on any failure.
func openDevice(k Kind, id string, none error, pick func([]prop.Media) (prop.Media, bool),
	start func(driver.Driver, prop.Media) error) (Device, driver.Driver, prop.Media, error) {
	d, err := find(k, id, none)
	if err != nil {
		return Device{}, nil, prop.Media{}, err
	}
	dev := toDevice(d)
	if err := d.Open(); err != nil {
		return dev, nil, prop.Media{}, fmt.Errorf("open %s device %q: %w: %w", k, dev.Label, ErrDeviceOpen, err)
	}
	mode, ok := pick(d.Properties())
	if !ok {
		d.Close()
		return dev, nil, prop.Media{}, fmt.Errorf("%s device %q has no usable format: %w", k, dev.Label, ErrDeviceOpen)
	}
	if err := start(d, mode); err != nil {
		d.Close()
		return dev, nil, prop.Media{}, fmt.Errorf("start %s device %q: %w: %w", k, dev.Label, ErrDeviceOpen, err)
	}
	return dev, d, mode, nil
}

// Device describes the open camera.
func (c *Camera) Device() Device { return c.dev }

// Mode returns the negotiated width, height and frame rate.
func (c *Camera) Mode() (w, h int, fps float64) {
	return c.mode.Width, c.mode.Height, float64(c.mode.FrameRate)
}

// Next returns the next frame as I420, converting when the camera delivers
// another layout. io.EOF after Close.
func (c *Camera) Next() (*image.YCbCr, error) {
	img, release, err := c.r.Read()
	if err != nil {
		return nil, err
	}
	out := ToI420(img)
	if out != img {
		release() // converted into a fresh buffer; the driver may reuse its own
	}
	return out, nil
}

// VideoReader exposes the camera's own mediadevices reader (no conversion).
func (c *Camera) VideoReader() video.Reader { return c.r }

// Close releases the device.
func (c *Camera) Close() error {
	var err error
	c.once.Do(func() { err = c.d.Close() })
	return err
}

// AudioConstraints are the wanted microphone mode; zero fields mean "any".
type AudioConstraints struct {
	// SampleRate of the PCM Next returns; the device's own rate is
	// converted to it. 0: the device's rate.
	SampleRate int
	Latency    time.Duration
}

// micFrame is the length of the chunks Microphone.Next returns: one Opus
// frame.
const micFrame = 20 * time.Millisecond

func pickAudioProp(props []prop.Media, c AudioConstraints) (prop.Media, bool) {
	best, bestCost := prop.Media{}, math.Inf(1)
	for _, p := range props {
		if p.SampleRate <= 0 || p.ChannelCount <= 0 {
			continue
		}
		var cost float64
		switch {
		case p.SampleSize == 2 && !p.IsFloat:
		case p.SampleSize == 4 && p.IsFloat:
			cost += 0.01
		default:
			continue
		}
		cost += 0.1 * float64(p.ChannelCount-1) // we mix to mono anyway
		if c.SampleRate > 0 {
			cost += math.Abs(float64(p.SampleRate-c.SampleRate)) / float64(c.SampleRate)
		}
		if cost < bestCost {
			best, bestCost = p, cost
		}
	}
	if math.IsInf(bestCost, 1) {
		return prop.Media{}, false
	}
	if c.Latency > 0 {
		best.Latency = c.Latency
	}
	if best.Latency <= 0 {
		best.Latency = 20 * time.Millisecond
	}
	return best, true
}

// Microphone is an open microphone.
type Microphone struct {
	dev  Device
	d    driver.Driver
	r    audio.Reader
	mode prop.Media
	once sync.Once

	mu       sync.Mutex
	rate     int        // of the PCM Next returns
	rs       *resampler // nil when the device runs at rate
	mono     []float64  // scratch: one device chunk mixed down
	pending  []float64  // converted samples not yet returned
	frameLen int
}

// Overruns counts the times this process read a microphone too late and
// the oldest captured audio was dropped (a stalled reader). The count is
// the process's, over every microphone opened: callers compare two reads.
func (m *Microphone) Overruns() int { return int(micOverruns.Load()) }

// micOverruns is that count; the microphone driver adds to it.
var micOverruns atomic.Int64

// OpenMicrophone opens the microphone with the given ID or Label ("" =
// default). With no microphone it returns an error matching
// ErrNoMicrophone.
func OpenMicrophone(id string, c AudioConstraints) (*Microphone, error) {
	var r audio.Reader
	dev, d, mode, err := openDevice(KindAudio, id, ErrNoMicrophone,
		func(props []prop.Media) (prop.Media, bool) { return pickAudioProp(props, c) },
		func(d driver.Driver, m prop.Media) (err error) {
			r, err = d.(driver.AudioRecorder).AudioRecord(m)
			return err
		})
	if err != nil {
		return nil, err
	}
	m := &Microphone{dev: dev, d: d, r: r, mode: mode, rate: mode.SampleRate}
	if c.SampleRate > 0 && c.SampleRate != mode.SampleRate {
		m.rate = c.SampleRate
		if m.rs, err = newResampler(mode.SampleRate, c.SampleRate); err != nil {
			d.Close()
			return nil, fmt.Errorf("microphone %q: %w", dev.Label, err)
		}
	}
	m.frameLen = int(int64(m.rate) * int64(micFrame) / int64(time.Second))
	slog.Info("microphone opened", "label", dev.Label, "device_rate", mode.SampleRate,
		"channels", mode.ChannelCount, "rate", m.rate)
	return m, nil
}

// Device describes the open microphone.
func (m *Microphone) Device() Device { return m.dev }

// SampleRate of the PCM Next returns.
func (m *Microphone) SampleRate() int { return m.rate }

// Next returns the next 20 ms of audio as mono PCM16 at SampleRate, however
// the device chunks, mixes or clocks it: every device sample is used once,
// in order. io.EOF after Close.
func (m *Microphone) Next() ([]int16, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for len(m.pending) < m.frameLen {
		a, release, err := m.r.Read()
		if err != nil {
			return nil, err
		}
		m.mono, err = mixMono(a, m.mono[:0])
		release()
		if err != nil {
			return nil, err
		}
		if m.rs != nil {
			m.pending = m.rs.process(m.mono, m.pending)
		} else {
			m.pending = append(m.pending, m.mono...)
		}
	}
	out := make([]int16, m.frameLen)
	for i, v := range m.pending[:m.frameLen] {
		out[i] = int16(max(-32768, min(32767, math.Round(v*32768))))
	}
	n := copy(m.pending, m.pending[m.frameLen:])
	m.pending = m.pending[:n]
	return out, nil
}

// AudioReader exposes the microphone's own mediadevices reader: device
// chunks as they come, unconverted. Do not mix it with Next.
func (m *Microphone) AudioReader() audio.Reader { return m.r }

// Close releases the device.
func (m *Microphone) Close() error {
	var err error
	m.once.Do(func() { err = m.d.Close() })
	return err
}

// mixMono appends a chunk mixed down to mono in [-1, 1) to dst.
func mixMono(a wave.Audio, dst []float64) ([]float64, error) {
	if a == nil {
		return dst, io.ErrUnexpectedEOF
	}
	info := a.ChunkInfo()
	if info.Channels < 1 {
		return dst, errors.New("audio chunk without channels")
	}
	inv := 1 / float64(info.Channels)
	switch c := a.(type) {
	case *wave.Int16Interleaved:
		for i := range info.Len {
			var sum float64
			for _, v := range c.Data[i*info.Channels : (i+1)*info.Channels] {
				sum += float64(v)
			}
			dst = append(dst, sum*inv/32768)
		}
	case *wave.Float32Interleaved:
		for i := range info.Len {
			var sum float64
			for _, v := range c.Data[i*info.Channels : (i+1)*info.Channels] {
				sum += float64(v)
			}
			dst = append(dst, sum*inv)
		}
	default:
		// Generic path: wave samples are 32-bit-scaled levels.
		for i := range info.Len {
			var sum float64
			for ch := range info.Channels {
				sum += float64(a.At(i, ch).Int())
			}
			dst = append(dst, sum*inv/(1<<31))
		}
	}
	return dst, nil
}

// ToMonoInt16 mixes a mediadevices audio chunk down to mono PCM16.
func ToMonoInt16(a wave.Audio) ([]int16, error) {
	if a == nil {
		return nil, io.ErrUnexpectedEOF
	}
	info := a.ChunkInfo()
	if info.Channels < 1 {
		return nil, errors.New("audio chunk without channels")
	}
	out := make([]int16, info.Len)
	switch c := a.(type) {
	case *wave.Int16Interleaved:
		for i := range out {
			var sum int
			for ch := range info.Channels {
				sum += int(c.Data[i*info.Channels+ch])
			}
			out[i] = int16(sum / info.Channels)
		}
	case *wave.Float32Interleaved:
		for i := range out {
			var sum float64
			for ch := range info.Channels {
				sum += float64(c.Data[i*info.Channels+ch])
			}
			out[i] = int16(max(-32768, min(32767, math.Round(32767*sum/float64(info.Channels)))))
		}
	default:
		// Generic path: wave samples are 32-bit-scaled levels.
		for i := range out {
			var sum int64
			for ch := range info.Channels {
				sum += a.At(i, ch).Int() >> 16
			}
			out[i] = int16(max(-32768, min(32767, sum/int64(info.Channels))))
		}
	}
	return out, nil
}

// ToI420 returns img as a 4:2:0 YCbCr image with origin (0,0): img itself
// when it already is one, otherwise a converted copy.
func ToI420(img image.Image) *image.YCbCr {
	if y, ok := img.(*image.YCbCr); ok && y.SubsampleRatio == image.YCbCrSubsampleRatio420 && y.Rect.Min == (image.Point{}) {
		return y
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	out := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	if src, ok := img.(*image.YCbCr); ok {
		for y := range h {
			copy(out.Y[y*out.YStride:y*out.YStride+w], src.Y[src.YOffset(b.Min.X, b.Min.Y+y):])
		}
		for y := range (h + 1) / 2 {
			for x := range (w + 1) / 2 {
				off := src.COffset(b.Min.X+2*x, b.Min.Y+2*y)
				out.Cb[y*out.CStride+x] = src.Cb[off]
				out.Cr[y*out.CStride+x] = src.Cr[off]
			}
		}
		return out
	}
	// Any other image: per pixel through the colour model (rare path).
	for y := range h {
		for x := range w {
			r, g, bb, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
			yy, cb, cr := color.RGBToYCbCr(uint8(r>>8), uint8(g>>8), uint8(bb>>8))
			out.Y[y*out.YStride+x] = yy
			if x%2 == 0 && y%2 == 0 {
				out.Cb[(y/2)*out.CStride+x/2] = cb
				out.Cr[(y/2)*out.CStride+x/2] = cr
			}
		}
	}
	return out
}
