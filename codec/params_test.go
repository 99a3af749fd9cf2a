//go:build cgo

package codec

import (
	"image"
	"io"
	"testing"

	mdcodec "github.com/pion/mediadevices/pkg/codec"
	"github.com/pion/mediadevices/pkg/io/audio"
	"github.com/pion/mediadevices/pkg/io/video"
	"github.com/pion/mediadevices/pkg/prop"
	"github.com/pion/mediadevices/pkg/wave"
)

func TestVP8ParamsBuilder(t *testing.T) {
	var _ mdcodec.VideoEncoderBuilder = (*VP8Params)(nil)
	p := NewVP8Params()
	if c := p.RTPCodec(); c.MimeType != "video/VP8" || c.ClockRate != 90000 {
		t.Fatalf("codec %+v", c.RTPCodecCapability)
	}
	n := 0
	src := video.ReaderFunc(func() (image.Image, func(), error) {
		if n == 6 {
			return nil, func() {}, io.EOF
		}
		img := image.NewYCbCr(image.Rect(0, 0, 160, 120), image.YCbCrSubsampleRatio420)
		movingPattern(img, n)
		n++
		return img, func() {}, nil
	})
	rc, err := p.BuildVideoEncoder(src, prop.Media{Video: prop.Video{Width: 160, Height: 120, FrameRate: 30}})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	ctl := rc.Controller()
	kf, ok := ctl.(mdcodec.KeyFrameController)
	if !ok {
		t.Fatal("no KeyFrameController")
	}
	br, ok := ctl.(mdcodec.BitRateController)
	if !ok {
		t.Fatal("no BitRateController")
	}
	if err := br.SetBitRate(200_000); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		if i == 3 {
			if err := kf.ForceKeyFrame(); err != nil {
				t.Fatal(err)
			}
		}
		b, release, err := rc.Read()
		if err == io.EOF {
			if i != 6 {
				t.Fatalf("EOF after %d frames", i)
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		release()
		key, _, _, err := VP8FrameCheck(b)
		if err != nil {
			t.Fatal(err)
		}
		if want := i == 0 || i == 3; key != want {
			t.Fatalf("frame %d keyframe %v", i, key)
		}
	}
}

func TestOpusParamsBuilder(t *testing.T) {
	var _ mdcodec.AudioEncoderBuilder = (*OpusParams)(nil)
	p := NewOpusParams()
	if c := p.RTPCodec(); c.MimeType != "audio/opus" || c.ClockRate != 48000 {
		t.Fatalf("codec %+v", c.RTPCodecCapability)
	}
	speech := speechLike(48000, 48000)
	chunks := []wave.Audio{}
	// 10 ms stereo int16, then float32 mono chunks of odd sizes.
	for off := 0; off < 24000; off += 480 {
		c := wave.NewInt16Interleaved(wave.ChunkInfo{Len: 480, Channels: 2, SamplingRate: 48000})
		for i := 0; i < 480; i++ {
			c.Data[2*i], c.Data[2*i+1] = speech[off+i], speech[off+i]
		}
		chunks = append(chunks, c)
	}
	for off := 24000; off+333 <= 48000; off += 333 {
		c := wave.NewFloat32Interleaved(wave.ChunkInfo{Len: 333, Channels: 1, SamplingRate: 48000})
		for i := 0; i < 333; i++ {
			c.Data[i] = float32(speech[off+i]) / 32768
		}
		chunks = append(chunks, c)
	}
	src := audio.ReaderFunc(func() (wave.Audio, func(), error) {
		if len(chunks) == 0 {
			return nil, func() {}, io.EOF
		}
		c := chunks[0]
		chunks = chunks[1:]
		return c, func() {}, nil
	})
	rc, err := p.BuildAudioEncoder(src, prop.Media{Audio: prop.Audio{SampleRate: 48000, ChannelCount: 2}})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	ctl, ok := rc.Controller().(OpusController)
	if !ok {
		t.Fatal("no OpusController")
	}
	if err := ctl.SetBitRate(24000); err != nil {
		t.Fatal(err)
	}
	if err := ctl.SetPacketLossPerc(5); err != nil {
		t.Fatal(err)
	}
	dec, err := NewOpusDecoder(48000, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	pcm := make([]int16, 960)
	packets := 0
	for {
		b, release, err := rc.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		release()
		if n, err := dec.Decode(b, pcm); err != nil || n != 960 {
			t.Fatalf("packet %d: %d samples, %v", packets, n, err)
		}
		packets++
	}
	if packets < 48 || packets > 50 {
		t.Fatalf("%d packets for ~1 s of audio", packets)
	}
}
