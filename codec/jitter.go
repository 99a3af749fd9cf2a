package codec

import (
	"fmt"
	"math"
	"sync"
	"time"
)

const (
	jbRing         = 128 // frames held (2.56 s of 20 ms frames)
	jbTransitWin   = 100 // packets over which the delay spread is measured
	jbShrinkMargin = 2   // frames above target before the buffer drops one
	jbMaxLateRun   = 25  // consecutive late packets that mean a sender restart
)

// FrameKind says where a frame handed out by AudioJitterBuffer.Pop came from.
type FrameKind int

// Frame kinds.
const (
	FrameSilence   FrameKind = iota // still buffering: silence
	FrameDecoded                    // decoded from its own packet
	FrameFEC                        // rebuilt from the next packet's in-band FEC
	FrameConcealed                  // packet loss concealment (silence without cgo)
)

func (k FrameKind) String() string {
	switch k {
	case FrameSilence:
		return "silence"
	case FrameDecoded:
		return "decoded"
	case FrameFEC:
		return "fec"
	case FrameConcealed:
		return "concealed"
	default:
		return fmt.Sprintf("FrameKind(%d)", int(k))
	}
}

// JitterBufferConfig configures an AudioJitterBuffer. Zero values take the
// defaults noted.
type JitterBufferConfig struct {
	SampleRate    int           // output rate, default 48000
	Channels      int           // output channels, default 1
	FrameDuration time.Duration // duration of every packet, default 20 ms
	MinDelay      time.Duration // lower bound of the target delay, default 20 ms
	MaxDelay      time.Duration // upper bound of the target delay, default 200 ms
	InitialDelay  time.Duration // target before jitter is measured, default 60 ms
}

func (c JitterBufferConfig) withDefaults() (JitterBufferConfig, error) {
	if c.SampleRate == 0 {
		c.SampleRate = 48000
	}
	if c.Channels == 0 {
		c.Channels = 1
	}
	if c.FrameDuration == 0 {
		c.FrameDuration = 20 * time.Millisecond
	}
	if c.MinDelay == 0 {
		c.MinDelay = 20 * time.Millisecond
	}
	if c.MaxDelay == 0 {
		c.MaxDelay = 200 * time.Millisecond
	}
	if c.InitialDelay == 0 {
		c.InitialDelay = 60 * time.Millisecond
	}
	if err := validOpusFormat(c.SampleRate, c.Channels); err != nil {
		return c, err
	}
	if err := validFrameDuration(c.FrameDuration); err != nil {
		return c, err
	}
	if c.MinDelay < 0 || c.MaxDelay < c.MinDelay || c.MaxDelay > time.Duration(jbRing/2)*c.FrameDuration {
		return c, fmt.Errorf("jitter buffer delay bounds %v..%v: %w", c.MinDelay, c.MaxDelay, ErrInvalidConfig)
	}
	c.InitialDelay = max(c.MinDelay, min(c.InitialDelay, c.MaxDelay))
	return c, nil
}

// JitterStats are the counters of an AudioJitterBuffer.
type JitterStats struct {
	Received     uint64        // packets accepted
	Duplicates   uint64        // packets received twice
	Late         uint64        // packets that came after their playout time
	Malformed    uint64        // empty packets and packets the decoder rejected
	Decoded      uint64        // frames played from their own packet
	FECRecovered uint64        // lost frames rebuilt from the next packet's FEC
	Lost         uint64        // frames whose packet was missing at playout time
	ConcealedMs  uint64        // milliseconds of PLC (or silence) played for losses and underruns
	Underruns    uint64        // Pop calls with nothing buffered
	Dropped      uint64        // times the delay was brought down by time compression (up to a frame each)
	CompressedMs uint64        // milliseconds of audio taken out by those compressions
	Jitter       time.Duration // RFC 3550 interarrival jitter
	TargetDelay  time.Duration // current target playout delay
	Buffered     time.Duration // audio between the playout point and the newest packet
}

type jbPacket struct {
	valid   bool
	idx     int64
	seq     uint16
	payload []byte
}

