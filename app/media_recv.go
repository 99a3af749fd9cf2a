package app

import (
	"errors"
	"image"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"

	"github.com/peercall/peercall/capture"
	"github.com/peercall/peercall/codec"
)

// keyFrameRequestGap rate-limits PLIs: one per this interval at most, so a
// burst of losses does not flood the sender with keyframe requests. On a
// long round trip the gap grows to what a keyframe takes to arrive
// (keyFrameGap): a second request before it would only cost a second one.
const keyFrameRequestGap = 250 * time.Millisecond

// holeWait is how long a missing video packet is waited for before the
// frame counts as lost and a keyframe is requested, while the round trip
// is unknown (three NACK rounds of 30 ms plus a round trip on loopback).
// Once it is known, holeWaitFor sizes the wait for two NACK rounds.
const holeWait = 150 * time.Millisecond

// maxHoleWait bounds the wait on a long round trip: past it a keyframe is
// the faster way back.
const maxHoleWait = 600 * time.Millisecond

// holeWaitFor is the wait for a missing packet when NACK repairs take rtt:
// the requester asks at once and again after 1.25 round trips (call's
// nackgen.go), so a lost retransmission still gets a second chance. A
// shorter wait turned every repair slower than 150 ms (queueing on a
// 1 Mbit/s link, a lost retransmission under burst loss) into a keyframe
// request and a freeze of half a second (issue 16). A wait for a third
// request (3.5 round trips) saved the odd freeze under burst loss, but on
// a full 1 Mbit/s link the frames held behind a repair that came that
// late showed 300-450 ms after capture, and the latency's 95th
// percentile there went to 338-371 ms in 3 calls of 11 (136-155 ms in 3
// calls with two rounds; bench --network 1M).
func holeWaitFor(rtt time.Duration) time.Duration {
	if rtt <= 0 {
		return holeWait
	}
	return min(max(rtt*5/2+40*time.Millisecond, holeWait), maxHoleWait)
}

// outageGap: when packets are missing after a pause in arrivals this
// long, the link was down (an outage, a route change). NACK cannot bring
// that back in time (the sender's history ages out, and the repairs queue
// behind what is sent now), so a keyframe is asked for at the first packet
// after it rather than after the hole wait (issue 16: the picture back
// within 1 s of the link).
const outageGap = 500 * time.Millisecond

// keyFrameGap is the least time between two keyframe requests on a
// round trip of rtt.
func keyFrameGap(rtt time.Duration) time.Duration {
	return max(keyFrameRequestGap, rtt+100*time.Millisecond)
}

// DecodedFrame is one received picture with what its marker says.
type DecodedFrame struct {
	Image   *image.YCbCr // nil in the CGO-free build (integrity check only)
	Width   int
	Height  int
	Latency time.Duration // capture → decoded; 0 when the frame had no marker
	Seq     uint32
	Marked  bool
	Share   bool // from the peer's screen share, not its camera
}

// videoReceiver turns received RTP into decoded frames: assembler → libvpx
// (or a header check without cgo) → marker reader. It asks for keyframes
// through requestKF when the assembler or the decoder needs one.
type videoReceiver struct {
	asm       *codec.VP8Assembler
	dec       *codec.VP8Decoder // nil without cgo
	requestKF func()
	// rtt (optional) is the round trip of NACK repairs (0 unknown); the
	// wait for a missing packet follows it.
	rtt     func() time.Duration
	onFrame func(DecodedFrame) // optional; must not block
	rec     *recording         // optional --record sink
	log     *slog.Logger

	mu        sync.Mutex
	decodedAt []time.Time
	latencies []float64 // ms
	width     int
	height    int
	lastKFReq time.Time
	plis      int
	waitRTT   time.Duration // the round trip the hole wait was set for
	skipped   int           // frames not shown: undecodable, or behind one that was

	// The last packet's arrival and sequence number (the reading goroutine's).
	lastArrival time.Time
	lastSeq     uint16
	// broken: the last frame failed to decode (the decoding goroutine's).
	broken bool
}

