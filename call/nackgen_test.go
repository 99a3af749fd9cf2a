package call

import (
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// requesterRig is a requester with a fake clock, a media stream (SSRC 1)
// and its RTX stream (SSRC 2) fed packet by packet.
type requesterRig struct {
	t         *testing.T
	now       time.Time
	rtt       atomic.Int64
	n         *nackRequester
	media     interceptor.RTPReader
	rtx       interceptor.RTPReader
	nextRead  []byte
	rtxSeqOut uint16
}

func newRequesterRig(t *testing.T, rtt time.Duration) *requesterRig {
	rig := &requesterRig{t: t, now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	rig.rtt.Store(int64(rtt))
	rig.n = newNACKRequester(nackInterval, &rig.rtt, func() time.Time { return rig.now })
	read := interceptor.RTPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		return copy(b, rig.nextRead), a, nil
	})
	nack := []interceptor.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}}
	rig.media = rig.n.BindRemoteStream(&interceptor.StreamInfo{SSRC: 1, MimeType: webrtc.MimeTypeVP8, RTCPFeedback: nack}, read)
	rig.rtx = rig.n.BindRemoteStream(&interceptor.StreamInfo{SSRC: 2, MimeType: webrtc.MimeTypeRTX}, read)
	return rig
}

func (rig *requesterRig) feed(r interceptor.RTPReader, p *rtp.Packet) {
	rig.t.Helper()
	raw, err := p.Marshal()
	if err != nil {
		rig.t.Fatal(err)
	}
	rig.nextRead = raw
	if _, _, err := r.Read(make([]byte, 1500), nil); err != nil {
		rig.t.Fatal(err)
	}
}

// recv delivers media packets with these sequence numbers.
func (rig *requesterRig) recv(seqs ...uint16) {
	for _, s := range seqs {
		rig.feed(rig.media, &rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 1, SequenceNumber: s}, Payload: []byte{1, 2, 3}})
	}
}

// repair delivers an RTX retransmission of seq.
func (rig *requesterRig) repair(seq uint16) {
	rig.rtxSeqOut++
	rig.feed(rig.rtx, &rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 2, SequenceNumber: rig.rtxSeqOut},
		Payload: []byte{byte(seq >> 8), byte(seq), 1, 2, 3}})
}

// due is what the requester asks for at offset d from the start.
func (rig *requesterRig) due(start time.Time, d time.Duration) []uint16 {
	rig.now = start.Add(d)
	got := rig.n.due()[1]
	sortSeqs(got)
	return got
}

// TestNACKRequesterOncePerRTTUntilRepaired: a gap is asked for at once,
// again after a round trip and a quarter, each request echoed nackEcho
// later, and no more once the repair has come on RTX or the packet came
// late on its own stream.
func TestNACKRequesterOncePerRTTUntilRepaired(t *testing.T) {
	rig := newRequesterRig(t, 100*time.Millisecond)
	start := rig.now
	rig.recv(10, 11, 14, 15) // 12 and 13 missing
	steps := []struct {
		at     time.Duration
		before func()
		want   []uint16
	}{
		{at: 0, want: []uint16{12, 13}},
		{at: 19 * time.Millisecond, want: nil},
		{at: 20 * time.Millisecond, want: []uint16{12, 13}}, // the echo
		{at: 40 * time.Millisecond, want: nil},
		{at: 60 * time.Millisecond, want: nil}, // the repair cannot be here yet
		{at: 124 * time.Millisecond, want: nil},
		{at: 125 * time.Millisecond, want: []uint16{12, 13}}, // lost again: ask again
		{at: 140 * time.Millisecond, before: func() { rig.repair(12) }, want: nil},
		{at: 145 * time.Millisecond, want: []uint16{13}}, // its echo; 12 came
		{at: 200 * time.Millisecond, want: nil},
		{at: 250 * time.Millisecond, want: []uint16{13}},
		{at: 260 * time.Millisecond, before: func() { rig.recv(13) }, want: nil}, // no echo: it came
		{at: 600 * time.Millisecond, want: nil},
	}
	for _, s := range steps {
		if s.before != nil {
			s.before()
		}
		if got := rig.due(start, s.at); !slices.Equal(got, s.want) {
			t.Errorf("at %v: asked for %v, want %v", s.at, got, s.want)
		}
	}
}

