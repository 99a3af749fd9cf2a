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
	Dropped      uint64        // frames skipped to bring the delay down (missing ones also count as Lost)
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
// holds the playout point (the delay grows), a buffer deeper than the target
// drops a frame. Packets must each hold FrameDuration of audio. All methods
// are safe for concurrent use.
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

	pcm     []int16
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
// where it came from. The slice is reused by the next Pop call.
func (j *AudioJitterBuffer) Pop() ([]int16, FrameKind) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if !j.playing {
		if !j.init || j.highest-j.next+1 < j.targetFrames() {
			clear(j.pcm)
			return j.pcm, FrameSilence
		}
		j.playing = true
	}
	frameMs := uint64(j.cfg.FrameDuration / time.Millisecond)
	j.skipDTX()

	// Deeper than the target: drop one frame (still decoded, so that the
	// decoder state stays continuous).
	if j.highest-j.next+1 > j.targetFrames()+jbShrinkMargin {
		if s := j.slot(j.next); s.valid && s.idx == j.next {
			_, _ = j.dec.Decode(s.payload, j.scratch)
			j.lastSeq, j.haveSeq = s.seq, true
			s.valid = false
		} else {
			j.stats.Lost++ // skipped, so never concealed either
		}
		j.next++
		j.stats.Dropped++
	}

	if s := j.slot(j.next); s.valid && s.idx == j.next {
		s.valid = false
		j.next++
		j.lastSeq, j.haveSeq = s.seq, true
		if j.decodeInto(s.payload) {
			j.stats.Decoded++
			return j.pcm, FrameDecoded
		}
		j.stats.Malformed++
		j.conceal(frameMs)
		return j.pcm, FrameConcealed
	}

	if j.highest <= j.next {
		// Nothing buffered: hold the playout point (the delay grows by a
		// frame) and conceal.
		j.stats.Underruns++
		j.conceal(frameMs)
		return j.pcm, FrameConcealed
	}

	j.stats.Lost++
	// Only a next packet that really carries FEC rebuilds this one;
	// otherwise libopus would run PLC under the FEC name.
	if n := j.slot(j.next + 1); n.valid && n.idx == j.next+1 && j.dec.CanConceal() && OpusHasFEC(n.payload) {
		if err := j.dec.DecodeFEC(n.payload, j.pcm); err == nil {
			j.next++
			j.stats.FECRecovered++
			return j.pcm, FrameFEC
		}
	}
	j.next++
	j.conceal(frameMs)
	return j.pcm, FrameConcealed
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
		s.Buffered = time.Duration(max(0, j.highest-j.next+1)) * j.cfg.FrameDuration
	}
	return s
}
