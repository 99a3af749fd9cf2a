//go:build cgo

package app

import (
	"image"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"go.uber.org/goleak"

	"github.com/peercall/peercall/codec"
)

// packetReader hands out packets as a received track does, then io.EOF;
// drained is closed once the last packet has been read.
type packetReader struct {
	pkts    []*rtp.Packet
	next    atomic.Int32
	drained chan struct{}
}

func (r *packetReader) ReadRTP() (*rtp.Packet, interceptor.Attributes, error) {
	i := int(r.next.Add(1)) - 1
	if i == len(r.pkts)-1 {
		close(r.drained)
	}
	if i >= len(r.pkts) {
		return nil, nil, io.EOF
	}
	return r.pkts[i], nil, nil
}

// vp8Stream encodes one frame per entry of kinds ('k' keyframe, 'i'
// interframe, 'x' an interframe cut short so that the decoder fails on it)
// and packetizes them.
func vp8Stream(t *testing.T, kinds string) []*rtp.Packet {
	t.Helper()
	enc, err := codec.NewVP8Encoder(codec.VP8Config{Width: 160, Height: 120, FPS: 30, BitRate: 300_000})
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	pz := rtp.NewPacketizer(1200, 96, 0x1234, &codecs.VP8Payloader{EnablePictureID: true}, rtp.NewRandomSequencer(), 90000)
	var pkts []*rtp.Packet
	for i, k := range kinds {
		img := image.NewYCbCr(image.Rect(0, 0, 160, 120), image.YCbCrSubsampleRatio420)
		for j := range img.Y {
			img.Y[j] = byte(i*37 + j)
		}
		if k == 'k' {
			enc.ForceKeyFrame()
		}
		data, key, err := enc.Encode(img, time.Duration(i)*time.Second/30)
		if err != nil || len(data) == 0 {
			t.Fatalf("frame %d: %d bytes, %v", i, len(data), err)
		}
		if key != (k == 'k') {
			t.Fatalf("frame %d: keyframe %v, want %c", i, key, k)
		}
		if k == 'x' {
			data = data[:min(len(data), 8)]
		}
		pkts = append(pkts, pz.Packetize(data, 3000)...)
	}
	return pkts
}

// TestVideoReceiverDecodesBesideReading: packets are read while a frame is
// being decoded (pion stamps their arrival for congestion control when they
// are read, so reading behind a decode delayed every stamp by the decode's
// time), and a frame the decoder fails on skips the frames queued behind
// it up to the next keyframe and asks for one.
func TestVideoReceiverDecodesBesideReading(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	for _, tc := range []struct {
		name  string
		kinds string
		want  int // frames shown
		plis  int
	}{
		{name: "clean", kinds: "kiiii", want: 5},
		{name: "undecodable frame", kinds: "kixiiki", want: 4, plis: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &packetReader{pkts: vp8Stream(t, tc.kinds), drained: make(chan struct{})}
			var mu sync.Mutex
			shown, plis := 0, 0
			var first sync.Once
			onFrame := func(DecodedFrame) {
				// The first picture is held until every packet has been read:
				// reading must not wait for it.
				first.Do(func() {
					select {
					case <-r.drained:
					case <-time.After(10 * time.Second):
						t.Error("reading stopped while a frame was being decoded")
					}
				})
				mu.Lock()
				shown++
				mu.Unlock()
			}
			v := newVideoReceiver(func() { mu.Lock(); plis++; mu.Unlock() }, onFrame, nil, slog.New(slog.DiscardHandler))
			v.run(r)
			mu.Lock()
			defer mu.Unlock()
			if shown != tc.want || plis != tc.plis {
				t.Errorf("%s: %d frames shown, %d keyframe requests; want %d, %d", tc.kinds, shown, plis, tc.want, tc.plis)
			}
		})
	}
}
