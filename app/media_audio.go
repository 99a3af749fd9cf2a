package app

import (
	"context"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/peercall/peercall/capture"
	"github.com/peercall/peercall/codec"
)

// audioReceiver feeds received Opus RTP into the jitter buffer (FEC for
// single losses, PLC for longer gaps) and records it when asked. Playout
// pulls frames: the GUI through the audio device, headless through a 20 ms
// ticker (playout).
type audioReceiver struct {
	jb  *codec.AudioJitterBuffer
	rec *recording // optional --record sink
	log *slog.Logger
	// player, if set, plays jb on a device instead of the 20 ms ticker
	// (the GUI); the returned stop is called before jb closes.
	player func(jb *codec.AudioJitterBuffer) (stop func())

	mu      sync.Mutex
	first   time.Time
	last    time.Time
	packets int
	played  int // frames pulled by playout
	// tail is the concealed frames since the last real one: after a peer
	// hung up, what played while the hang-up was on its way.
	tail     int
	lastSeq  uint16
	haveSeq  bool
	seqLost  int
	frameDur time.Duration
}

func newAudioReceiver(rec *recording, log *slog.Logger) *audioReceiver {
	a := &audioReceiver{rec: rec, log: log, frameDur: 20 * time.Millisecond}
	jb, err := codec.NewAudioJitterBuffer(codec.JitterBufferConfig{SampleRate: 48000, Channels: 1})
	if err != nil {
		log.Warn("audio jitter buffer unavailable", "err", err)
	} else {
		a.jb = jb
	}
	return a
}

func (a *audioReceiver) run(tr rtpReader) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	playDone := make(chan struct{})
	stopPlayer := func() {}
	if a.player != nil && a.jb != nil {
		stopPlayer = a.player(a.jb)
		close(playDone)
	} else {
		go func() {
			defer close(playDone)
			a.playout(ctx)
		}()
	}
	defer func() {
		cancel()
		<-playDone
		stopPlayer()
		if a.jb != nil {
			_ = a.jb.Close()
		}
	}()
	for {
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		now := time.Now()
		a.mu.Lock()
		if a.first.IsZero() {
			a.first = now
		}
		a.last = now
		a.packets++
		if a.haveSeq {
			if d := pkt.SequenceNumber - a.lastSeq; d > 1 && d < 0x8000 {
				a.seqLost += int(d - 1)
			}
		}
		if !a.haveSeq || pkt.SequenceNumber-a.lastSeq < 0x8000 {
			a.lastSeq, a.haveSeq = pkt.SequenceNumber, true
		}
		a.mu.Unlock()
		if a.rec != nil {
			a.rec.audioPacket(pkt.SequenceNumber, pkt.Timestamp, pkt.Payload, now)
		}
		if a.jb != nil {
			if err := a.jb.Push(pkt.SequenceNumber, pkt.Timestamp, pkt.Payload, now); err != nil {
				a.log.Debug("dropping audio packet", "err", err)
			}
		}
	}
}

// playout pulls one frame per frame duration once audio has started, as a
// sound card would.
func (a *audioReceiver) playout(ctx context.Context) {
	if a.jb == nil {
		return
	}
	t := time.NewTicker(a.frameDur)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if a.firstPacket().IsZero() {
				continue
			}
			_, kind := a.jb.Pop()
			a.mu.Lock()
			a.played++
			switch kind {
			case codec.FrameConcealed:
				a.tail++
			case codec.FrameDecoded, codec.FrameFEC:
				a.tail = 0
			}
			a.mu.Unlock()
		}
	}
}

func (a *audioReceiver) firstPacket() time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.first
}

// count is the packets received so far.
func (a *audioReceiver) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.packets
}

// packetSpan is when the first and the last packet arrived (zero if none).
func (a *audioReceiver) packetSpan() (first, last time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.first, a.last
}

// endTailGrace is how much concealment after the peer's last packet a
// call that ended on our side still leaves out: two peers that ran the
// same --duration end within moments of each other, and the one a little
// later played on while the other had stopped sending and its bye was on
// the way (3 peers under CI load: 300 ms both ways between two of them).
const endTailGrace = time.Second

// tailLeftOut tells whether the concealment after the peer's last packet,
// tail long, is left out of a session that ended so: all of it when the
// peer hung up or left (the stream ended there, nothing was lost), up to
// endTailGrace when our side ended the call.
func tailLeftOut(ended string, tail time.Duration) bool {
	switch ended {
	case endPeerHungUp, endPeerLeft:
		return true
	case endDuration, endInterrupted:
		return tail <= endTailGrace
	}
	return false
}

