package app

import (
	"encoding/binary"
	"errors"
	"image"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/peercall/peercall/capture"
	"github.com/peercall/peercall/codec"
)

// keyFrameRequestGap rate-limits PLIs: one per this interval at most, so a
// burst of losses does not flood the sender with keyframe requests.
const keyFrameRequestGap = 250 * time.Millisecond

// holeWait is how long a missing video packet is waited for (NACK repair:
// three NACK rounds of 30 ms plus a round trip) before the frame counts as
// lost and a keyframe is requested.
const holeWait = 150 * time.Millisecond

// DecodedFrame is one received picture with what its marker says.
type DecodedFrame struct {
	Image   *image.YCbCr // nil in the CGO-free build (integrity check only)
	Width   int
	Height  int
	Latency time.Duration // capture → decoded; 0 when the frame had no marker
	Seq     uint32
	Marked  bool
}

// videoReceiver turns received RTP into decoded frames: assembler → libvpx
// (or a header check without cgo) → marker reader. It asks for keyframes
// through requestKF when the assembler or the decoder needs one.
type videoReceiver struct {
	asm       *codec.VP8Assembler
	dec       *codec.VP8Decoder // nil without cgo
	requestKF func()
	onFrame   func(DecodedFrame) // optional; must not block
	rec       rtpWriter          // optional recorder
	recPath   string             // the recorder's IVF file, to fix its header size
	log       *slog.Logger

	mu        sync.Mutex
	decodedAt []time.Time
	latencies []float64 // ms
	width     int
	height    int
	lastKFReq time.Time
	plis      int
}

type rtpWriter interface {
	WriteRTP(*rtp.Packet) error
	Close() error
}

func newVideoReceiver(requestKF func(), onFrame func(DecodedFrame), rec rtpWriter, log *slog.Logger) *videoReceiver {
	v := &videoReceiver{asm: codec.NewVP8Assembler(codec.WithMaxHoleWait(holeWait)), requestKF: requestKF, onFrame: onFrame, rec: rec, log: log}
	if dec, err := codec.NewVP8Decoder(); err == nil {
		v.dec = dec
	}
	return v
}

// run reads the track until it ends.
func (v *videoReceiver) run(tr *webrtc.TrackRemote) {
	defer func() {
		if v.dec != nil {
			_ = v.dec.Close()
		}
		if v.rec != nil {
			_ = v.rec.Close()
			if v.recPath != "" {
				v.mu.Lock()
				w, h := v.width, v.height
				v.mu.Unlock()
				if err := patchIVFSize(v.recPath, w, h); err != nil {
					v.log.Warn("recording header not updated", "err", err)
				}
			}
		}
	}()
	for {
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				v.log.Debug("video track ended", "err", err)
			}
			return
		}
		v.handle(pkt)
	}
}

func (v *videoReceiver) handle(pkt *rtp.Packet) {
	if v.rec != nil {
		_ = v.rec.WriteRTP(pkt)
	}
	frames, err := v.asm.Push(pkt)
	if err != nil {
		v.log.Debug("dropping malformed video packet", "err", err)
	}
	for _, f := range frames {
		v.decode(f)
	}
	if v.asm.NeedKeyFrame() {
		v.maybeRequestKeyFrame()
	}
}

func (v *videoReceiver) decode(f codec.Frame) {
	now := time.Now()
	df := DecodedFrame{}
	if v.dec != nil {
		img, err := v.dec.Decode(f.Data)
		if err != nil {
			v.asm.ReportDecodeError()
			return
		}
		df.Image, df.Width, df.Height = img, img.Rect.Dx(), img.Rect.Dy()
		if m, err := capture.ReadVideoMarker(img); err == nil {
			df.Seq, df.Marked = m.Seq, true
			df.Latency = time.Since(m.CaptureTime)
		}
	} else {
		key, w, h, err := codec.VP8FrameCheck(f.Data)
		if err != nil {
			v.asm.ReportDecodeError()
			return
		}
		if key {
			df.Width, df.Height = w, h
		}
	}
	v.mu.Lock()
	v.decodedAt = append(v.decodedAt, now)
	if df.Width > 0 {
		v.width, v.height = df.Width, df.Height
	}
	if df.Marked {
		v.latencies = append(v.latencies, float64(df.Latency.Microseconds())/1000)
	}
	df.Width, df.Height = v.width, v.height
	v.mu.Unlock()
	if v.onFrame != nil {
		v.onFrame(df)
	}
}

func (v *videoReceiver) maybeRequestKeyFrame() {
	v.mu.Lock()
	if time.Since(v.lastKFReq) < keyFrameRequestGap {
		v.mu.Unlock()
		return
	}
	v.lastKFReq = time.Now()
	v.plis++
	v.mu.Unlock()
	if v.requestKF != nil {
		v.requestKF()
	}
}

// firstFrame is when the first frame was decoded (zero if none).
func (v *videoReceiver) firstFrame() time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.decodedAt) == 0 {
		return time.Time{}
	}
	return v.decodedAt[0]
}

// summary fills the video_in and latency parts of the report for frames
// decoded at or after from.
func (v *videoReceiver) summary(from, to time.Time) (VideoInStats, LatencyStats) {
	v.mu.Lock()
	defer v.mu.Unlock()
	var times []time.Time
	for _, t := range v.decodedAt {
		if !t.Before(from) && !t.After(to) {
			times = append(times, t)
		}
	}
	as := v.asm.Stats()
	st := VideoInStats{FramesDecoded: len(v.decodedAt), Width: v.width, Height: v.height, PLIsSent: v.plis,
		FramesDropped: int(as.Dropped), LatePackets: int(as.Late), Gaps: int(as.Gaps), DuplicatePkts: int(as.Duplicates)}
	if span := to.Sub(from).Seconds(); span > 0 {
		st.FPS = float64(len(times)) / span
	}
	st.Freezes, st.LongestFreezeMS = freezes(times, from, to)
	lat := LatencyStats{Samples: len(v.latencies)}
	if len(v.latencies) > 0 {
		xs := append([]float64(nil), v.latencies...)
		lat.VideoP50 = percentile(xs, 50)
		lat.VideoP95 = percentile(xs, 95)
	}
	return st, lat
}

// freezes counts gaps between decoded frames (and from the last frame to the
// end of the window) longer than max(3 × mean interval, 150 ms).
func freezes(times []time.Time, from, to time.Time) (n int, longestMS float64) {
	if len(times) < 2 {
		if to.Sub(from) > 150*time.Millisecond {
			return 1, float64(to.Sub(from).Milliseconds())
		}
		return 0, 0
	}
	mean := times[len(times)-1].Sub(times[0]) / time.Duration(len(times)-1)
	limit := max(3*mean, 150*time.Millisecond)
	check := func(gap time.Duration) {
		if gap > limit {
			n++
			longestMS = max(longestMS, float64(gap.Microseconds())/1000)
		}
	}
	for i := 1; i < len(times); i++ {
		check(times[i].Sub(times[i-1]))
	}
	check(to.Sub(times[len(times)-1]))
	return n, longestMS
}

// patchIVFSize writes the picture size into an IVF file header (bytes 12-15,
// little endian): the recorder starts before the first frame says it.
func patchIVFSize(path string, w, h int) error {
	if w <= 0 || h <= 0 || w > 0xffff || h > 0xffff {
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	var b [4]byte
	binary.LittleEndian.PutUint16(b[0:], uint16(w))
	binary.LittleEndian.PutUint16(b[2:], uint16(h))
	if _, err := f.WriteAt(b[:], 12); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
