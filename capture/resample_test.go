package capture

import (
	"fmt"
	"math"
	"testing"

	"github.com/peercall/peercall/capture/pulsetest"
)

// TestResamplerTone: a tone through the resampler keeps its frequency and
// comes out clean, whatever the chunking, up to 0.4 of the lower rate.
func TestResamplerTone(t *testing.T) {
	tests := []struct {
		in, out int
		freq    float64
		minSNR  float64
	}{
		{44100, 48000, 440, 70},
		{44100, 48000, 3000, 70},
		{44100, 48000, 12000, 60},
		{48000, 44100, 440, 70},
		{16000, 48000, 1000, 70},
		{96000, 48000, 440, 70},
		{96000, 48000, 15000, 60},
		{22050, 48000, 440, 70},
		{32000, 48000, 5000, 70},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%d-%d-%gHz", tc.in, tc.out, tc.freq), func(t *testing.T) {
			rs, err := newResampler(tc.in, tc.out)
			if err != nil {
				t.Fatal(err)
			}
			in := make([]float64, tc.in*2)
			for i := range in {
				in[i] = 0.25 * math.Sin(2*math.Pi*tc.freq*float64(i)/float64(tc.in))
			}
			var out []float64
			// Odd chunk sizes: state must carry across calls.
			for i, n := 0, 1; i < len(in); i, n = i+n, n%997+37 {
				out = rs.process(in[i:min(len(in), i+n)], out)
			}
			want := float64(len(in)) * float64(tc.out) / float64(tc.in)
			if d := math.Abs(float64(len(out)) - want); d > float64(rs.taps) {
				t.Fatalf("%d samples out, want about %.0f", len(out), want)
			}
			// Skip the filter's start-up.
			rep := pulsetest.AnalyzeTone(out[tc.out/10:len(out)-tc.out/10], tc.out)
			t.Logf("%v", rep)
			if math.Abs(rep.Freq/tc.freq-1) > 0.0005 || rep.SNR < tc.minSNR || rep.Gaps != 0 {
				t.Fatalf("got %v, want %g Hz, SNR ≥ %g dB", rep, tc.freq, tc.minSNR)
			}
		})
	}
}
