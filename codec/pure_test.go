package codec

import (
	"errors"
	"math"
	"testing"
)

// TestPureOpusDecode decodes the stored speech packets with whatever
// decoder the build has (pion/opus with CGO_ENABLED=0, libopus otherwise) and
// checks that the output follows the loudness of the source frame by frame.
func TestPureOpusDecode(t *testing.T) {
	pkts := loadSpeechPackets(t)
	dec, err := NewOpusDecoder(48000, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	const fs = 960
	src := speechLike(fs*len(pkts), 48000)
	pcm := make([]int16, 5760)
	var a, b []float64
	for i, p := range pkts {
		n, err := dec.Decode(p, pcm)
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if n != fs {
			t.Fatalf("packet %d: %d samples", i, n)
		}
		a = append(a, rms(src[i*fs:(i+1)*fs]))
		b = append(b, rms(pcm[:fs]))
	}
	if c := correlation(a[5:], b[5:]); c < 0.9 {
		t.Fatalf("loudness correlation %.2f < 0.9", c)
	} else {
		t.Logf("loudness correlation %.3f (CanConceal %v)", c, dec.CanConceal())
	}
	if _, err := dec.Decode(nil, pcm); !errors.Is(err, ErrMalformedPacket) {
		t.Fatalf("empty packet: %v", err)
	}
	if !dec.CanConceal() {
		if err := dec.DecodePLC(pcm[:fs]); !errors.Is(err, ErrNoCGO) {
			t.Fatalf("PLC without cgo: %v", err)
		}
		if _, err := NewVP8Encoder(VP8Config{Width: 64, Height: 64}); !errors.Is(err, ErrNoCGO) {
			t.Fatalf("VP8 encoder without cgo: %v", err)
		}
		if _, err := NewVP8Decoder(); !errors.Is(err, ErrNoCGO) {
			t.Fatalf("VP8 decoder without cgo: %v", err)
		}
	}
}

func rms(x []int16) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s / float64(len(x)))
}

func correlation(a, b []float64) float64 {
	var ma, mb float64
	for i := range a {
		ma += a[i]
		mb += b[i]
	}
	ma /= float64(len(a))
	mb /= float64(len(b))
	var sab, saa, sbb float64
	for i := range a {
		sab += (a[i] - ma) * (b[i] - mb)
		saa += (a[i] - ma) * (a[i] - ma)
		sbb += (b[i] - mb) * (b[i] - mb)
	}
	return sab / math.Sqrt(saa*sbb)
}

func TestPureVP8FrameCheck(t *testing.T) {
	// Frame tag: keyframe, version 0, shown, first partition of 18 bytes;
	// start code; 640 (0x280) x 480 (0x1e0); then the 18 partition bytes.
	key := append([]byte{0x50, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01}, make([]byte, 18)...)
	cases := []struct {
		name  string
		frame []byte
		key   bool
		w, h  int
		err   error
	}{
		{"keyframe 640x480", key, true, 640, 480, nil},
		{"interframe", []byte{0x31, 0x00, 0x00, 1, 2}, false, 0, 0, nil},
		{"empty", nil, false, 0, 0, ErrMalformedFrame},
		{"short keyframe", key[:8], false, 0, 0, ErrMalformedFrame},
		{"bad start code", append([]byte{0x50, 0x02, 0x00, 0x9d, 0x01, 0x2b}, key[6:]...), false, 0, 0, ErrMalformedFrame},
		{"zero size", append([]byte{0x50, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0, 0, 0, 0}, key[10:]...), false, 0, 0, ErrMalformedFrame},
		{"partition too long", []byte{0xf1, 0xff, 0xff, 1, 2}, false, 0, 0, ErrMalformedFrame},
		{"version 5", []byte{0x2b, 0x00, 0x00, 1, 2}, false, 0, 0, ErrMalformedFrame},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k, w, h, err := VP8FrameCheck(tc.frame)
			if !errors.Is(err, tc.err) || k != tc.key || w != tc.w || h != tc.h {
				t.Fatalf("got %v %dx%d %v, want %v %dx%d %v", k, w, h, err, tc.key, tc.w, tc.h, tc.err)
			}
		})
	}
}

func FuzzVP8FrameCheck(f *testing.F) {
	f.Add([]byte{0x50, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		k, w, h, err := VP8FrameCheck(b)
		if err == nil && k && (w == 0 || h == 0) {
			t.Fatal("keyframe without size")
		}
	})
}
