package codec

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestNullPlayerPullsAtRealTime(t *testing.T) {
	defer goleak.VerifyNone(t)
	var samples atomic.Int64
	p, err := NewPlayer(NullDeviceID, 48000, 2, func(pcm []int16) { samples.Add(int64(len(pcm))) })
	if err != nil {
		t.Fatal(err)
	}
	if !p.Null() {
		t.Fatal("not the null sink")
	}
	time.Sleep(200 * time.Millisecond)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	// 200 ms of stereo at 48 kHz is 19200 samples; the ticker may be late
	// on a busy machine but must have pulled something, and never ahead.
	if n := samples.Load(); n == 0 || n > 19200+1920 {
		t.Fatalf("pulled %d samples in 200 ms", n)
	}
}

func TestPlayerDevices(t *testing.T) {
	defer goleak.VerifyNone(t)
	devs, err := ListOutputDevices()
	t.Logf("output devices: %+v, err %v", devs, err)
	if err != nil && !errors.Is(err, ErrNoDevice) && !errors.Is(err, ErrNoCGO) {
		t.Fatalf("unexpected error %v", err)
	}
	// The default device, or the null sink on a machine without sound.
	p, err := NewPlayer("", 48000, 1, func(pcm []int16) { clear(pcm) })
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("default player: %q null=%v", p.DeviceName(), p.Null())
	time.Sleep(50 * time.Millisecond)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := NewPlayer("no such device", 48000, 1, func([]int16) {}); err == nil {
		t.Fatal("unknown device opened")
	}
	if _, err := NewPlayer("", 48000, 3, func([]int16) {}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("3 channels: %v", err)
	}
	if _, err := NewPlayer("", 48000, 1, nil); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("nil source: %v", err)
	}
}

func TestJitterSourceSplitsFrames(t *testing.T) {
	jb, err := NewAudioJitterBuffer(JitterBufferConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer jb.Close()
	src := JitterSource(jb)
	buf := make([]int16, 441) // device periods need not match 20 ms frames
	for range 10 {
		buf[0] = 1
		src(buf)
		if buf[0] != 0 {
			t.Fatal("silence expected from an empty buffer")
		}
	}
}

func TestPickOutput(t *testing.T) {
	null := Device{ID: miniaudioNullID, Name: "NULL", Default: true}
	a := Device{ID: "61", Name: "Speakers"}
	b := Device{ID: "62", Name: "Headset", Default: true}
	c := Device{ID: "63", Name: "HDMI"}
	tests := []struct {
		name string
		list []Device
		want string
		idx  int
	}{
		{"by ID", []Device{a, b, c}, "63", 2},
		{"by name", []Device{a, b, c}, "HDMI", 2},
		{"default", []Device{a, b, c}, "", 1},
		{"by ID after the null device", []Device{null, a, b, c}, "63", 3},
		{"by name after the null device", []Device{null, a, b, c}, "Speakers", 1},
		{"default after the null device", []Device{null, a, b, c}, "", 2},
		{"the null device is never picked", []Device{null}, "", -1},
		{"nor by its ID", []Device{null, a}, miniaudioNullID, -1},
		{"unknown", []Device{a, b}, "nope", -1},
		{"no default", []Device{a, c}, "", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pickOutput(tt.list, tt.want); got != tt.idx {
				t.Fatalf("pickOutput(%q) = %d, want %d", tt.want, got, tt.idx)
			}
		})
	}
}
