package capture

import (
	"errors"
	"image"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/pion/mediadevices/pkg/driver"
	"github.com/pion/mediadevices/pkg/frame"
	"github.com/pion/mediadevices/pkg/io/audio"
	"github.com/pion/mediadevices/pkg/io/video"
	"github.com/pion/mediadevices/pkg/prop"
	"github.com/pion/mediadevices/pkg/wave"
)

// driverMu serialises tests that register fake drivers in mediadevices'
// process-wide manager.
var driverMu sync.Mutex

type fakeCam struct {
	mu     sync.Mutex
	opened bool
	got    prop.Media
}

func (f *fakeCam) Open() error  { f.mu.Lock(); f.opened = true; f.mu.Unlock(); return nil }
func (f *fakeCam) Close() error { f.mu.Lock(); f.opened = false; f.mu.Unlock(); return nil }
func (f *fakeCam) Properties() []prop.Media {
	return []prop.Media{
		{Video: prop.Video{Width: 1280, Height: 720, FrameRate: 10, FrameFormat: frame.FormatMJPEG}},
		{Video: prop.Video{Width: 640, Height: 480, FrameRate: 30, FrameFormat: frame.FormatYUYV}},
		{Video: prop.Video{Width: 1280, Height: 720, FrameRate: 30, FrameFormat: frame.FormatYUYV}},
		{Video: prop.Video{Width: 640, Height: 480, FrameRate: 30, FrameFormat: frame.FormatZ16}},
	}
}

func (f *fakeCam) VideoRecord(p prop.Media) (video.Reader, error) {
	f.mu.Lock()
	f.got = p
	f.mu.Unlock()
	return video.ReaderFunc(func() (image.Image, func(), error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if !f.opened {
			return nil, func() {}, io.EOF
		}
		// YUYV decodes to 4:2:2 in mediadevices; hand out the same.
		img := image.NewYCbCr(image.Rect(0, 0, p.Width, p.Height), image.YCbCrSubsampleRatio422)
		for i := range img.Cb {
			img.Cb[i] = 90
		}
		return img, func() {}, nil
	}), nil
}

type fakeMic struct{ opened bool }

func (f *fakeMic) Open() error  { f.opened = true; return nil }
func (f *fakeMic) Close() error { f.opened = false; return nil }
func (f *fakeMic) Properties() []prop.Media {
	return []prop.Media{
		{Audio: prop.Audio{SampleRate: 48000, ChannelCount: 2, SampleSize: 4, IsFloat: true, IsInterleaved: true}},
		{Audio: prop.Audio{SampleRate: 48000, ChannelCount: 2, SampleSize: 2, IsInterleaved: true}},
	}
}

func (f *fakeMic) AudioRecord(p prop.Media) (audio.Reader, error) {
	return audio.ReaderFunc(func() (wave.Audio, func(), error) {
		a := wave.NewInt16Interleaved(wave.ChunkInfo{Len: 480, Channels: p.ChannelCount, SamplingRate: p.SampleRate})
		for i := range a.Data {
			a.Data[i] = int16(1000 * (i % 2)) // L=0, R=1000
		}
		return a, func() {}, nil
	}), nil
}

// withoutFakes lists real devices only (none on CI machines).
func TestNoDevices(t *testing.T) {
	driverMu.Lock()
	defer driverMu.Unlock()
	RescanDevices() // must be harmless without cameras
	devs, err := ListDevices()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range devs {
		if d.Name != "" && isPlaceholder(driver.Info{Label: d.Label, Name: d.Name}) {
			t.Fatalf("placeholder device listed: %+v", d)
		}
	}
	var haveCam, haveMic bool
	for _, d := range devs {
		haveCam = haveCam || d.Kind == KindVideo
		haveMic = haveMic || d.Kind == KindAudio
	}
	tests := []struct {
		name string
		skip bool
		open func() error
		want []error
	}{
		{"default camera", haveCam, func() error { _, err := OpenCamera("", VideoConstraints{}); return err }, []error{ErrNoCamera}},
		{"named camera", haveCam, func() error { _, err := OpenCamera("video9", VideoConstraints{}); return err }, []error{ErrNoCamera}},
		{"default microphone", haveMic, func() error { _, err := OpenMicrophone("", AudioConstraints{}); return err }, []error{ErrNoMicrophone}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.skip {
				t.Skip("this machine has such a device")
			}
			err := tc.open()
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Fatalf("err = %v, want %v", err, w)
				}
			}
			if err.Error() == "" {
				t.Fatal("empty message")
			}
		})
	}
	// Synthetic sources do not care.
	if _, err := NewPatternSource(PatternConfig{Width: 320, Height: 240, FPS: 15}); err != nil {
		t.Fatal(err)
	}
	if _, err := NewSpeechSource(AudioConfig{}); err != nil {
		t.Fatal(err)
	}
}

