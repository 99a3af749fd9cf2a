package capture

import (
	"io"
	"testing"
	"time"

	"github.com/peercall/peercall/assets"
	"github.com/peercall/peercall/codec"
)

// The sample is stamped from this instant by gensample.
var sampleEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestSampleIVF(t *testing.T) {
	src, err := NewIVFSource(assets.SampleIVF)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if src.Width != 320 || src.Height != 240 {
		t.Fatalf("size %dx%d", src.Width, src.Height)
	}
	dec, err := codec.NewVP8Decoder()
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	var total time.Duration
	lastSeq := -1
	for {
		f, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		img, err := dec.Decode(f.Data)
		if err != nil {
			t.Fatalf("frame at %v: %v", total, err)
		}
		m, err := readVideoMarkerAt(img, sampleEpoch)
		if err != nil {
			t.Fatalf("frame at %v: %v", total, err)
		}
		// Seq counts source frames; the marker time follows the clip's clock.
		if int(m.Seq) <= lastSeq || !m.CaptureTime.Equal(sampleEpoch.Add(time.Duration(m.Seq)*(time.Second/30)).Truncate(time.Millisecond)) {
			t.Fatalf("frame at %v: marker %d %v", total, m.Seq, m.CaptureTime)
		}
		lastSeq = int(m.Seq)
		total += f.Duration
	}
	if total < 2900*time.Millisecond || total > 3100*time.Millisecond || src.Frames() < 80 {
		t.Fatalf("%d frames, %v", src.Frames(), total)
	}
}

func TestSampleOgg(t *testing.T) {
	src, err := NewOggSource(assets.SampleOgg)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := codec.NewOpusDecoder(48000, src.Channels)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	var pcm []int16
	var total time.Duration
	buf := make([]int16, 5760)
	for {
		p, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n, err := dec.Decode(p.Data, buf)
		if err != nil {
			t.Fatal(err)
		}
		pcm = append(pcm, buf[:n]...)
		total += p.Duration
	}
	if total != 3*time.Second {
		t.Fatalf("duration %v", total)
	}
	ms, err := readAudioMarkersAt(pcm, 48000, sampleEpoch)
	if err != nil {
		t.Fatal(err)
	}
	// Markers every 500 ms, each 160 ms long: 0 ... 2.5 s.
	if len(ms) != 6 {
		t.Fatalf("%d markers: %+v", len(ms), ms)
	}
	for i, m := range ms {
		if m.Seq != uint32(i) || !m.CaptureTime.Equal(sampleEpoch.Add(time.Duration(i)*500*time.Millisecond)) {
			t.Fatalf("marker %d: %+v", i, m)
		}
	}
}