// AudioJitterBuffer reorders Opus RTP packets and hands out one frame of PCM
// per Pop, pulled by the playout clock. A single lost packet is rebuilt from
// the next packet's in-band FEC; longer gaps and underruns use libopus' PLC
// (silence in the CGO-free build). The target delay follows the measured
// spread of packet transit times, within [MinDelay, MaxDelay]: an underrun
// holds the playout point (the delay grows); a buffer deeper than the target
// is shortened by time compression: up to a frame's worth of audio, a whole
// number of the signal's periods where it has one, is cross-faded away
// (WSOLA-style), so a held note or a voice goes on without a click or a
// phase jump where a dropped frame would make both. Packets must each hold
// FrameDuration of audio. All methods are safe for concurrent use.
type AudioJitterBuffer struct {
	mu         sync.Mutex
	cfg        JitterBufferConfig
	dec        *OpusDecoder
	frameTicks int64 // RTP ticks (48 kHz) per frame
	frameLen   int   // samples per frame, all channels
	ring       [jbRing]jbPacket

	init      bool
	baseTS    int64 // extended RTP timestamp of frame index 0
	highestTS int64 // highest extended RTP timestamp seen
	highest   int64 // highest frame index received
	next      int64 // frame index to play next
	playing   bool
	lastSeq   uint16 // sequence number of the last frame played from a packet
	haveSeq   bool

	epoch     time.Time
	transit   [jbTransitWin]float64
	nTransit  int
	lastTr    float64
	jitter    float64 // seconds
	targetDur time.Duration

	lateRun int // consecutive late packets

	pcm     []int16   // one decoded frame
	out     []int16   // decoded audio not handed out yet (Pop's FIFO)
	outKind FrameKind // where the newest audio in out came from
	frame   []int16   // what Pop returns
	scratch []int16
	stats   JitterStats
}

// NewAudioJitterBuffer creates a jitter buffer with its own Opus decoder.
func NewAudioJitterBuffer(cfg JitterBufferConfig) (*AudioJitterBuffer, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	dec, err := NewOpusDecoder(cfg.SampleRate, cfg.Channels)
	if err != nil {
		return nil, err
	}
	frameSamples := int(int64(cfg.SampleRate) * int64(cfg.FrameDuration) / int64(time.Second))
	return &AudioJitterBuffer{
		cfg:        cfg,
		dec:        dec,
		frameTicks: int64(opusRTPClock) * int64(cfg.FrameDuration) / int64(time.Second),
		frameLen:   frameSamples * cfg.Channels,
		pcm:        make([]int16, frameSamples*cfg.Channels),
		out:        make([]int16, 0, 3*frameSamples*cfg.Channels),
		frame:      make([]int16, frameSamples*cfg.Channels),
		// Room for the longest Opus packet (120 ms) in case a sender
		// ignores the agreed frame duration.
		scratch:   make([]int16, cfg.SampleRate*120/1000*cfg.Channels),
		targetDur: cfg.InitialDelay,
	}, nil
}

// FrameSamples is the number of samples (all channels) of each Pop result.
func (j *AudioJitterBuffer) FrameSamples() int { return j.frameLen }

// Close releases the decoder.
func (j *AudioJitterBuffer) Close() error { return j.dec.Close() }

func (j *AudioJitterBuffer) slot(idx int64) *jbPacket { return &j.ring[idx&(jbRing-1)] }

// Push adds one RTP packet: its sequence number, RTP timestamp, Opus payload
// (copied) and arrival time. Packets too late to be played are counted and
// dropped.
func (j *AudioJitterBuffer) Push(seq uint16, ts uint32, payload []byte, arrival time.Time) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(payload) == 0 {
		j.stats.Malformed++
		return fmt.Errorf("opus packet %d: empty: %w", seq, ErrMalformedPacket)
	}
	return j.pushLocked(seq, ts, payload, arrival)
}

// restart forgets the stream but keeps the counters and the decoder.
func (j *AudioJitterBuffer) restart() {
	for i := range j.ring {
		j.ring[i].valid = false
	}
	j.init, j.playing, j.haveSeq = false, false, false
	j.next, j.highest, j.nTransit, j.lateRun = 0, 0, 0, 0
	j.out, j.outKind = j.out[:0], FrameSilence
	// The late packets fed absurd transit times: measure afresh.
	j.jitter, j.targetDur = 0, j.cfg.InitialDelay
}

func (j *AudioJitterBuffer) pushLocked(seq uint16, ts uint32, payload []byte, arrival time.Time) error {
	var ext int64
	if !j.init {
		j.init = true
		ext = 1<<40 | int64(ts) // the low 32 bits stay the RTP timestamp
		j.baseTS = ext
		j.highestTS = ext
		j.epoch = arrival
	} else {
		ext = j.highestTS + int64(int32(ts-uint32(j.highestTS)))
		if ext > j.highestTS {
			j.highestTS = ext
		}
	}
	j.measure(ext, arrival)

	d := ext - j.baseTS
	idx := int64(math.Floor(float64(d)/float64(j.frameTicks) + 0.5))
	if idx < j.next {
		if j.playing || j.stats.Decoded+j.stats.Lost > 0 {
			j.stats.Late++
			if j.lateRun++; j.lateRun >= jbMaxLateRun {
				// Only late packets for a while: the sender restarted
				// its timestamps. Start over with this packet.
				j.restart()
				return j.pushLocked(seq, ts, payload, arrival)
			}
			return nil
		}
		j.next = idx // reordered before the first packet, nothing played yet
	}
	j.lateRun = 0
	if idx-j.next >= jbRing {
		// The sender jumped far ahead (restart, clock jump): start over.
		for i := range j.ring {
			j.ring[i].valid = false
		}
		j.next, j.highest, j.playing, j.haveSeq = idx, idx, false, false
	}
	s := j.slot(idx)
	if s.valid && s.idx == idx {
		j.stats.Duplicates++
		return nil
	}
	s.valid, s.idx, s.seq = true, idx, seq
	s.payload = append(s.payload[:0], payload...)
	if idx > j.highest {
		j.highest = idx
	}
	j.stats.Received++
	return nil
}