// TestNACKRequesterGivesUp: a packet is asked for at most nackMaxTries
// times (each echoed once) and not after nackMaxAge; a jump of more than
// nackMaxMissing is a restart, not loss.
func TestNACKRequesterGivesUp(t *testing.T) {
	for _, tc := range []struct {
		name      string
		rtt       time.Duration
		seqs      []uint16
		wantTries int // requests, echoes left out
	}{
		{name: "tries", rtt: time.Millisecond, seqs: []uint16{1, 3}, wantTries: nackMaxTries},
		{name: "age", rtt: 300 * time.Millisecond, seqs: []uint16{1, 3}, wantTries: 3}, // at 0, 375, 750 ms; 1125 > 1 s
		{name: "restart", rtt: time.Millisecond, seqs: []uint16{1, 1 + nackMaxMissing + 1}, wantTries: 0},
		{name: "wrap", rtt: time.Millisecond, seqs: []uint16{65535, 1}, wantTries: nackMaxTries}, // 0 missing
	} {
		t.Run(tc.name, func(t *testing.T) {
			rig := newRequesterRig(t, tc.rtt)
			start := rig.now
			rig.recv(tc.seqs...)
			tries := 0
			for d := time.Duration(0); d < 3*time.Second; d += nackInterval {
				tries += len(rig.due(start, d))
			}
			if tries != 2*tc.wantTries {
				t.Errorf("%d requests with their echoes, want %d", tries, 2*tc.wantTries)
			}
		})
	}
}

// TestNACKRequesterUnknownRTT: before the first report the requests are
// spaced by the default round trip.
func TestNACKRequesterUnknownRTT(t *testing.T) {
	rig := newRequesterRig(t, 0)
	start := rig.now
	rig.recv(1, 3)
	if got := rig.due(start, 0); !slices.Equal(got, []uint16{2}) {
		t.Fatalf("asked for %v, want [2]", got)
	}
	if got := rig.due(start, nackEcho); !slices.Equal(got, []uint16{2}) {
		t.Fatalf("echo: asked for %v, want [2]", got)
	}
	gap := nackDefaultRTT + nackDefaultRTT/4
	if got := rig.due(start, gap-time.Millisecond); got != nil {
		t.Errorf("asked again after %v: %v", gap-time.Millisecond, got)
	}
	if got := rig.due(start, gap); !slices.Equal(got, []uint16{2}) {
		t.Errorf("after %v asked for %v, want [2]", gap, got)
	}
}

func TestSortSeqsAcrossWrap(t *testing.T) {
	for _, tc := range []struct{ in, want []uint16 }{
		{in: []uint16{3, 1, 2}, want: []uint16{1, 2, 3}},
		{in: []uint16{2, 65534, 0, 65535}, want: []uint16{65534, 65535, 0, 2}},
		{in: []uint16{7}, want: []uint16{7}},
	} {
		got := slices.Clone(tc.in)
		sortSeqs(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("sortSeqs(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// TestNACKRequesterAwaiting: a track's reader polls for repairs while
// packets of its stream are asked for, and a little after a repair came
// (pion queues it for the reader after the interceptors saw it).
func TestNACKRequesterAwaiting(t *testing.T) {
	rig := newRequesterRig(t, 50*time.Millisecond)
	t0 := rig.now
	steps := []struct {
		name   string
		do     func()
		ssrc   uint32
		want   bool
		offset time.Duration
	}{
		{"nothing lost", func() { rig.recv(1, 2, 3) }, 1, false, 0},
		{"4 and 5 lost", func() { rig.recv(6) }, 1, true, 0},
		{"another stream", func() {}, 3, false, 0},
		{"4 repaired, 5 still out", func() { rig.repair(4) }, 1, true, 0},
		{"5 repaired", func() { rig.repair(5) }, 1, true, 10 * time.Millisecond},
		{"a repair just in, on any stream", func() {}, 3, true, 10 * time.Millisecond},
		{"the linger over", func() {}, 1, false, 10*time.Millisecond + repairLinger},
	}
	for _, s := range steps {
		rig.now = t0.Add(s.offset)
		s.do()
		if got := rig.n.awaiting(s.ssrc, repairLinger); got != s.want {
			t.Errorf("%s: awaiting(%d) = %v, want %v", s.name, s.ssrc, got, s.want)
		}
	}
}