func newVideoReceiver(requestKF func(), onFrame func(DecodedFrame), rec *recording, log *slog.Logger) *videoReceiver {
	v := &videoReceiver{asm: codec.NewVP8Assembler(codec.WithMaxHoleWait(holeWait)), requestKF: requestKF, onFrame: onFrame, rec: rec, log: log}
	if dec, err := codec.NewVP8Decoder(); err == nil {
		v.dec = dec
	}
	return v
}

// rtpReader is a received track (*webrtc.TrackRemote).
type rtpReader interface {
	ReadRTP() (*rtp.Packet, interceptor.Attributes, error)
}

// decodeQueue is how many assembled frames wait for the decoder. Reading
// and decoding run on their own goroutines so that a packet is read (and
// its arrival stamped for the transport-wide feedback, which pion's
// interceptors do when the track is read) while the previous frame is
// being decoded: read on the decoding goroutine, every packet behind a
// frame's decode reached congestion control late by that decode's time,
// and a decoder's stall read as a queue building on the network.
const decodeQueue = 16

// run reads the track until it ends, handing whole frames to a decoding
// goroutine that it waits for.
func (v *videoReceiver) run(tr rtpReader) {
	frames := make(chan wholeFrame, decodeQueue)
	decoded := make(chan struct{})
	go func() {
		defer close(decoded)
		for f := range frames {
			v.decode(f.Frame, f.at)
		}
	}()
	defer func() {
		close(frames)
		<-decoded
		if v.dec != nil {
			_ = v.dec.Close()
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
		at := time.Now()
		for _, f := range v.receive(pkt) {
			frames <- wholeFrame{f, at}
		}
	}
}

// wholeFrame is a reassembled frame and when it was whole.
type wholeFrame struct {
	codec.Frame
	at time.Time
}

// receive books one packet and returns the frames it completes, in order,
// asking for a keyframe when the assembler needs one.
func (v *videoReceiver) receive(pkt *rtp.Packet) []codec.Frame {
	if v.rec != nil {
		v.rec.arrived(time.Now())
	}
	v.followRTT()
	outage := v.afterOutage(pkt.SequenceNumber, time.Now())
	frames, err := v.asm.Push(pkt)
	if err != nil {
		v.log.Debug("dropping malformed video packet", "err", err)
	}
	// A keyframe already streaming in is waited for, not asked for again.
	if outage || (v.asm.NeedKeyFrame() && !v.asm.KeyFrameArriving()) {
		v.maybeRequestKeyFrame()
	}
	return frames
}

// skip counts a frame not shown because the picture is broken and asks
// for the keyframe that mends it (at the request gap).
func (v *videoReceiver) skip() {
	v.mu.Lock()
	v.skipped++
	v.mu.Unlock()
	v.maybeRequestKeyFrame()
}

// afterOutage books a packet's arrival and reports whether packets were
// lost across a pause of outageGap or more before it.
func (v *videoReceiver) afterOutage(seq uint16, now time.Time) bool {
	lost := !v.lastArrival.IsZero() && now.Sub(v.lastArrival) >= outageGap && int16(seq-v.lastSeq) > 1
	if v.lastArrival.IsZero() || int16(seq-v.lastSeq) > 0 {
		v.lastSeq = seq
	}
	v.lastArrival = now
	return lost
}

// decode runs on the decoding goroutine. A frame that fails to decode
// breaks the picture until the next keyframe: the frames behind it refer
// to a picture the decoder does not have, so they are skipped and a
// keyframe is asked for (again, at the request gap, while they are). The
// assembler is not told: by the time a frame fails it may already have
// handed out the keyframe that mends it.
//
// at is when the frame was whole: the recording places it by that, not by
// when the decoder got to it.
func (v *videoReceiver) decode(f codec.Frame, at time.Time) {
	if v.broken && !f.KeyFrame {
		v.skip()
		return
	}
	v.broken = false
	now := time.Now()
	df := DecodedFrame{}
	if v.dec != nil {
		img, err := v.dec.Decode(f.Data)
		if err != nil {
			v.broken = true
			v.skip()
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
			v.broken = true
			v.skip()
			return
		}
		if key {
			df.Width, df.Height = w, h
		}
	}
	if v.rec != nil {
		v.rec.videoFrame(f, df.Width, df.Height, at)
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

// followRTT resizes the assembler's wait for a missing packet when the
// round trip has changed by a tenth or more.
func (v *videoReceiver) followRTT() {
	if v.rtt == nil {
		return
	}
	rtt := v.rtt()
	v.mu.Lock()
	old := v.waitRTT
	change := rtt > 0 && (old == 0 || rtt-old > old/10 || old-rtt > old/10)
	if change {
		v.waitRTT = rtt
	}
	v.mu.Unlock()
	if change {
		v.asm.SetMaxHoleWait(holeWaitFor(rtt))
	}
}

func (v *videoReceiver) maybeRequestKeyFrame() {
	v.mu.Lock()
	if time.Since(v.lastKFReq) < keyFrameGap(v.waitRTT) {
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

// live is the frames decoded so far, the latest size and the latest
// marker latency in ms (0 without markers), for the stats overlay.
func (v *videoReceiver) live() (frames int64, w, h int, latencyMS float64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if n := len(v.latencies); n > 0 {
		latencyMS = v.latencies[n-1]
	}
	return int64(len(v.decodedAt)), v.width, v.height, latencyMS
}

// frameSpan is when the first and the last frame were decoded (zero if none).
func (v *videoReceiver) frameSpan() (first, last time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.decodedAt) == 0 {
		return time.Time{}, time.Time{}
	}
	return v.decodedAt[0], v.decodedAt[len(v.decodedAt)-1]
}

// firstFrame is when the first frame was decoded (zero if none).
func (v *videoReceiver) firstFrame() time.Time {
	first, _ := v.frameSpan()
	return first
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
		FramesDropped: int(as.Dropped) + v.skipped, LatePackets: int(as.Late), Gaps: int(as.Gaps), DuplicatePkts: int(as.Duplicates)}
	if span := to.Sub(from).Seconds(); span > 0 {
		st.FPS = float64(len(times)) / span
	}
	st.Freezes, st.LongestFreezeMS, st.FreezeSpans = freezes(times, from, to)
	lat := LatencyStats{Samples: len(v.latencies)}
	if len(v.latencies) > 0 {
		xs := append([]float64(nil), v.latencies...)
		lat.VideoP50 = percentile(xs, 50)
		lat.VideoP95 = percentile(xs, 95)
	}
	return st, lat
}

// freezes counts gaps between decoded frames (and from the last frame to the
// end of the window) longer than max(3 × mean interval, 150 ms), and lists
// the first maxFreezeSpans of them.
func freezes(times []time.Time, from, to time.Time) (n int, longestMS float64, spans []FreezeSpan) {
	add := func(a, b time.Time) {
		n++
		ms := float64(b.Sub(a).Microseconds()) / 1000
		longestMS = max(longestMS, ms)
		if len(spans) < maxFreezeSpans {
			spans = append(spans, FreezeSpan{StartUnixMS: a.UnixMilli(), MS: ms})
		}
	}
	if len(times) < 2 {
		if to.Sub(from) > 150*time.Millisecond {
			add(from, to)
		}
		return n, longestMS, spans
	}
	mean := times[len(times)-1].Sub(times[0]) / time.Duration(len(times)-1)
	limit := max(3*mean, 150*time.Millisecond)
	for i := 1; i < len(times); i++ {
		if times[i].Sub(times[i-1]) > limit {
			add(times[i-1], times[i])
		}
	}
	if to.Sub(times[len(times)-1]) > limit {
		add(times[len(times)-1], to)
	}
	return n, longestMS, spans
}

// maxFreezeSpans bounds the freezes a report lists with their times (the
// count has them all).
const maxFreezeSpans = 32

// recording writes what the receivers decoded to the --record files: video
// frames as reassembled (pts from RTP timestamps, 90 kHz), audio packets
// in sequence order (granule from RTP timestamps, lost time filled with
// silence). Both share one time origin, about the arrival of the first
// packet of either kind, and both files start at time 0 so players and muxers (which
// shift each input to its own start) keep them aligned: the later stream is
// led in with silence (audio) or its first picture (video).
//
// Each stream is placed on that time line by its least delayed arrivals,
// not by its first: a stream's first recordAnchorWindow is held back, and
// its start (where its RTP time 0 arrived) is the earliest arrival less
// RTP time in it. A first keyframe repaired by retransmission (or paced
// out over a slow link) arrives a hole wait or more after the audio
// captured with it; placed there, the whole picture played that much late
// against the sound. The first stream to be placed moves the origin back
// to the earliest start held, so neither stream is clipped at 0.
type recording struct {
	log *slog.Logger

	mu      sync.Mutex
	closed  bool
	origin  time.Time
	settled bool // the origin is final: a stream is placed
	ivf     *capture.IVFRecorder
	ogg     *capture.OggRecorder

	video videoRecState
	audio audioRecState
}

// recordAnchorWindow is how long the start of each recorded stream is held
// while its anchor is found: longer than a keyframe's repair (a few hole
// waits) or its pacing at a start rate, short enough to hold in memory.
const recordAnchorWindow = time.Second

// videoRecState places received frames on the recording's time line
// (owned by recording.mu).
type videoRecState struct {
	started bool
	lastTS  uint32
	ext     int64 // RTP timestamp of the last frame, unwrapped, from the first
	hold    startHold
	held    []heldFrame // the start, until it is placed
	anchor  int64       // pts of RTP time 0 (the first frame's)
}

type heldFrame struct {
	data []byte
	ext  int64
	w, h int
	key  bool
}

// startHold is a recorded stream's start, held back until its place on
// the recording's time line is found (see recording).
type startHold struct {
	until  time.Time // the first arrival at or after it ends the hold
	start  time.Time // where RTP time 0 arrived, by the least delayed packet held
	placed bool
}

// note books a packet of RTP time ext (a rate Hz clock, from the stream's
// first) that arrived at at, and reports whether the hold is over.
func (h *startHold) note(at time.Time, ext, rate int64) bool {
	if h.until.IsZero() {
		h.until = at.Add(recordAnchorWindow)
	}
	s := at.Add(-time.Duration(ext * int64(time.Second) / rate))
	if h.start.IsZero() || s.Before(h.start) {
		h.start = s
	}
	return !at.Before(h.until)
}

// placeLocked ends h: the stream's RTP time 0 in ticks of a rate Hz
// clock on the recording's time line.
func (r *recording) placeLocked(h *startHold, rate int64) int64 {
	r.settleLocked()
	h.placed = true
	return r.ticks(h.start, rate)
}

// settleLocked makes the origin final when the first stream is placed: the
// earliest of the first arrival and the starts held.
func (r *recording) settleLocked() {
	if r.settled {
		return
	}
	r.settled = true
	for _, s := range []time.Time{r.video.hold.start, r.audio.hold.start} {
		if !s.IsZero() && s.Before(r.origin) {
			r.origin = s
		}
	}
}

// recordFiles are the file names under --record.
const (
	recordVideoFile = "video.ivf"
	recordAudioFile = "audio.ogg"
)

// newRecording creates dir and both files.
func newRecording(dir string, log *slog.Logger) (*recording, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	ivf, err := capture.CreateIVF(filepath.Join(dir, recordVideoFile))
	if err != nil {
		return nil, err
	}
	ogg, err := capture.CreateOgg(filepath.Join(dir, recordAudioFile), 2)
	if err != nil {
		_ = ivf.Close()
		return nil, err
	}
	return &recording{log: log, ivf: ivf, ogg: ogg}, nil
}

// arrived notes a received packet: the first one sets the time origin.
func (r *recording) arrived(now time.Time) {
	r.mu.Lock()
	if r.origin.IsZero() {
		r.origin = now
	}
	r.mu.Unlock()
}

// openLocked reports whether the recording still takes data; the first
// packet or frame of either kind sets the time origin.
func (r *recording) openLocked(now time.Time) bool {
	if r.closed {
		return false
	}
	if r.origin.IsZero() {
		r.origin = now
	}
	return true
}

// ticks converts the time since the origin to units of a clock of rate Hz.
func (r *recording) ticks(now time.Time, rate int64) int64 {
	d := max(now.Sub(r.origin), 0)
	return int64(d) * rate / int64(time.Second)
}

// videoFrame records one decoded frame; w and h are its picture size, at
// when it was whole (reassembled, before the decoder's queue).
func (r *recording) videoFrame(f codec.Frame, w, h int, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.openLocked(at) {
		return
	}
	v := &r.video
	if !v.started {
		if !f.KeyFrame {
			return // a player could not decode it either
		}
		v.started, v.lastTS = true, f.Timestamp
	}
	v.ext += int64(int32(f.Timestamp - v.lastTS))
	v.lastTS = f.Timestamp
	if v.hold.placed {
		r.writeFrame(f.Data, f.KeyFrame, w, h, v.anchor+v.ext)
		return
	}
	v.held = append(v.held, heldFrame{data: f.Data, ext: v.ext, w: w, h: h, key: f.KeyFrame})
	if v.hold.note(at, v.ext, 90000) {
		r.anchorVideoLocked()
	}
}

// anchorVideoLocked places the video by its held start and writes it.
func (r *recording) anchorVideoLocked() {
	v := &r.video
	if v.hold.placed || len(v.held) == 0 {
		return
	}
	v.anchor = r.placeLocked(&v.hold, 90000)
	for i, h := range v.held {
		if i == 0 && v.anchor > 0 {
			// Audio came first: show the first picture from time 0.
			r.writeFrame(h.data, h.key, h.w, h.h, 0)
		}
		r.writeFrame(h.data, h.key, h.w, h.h, v.anchor+h.ext)
	}
	v.held = nil
}

// writeFrame writes one frame at pts; a keyframe sets the picture size.
func (r *recording) writeFrame(data []byte, key bool, w, h int, pts int64) {
	if key {
		r.ivf.SetSize(w, h)
	}
	if err := r.ivf.WriteFrame(data, pts); err != nil {
		r.log.Debug("frame not recorded", "err", err)
	}
}

// close flushes pending audio and finishes both files; later writes are
// dropped (the track goroutines may still be reading).
//
// end is when the call ended (zero: unknown). The audio runs on in silence
// up to it: a peer that stopped sending a moment before our end (it hung up
// first, or its last packets were lost) leaves no shorter file, so the
// recording lasts as long as the call and stays aligned when muxed.
func (r *recording) close(end time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.flushAudioLocked()
	r.anchorAudioLocked()
	r.anchorVideoLocked()
	if a := &r.audio; a.written && !end.IsZero() {
		const silence = 960 // samples in capture.OpusSilence
		for stop := r.ticks(end, 48000); a.end+silence <= stop; {
			a.end += silence
			if err := r.ogg.WritePacket(capture.OpusSilence, a.end); err != nil {
				r.log.Debug("silence not recorded", "err", err)
				break
			}
		}
	}
	r.closed = true
	return errors.Join(r.ivf.Close(), r.ogg.Close())
}
