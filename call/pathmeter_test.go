package call

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
)

// twccReport is a transport-wide feedback for the packets from base on,
// arriving at the given µs after the reference time ref (64 ms units);
// lostPacket is a packet lost.
const lostPacket = math.MinInt64

func twccReport(base uint16, ref uint32, arrivals []int64) *rtcp.TransportLayerCC {
	fb := &rtcp.TransportLayerCC{BaseSequenceNumber: base, PacketStatusCount: uint16(len(arrivals)), ReferenceTime: ref} //nolint:gosec // test sizes
	var vec *rtcp.StatusVectorChunk
	last := int64(0)
	for _, a := range arrivals {
		if vec == nil || len(vec.SymbolList) == 7 {
			vec = &rtcp.StatusVectorChunk{SymbolSize: rtcp.TypeTCCSymbolSizeTwoBit}
			fb.PacketChunks = append(fb.PacketChunks, vec)
		}
		if a == lostPacket {
			vec.SymbolList = append(vec.SymbolList, rtcp.TypeTCCPacketNotReceived)
			continue
		}
		vec.SymbolList = append(vec.SymbolList, rtcp.TypeTCCPacketReceivedLargeDelta)
		fb.RecvDeltas = append(fb.RecvDeltas, &rtcp.RecvDelta{Type: rtcp.TypeTCCPacketReceivedLargeDelta, Delta: a - last})
		last = a
	}
	return fb
}

// TestPathMeter: a path that delivers as sent shows no queue and the rate
// sent; a keyframe's burst shorter than standingWindow is not a standing
// queue (though whole feedbacks arrived late), a queue that grows is; the delivered rate is read over the
// arrivals; packets it never saw sent, lost ones and ones reported again
// are left out. The two ends' clocks start apart: a one-way delay read
// across them may be negative.
func TestPathMeter(t *testing.T) {
	const size = 1000 // bytes a packet
	// A packet every 10 ms: 800 kbit/s.
	type pkt struct {
		seq    uint16
		sentMS int   // after the meter's start
		arrUS  int64 // after the reference time, or lostPacket
	}
	steady := func(from, n int, owdMS int, extra func(i int) int) []pkt {
		var ps []pkt
		for i := range n {
			at := (from + i) * 10
			q := 0
			if extra != nil {
				q = extra(i)
			}
			ps = append(ps, pkt{uint16(from + i), at, int64(at+owdMS+q) * 1000}) //nolint:gosec // test sizes
		}
		return ps
	}
	tests := []struct {
		name      string
		sent      []pkt // sent, then reported in feedbacks of 10
		unsent    int   // the last this many packets are reported without having been sent
		first     func(k int) bool
		wantQueue time.Duration // of the last feedback, ± 1 ms
		// wantRecent is the queue of the last recentWindow of arrivals.
		wantRecent time.Duration
		wantAcked  int // ± 2 %; 0: not known
		wantOK     bool
	}{
		{"clean path", steady(0, 60, 50, nil), 0, nil, 0, 0, 800_000, true},
		{"the receiver's clock behind", steady(0, 60, -3000, nil), 0, nil, 0, 0, 800_000, true},
		{"a queue with the clock behind", steady(0, 60, -3000, func(i int) int {
			if i >= 20 {
				return (i - 19) * 2
			}
			return 0
		}), 0, nil, 40 * time.Millisecond, 72 * time.Millisecond, 660_000, true},
		// Recent, not standing; in a queue that grows, the arrivals of
		// the last 50 ms are packets 55 to 59, 72 to 80 ms late.
		{"a keyframe's burst", steady(0, 60, 50, func(i int) int {
			if i >= 45 { // 40 ms of queue for the last 150 ms
				return 40
			}
			return 0
		}), 0, nil, 0, 40 * time.Millisecond, 735_000, true},
		{"a queue that stands", steady(0, 60, 50, func(i int) int {
			if i >= 20 {
				return (i - 19) * 2 // growing 2 ms a packet
			}
			return 0
		}), 0, nil, 40 * time.Millisecond, 72 * time.Millisecond, 660_000, true},
		{"not sent by us", steady(0, 10, 50, nil), 10, nil, 0, 0, 0, false},
		{"lost ones", func() []pkt {
			ps := steady(0, 60, 50, nil)
			for i := range ps {
				if i%2 == 1 {
					ps[i].arrUS = lostPacket
				}
			}
			return ps
		}(), 0, nil, 0, 0, 400_000, true},
		{"reported again", steady(0, 10, 50, nil), 0, func(int) bool { return false }, 0, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t0 := time.Unix(1000, 0)
			m := newPathMeter(t0)
			for i, p := range tt.sent {
				if i < len(tt.sent)-tt.unsent {
					m.onSent(p.seq, size, t0.Add(time.Duration(p.sentMS)*time.Millisecond))
				}
			}
			var r pathReading
			var ok bool
			for from := 0; from < len(tt.sent); from += 10 {
				ps := tt.sent[from:min(from+10, len(tt.sent))]
				arr := make([]int64, len(ps))
				var first []bool
				for k, p := range ps {
					arr[k] = p.arrUS
					if tt.first != nil {
						first = append(first, tt.first(k))
					}
				}
				last := time.Duration(ps[len(ps)-1].sentMS) * time.Millisecond
				fb := twccReport(ps[0].seq, 0, arr)
				fb.FbPktCount = uint8(from / 10) //nolint:gosec // test sizes
				r, ok = m.feedback(fb, first, t0.Add(last+100*time.Millisecond))
			}
			if ok != tt.wantOK {
				t.Fatalf("read %v, want %v (%+v)", ok, tt.wantOK, r)
			}
			if d := r.queue - tt.wantQueue; d < -time.Millisecond || d > time.Millisecond {
				t.Errorf("queue %v, want %v", r.queue, tt.wantQueue)
			}
			if d := r.recent - tt.wantRecent; d < -time.Millisecond || d > time.Millisecond {
				t.Errorf("recent queue %v, want %v", r.recent, tt.wantRecent)
			}
			if tt.wantAcked == 0 && r.acked != 0 || tt.wantAcked != 0 && (r.acked < tt.wantAcked*98/100 || r.acked > tt.wantAcked*102/100) {
				t.Errorf("delivered %d bit/s, want %d", r.acked, tt.wantAcked)
			}
		})
	}
}

