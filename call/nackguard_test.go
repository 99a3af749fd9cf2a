package call

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// guardRig is a guard with a fake clock, one local stream (SSRC 1) and a
// queue of RTCP packets to read.
type guardRig struct {
	t     *testing.T
	now   time.Time
	g     *nackGuard
	w     interceptor.RTPWriter
	r     interceptor.RTCPReader
	queue [][]byte
}

func newGuardRig(t *testing.T) *guardRig {
	return newGuardRigFor(t, "")
}

// newGuardRigFor is a rig whose stream carries mime.
func newGuardRigFor(t *testing.T, mime string) *guardRig {
	rig := &guardRig{t: t, now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	rig.g = newNACKGuard(func() time.Time { return rig.now })
	rig.w = rig.g.BindLocalStream(&interceptor.StreamInfo{SSRC: 1, MimeType: mime},
		interceptor.RTPWriterFunc(func(h *rtp.Header, p []byte, _ interceptor.Attributes) (int, error) { return len(p), nil }))
	rig.r = rig.g.BindRTCPReader(interceptor.RTCPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		if len(rig.queue) == 0 {
			return 0, nil, errEndOfTest
		}
		n := copy(b, rig.queue[0])
		rig.queue = rig.queue[1:]
		return n, a, nil
	}))
	return rig
}

type testErr string

func (e testErr) Error() string { return string(e) }

const errEndOfTest = testErr("no more RTCP")

// send writes packets seq from..to of 1000 payload bytes now.
func (rig *guardRig) send(from, to uint16) {
	for s := from; s <= to; s++ {
		if _, err := rig.w.Write(&rtp.Header{SSRC: 1, SequenceNumber: s}, make([]byte, 1000), nil); err != nil {
			rig.t.Fatal(err)
		}
	}
}

// nack feeds compound packets and returns the NACKed sequence numbers and
// other packets the responder would see from the next read.
func (rig *guardRig) read(pkts ...[]rtcp.Packet) (seqs []uint16, others int) {
	rig.t.Helper()
	for _, p := range pkts {
		raw, err := rtcp.Marshal(p)
		if err != nil {
			rig.t.Fatal(err)
		}
		rig.queue = append(rig.queue, raw)
	}
	b := make([]byte, 1500)
	n, _, err := rig.r.Read(b, interceptor.Attributes{})
	if err == errEndOfTest {
		return nil, 0
	}
	if err != nil {
		rig.t.Fatal(err)
	}
	got, err := rtcp.Unmarshal(b[:n])
	if err != nil {
		rig.t.Fatal(err)
	}
	for _, p := range got {
		if nk, ok := p.(*rtcp.TransportLayerNack); ok {
			for _, pair := range nk.Nacks {
				seqs = append(seqs, pair.PacketList()...)
			}
			continue
		}
		others++
	}
	return seqs, others
}

func nackOf(seqs ...uint16) []rtcp.Packet {
	return []rtcp.Packet{&rtcp.TransportLayerNack{SenderSSRC: 9, MediaSSRC: 1, Nacks: rtcp.NackPairsFromSequenceNumbers(seqs)}}
}

// rrFor is a receiver report whose LSR/DLSR make a round trip of rtt when
// read at the rig's now.
func (rig *guardRig) rrFor(rtt, dlsr time.Duration) []rtcp.Packet {
	lsr := ntpMiddle(rig.now.Add(-rtt - dlsr))
	return []rtcp.Packet{&rtcp.ReceiverReport{SSRC: 9, Reports: []rtcp.ReceptionReport{{SSRC: 1,
		LastSenderReport: lsr, Delay: uint32(dlsr * 65536 / time.Second)}}}}
}