// summary is the session's audio figures for a session that ended so
// (an end* value; tailLeftOut).
func (a *audioReceiver) summary(ended string) AudioInStats {
	a.mu.Lock()
	st := AudioInStats{PacketsReceived: a.packets, PacketsLost: a.seqLost}
	played, tail := a.played, a.tail
	a.mu.Unlock()
	if !tailLeftOut(ended, time.Duration(tail)*a.frameDur) {
		tail = 0
	}
	if a.jb != nil {
		js := a.jb.Stats()
		st.FECRecovered = int(js.FECRecovered)
		played -= tail
		st.ConcealedMS = max(0, float64(js.ConcealedMs)-float64(tail)*float64(a.frameDur.Milliseconds()))
		if played > 0 {
			st.ConcealedRatio = st.ConcealedMS / (float64(played) * float64(a.frameDur.Milliseconds()))
		}
	}
	return st
}

// audioReorderDepth is how many packets past a missing one the recorder
// waits before it counts the packet lost (200 ms of 20 ms packets: far
// beyond loopback or LAN reordering, short enough to bound memory).
const audioReorderDepth = 10

// audioRecState puts received Opus packets back in sequence order for the
// recording and maps RTP timestamps to granule positions (owned by
// recording.mu).
type audioRecState struct {
	started bool
	next    int64 // extended sequence number to write next
	maxSeq  int64 // highest extended sequence number seen
	pending map[int64]recAudioPkt

	timed   bool // the first in-order packet has fixed lastTS
	lastTS  uint32
	extTS   int64 // RTP timestamp of the last packet in order, unwrapped, from the first
	hold    startHold
	held    []heldAudio // the start, until it is placed
	base    int64       // granule of RTP time 0 (the first packet's)
	written bool
	end     int64 // granule where the written audio ends
}

type heldAudio struct {
	payload []byte
	n       int64 // samples
	ext     int64
}

type recAudioPkt struct {
	ts      uint32
	payload []byte
	arrival time.Time
}

// audioPacket takes one received packet (arrival order).
func (r *recording) audioPacket(seq uint16, ts uint32, payload []byte, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.openLocked(now) {
		return
	}
	a := &r.audio
	if !a.started {
		a.started, a.next, a.maxSeq = true, int64(seq), int64(seq)
		a.pending = make(map[int64]recAudioPkt)
	}
	ext := a.maxSeq + int64(int16(seq-uint16(a.maxSeq)))
	if ext < a.next {
		return // later than the reorder window: already counted lost
	}
	if _, dup := a.pending[ext]; dup {
		return
	}
	a.maxSeq = max(a.maxSeq, ext)
	a.pending[ext] = recAudioPkt{ts: ts, payload: append([]byte(nil), payload...), arrival: now}
	for {
		if p, ok := a.pending[a.next]; ok {
			delete(a.pending, a.next)
			r.writeAudioLocked(p)
			a.next++
			continue
		}
		if a.maxSeq-a.next < audioReorderDepth {
			return
		}
		a.next++ // lost: its time is filled when the next packet is written
	}
}

// flushAudioLocked writes whatever waits in the reorder buffer, in order.
func (r *recording) flushAudioLocked() {
	a := &r.audio
	for ; a.started && len(a.pending) > 0 && a.next <= a.maxSeq; a.next++ {
		if p, ok := a.pending[a.next]; ok {
			delete(a.pending, a.next)
			r.writeAudioLocked(p)
		}
	}
}

// writeAudioLocked takes the next packet in sequence order: held while
// the anchor is found (see recording), then written at the granule its
// RTP timestamp gives.
func (r *recording) writeAudioLocked(p recAudioPkt) {
	a := &r.audio
	n := int64(capture.OpusPacketSamples(p.payload))
	if n == 0 {
		return
	}
	if !a.timed {
		a.timed, a.lastTS = true, p.ts
	}
	a.extTS += int64(int32(p.ts - a.lastTS))
	a.lastTS = p.ts
	if a.hold.placed {
		r.putAudioLocked(p.payload, n, a.base+a.extTS)
		return
	}
	a.held = append(a.held, heldAudio{payload: p.payload, n: n, ext: a.extTS})
	// A packet leaves only once its last sample is captured: it arrived
	// its length after a packet of its first sample alone would have.
	if a.hold.note(p.arrival, a.extTS+n, 48000) {
		r.anchorAudioLocked()
	}
}

