package app

import (
	"errors"
	"image"
	"testing"
)

func TestParseShareSpec(t *testing.T) {
	tests := []struct {
		in      string
		want    shareSpec
		wantErr bool
	}{
		{"screen", shareSpec{}, false},
		{"screen:", shareSpec{}, false},
		{"screen::1", shareSpec{Display: ":1"}, false},
		{"screen:1", shareSpec{Display: ":1"}, false},
		{"screen::1.0", shareSpec{Display: ":1.0"}, false},
		{"screen::99:1920x1080+0+0", shareSpec{Display: ":99", Region: image.Rect(0, 0, 1920, 1080)}, false},
		{"screen::2:640x480+100+50", shareSpec{Display: ":2", Region: image.Rect(100, 50, 740, 530)}, false},
		{"screen:host:0:800x600+10+10", shareSpec{Display: "host:0", Region: image.Rect(10, 10, 810, 610)}, false},
		{"screen::640x480+0+0", shareSpec{Region: image.Rect(0, 0, 640, 480)}, false},
		{"window:0x2a00007", shareSpec{Window: 0x2a00007}, false},
		{"window:42", shareSpec{Window: 42}, false},
		{"window:0", shareSpec{}, true},
		{"window:x", shareSpec{}, true},
		{"screen::1:8x8+0+0", shareSpec{}, true},
		{"screens", shareSpec{}, true},
		{"window", shareSpec{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseShareSpec(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrShareSource) {
					t.Fatalf("err = %v, want ErrShareSource", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}