func TestNACKGuardOncePerRTT(t *testing.T) {
	rig := newGuardRig(t)
	rig.send(1, 50)
	rig.now = rig.now.Add(20 * time.Millisecond)
	if _, others := rig.read(rig.rrFor(100*time.Millisecond, 30*time.Millisecond)); others != 1 {
		t.Fatal("the receiver report did not pass")
	}
	if d := rig.g.rtt - 100*time.Millisecond; d < -time.Millisecond || d > time.Millisecond {
		t.Fatalf("rtt %v, want 100ms", rig.g.rtt)
	}
	if seqs, _ := rig.read(nackOf(10, 11, 12)); len(seqs) != 3 {
		t.Fatalf("first NACK: %v, want all three", seqs)
	}
	// The generator asks again 30 ms later: too soon, dropped whole (the
	// reader moves on to the next packet, a NACK for 13).
	rig.now = rig.now.Add(30 * time.Millisecond)
	if seqs, _ := rig.read(nackOf(10, 11, 12), nackOf(13, 11)); len(seqs) != 1 || seqs[0] != 13 {
		t.Fatalf("repeat within the RTT: %v, want [13]", seqs)
	}
	// After a round trip the repair may be lost: resend.
	rig.now = rig.now.Add(80 * time.Millisecond)
	if seqs, _ := rig.read(nackOf(10)); len(seqs) != 1 {
		t.Fatalf("after the RTT: %v, want [10]", seqs)
	}
	// Unknown packets go to the responder as they are.
	if seqs, _ := rig.read(nackOf(500)); len(seqs) != 1 {
		t.Fatalf("unknown seq: %v", seqs)
	}
}

// TestNACKGuardRepeatedRoundTwice: from a packet's second round of repairs
// on, the request's echo (nackEcho) brings a second copy, once per round
// and not right after the first, while no queue stands in the path; the
// first round is resent once.
func TestNACKGuardRepeatedRoundTwice(t *testing.T) {
	type step struct {
		at   time.Duration
		want int // copies of packet 10 let through
	}
	doubled := []step{
		{0, 1},                      // the request
		{20 * time.Millisecond, 0},  // its echo: the first round's repair may be on its way
		{125 * time.Millisecond, 1}, // asked again: the repair or the request was lost
		{145 * time.Millisecond, 1}, // the echo: a second copy
		{150 * time.Millisecond, 0}, // one second copy per round
		{250 * time.Millisecond, 1}, // a third round
		{255 * time.Millisecond, 0}, // too close to the first copy: the same burst
		{270 * time.Millisecond, 1}, // its echo
		{300 * time.Millisecond, 0},
	}
	once := []step{
		{0, 1}, {20 * time.Millisecond, 0},
		{125 * time.Millisecond, 1}, {145 * time.Millisecond, 0}, // late more often than lost: no second copy
		{250 * time.Millisecond, 1}, {270 * time.Millisecond, 0},
	}
	tests := []struct {
		name      string
		queueFree *atomic.Bool // nil: not told
		steps     []step
	}{
		{"no queue", boolOf(true), doubled},
		{"not told", nil, doubled},
		{"a queue stands", boolOf(false), once},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rig := newGuardRig(t)
			rig.g.queueFree = tt.queueFree
			rig.send(1, 50)
			start := rig.now.Add(20 * time.Millisecond)
			rig.now = start
			rig.read(rig.rrFor(100*time.Millisecond, 30*time.Millisecond))
			for _, s := range tt.steps {
				rig.now = start.Add(s.at)
				seqs, _ := rig.read(nackOf(10))
				if len(seqs) != s.want {
					t.Errorf("at %v: %v let through, want %d copies", s.at, seqs, s.want)
				}
			}
		})
	}
}

func boolOf(v bool) *atomic.Bool {
	b := &atomic.Bool{}
	b.Store(v)
	return b
}

func TestNACKGuardStale(t *testing.T) {
	rig := newGuardRig(t)
	rig.send(1, 10)
	rig.now = rig.now.Add(1500 * time.Millisecond)
	rig.send(11, 20)
	// A NACK after an outage for old and recent packets: the old are stale.
	seqs, others := rig.read([]rtcp.Packet{&rtcp.PictureLossIndication{SenderSSRC: 9, MediaSSRC: 1}, nackOf(5, 6, 15)[0]})
	if len(seqs) != 1 || seqs[0] != 15 || others != 1 {
		t.Fatalf("got %v and %d others, want [15] and the PLI", seqs, others)
	}
}

