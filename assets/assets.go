package assets

import "embed"

// Sample media made by capture/internal/gensample (go generate ./capture):
// about 3 s of the marked test pattern and speech-like signal.
var (
	//go:embed sample/*
	Sample embed.FS

	// SampleIVF is a 320x240, 30 fps VP8 clip in an IVF container.
	//go:embed sample/sample.ivf
	SampleIVF []byte

	// SampleOgg is a 48 kHz mono Opus clip (32 kbit/s) in Ogg.
	//go:embed sample/sample.ogg
	SampleOgg []byte
)