// TestPathMeterLostFeedback: a feedback lost on the way back (a gap in
// the feedback counts) leaves out its packets and not the time they
// took, so that time is left out too: 800 kbit/s delivered reads 800
// whichever are lost (it read 640 with one of five lost, 470 with every
// other).
func TestPathMeterLostFeedback(t *testing.T) {
	tests := []struct {
		name string
		lost []int // feedbacks (of 10 packets) lost
	}{
		{"none lost", nil},
		{"one lost", []int{4}},
		{"every other lost", []int{1, 3, 5, 7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t0 := time.Unix(1000, 0)
			m := newPathMeter(t0)
			var r pathReading
			for f := range 8 {
				arr := make([]int64, 10)
				for k := range arr {
					seq := f*10 + k
					m.onSent(uint16(seq), 1000, t0.Add(time.Duration(seq*10)*time.Millisecond)) //nolint:gosec // test sizes
					arr[k] = int64(seq*10+50) * 1000
				}
				if slices.Contains(tt.lost, f) {
					continue
				}
				var ok bool
				fb := twccReport(uint16(f*10), 0, arr) //nolint:gosec // test sizes
				fb.FbPktCount = uint8(f)               //nolint:gosec // test sizes
				r, ok = m.feedback(fb, nil, t0.Add(time.Duration(f*100+150)*time.Millisecond))
				if !ok {
					t.Fatalf("feedback %d not read", f)
				}
			}
			if r.acked < 784_000 || r.acked > 816_000 {
				t.Errorf("delivered %d bit/s, want 800000", r.acked)
			}
		})
	}
}

// TestLossBWEReadsThePath: the controller notes the packets it sends and
// reads the path from the feedback on them: a queue standing in front of
// them backs the target off from the start to what the path delivers,
// and the listener is told; on a clean path the target holds.
func TestLossBWEReadsThePath(t *testing.T) {
	tests := []struct {
		name          string
		queued        time.Duration // added to the arrivals from the 16th packet on
		wantLo, wantH int
	}{
		{"a queue backs off", 40 * time.Millisecond, 250_000, 350_000},
		{"a clean path holds", 0, 600_000, 600_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newTestLossBWE(t)
			const extID = 5
			w := b.AddStream(&interceptor.StreamInfo{SSRC: 1, RTPHeaderExtensions: []interceptor.RTPHeaderExtension{{URI: sdp.TransportCCURI, ID: extID}}},
				interceptor.RTPWriterFunc(func(_ *rtp.Header, payload []byte, _ interceptor.Attributes) (int, error) {
					return len(payload), nil
				}))
			// 40 packets of about 520 bytes 10 ms apart: about 400 kbit/s.
			var arrivals []int64
			start := time.Now()
			for seq := range uint16(40) {
				h := &rtp.Header{Version: 2, SSRC: 1, SequenceNumber: seq}
				if err := h.SetExtension(extID, []byte{byte(seq >> 8), byte(seq)}); err != nil {
					t.Fatal(err)
				}
				at := time.Since(start) + 50*time.Millisecond
				if seq >= 15 {
					at += tt.queued
				}
				if _, err := w.Write(h, make([]byte, 500), nil); err != nil {
					t.Fatal(err)
				}
				arrivals = append(arrivals, at.Microseconds())
				time.Sleep(10 * time.Millisecond)
			}
			got := make(chan int, 10)
			b.OnTargetBitrateChange(func(bps int) { got <- bps })
			if err := b.WriteRTCP([]rtcp.Packet{twccReport(0, 0, arrivals)}, nil); err != nil {
				t.Fatal(err)
			}
			tb := b.GetTargetBitrate()
			if tb < tt.wantLo || tb > tt.wantH {
				t.Fatalf("target %d, want %d-%d", tb, tt.wantLo, tt.wantH)
			}
			select {
			case bps := <-got:
				if bps != tb || tb == 600_000 {
					t.Errorf("listener told %d, target %d", bps, tb)
				}
			default:
				if tb != 600_000 {
					t.Error("listener not told")
				}
			}
		})
	}
}

