// Command genui draws Peercall's app icon and synthesises its short UI
// sounds (ringing, joined, left) so every asset is our own:
//
//	go run ./assets/internal/genui -out assets/ui
package main

import (
	"bytes"
	"encoding/binary"
	"flag"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"log"
	"math"
	"os"
	"path/filepath"
)

func main() {
	out := flag.String("out", "assets/ui", "output directory")
	flag.Parse()
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(*out, name), data, 0o644); err != nil {
			log.Fatal(err)
		}
	}
	write("icon.png", icon(512))
	// Ringing: two-tone phone ring, twice. Joined: rising third. Left: falling third.
	write("ringing.wav", wav(concat(tones([]float64{440, 480}, 0.4), silence(0.2), tones([]float64{440, 480}, 0.4), silence(0.6))))
	write("joined.wav", wav(concat(tone(660, 0.12), tone(880, 0.18))))
	write("left.wav", wav(concat(tone(880, 0.12), tone(587, 0.22))))
}

const rate = 48000

// icon draws two overlapping speech bubbles on a rounded blue square.
func icon(n int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, n, n))
	bg := color.RGBA{0x1e, 0x6f, 0xd9, 0xff}
	r := float64(n) * 0.18
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			if inRoundRect(float64(x)+0.5, float64(y)+0.5, 0, 0, float64(n), float64(n), r) {
				img.Set(x, y, bg)
			}
		}
	}
	white := image.NewUniform(color.RGBA{0xff, 0xff, 0xff, 0xff})
	light := image.NewUniform(color.RGBA{0xbf, 0xdb, 0xff, 0xff})
	disc := func(src image.Image, cx, cy, rad float64) {
		for y := int(cy - rad); y <= int(cy+rad); y++ {
			for x := int(cx - rad); x <= int(cx+rad); x++ {
				if math.Hypot(float64(x)-cx, float64(y)-cy) <= rad {
					draw.Draw(img, image.Rect(x, y, x+1, y+1), src, image.Point{}, draw.Src)
				}
			}
		}
	}
	f := float64(n)
	// Back bubble (the peer), then front bubble (you) with a tail.
	disc(light, f*0.62, f*0.40, f*0.22)
	disc(white, f*0.40, f*0.58, f*0.24)
	for i := 0; i < int(f*0.12); i++ {
		x0 := int(f*0.22) - i/2
		draw.Draw(img, image.Rect(x0, int(f*0.74)+i, x0+int(f*0.12)-i, int(f*0.74)+i+1), white, image.Point{}, draw.Src)
	}
	// Three dots: a call in progress.
	dot := image.NewUniform(bg)
	for i := 0; i < 3; i++ {
		disc(dot, f*(0.30+0.10*float64(i)), f*0.58, f*0.035)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		log.Fatal(err)
	}
	return buf.Bytes()
}

func inRoundRect(x, y, x0, y0, x1, y1, r float64) bool {
	cx := math.Max(x0+r, math.Min(x, x1-r))
	cy := math.Max(y0+r, math.Min(y, y1-r))
	return math.Hypot(x-cx, y-cy) <= r
}

func tone(freq, secs float64) []float64 { return tones([]float64{freq}, secs) }

// tones mixes sines with a 10 ms fade in and out (no clicks).
func tones(freqs []float64, secs float64) []float64 {
	n := int(secs * rate)
	out := make([]float64, n)
	fade := rate / 100
	for i := range out {
		var v float64
		for _, f := range freqs {
			v += math.Sin(2 * math.Pi * f * float64(i) / rate)
		}
		g := 1.0
		if i < fade {
			g = float64(i) / float64(fade)
		} else if n-i < fade {
			g = float64(n-i) / float64(fade)
		}
		out[i] = 0.3 * g * v / float64(len(freqs))
	}
	return out
}

func silence(secs float64) []float64 { return make([]float64, int(secs*rate)) }

func concat(parts ...[]float64) []float64 {
	var out []float64
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// wav encodes mono 16-bit PCM at 48 kHz.
func wav(samples []float64) []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	data := len(samples) * 2
	b.WriteString("RIFF")
	_ = binary.Write(&b, le, uint32(36+data))
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(1), uint32(rate), uint32(rate * 2), uint16(2), uint16(16)} {
		_ = binary.Write(&b, le, v)
	}
	b.WriteString("data")
	_ = binary.Write(&b, le, uint32(data))
	for _, s := range samples {
		_ = binary.Write(&b, le, int16(math.Max(-1, math.Min(1, s))*32767))
	}
	return b.Bytes()
}
