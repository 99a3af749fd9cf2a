package ui

import (
	"image"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
)

func TestScaleModeFor(t *testing.T) {
	vga := image.Pt(640, 480)
	tests := []struct {
		name  string
		pic   image.Point
		area  fyne.Size
		scale float32
		want  canvas.ImageScale
	}{
		{"native size", vga, fyne.NewSize(640, 480), 1, canvas.ImageScalePixels},
		{"default window, a little larger", vga, fyne.NewSize(900, 490), 1, canvas.ImageScalePixels},
		{"width limits", vga, fyne.NewSize(700, 2000), 1, canvas.ImageScalePixels},
		{"maximised", vga, fyne.NewSize(1900, 980), 1, canvas.ImageScaleFastest},
		{"hidpi doubles the pixels", vga, fyne.NewSize(640, 480), 2, canvas.ImageScaleFastest},
		{"hidpi, half the units", vga, fyne.NewSize(320, 240), 2, canvas.ImageScalePixels},
		{"small window shrinks a lot", vga, fyne.NewSize(400, 300), 1, canvas.ImageScaleFastest},
		{"at the lower bound", vga, fyne.NewSize(512, 384), 1, canvas.ImageScalePixels},
		{"just below it", vga, fyne.NewSize(500, 375), 1, canvas.ImageScaleFastest},
		{"at the upper bound", vga, fyne.NewSize(800, 600), 1, canvas.ImageScalePixels},
		{"just above it", vga, fyne.NewSize(810, 608), 1, canvas.ImageScaleFastest},
		{"not laid out yet", vga, fyne.NewSize(0, 0), 1, canvas.ImageScaleFastest},
		{"empty picture", image.Pt(0, 0), fyne.NewSize(640, 480), 1, canvas.ImageScaleFastest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := scaleModeFor(tt.pic, tt.area, tt.scale); got != tt.want {
				t.Errorf("scaleModeFor(%v, %v, %v) = %v, want %v", tt.pic, tt.area, tt.scale, got, tt.want)
			}
		})
	}
}