// measure updates the RFC 3550 jitter and the target delay from one arrival.
func (j *AudioJitterBuffer) measure(ext int64, arrival time.Time) {
	tr := arrival.Sub(j.epoch).Seconds() - float64(ext-j.baseTS)/opusRTPClock
	if j.nTransit > 0 {
		j.jitter += (math.Abs(tr-j.lastTr) - j.jitter) / 16
	}
	j.lastTr = tr
	j.transit[j.nTransit%jbTransitWin] = tr
	j.nTransit++
	if j.nTransit < 10 {
		return // keep the initial target until there is something to measure
	}
	n := min(j.nTransit, jbTransitWin)
	lo, hi := j.transit[0], j.transit[0]
	for _, v := range j.transit[1:n] {
		lo, hi = min(lo, v), max(hi, v)
	}
	// The spread of transit times is the delay that absorbs it; one frame
	// more covers the phase between arrivals and the playout clock.
	target := time.Duration((hi-lo)*float64(time.Second)) + j.cfg.FrameDuration
	j.targetDur = max(j.cfg.MinDelay, min(target, j.cfg.MaxDelay))
}

func (j *AudioJitterBuffer) targetFrames() int64 {
	return int64((j.targetDur + j.cfg.FrameDuration - 1) / j.cfg.FrameDuration)
}

// Pop returns the next frame of interleaved PCM (FrameSamples() samples) and
// where its newest audio came from. The slice is reused by the next Pop call.
func (j *AudioJitterBuffer) Pop() ([]int16, FrameKind) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if !j.playing {
		if !j.init || j.highest-j.next+1 < j.targetFrames() {
			clear(j.frame)
			return j.frame, FrameSilence
		}
		j.playing = true
	}
	for len(j.out) < j.frameLen {
		j.fill()
	}
	// Deeper than the target: compress. The audio is decoded all the
	// same, so that the decoder's state stays continuous.
	if j.depth() > (j.targetFrames()+jbShrinkMargin)*int64(j.frameLen) {
		for len(j.out) < 2*j.frameLen {
			j.fill()
		}
		cut := compress(j.out, j.cfg.Channels, j.frameLen/j.cfg.Channels)
		j.out = j.out[:len(j.out)-cut*j.cfg.Channels]
		j.stats.Dropped++
		j.stats.CompressedMs += uint64(cut) * 1000 / uint64(j.cfg.SampleRate)
		for len(j.out) < j.frameLen {
			j.fill()
		}
	}
	copy(j.frame, j.out)
	j.out = j.out[:copy(j.out, j.out[j.frameLen:])]
	return j.frame, j.outKind
}

// depth is the audio between the playout point and the newest packet, in
// samples (all channels): the frames still to play, missing ones included,
// and what is decoded but not handed out yet.
func (j *AudioJitterBuffer) depth() int64 {
	return max(0, j.highest-j.next+1)*int64(j.frameLen) + int64(len(j.out))
}

// fill decodes the next frame (or conceals it) onto the end of j.out.
func (j *AudioJitterBuffer) fill() {
	j.outKind = j.nextFrame()
	j.out = append(j.out, j.pcm...)
}

// nextFrame puts the frame at the playout point into j.pcm and moves the
// playout point, unless nothing is buffered (an underrun holds it).
func (j *AudioJitterBuffer) nextFrame() FrameKind {
	frameMs := uint64(j.cfg.FrameDuration / time.Millisecond)
	j.skipDTX()
	if s := j.slot(j.next); s.valid && s.idx == j.next {
		s.valid = false
		j.next++
		j.lastSeq, j.haveSeq = s.seq, true
		if j.decodeInto(s.payload) {
			j.stats.Decoded++
			return FrameDecoded
		}
		j.stats.Malformed++
		j.conceal(frameMs)
		return FrameConcealed
	}

	if j.highest <= j.next {
		// Nothing buffered: hold the playout point (the delay grows by a
		// frame) and conceal.
		j.stats.Underruns++
		j.conceal(frameMs)
		return FrameConcealed
	}

	j.stats.Lost++
	// Only a next packet that really carries FEC rebuilds this one;
	// otherwise libopus would run PLC under the FEC name.
	if n := j.slot(j.next + 1); n.valid && n.idx == j.next+1 && j.dec.CanConceal() && OpusHasFEC(n.payload) {
		if err := j.dec.DecodeFEC(n.payload, j.pcm); err == nil {
			j.next++
			j.stats.FECRecovered++
			return FrameFEC
		}
	}
	j.next++
	j.conceal(frameMs)
	return FrameConcealed
}