// anchorAudioLocked places the audio by its held start and writes it.
func (r *recording) anchorAudioLocked() {
	a := &r.audio
	if a.hold.placed || len(a.held) == 0 {
		return
	}
	a.base = r.placeLocked(&a.hold, 48000)
	for _, h := range a.held {
		r.putAudioLocked(h.payload, h.n, a.base+h.ext)
	}
	a.held = nil
}

// putAudioLocked writes one packet of n samples at granule start, after
// silence for any time since the last packet (lost packets, or the lead-in
// before the first one): a player then keeps the recording's duration and
// its alignment with the video.
func (r *recording) putAudioLocked(payload []byte, n, start int64) {
	a := &r.audio
	if start < a.end {
		return // overlaps what is written (a timestamp jump back)
	}
	const silence = 960 // samples in capture.OpusSilence
	for a.end+silence <= start {
		a.end += silence
		if err := r.ogg.WritePacket(capture.OpusSilence, a.end); err != nil {
			r.log.Debug("silence not recorded", "err", err)
		}
	}
	a.written = true
	a.end = start + n
	if err := r.ogg.WritePacket(payload, a.end); err != nil {
		r.log.Debug("audio packet not recorded", "err", err)
	}
}

// audioMixer plays every peer's audio through the one speaker: the player
// pulls the mix, each jitter buffer gives its share (summed with
// saturation). It meters each peer for the active-speaker highlight.
type audioMixer struct {
	spk *speakerOut
	// render receives every sample the speaker plays (the echo
	// canceller's reference); set before the first add.
	render func([]int16)

	mu      sync.Mutex // held while pulling: jitter sources are not reentrant
	srcs    []*mixInput
	scratch []int16
	acc     []int32
	stop    func() // ends playback; nil until the first input
	closed  bool
	out     float64 // level of the mix, 0..1
}

type mixInput struct {
	peer  string
	src   codec.AudioSource
	level float64
}

func newAudioMixer(spk *speakerOut, render func([]int16)) *audioMixer {
	if render == nil {
		render = func([]int16) {}
	}
	return &audioMixer{spk: spk, render: render}
}

// add mixes jb in from now on; the returned func takes it out.
func (m *audioMixer) add(peer string, jb *codec.AudioJitterBuffer) (remove func()) {
	in := &mixInput{peer: peer, src: codec.JitterSource(jb)}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return func() {}
	}
	m.srcs = append(m.srcs, in)
	start := m.stop == nil
	if start {
		m.stop = func() {} // placeholder: start below, outside mu
	}
	m.mu.Unlock()
	if start {
		// Not under mu: the device's callback takes it.
		stop := m.spk.start(m.pull)
		m.mu.Lock()
		closed := m.closed
		if !closed {
			m.stop = stop
		}
		m.mu.Unlock()
		if closed {
			stop() // closed while the device opened
		}
	}
	return func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.srcs = slices.DeleteFunc(m.srcs, func(s *mixInput) bool { return s == in })
	}
}

// pull is the speaker's source: the mix, also handed to the echo
// canceller as what the speaker plays.
func (m *audioMixer) pull(pcm []int16) {
	m.mix(pcm)
	m.render(pcm)
}

func (m *audioMixer) mix(pcm []int16) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch len(m.srcs) {
	case 0:
		clear(pcm)
		m.out = 0
		return
	case 1:
		m.srcs[0].src(pcm)
		m.srcs[0].level = Level(pcm)
		m.out = m.srcs[0].level
		return
	}
	if cap(m.scratch) < len(pcm) {
		m.scratch, m.acc = make([]int16, len(pcm)), make([]int32, len(pcm))
	}
	buf, acc := m.scratch[:len(pcm)], m.acc[:len(pcm)]
	clear(acc)
	for _, in := range m.srcs {
		in.src(buf)
		in.level = Level(buf)
		for i, v := range buf {
			acc[i] += int32(v)
		}
	}
	for i, v := range acc {
		pcm[i] = int16(min(max(v, math.MinInt16), math.MaxInt16))
	}
	m.out = Level(pcm)
}

// levels are the mix's level and each peer's (the loudest of its tracks).
func (m *audioMixer) levels() (mix float64, peers map[string]float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	peers = make(map[string]float64, len(m.srcs))
	for _, in := range m.srcs {
		peers[in.peer] = max(peers[in.peer], in.level)
	}
	return m.out, peers
}

// close stops playback for good.
func (m *audioMixer) close() {
	m.mu.Lock()
	m.closed = true
	stop := m.stop
	m.stop = nil
	m.srcs = nil
	m.mu.Unlock()
	if stop != nil {
		stop()
	}
}
