package app

import (
	"encoding/binary"
	"image"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/peercall/peercall/codec"
)

// recFeed is one synthetic call's received media, as the receivers would
// hand it to the recording.
type recFeed struct {
	seconds   float64
	loss      float64       // share of audio packets and video frames dropped
	reorder   bool          // swap neighbouring audio packets
	videoLate time.Duration // video starts this much after audio
	// keyLate holds the first keyframe, and the frames behind it, this
	// long (a packet of it repaired by retransmission); the first audio
	// packets come as late, in a burst (queued on the way).
	keyLate time.Duration
}

// TestRecordingFaithful feeds real Opus packets and VP8 frames (lost,
// reordered, wrapping timestamps) into the recording and has ffmpeg read
// the files back: no complaints, and durations within 2 % of the media.
func TestRecordingFaithful(t *testing.T) {
	RequireFFmpeg(t)
	tests := []struct {
		name string
		feed recFeed
	}{
		{"clean", recFeed{seconds: 4}},
		{"loss5 reordered", recFeed{seconds: 4, loss: 0.05, reorder: true}},
		{"video late", recFeed{seconds: 4, videoLate: 700 * time.Millisecond}},
		{"first keyframe repaired late", recFeed{seconds: 4, keyLate: 150 * time.Millisecond}},
		{"video late, keyframe repaired late", recFeed{seconds: 4, videoLate: 700 * time.Millisecond, keyLate: 150 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			rec, err := newRecording(dir, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			feedRecording(t, rec, tt.feed)
			if err := rec.close(time.Time{}); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{recordVideoFile, recordAudioFile} {
				p := filepath.Join(dir, f)
				if msg := FFmpegErrors(t, p); msg != "" {
					t.Errorf("%s: ffmpeg says: %s", f, msg)
				}
				// Both files start at time 0 and end with the media.
				want := tt.feed.seconds
				if d := ProbeDuration(t, p); math.Abs(d-want)/want > 0.02 {
					t.Errorf("%s: duration %.3f s, want %.3f s ±2%%", f, d, want)
				}
			}
			pcm := DecodePCM(t, filepath.Join(dir, recordAudioFile))
			if got := float64(len(pcm)) / 48000; math.Abs(got-tt.feed.seconds)/tt.feed.seconds > 0.02 {
				t.Errorf("decoded %.3f s of audio, want %.3f s (lost time must be filled)", got, tt.feed.seconds)
			}
			// Each stream starts where it was sent, however late its
			// first packet came: the first frame at the video's start (led
			// in from 0 when it started late), every frame at its RTP time
			// after it, and the tone from the file's start.
			lead := int64(tt.feed.videoLate / (time.Second / 90000))
			pts := ivfPTS(t, filepath.Join(dir, recordVideoFile))
			if lead > 0 {
				if pts[0] != 0 {
					t.Errorf("the first picture is not led in from 0: first pts %d", pts[0])
				}
				pts = pts[1:]
			}
			if d := pts[0] - lead; d < -2 || d > 2 {
				t.Errorf("the first keyframe is %v from where it was sent", time.Duration(d)*time.Second/90000)
			}
			for i, p := range pts {
				if d := (p - lead + 1500) % 3000; d < 1500-2 || d > 1500+2 {
					t.Errorf("frame %d at pts %d is %d ticks off its 30 fps slot", i, p, d-1500)
					break
				}
			}
			if at := soundStart(pcm); at > 10*time.Millisecond {
				t.Errorf("the sound starts %v into the file, want at its start", at)
			}
		})
	}
}

// TestRecordingEmpty: nothing received, no files (not a header claiming frames).
func TestRecordingEmpty(t *testing.T) {
	dir := t.TempDir()
	rec, err := newRecording(dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := rec.close(time.Time{}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{recordVideoFile, recordAudioFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
			t.Errorf("%s: want no file for an empty recording, stat err %v", f, err)
		}
	}
}

func feedRecording(t *testing.T, rec *recording, f recFeed) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	enc, err := codec.NewOpusEncoder(codec.DefaultOpusConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	venc, err := codec.NewVP8Encoder(codec.VP8Config{Width: 160, Height: 120, FPS: 30, BitRate: 300_000})
	if err != nil {
		t.Fatal(err)
	}
	defer venc.Close()
	t0 := time.Unix(1_700_000_000, 0)
	type audioIn struct {
		seq uint16
		ts  uint32
		p   []byte
		at  time.Time
	}
	var audio []audioIn
	nAudio := int(f.seconds * 50)
	// Timestamps and sequence numbers start near their wrap.
	seq0, ts0 := uint16(65500), uint32(math.MaxUint32-20*960)
	for i := range nAudio {
		pcm := make([]int16, 960)
		for j := range pcm {
			pcm[j] = int16(8000 * math.Sin(2*math.Pi*440*float64(i*960+j)/48000))
		}
		p, err := enc.Encode(pcm)
		if err != nil {
			t.Fatal(err)
		}
		// Sent (and here arrived at once) when its last sample is captured.
		audio = append(audio, audioIn{seq0 + uint16(i), ts0 + uint32(i*960), p, t0.Add(time.Duration(i+1) * 20 * time.Millisecond)})
	}
	if f.reorder {
		for i := 1; i+1 < len(audio); i += 7 {
			audio[i], audio[i+1] = audio[i+1], audio[i]
		}
	}
	for i := range audio {
		// The first packets come keyLate late, in a burst.
		if whole := t0.Add(f.keyLate); audio[i].at.Before(whole) {
			audio[i].at = whole
		}
	}
	// The first and last packets always arrive: they fix the span.
	rec.arrived(t0)
	for i, a := range audio {
		if i > 0 && i < len(audio)-1 && rng.Float64() < f.loss {
			continue
		}
		rec.audioPacket(a.seq, a.ts, a.p, a.at)
	}
	img := image.NewYCbCr(image.Rect(0, 0, 160, 120), image.YCbCrSubsampleRatio420)
	vts0 := uint32(math.MaxUint32 - 10*3000)
	nVideo := int((f.seconds - f.videoLate.Seconds()) * 30)
	for i := range nVideo {
		for j := range img.Y {
			img.Y[j] = byte(i*3 + j)
		}
		frame, key, err := venc.Encode(img, time.Duration(i)*time.Second/30)
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 && i < nVideo-1 && !key && rng.Float64() < f.loss {
			continue
		}
		at := t0.Add(f.videoLate + time.Duration(i)*time.Second/30)
		if whole := t0.Add(f.videoLate + f.keyLate); at.Before(whole) {
			at = whole // behind the first keyframe's repair
		}
		rec.videoFrame(codec.Frame{Data: frame, Timestamp: vts0 + uint32(i*3000), KeyFrame: key}, 160, 120, at)
	}
}

// ivfPTS is every frame's pts in an IVF file.
func ivfPTS(t *testing.T, path string) []int64 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil || len(data) < 32 {
		t.Fatalf("read %s: %v", path, err)
	}
	var pts []int64
	for off := 32; off+12 <= len(data); {
		pts = append(pts, int64(binary.LittleEndian.Uint64(data[off+4:])))
		off += 12 + int(binary.LittleEndian.Uint32(data[off:]))
	}
	if len(pts) == 0 {
		t.Fatalf("%s: no frames", path)
	}
	return pts
}

// soundStart is where 48 kHz audio first gets loud (a 5 ms block's RMS
// over a tenth of the feed's tone).
func soundStart(pcm []int16) time.Duration {
	const block = 240
	for i := 0; i+block <= len(pcm); i += block {
		var e float64
		for _, s := range pcm[i : i+block] {
			e += float64(s) * float64(s)
		}
		if math.Sqrt(e/block) > 800 {
			return time.Duration(i) * time.Second / 48000
		}
	}
	return time.Duration(len(pcm)) * time.Second / 48000
}