// compress takes up to maxLag samples per channel out of the start of pcm
// (interleaved, at least 2×maxLag per channel long) and returns how many it
// took. It looks for the lag at which the signal best repeats itself (a
// multiple of a tone's or a voice's period, the longest one that fits
// preferred) and cross-fades pcm[:lag] into pcm[lag:2·lag], so the result
// goes on from the previous output without a step and runs into what
// follows without one. Silence loses maxLag samples outright.
func compress(pcm []int16, channels, maxLag int) int {
	minLag := maxLag / 4
	at := func(i int) float64 { return float64(pcm[i*channels]) } // first channel
	// score's second result is false for silence in either window.
	score := func(lag, step int) (float64, bool) {
		var xy, xx, yy float64
		for i := 0; i < lag; i += step {
			a, b := at(i), at(i+lag)
			xy, xx, yy = xy+a*b, xx+a*a, yy+b*b
		}
		if xx < 1e-3*float64(lag) || yy < 1e-3*float64(lag) {
			return 0, false
		}
		// Normalised correlation, with a small preference for long lags
		// (they shorten more at once).
		return xy/math.Sqrt(xx*yy) + 0.1*float64(lag)/float64(maxLag), true
	}
	// Coarse search over every 4th lag and sample, then a fine one around
	// the best lag: a frame's worth costs ~50 k multiply-adds.
	lag, best, silent := maxLag, math.Inf(-1), false
	for l := maxLag; l >= minLag && !silent; l -= 4 {
		v, ok := score(l, 4)
		silent = !ok
		if ok && v > best {
			lag, best = l, v
		}
	}
	if silent {
		lag = maxLag
	} else {
		lo, hi := max(minLag, lag-4), min(maxLag, lag+4)
		best = math.Inf(-1)
		for l := hi; l >= lo; l-- {
			if v, ok := score(l, 1); ok && v > best {
				lag, best = l, v
			}
		}
	}
	for i := range lag {
		w := float64(i) / float64(lag)
		for c := range channels {
			a, b := float64(pcm[i*channels+c]), float64(pcm[(i+lag)*channels+c])
			pcm[i*channels+c] = int16(math.Round(a*(1-w) + b*w))
		}
	}
	copy(pcm[lag*channels:], pcm[2*lag*channels:])
	return lag
}

// skipDTX moves the playout point over a pause of the sender: when the
// packet for next is missing and the first later packet directly follows the
// last one played in sequence numbers, nothing was lost, the sender skipped
// time (DTX), and playout resumes at that packet.
func (j *AudioJitterBuffer) skipDTX() {
	if !j.haveSeq {
		return
	}
	if s := j.slot(j.next); s.valid && s.idx == j.next {
		return
	}
	for i := j.next + 1; i <= j.highest; i++ {
		if s := j.slot(i); s.valid && s.idx == i {
			if s.seq == j.lastSeq+1 {
				j.next = i
			}
			return
		}
	}
}

// decodeInto decodes payload into j.pcm, padding or cutting to one frame.
func (j *AudioJitterBuffer) decodeInto(payload []byte) bool {
	n, err := j.dec.Decode(payload, j.scratch)
	if err != nil {
		return false
	}
	got := n * j.cfg.Channels
	copy(j.pcm, j.scratch[:min(got, j.frameLen)])
	if got < j.frameLen {
		clear(j.pcm[got:])
	}
	return true
}

// conceal fills j.pcm with PLC, or silence when the decoder cannot conceal.
func (j *AudioJitterBuffer) conceal(frameMs uint64) {
	j.stats.ConcealedMs += frameMs
	if !j.dec.CanConceal() || j.dec.DecodePLC(j.pcm) != nil {
		clear(j.pcm)
	}
}

// Stats returns a snapshot of the counters.
func (j *AudioJitterBuffer) Stats() JitterStats {
	j.mu.Lock()
	defer j.mu.Unlock()
	s := j.stats
	s.Jitter = time.Duration(j.jitter * float64(time.Second))
	s.TargetDelay = j.targetDur
	if j.init {
		s.Buffered = time.Duration(j.depth()) * time.Second / time.Duration(j.cfg.SampleRate*j.cfg.Channels)
	}
	return s
}