func TestFakeDevices(t *testing.T) {
	driverMu.Lock()
	defer driverMu.Unlock()
	m := driver.GetManager()
	cam := &fakeCam{}
	if err := m.Register(cam, driver.Info{Label: "fakecam0", Name: "Fake Cam", DeviceType: driver.Camera, Priority: driver.PriorityHigh}); err != nil {
		t.Fatal(err)
	}
	m.Register(&fakeMic{}, driver.Info{Label: "fakemic0", Name: "Fake Mic", DeviceType: driver.Microphone, Priority: driver.PriorityHigh})
	m.Register(&fakeMic{}, driver.Info{Label: "6e756c6c", Name: "Discard all samples (playback) or generate zero samples (capture)", DeviceType: driver.Microphone})
	t.Cleanup(func() {
		for _, d := range m.Query(func(d driver.Driver) bool {
			l := d.Info().Label
			return l == "fakecam0" || l == "fakemic0" || l == "6e756c6c"
		}) {
			m.Delete(d.ID())
		}
	})

	devs, err := ListDevices()
	if err != nil {
		t.Fatal(err)
	}
	var camDev, micDev Device
	for _, d := range devs {
		switch d.Label {
		case "fakecam0":
			camDev = d
		case "fakemic0":
			micDev = d
		case "6e756c6c":
			t.Fatal("null backend device listed")
		}
	}
	if camDev.Kind != KindVideo || micDev.Kind != KindAudio || camDev.ID == "" || camDev.Name != "Fake Cam" {
		t.Fatalf("listed %+v", devs)
	}
	if devs[0].Kind != KindVideo {
		t.Fatal("cameras must come first")
	}

	tests := []struct {
		name  string
		id    string
		c     VideoConstraints
		wantW int
		wantF frame.Format
	}{
		{"by id, 640x480", camDev.ID, VideoConstraints{Width: 640, Height: 480, FPS: 30}, 640, frame.FormatYUYV},
		{"by label, 720p30 prefers YUYV over MJPEG 10fps", "fakecam0", VideoConstraints{Width: 1280, Height: 720, FPS: 30}, 1280, frame.FormatYUYV},
		{"720p10", "", VideoConstraints{Width: 1280, Height: 720, FPS: 10}, 1280, frame.FormatMJPEG},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := OpenCamera(tc.id, tc.c)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if w, _, _ := c.Mode(); w != tc.wantW || cam.got.FrameFormat != tc.wantF {
				t.Fatalf("mode %d %s, want %d %s", w, cam.got.FrameFormat, tc.wantW, tc.wantF)
			}
			img, err := c.Next()
			if err != nil {
				t.Fatal(err)
			}
			if img.SubsampleRatio != image.YCbCrSubsampleRatio420 || img.Rect.Dx() != tc.wantW || img.Cb[0] != 90 {
				t.Fatalf("frame %v %v cb %d", img.Rect, img.SubsampleRatio, img.Cb[0])
			}
			// A second open of a busy device fails cleanly.
			if _, err := OpenCamera(camDev.ID, tc.c); !errors.Is(err, ErrDeviceOpen) {
				t.Fatalf("second open: %v", err)
			}
			c.Close()
			if _, err := c.Next(); err != io.EOF {
				t.Fatalf("after close: %v", err)
			}
		})
	}
	if _, err := OpenCamera("nope", VideoConstraints{}); !errors.Is(err, ErrDeviceNotFound) || !errors.Is(err, ErrNoCamera) {
		t.Fatalf("unknown id: %v", err)
	}

	mic, err := OpenMicrophone("fakemic0", AudioConstraints{SampleRate: 48000, Latency: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer mic.Close()
	pcm, err := mic.Next()
	// Two 10 ms device chunks make one 20 ms frame.
	if err != nil || len(pcm) != 960 || pcm[0] != 500 || pcm[959] != 500 || mic.SampleRate() != 48000 {
		t.Fatalf("mic: %d samples, first %v, %v", len(pcm), pcm[:1], err)
	}
}

func TestToI420(t *testing.T) {
	i420 := image.NewYCbCr(image.Rect(0, 0, 4, 4), image.YCbCrSubsampleRatio420)
	if ToI420(i420) != i420 {
		t.Fatal("I420 input must pass through")
	}
	for _, tc := range []struct {
		name string
		img  image.Image
	}{
		{"444 odd", image.NewYCbCr(image.Rect(0, 0, 5, 3), image.YCbCrSubsampleRatio444)},
		{"422 offset", image.NewYCbCr(image.Rect(2, 2, 8, 6), image.YCbCrSubsampleRatio422)},
		{"rgba", image.NewRGBA(image.Rect(0, 0, 3, 3))},
		{"gray", image.NewGray(image.Rect(0, 0, 7, 2))},
	} {
		out := ToI420(tc.img)
		b := tc.img.Bounds()
		if out.Rect != image.Rect(0, 0, b.Dx(), b.Dy()) || out.SubsampleRatio != image.YCbCrSubsampleRatio420 {
			t.Fatalf("%s: %v %v", tc.name, out.Rect, out.SubsampleRatio)
		}
	}
	// Black RGBA converts to Y=0 with neutral chroma.
	out := ToI420(image.NewRGBA(image.Rect(0, 0, 2, 2)))
	if out.Y[0] != 0 || out.Cb[0] != 128 || out.Cr[0] != 128 {
		t.Fatalf("black: %d %d %d", out.Y[0], out.Cb[0], out.Cr[0])
	}
}

func TestToMonoInt16(t *testing.T) {
	f := wave.NewFloat32Interleaved(wave.ChunkInfo{Len: 2, Channels: 2, SamplingRate: 48000})
	copy(f.Data, []float32{0.5, 0.5, -1, 0})
	out, err := ToMonoInt16(f)
	if err != nil || out[0] != 16384 || out[1] != -16384 {
		t.Fatalf("float: %v %v", out, err)
	}
	i := wave.NewInt16NonInterleaved(wave.ChunkInfo{Len: 1, Channels: 2, SamplingRate: 48000})
	i.Data[0][0], i.Data[1][0] = 100, 300
	out, err = ToMonoInt16(i)
	if err != nil || out[0] != 200 {
		t.Fatalf("generic: %v %v", out, err)
	}
	if _, err := ToMonoInt16(nil); err == nil {
		t.Fatal("nil chunk accepted")
	}
}
