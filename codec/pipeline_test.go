//go:build cgo

package codec

import (
	"image"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
)

// TestVP8PipelineRecoversFromLoss runs encoder → RTP packetizer → lossy
// network → assembler → decoder, with the assembler's keyframe request
// looped back to the encoder as a PLI would be.
func TestVP8PipelineRecoversFromLoss(t *testing.T) {
	const w, h, frames, lossAt = 320, 240, 40, 12
	enc, dec := newVP8Pair(t, VP8Config{Width: w, Height: h, BitRate: 600_000})
	asm := NewVP8Assembler(WithReorderWindow(8))
	pay := &codecs.VP8Payloader{EnablePictureID: true}
	src := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	var seq uint16 = 65000
	decoded, keyframes, plis := 0, 0, 0
	var lastPSNR float64
	for i := 0; i < frames; i++ {
		movingPattern(src, i)
		data, key, err := enc.Encode(src, time.Duration(i)*frameDur)
		if err != nil {
			t.Fatal(err)
		}
		if key {
			keyframes++
		}
		payloads := pay.Payload(300, data)
		for k, p := range payloads {
			pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(i * 3000),
				Marker: k == len(payloads)-1}, Payload: p}
			seq++
			if i == lossAt && k == 0 {
				continue // lost on the network
			}
			got, err := asm.Push(pkt)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range got {
				if _, err := dec.Decode(f.Data); err != nil {
					asm.ReportDecodeError()
					continue
				}
				decoded++
				if f.Timestamp == uint32(i*3000) {
					lastPSNR = psnrY(src, mustDecoded(t, dec))
				}
			}
		}
		if asm.NeedKeyFrame() {
			plis++
			enc.ForceKeyFrame() // PLI
		}
	}
	s := asm.Stats()
	t.Logf("decoded %d of %d, keyframes %d, PLIs %d, stats %+v, last PSNR %.1f dB", decoded, frames, keyframes, plis, s, lastPSNR)
	if keyframes < 2 || plis == 0 {
		t.Fatalf("loss did not lead to a keyframe request (keyframes %d, PLIs %d)", keyframes, plis)
	}
	if s.Gaps != 1 || s.DecodeErrors != 0 {
		t.Fatalf("stats %+v", s)
	}
	if decoded < frames-12 || lastPSNR < 30 {
		t.Fatalf("decoded %d frames, last PSNR %.1f dB", decoded, lastPSNR)
	}
	if asm.NeedKeyFrame() {
		t.Fatal("still waiting for a keyframe at the end")
	}
}

// mustDecoded returns the decoder's current picture (Decode reuses it).
func mustDecoded(t *testing.T, d *VP8Decoder) *image.YCbCr {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.img == nil {
		t.Fatal("no picture")
	}
	return d.img
}
