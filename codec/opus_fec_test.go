//go:build cgo

package codec

import "testing"

// TestOpusHasFEC encodes speech with and without in-band FEC and checks that
// the LBRR test sees FEC only where the encoder put it.
func TestOpusHasFEC(t *testing.T) {
	tests := []struct {
		name    string
		fec     bool
		loss    int
		wantMin float64 // share of packets (after the first) with FEC
		wantMax float64
	}{
		{"fec on, 20% expected loss", true, 20, 0.5, 1},
		{"fec off", false, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultOpusConfig()
			cfg.FEC, cfg.PacketLossPerc = tt.fec, tt.loss
			pkts, _ := encodeSpeech(t, cfg, 100)
			with := 0
			for _, p := range pkts[1:] {
				if OpusHasFEC(p) {
					with++
				}
			}
			share := float64(with) / float64(len(pkts)-1)
			if share < tt.wantMin || share > tt.wantMax {
				t.Errorf("%.2f of packets carry FEC, want %.2f..%.2f", share, tt.wantMin, tt.wantMax)
			}
		})
	}
}