// TestNACKGuardKeyFrameRequest: once the receiver asks for a keyframe
// (PLI or FIR), the packets sent before it are not resent; the ones sent
// after it are, and the request itself passes.
func TestNACKGuardKeyFrameRequest(t *testing.T) {
	for _, tc := range []struct {
		name string
		ask  rtcp.Packet
		want []uint16 // resent of 5, 15 (before the request) and 25 (after)
	}{
		{"PLI", &rtcp.PictureLossIndication{SenderSSRC: 9, MediaSSRC: 1}, []uint16{25}},
		{"FIR", &rtcp.FullIntraRequest{SenderSSRC: 9, FIR: []rtcp.FIREntry{{SSRC: 1, SequenceNumber: 1}}}, []uint16{25}},
		{"another stream's PLI", &rtcp.PictureLossIndication{SenderSSRC: 9, MediaSSRC: 2}, []uint16{5, 15, 25}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rig := newGuardRig(t)
			rig.send(1, 10)
			rig.now = rig.now.Add(50 * time.Millisecond)
			rig.send(11, 20)
			rig.now = rig.now.Add(10 * time.Millisecond)
			if _, others := rig.read([]rtcp.Packet{tc.ask}); others != 1 {
				t.Fatal("the keyframe request did not pass")
			}
			rig.now = rig.now.Add(10 * time.Millisecond)
			rig.send(21, 30)
			rig.now = rig.now.Add(30 * time.Millisecond)
			if seqs, _ := rig.read(nackOf(5, 15, 25)); fmt.Sprint(seqs) != fmt.Sprint(tc.want) {
				t.Fatalf("resent %v, want %v", seqs, tc.want)
			}
		})
	}
}

// TestNACKGuardKeyFrameSent: on a VP8 stream, the packets sent before the
// latest keyframe are not resent (the receiver starts again from it); the
// keyframe's and later ones are. A delta frame changes nothing, and on a
// stream that is not VP8 the payload is not read.
func TestNACKGuardKeyFrameSent(t *testing.T) {
	key := []byte{0x90, 0x80, 0x12, 0x00, 0x9d, 0x01, 0x2a} // X, I (7 bits), S; P clear
	delta := []byte{0x90, 0x80, 0x13, 0x01}                 // P set
	for _, tc := range []struct {
		name  string
		mime  string
		frame []byte
		want  []uint16 // resent of 5 (before), 11 (the frame's first packet) and 15 (after)
	}{
		{"keyframe", "video/VP8", key, []uint16{11, 15}},
		{"keyframe, mime in lower case", "video/vp8", key, []uint16{11, 15}},
		{"delta frame", "video/VP8", delta, []uint16{5, 11, 15}},
		{"not VP8", "video/H264", key, []uint16{5, 11, 15}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rig := newGuardRigFor(t, tc.mime)
			rig.send(1, 10)
			rig.now = rig.now.Add(30 * time.Millisecond)
			if _, err := rig.w.Write(&rtp.Header{SSRC: 1, SequenceNumber: 11}, tc.frame, nil); err != nil {
				t.Fatal(err)
			}
			rig.send(12, 20)
			rig.now = rig.now.Add(30 * time.Millisecond)
			if seqs, _ := rig.read(nackOf(5, 11, 15)); fmt.Sprint(seqs) != fmt.Sprint(tc.want) {
				t.Fatalf("resent %v, want %v", seqs, tc.want)
			}
		})
	}
}

// TestNACKGuardLinkNarrowed: once the link is found much narrower, the
// VP8 packets sent before are not resent (the keyframe of the smaller
// picture follows); later ones are, and other streams are left alone.
func TestNACKGuardLinkNarrowed(t *testing.T) {
	for _, tc := range []struct {
		name string
		mime string
		want []uint16 // resent of 5 (before) and 15 (after)
	}{
		{"VP8", "video/VP8", []uint16{15}},
		{"audio", "audio/opus", []uint16{5, 15}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rig := newGuardRigFor(t, tc.mime)
			var narrowedAt atomic.Int64
			rig.g.narrowedAt = &narrowedAt
			rig.send(1, 10)
			rig.now = rig.now.Add(30 * time.Millisecond)
			narrowedAt.Store(rig.now.UnixNano())
			rig.now = rig.now.Add(time.Millisecond)
			rig.send(11, 20)
			rig.now = rig.now.Add(30 * time.Millisecond)
			if seqs, _ := rig.read(nackOf(5, 15)); fmt.Sprint(seqs) != fmt.Sprint(tc.want) {
				t.Fatalf("resent %v, want %v", seqs, tc.want)
			}
		})
	}
}

