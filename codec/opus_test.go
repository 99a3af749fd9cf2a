//go:build cgo

package codec

import (
	"errors"
	"testing"
)

// encodeSpeech encodes seconds of speechLike at 48 kHz mono with cfg.
func encodeSpeech(t testing.TB, cfg OpusConfig, frames int) ([][]byte, []int16) {
	t.Helper()
	enc, err := NewOpusEncoder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	fs := enc.FrameSamples()
	pcm := speechLike(fs*frames, cfg.SampleRate)
	pkts := make([][]byte, frames)
	for i := range pkts {
		pkts[i], err = enc.Encode(pcm[i*fs : (i+1)*fs])
		if err != nil {
			t.Fatal(err)
		}
	}
	return pkts, pcm
}

// TestOpusFECBeatsPLC drops every 5th packet and compares the lost frames,
// rebuilt from the next packet's FEC or concealed by PLC, with a loss-free
// decode.
func TestOpusFECBeatsPLC(t *testing.T) {
	cfg := DefaultOpusConfig()
	cfg.BitRate = 32000
	cfg.PacketLossPerc = 20
	const frames = 150
	pkts, _ := encodeSpeech(t, cfg, frames)
	fs := cfg.FrameSamples()

	decodeAll := func(mode string) []int16 {
		dec, err := NewOpusDecoder(48000, 1)
		if err != nil {
			t.Fatal(err)
		}
		defer dec.Close()
		out := make([]int16, fs*frames)
		for i, p := range pkts {
			frame := out[i*fs : (i+1)*fs]
			lost := i%5 == 4 && i+1 < frames
			switch {
			case !lost || mode == "clean":
				if _, err := dec.Decode(p, frame); err != nil {
					t.Fatal(err)
				}
			case mode == "fec":
				if err := dec.DecodeFEC(pkts[i+1], frame); err != nil {
					t.Fatal(err)
				}
			default:
				if err := dec.DecodePLC(frame); err != nil {
					t.Fatal(err)
				}
			}
		}
		return out
	}
	clean, fec, plc := decodeAll("clean"), decodeAll("fec"), decodeAll("plc")
	lostSNR := func(got []int16) float64 {
		var ref, g []int16
		for i := 4; i+1 < frames; i += 5 {
			if i < 10 {
				continue // encoder warm-up
			}
			ref = append(ref, clean[i*fs:(i+1)*fs]...)
			g = append(g, got[i*fs:(i+1)*fs]...)
		}
		return snrDB(ref, g)
	}
	fecSNR, plcSNR := lostSNR(fec), lostSNR(plc)
	t.Logf("lost frames SNR: FEC %.1f dB, PLC %.1f dB", fecSNR, plcSNR)
	if fecSNR < plcSNR+10 {
		t.Fatalf("FEC SNR %.1f dB not 10 dB above PLC %.1f dB", fecSNR, plcSNR)
	}
}

func TestOpusEncoderSettings(t *testing.T) {
	enc, err := NewOpusEncoder(DefaultOpusConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	steps := []struct {
		name string
		err  error
		want error
	}{
		{"bitrate", enc.SetBitRate(24000), nil},
		{"bitrate too low", enc.SetBitRate(100), ErrInvalidConfig},
		{"loss", enc.SetPacketLossPerc(15), nil},
		{"loss too high", enc.SetPacketLossPerc(101), ErrInvalidConfig},
		{"complexity", enc.SetComplexity(5), nil},
		{"complexity bad", enc.SetComplexity(11), ErrInvalidConfig},
		{"dtx", enc.SetDTX(true), nil},
		{"fec", enc.SetFEC(true), nil},
	}
	for _, s := range steps {
		if !errors.Is(s.err, s.want) {
			t.Errorf("%s: err %v, want %v", s.name, s.err, s.want)
		}
	}
	c := enc.Config()
	if c.BitRate != 24000 || c.PacketLossPerc != 15 || c.Complexity != 5 || !c.DTX || !c.FEC {
		t.Fatalf("config %+v", c)
	}
	if _, err := enc.Encode(make([]int16, 100)); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("short frame: %v", err)
	}
	if _, err := NewOpusEncoder(OpusConfig{SampleRate: 44100}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("44.1 kHz: %v", err)
	}
}

// TestWriteSpeechOpus regenerates testdata/speech.opus with -update.
func TestWriteSpeechOpus(t *testing.T) {
	if !*updateGolden {
		t.Skip("run with -update to rewrite testdata")
	}
	cfg := DefaultOpusConfig()
	cfg.PacketLossPerc = 20
	pkts, _ := encodeSpeech(t, cfg, 150)
	writeSpeechPackets(t, pkts)
}