// TestArrivalRate: one feedback's own rate is its bytes after the
// earliest arrival over the span to the latest, in any order, and unknown
// over fewer than two packets or less than latestMinSpan.
func TestArrivalRate(t *testing.T) {
	const size = 1000
	every := func(n int, gapUS int64) []ackedPacket {
		ps := make([]ackedPacket, n)
		for i := range ps {
			ps[i] = ackedPacket{at: 5_000_000 + int64(i)*gapUS, bytes: size}
		}
		return ps
	}
	tests := []struct {
		name string
		ps   []ackedPacket
		want int
	}{
		{"none", nil, 0},
		{"one", every(1, 0), 0},
		{"a full 500 kbit/s link", every(10, 16_000), 500_000},
		{"reordered", func() []ackedPacket {
			ps := every(10, 16_000)
			ps[0], ps[5] = ps[5], ps[0]
			return ps
		}(), 500_000},
		{"a burst shorter than latestMinSpan", every(10, 1_000), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := arrivalRate(tt.ps); got != tt.want {
				t.Errorf("arrivalRate = %d, want %d", got, tt.want)
			}
		})
	}
}

// TestPathMeterLatest: a link that narrows shows its new rate in the
// latest feedback's own arrivals while the delivered rate still holds the
// half second before.
func TestPathMeterLatest(t *testing.T) {
	const size = 1000
	t0 := time.Unix(1000, 0)
	m := newPathMeter(t0)
	var r pathReading
	var ok bool
	for f := range 6 {
		arr := make([]int64, 10)
		var sentMS int
		for k := range arr {
			seq := f*10 + k
			if f < 5 { // 800 kbit/s, delivered as sent
				sentMS = seq * 10
				arr[k] = int64(sentMS+50) * 1000
			} else { // sent at 1.6 Mbit/s, delivered at 400
				sentMS = 500 + k*5
				arr[k] = int64(550+k*20) * 1000
			}
			m.onSent(uint16(seq), size, t0.Add(time.Duration(sentMS)*time.Millisecond)) //nolint:gosec // test sizes
		}
		fb := twccReport(uint16(f*10), 0, arr) //nolint:gosec // test sizes
		fb.FbPktCount = uint8(f)               //nolint:gosec // test sizes
		r, ok = m.feedback(fb, nil, t0.Add(time.Duration(sentMS+100)*time.Millisecond))
	}
	if !ok {
		t.Fatal("no reading")
	}
	if r.latest < 392_000 || r.latest > 408_000 {
		t.Errorf("latest %d bit/s, want 400000", r.latest)
	}
	if r.acked <= 500_000 {
		t.Errorf("delivered %d bit/s, want the half second's mix, above 500000", r.acked)
	}
}

// TestSpreadOut: packets spread out on the way (arrivals over more than
// twice their send span) against packets that arrived as sparsely as they
// were sent, too few of them, or over too short a span to read.
func TestSpreadOut(t *testing.T) {
	// pkts builds packets from (sent, arrived) pairs in ms; the one-way
	// delay carries the clocks' offset.
	pkts := func(times ...[2]int64) []ackedPacket {
		var ps []ackedPacket
		for _, tm := range times {
			at := (tm[1] + 5000) * 1000
			ps = append(ps, ackedPacket{at: at, owd: at - tm[0]*1000, bytes: 1200})
		}
		return ps
	}
	tests := []struct {
		name string
		ps   []ackedPacket
		want bool
	}{
		{"a burst through a narrow link", pkts([2]int64{0, 60}, [2]int64{1, 80}, [2]int64{2, 100}), true},
		{"sent at once, spread out", pkts([2]int64{5, 60}, [2]int64{5, 80}, [2]int64{5, 99}), true},
		{"as sparse as sent", pkts([2]int64{0, 60}, [2]int64{20, 80}, [2]int64{40, 100}), false},
		{"a little spread", pkts([2]int64{0, 60}, [2]int64{15, 80}, [2]int64{30, 100}), false},
		{"two packets sent at once, spread out", pkts([2]int64{0, 60}, [2]int64{0, 80}), true},
		{"two packets as sparse as sent", pkts([2]int64{0, 60}, [2]int64{20, 80}), false},
		{"two packets over too short a span", pkts([2]int64{0, 60}, [2]int64{0, 75}), false},
		{"one packet", pkts([2]int64{0, 60}), false},
		{"too short a span", pkts([2]int64{0, 60}, [2]int64{0, 65}, [2]int64{0, 70}), false},
		{"none", nil, false},
	}
	for _, tt := range tests {
		if got := spreadOut(tt.ps); got != tt.want {
			t.Errorf("%s: spreadOut = %v, want %v", tt.name, got, tt.want)
		}
	}
}