// TestVP8KeyStart reads the payload descriptor's optional fields.
func TestVP8KeyStart(t *testing.T) {
	for _, tc := range []struct {
		name    string
		payload []byte
		want    bool
	}{
		{"no extension", []byte{0x10, 0x00}, true},
		{"picture ID, 7 bits", []byte{0x90, 0x80, 0x05, 0x00}, true},
		{"picture ID, 15 bits", []byte{0x90, 0x80, 0x85, 0x05, 0x00}, true},
		{"picture ID, 15 bits, delta", []byte{0x90, 0x80, 0x85, 0x05, 0x01}, false},
		{"all fields", []byte{0x90, 0xf0, 0x85, 0x05, 0x07, 0x20, 0x00}, true},
		{"all fields, delta", []byte{0x90, 0xf0, 0x85, 0x05, 0x07, 0x20, 0x01}, false},
		{"TID only", []byte{0x90, 0x20, 0x40, 0x00}, true},
		{"not a frame's start", []byte{0x80, 0x80, 0x05, 0x00}, false},
		{"a later partition", []byte{0x11, 0x00}, false},
		{"delta", []byte{0x10, 0x01}, false},
		{"descriptor only", []byte{0x90, 0x80, 0x05}, false},
		{"cut in the picture ID", []byte{0x90, 0x80}, false},
		{"cut in the extension", []byte{0x90}, false},
		{"empty", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := vp8KeyStart(tc.payload); got != tc.want {
				t.Errorf("vp8KeyStart(% x) = %v, want %v", tc.payload, got, tc.want)
			}
		})
	}
}

func TestNACKGuardPassesOtherRTCP(t *testing.T) {
	rig := newGuardRig(t)
	pli := []rtcp.Packet{&rtcp.PictureLossIndication{SenderSSRC: 9, MediaSSRC: 1}}
	raw, _ := rtcp.Marshal(pli)
	rig.queue = append(rig.queue, raw)
	b := make([]byte, 1500)
	n, _, err := rig.r.Read(b, nil)
	if err != nil || string(b[:n]) != string(raw) {
		t.Fatalf("PLI changed: %v %x", err, b[:n])
	}
}

// TestNACKGuardRepairBudget: repairs take at most nackBudgetShare of the
// target, after a burst of nackBudgetBurst (or nackBudgetMin bytes), and
// the budget refills with time; the shared round trip follows the reports.
func TestNACKGuardRepairBudget(t *testing.T) {
	for _, tc := range []struct {
		name   string
		target int64
		burst  int // packets of 1012 bytes the first NACK gets
	}{
		// 0.5 × 1 Mbit/s × 250 ms = 15625 bytes: 15 packets.
		{name: "1M", target: 1_000_000, burst: 15},
		// 0.5 × 100 kbit/s × 250 ms = 1562 bytes, under the 6000-byte floor.
		{name: "100k", target: 100_000, burst: 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rig := newGuardRig(t)
			var target, rtt, repaired atomic.Int64
			target.Store(tc.target)
			rig.g.target, rig.g.shared, rig.g.repaired = &target, &rtt, &repaired
			rig.send(1, 100)
			all := make([]uint16, 60)
			for i := range all {
				all[i] = uint16(i + 1)
			}
			if seqs, _ := rig.read(nackOf(all...)); len(seqs) != tc.burst {
				t.Fatalf("first NACK let %d through, want %d", len(seqs), tc.burst)
			}
			// What it let through is counted for the media's share
			// (sendtarget.go).
			if got := repaired.Load(); got != int64(tc.burst*1012) {
				t.Errorf("repaired %d bytes, want %d", got, tc.burst*1012)
			}
			// 100 ms later the budget has refilled by 0.5 × target × 0.1 s.
			rig.now = rig.now.Add(100 * time.Millisecond)
			rate := nackBudgetShare * float64(tc.target) / 8
			left := max(rate*nackBudgetBurst.Seconds(), nackBudgetMin) - float64(tc.burst*1012)
			want := int((left + rate*0.1) / 1012)
			if seqs, _ := rig.read(nackOf(all[tc.burst:]...)); len(seqs) != want {
				t.Errorf("after 100 ms %d went through, want %d", len(seqs), want)
			}
			rig.read(rig.rrFor(80*time.Millisecond, 10*time.Millisecond))
			if got := time.Duration(rtt.Load()); got < 79*time.Millisecond || got > 81*time.Millisecond {
				t.Errorf("shared rtt %v, want 80ms", got)
			}
		})
	}
}
