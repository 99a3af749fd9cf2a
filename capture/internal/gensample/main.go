// Command gensample writes Peercall's sample clip (assets/sample): a 320x240
// VP8 IVF of the marked test pattern and an Ogg Opus file of the marked
// speech-like signal, both encoded with our own codec package.
//
//	go generate ./capture   (or: go run ./capture/internal/gensample -out assets/sample)
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/peercall/peercall/capture"
	"github.com/peercall/peercall/codec"
)

// epoch is the capture time stamped into the sample's markers, fixed so
// the files are reproducible.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type params struct {
	out                string
	seconds            int
	width, height, fps int
	videoBitRate       int
	audioBitRate       int
}

func main() {
	var p params
	flag.StringVar(&p.out, "out", "assets/sample", "output directory")
	flag.IntVar(&p.seconds, "seconds", 3, "clip length")
	flag.IntVar(&p.width, "width", 320, "video width")
	flag.IntVar(&p.height, "height", 240, "video height")
	flag.IntVar(&p.fps, "fps", 30, "video frame rate")
	flag.IntVar(&p.videoBitRate, "video-bitrate", 250_000, "VP8 bits per second")
	flag.IntVar(&p.audioBitRate, "audio-bitrate", 32_000, "Opus bits per second")
	flag.Parse()
	if err := run(p); err != nil {
		slog.Error("gensample failed", "err", err)
		os.Exit(1)
	}
}

func run(p params) error {
	if err := os.MkdirAll(p.out, 0o755); err != nil {
		return err
	}
	ivf, err := video(p)
	if err != nil {
		return fmt.Errorf("video: %w", err)
	}
	ogg, err := audio(p)
	if err != nil {
		return fmt.Errorf("audio: %w", err)
	}
	if err := os.WriteFile(filepath.Join(p.out, "sample.ivf"), ivf, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(p.out, "sample.ogg"), ogg, 0o644); err != nil {
		return err
	}
	slog.Info("sample written", "dir", p.out, "ivf_bytes", len(ivf), "ogg_bytes", len(ogg))
	return nil
}

func clock(step time.Duration) func() time.Time {
	t := epoch
	return func() time.Time {
		cur := t
		t = t.Add(step)
		return cur
	}
}

func video(p params) ([]byte, error) {
	interval := time.Second / time.Duration(p.fps)
	src, err := capture.NewPatternSource(capture.PatternConfig{
		Width: p.width, Height: p.height, FPS: float64(p.fps), Now: clock(interval),
	})
	if err != nil {
		return nil, err
	}
	// One thread keeps libvpx's output deterministic.
	enc, err := codec.NewVP8Encoder(codec.VP8Config{
		Width: p.width, Height: p.height, FPS: p.fps, BitRate: p.videoBitRate, Threads: 1,
		// A keyframe every second: a file sender cannot encode one on a
		// PLI, it skips ahead to the next.
		KeyFrameInterval: p.fps,
	})
	if err != nil {
		return nil, err
	}
	defer enc.Close()
	var frames []capture.EncodedFrame
	for i := range p.seconds * p.fps {
		img, err := src.Next()
		if err != nil {
			return nil, err
		}
		data, key, err := enc.Encode(img, time.Duration(i)*interval)
		if err != nil {
			return nil, err
		}
		if data == nil {
			// A dropped frame lengthens the previous one.
			if n := len(frames); n > 0 {
				frames[n-1].Duration += interval
			}
			continue
		}
		frames = append(frames, capture.EncodedFrame{Data: data, Duration: interval, Keyframe: key})
	}
	var buf bytes.Buffer
	if err := capture.WriteIVF(&buf, p.width, p.height, frames); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func audio(p params) ([]byte, error) {
	src, err := capture.NewSpeechSource(capture.AudioConfig{Now: clock(20 * time.Millisecond)})
	if err != nil {
		return nil, err
	}
	cfg := codec.DefaultOpusConfig()
	cfg.BitRate = p.audioBitRate
	enc, err := codec.NewOpusEncoder(cfg)
	if err != nil {
		return nil, err
	}
	defer enc.Close()
	var packets []capture.EncodedFrame
	for range p.seconds * 50 {
		pcm, err := src.Next()
		if err != nil {
			return nil, err
		}
		pkt, err := enc.Encode(pcm)
		if err != nil {
			return nil, err
		}
		packets = append(packets, capture.EncodedFrame{Data: pkt, Duration: 20 * time.Millisecond})
	}
	var buf bytes.Buffer
	if err := capture.WriteOgg(&buf, 1, packets); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
