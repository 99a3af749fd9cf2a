package codec

import "testing"

func TestOpusHasFECMalformed(t *testing.T) {
	tests := []struct {
		name string
		pkt  []byte
		want bool
	}{
		{"empty", nil, false},
		{"toc only", []byte{0x08}, false},
		{"celt only", []byte{0x80 | 0x78, 0xff, 0xff}, false},
		{"silk 20 ms mono, lbrr bit", []byte{0x08, 0x40, 0x00}, true},
		{"silk 20 ms mono, vad only", []byte{0x08, 0x80, 0x00}, false},
		{"silk 20 ms stereo, second channel lbrr", []byte{0x0c, 0x10, 0x00}, true},
		{"code 2 truncated size", []byte{0x0a, 0xfc}, false},
		{"code 3 no frames", []byte{0x0b, 0x00, 0x00}, false},
		{"code 3 endless padding", []byte{0x0b, 0x41, 0xff, 0xff}, false},
	}
	for _, tt := range tests {
		if got := OpusHasFEC(tt.pkt); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func FuzzOpusHasFEC(f *testing.F) {
	f.Add([]byte{0x08, 0x40, 0x00})
	f.Add([]byte{0x0b, 0xc3, 0x02, 0x05, 0x05, 1, 2, 3})
	f.Fuzz(func(_ *testing.T, b []byte) { OpusHasFEC(b) })
}
