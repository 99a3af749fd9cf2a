package call

import (
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/gcc"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
)

// TestCountTWCC: received and lost packets counted from both chunk kinds,
// bounded by the status count, and after an outage a run of lossOutageRun
// lost in a row left out.
func TestCountTWCC(t *testing.T) {
	recv := func(n uint16) rtcp.PacketStatusChunk {
		return &rtcp.RunLengthChunk{PacketStatusSymbol: rtcp.TypeTCCPacketReceivedSmallDelta, RunLength: n}
	}
	miss := func(n uint16) rtcp.PacketStatusChunk {
		return &rtcp.RunLengthChunk{PacketStatusSymbol: rtcp.TypeTCCPacketNotReceived, RunLength: n}
	}
	r, m := rtcp.TypeTCCPacketReceivedSmallDelta, rtcp.TypeTCCPacketNotReceived
	tests := []struct {
		name              string
		outage            bool
		count             uint16
		chunks            []rtcp.PacketStatusChunk
		wantLost, wantAll int
	}{
		{"all received", false, 20, []rtcp.PacketStatusChunk{recv(20)}, 0, 20},
		{"vector", false, 14, []rtcp.PacketStatusChunk{&rtcp.StatusVectorChunk{
			SymbolSize: rtcp.TypeTCCSymbolSizeOneBit,
			SymbolList: []uint16{r, m, r, r, m, m, r, r, r, r, r, r, r, r},
		}}, 3, 14},
		{"status count bounds the last chunk", false, 30, []rtcp.PacketStatusChunk{recv(10), miss(5), recv(100)}, 5, 30},
		{"vector padding past the count", false, 3, []rtcp.PacketStatusChunk{&rtcp.StatusVectorChunk{
			SymbolSize: rtcp.TypeTCCSymbolSizeTwoBit,
			SymbolList: []uint16{m, r, r, m, m, m, m},
		}}, 1, 3},
		{"outage left out", true, 75, []rtcp.PacketStatusChunk{recv(10), miss(lossOutageRun + 10), recv(5)}, 0, 15},
		{"a run just short of an outage counts", true, 64, []rtcp.PacketStatusChunk{recv(10), miss(lossOutageRun - 1), recv(5)}, lossOutageRun - 1, 64},
		{"a run split over chunks", true, 14 + lossOutageRun, []rtcp.PacketStatusChunk{recv(1), miss(lossOutageRun - 1), &rtcp.StatusVectorChunk{
			SymbolSize: rtcp.TypeTCCSymbolSizeOneBit,
			SymbolList: []uint16{m, r, r, r, r, r, r, r, r, r, r, r, r, r},
		}}, 0, 14},
		{"a long run without an outage counts", false, 75, []rtcp.PacketStatusChunk{recv(10), miss(lossOutageRun + 10), recv(5)}, lossOutageRun + 10, 75},
		{"trailing loss", false, 8, []rtcp.PacketStatusChunk{recv(5), miss(3)}, 3, 8},
		{"empty", false, 0, nil, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lost, total := countTWCC(&rtcp.TransportLayerCC{PacketStatusCount: tt.count, PacketChunks: tt.chunks}, tt.outage, nil)
			if lost != tt.wantLost || total != tt.wantAll {
				t.Errorf("lost %d of %d, want %d of %d", lost, total, tt.wantLost, tt.wantAll)
			}
		})
	}
}

// TestLossBound: GCC's rules on the short and long windows: loss under
// lossLow lets the bound grow, between lossLow and lossCut it holds, over
// lossCut in the short window and the latest feedback it cuts from the
// current target, once per lossCutEvery; one bad feedback is one cut, not
// one per lossCutEvery while it stays in the window. With the path's
// readings (pathmeter.go): the start grows by startGrow while the path
// delivers at least 1/startAckedMax of the bound, until a standing queue,
// a cut or the maximum; a standing queue backs off to backoffFactor of
// the rate delivered, a queue under that holds growth, growth near the
// last backoff's rate is slow, readings of the path's own jitter are not
// a queue, loss with no queue in front of it cuts only when heavy (and
// holds growth only over lossCut), a loss cut stays over what the
// path delivers, loss behind a standing queue both cuts and backs off,
// and heavy loss in one feedback behind a queue that has only just
// formed (an overflow) cuts to what the path delivers at once.
func TestLossBound(t *testing.T) {
	type fb struct {
		at          time.Duration
		lost, total int
		current     int
		path        *pathReading // nil: none with this feedback
		want        int
	}
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	const g = startGrow
	path := func(queueMS, acked int) *pathReading {
		return &pathReading{queue: ms(queueMS), recent: ms(queueMS), acked: acked}
	}
	// recent: a queue in the latest arrivals only, not standing yet.
	recent := func(recentMS, acked int) *pathReading {
		return &pathReading{recent: ms(recentMS), acked: acked}
	}
	tests := []struct {
		name  string
		start bool // still in the start
		fbs   []fb
	}{
		{"the start climbs fast", true, []fb{
			{ms(0), 0, 100, 1_000_000, nil, int(1e6 * g)},
			{ms(100), 0, 100, 1_000_000, nil, int(1e6 * g)}, // within lossGrowEvery
			{ms(200), 0, 100, 1_000_000, nil, int(1e6 * g * g)},
			{ms(300), 5, 100, 1_440_000, nil, int(1e6 * g * g)}, // 5 % holds
			{ms(1400), 0, 100, 1_440_000, nil, int(1e6 * g * g * g)},
		}},
		{"the start climbs on what the path delivers", true, []fb{
			{ms(0), 0, 100, 1_000_000, path(0, 0), 1_000_000}, // not known yet
			{ms(200), 0, 100, 1_000_000, path(0, 900_000), int(1e6 * g)},
			{ms(400), 0, 100, 1_200_000, path(0, 900_000), int(1e6 * g)}, // over startAckedMax × delivered
			{ms(600), 0, 100, 1_200_000, path(0, 1_100_000), int(1e6 * g * g)},
		}},
		{"a standing queue ends the start", true, []fb{
			{ms(0), 0, 100, 1_000_000, path(0, 900_000), int(1e6 * g)},
			{ms(100), 0, 100, 1_150_000, path(30, 1_000_000), 820_000}, // (0.85 - 0.03 to drain) × delivered
			{ms(300), 0, 100, 820_000, path(0, 1_000_000), 836_400},    // near the level: slow
			{ms(450), 0, 100, 836_400, path(30, 900_000), 836_400},     // within backoffEvery: held
			{ms(500), 0, 100, 836_400, path(30, 900_000), 738_000},
			{ms(10600), 0, 100, 738_000, path(0, 765_000), 782_280}, // the level forgotten: farGrow
		}},
		{"a backoff at most halves the bound", false, []fb{
			{ms(0), 0, 100, 1_000_000, path(40, 100_000), 500_000},
		}},
		{"a cut ends the start", true, []fb{
			{ms(0), 40, 100, 1_000_000, nil, 800_000},
			{ms(1200), 0, 100, 800_000, nil, 840_000}, // lossGrow from now on
		}},
		{"the maximum ends the start", true, func() []fb {
			var fbs []fb
			bps := 1e6
			for i := 0; bps < 2_500_000; i++ {
				bps = min(bps*g, 2_500_000)
				fbs = append(fbs, fb{ms(200 * i), 0, 100, 1_000_000, nil, int(bps)})
			}
			n := len(fbs)
			return append(fbs,
				fb{ms(200 * n), 100, 100, 2_500_000, nil, 1_875_000}, // short 50 %
				fb{ms(200*n + 1200), 0, 100, 1_875_000, nil, 1_968_750},
			)
		}()},
		{"a queue holds growth", false, []fb{
			{ms(0), 0, 100, 1_000_000, path(15, 1_000_000), 1_000_000},
			{ms(200), 0, 100, 1_000_000, path(5, 1_000_000), 1_060_000},
			{ms(400), 0, 100, 1_060_000, path(5, 600_000), 1_060_000}, // ≥ 1.5 × delivered
		}},
		{"a path's jitter is not a queue", false, func() []fb {
			// Readings of 20 ms: a queue until there are noiseMin of
			// them, then the path's own; the queue counts from there.
			var fbs []fb
			for i := range noiseMin - 1 {
				fbs = append(fbs, fb{ms(100 * i), 0, 100, 1_000_000, path(20, 5_000_000), 1_000_000})
			}
			return append(fbs,
				fb{ms(900), 0, 100, 1_000_000, path(20, 5_000_000), 1_060_000},
				fb{ms(1100), 0, 100, 1_060_000, path(30, 5_000_000), 1_060_000}, // 10 over the quartile
				fb{ms(1300), 0, 100, 1_060_000, path(25, 5_000_000), 1_123_600},
				fb{ms(1400), 0, 100, 1_123_600, path(70, 1_000_000), 800_000}, // 50 over it: (0.85 - 0.05) × delivered
			)
		}()},
		{"loss with no queue in front is the path's", false, []fb{
			{ms(0), 15, 100, 1_000_000, path(0, 1_000_000), 1_000_000},    // no cut, no growth
			{ms(200), 5, 100, 1_000_000, path(0, 1_000_000), 1_000_000},   // 10 % over the second
			{ms(1400), 5, 100, 1_000_000, path(0, 1_000_000), 1_060_000},  // 5 %: grows
			{ms(1600), 30, 100, 1_060_000, path(0, 1_000_000), 1_060_000}, // 17.5 %, under lossHeavy
			{ms(1800), 30, 100, 1_060_000, path(20, 1_000_000), 850_000},  // heavy behind a queue: to 0.85 × delivered
		}},
		{"a loss cut stays over what the path delivers", false, []fb{
			{ms(0), 40, 100, 1_000_000, path(0, 1_000_000), 850_000}, // heavy: cut
			{ms(200), 40, 100, 850_000, path(0, 1_000_000), 850_000},
			{ms(400), 40, 100, 850_000, path(0, 500_000), 680_000}, // × 0.8
		}},
		{"a narrowed link cuts and backs off at once", false, []fb{
			// 2 Mbit/s into 500 kbit/s: 80 % lost behind a full queue.
			{ms(0), 80, 100, 2_000_000, path(100, 500_000), 375_000}, // cut to 0.85 × delivered, then the backoff's (0.85 - 0.1) × delivered
			{ms(200), 80, 100, 600_000, path(100, 500_000), 425_000}, // cut, not under 0.85 × delivered
			{ms(400), 80, 100, 425_000, path(100, 500_000), 375_000}, // backoff: (0.85 - 0.1) × delivered
			{ms(500), 80, 100, 375_000, path(100, 500_000), 375_000}, // neither due
		}},
		{"heavy loss behind a queue holds at what the path delivers", false, []fb{
			// A queue read, under the backoff's: only the loss cuts, to
			// 0.85 × delivered, not by half the loss (× 0.75).
			{ms(0), 50, 100, 2_000_000, path(20, 800_000), 680_000},
			{ms(200), 50, 100, 1_000_000, path(20, 800_000), 680_000},
			{ms(400), 50, 100, 1_000_000, path(20, 600_000), 510_000},
		}},
		{"an overflow cuts before the queue stands", false, []fb{
			{ms(0), 0, 100, 1_000_000, recent(0, 1_000_000), 1_060_000},
			// 36 % of the latest lost behind 90 ms of queue: 18 % over
			// the short window, not heavy, but an overflow.
			{ms(100), 36, 100, 1_060_000, recent(90, 1_000_000), 850_000},
			// At every such feedback, from what the path delivers.
			{ms(200), 40, 100, 850_000, recent(90, 800_000), 680_000},
		}},
		{"an overflow cuts to the rate its feedback arrived at", false, []fb{
			{ms(0), 0, 100, 1_000_000, recent(0, 1_000_000), 1_060_000},
			// The half second's delivered rate still holds the time
			// before the drop; the feedback's own arrivals, 500 kbit/s,
			// are the link now.
			{ms(100), 60, 100, 2_000_000, &pathReading{recent: ms(90), acked: 1_050_000, latest: 500_000}, 425_000},
			// Not above what the half second delivered either.
			{ms(200), 60, 100, 425_000, &pathReading{recent: ms(90), acked: 400_000, latest: 600_000}, 340_000},
		}},
		{"loss in a burst with no queue is not an overflow", false, []fb{
			{ms(0), 0, 100, 1_000_000, recent(0, 1_000_000), 1_060_000},
			{ms(100), 40, 100, 1_060_000, recent(5, 1_000_000), 1_060_000},
		}},
		{"an overflow read from its own arrivals alone", false, []fb{
			// Lost feedback left too short a span for the delivered
			// rate: 0.85 × the rate this feedback's packets arrived
			// at, not what was sent less the 79 % lost.
			{ms(0), 79, 100, 400_000, &pathReading{queue: ms(90), recent: ms(90), latest: 450_000}, 382_500},
			{ms(100), 60, 100, 382_500, &pathReading{recent: ms(90), latest: 400_000}, 382_500}, // within lossCutEvery
			{ms(200), 60, 100, 382_500, &pathReading{recent: ms(90), latest: 400_000}, 340_000},
		}},
		{"an overflow before the path shows what it delivers", false, []fb{
			// 0.85 × what was sent less the 60 % lost, once per
			// lossCutEvery.
			{ms(0), 60, 100, 2_000_000, recent(90, 0), 680_000},
			{ms(100), 60, 100, 680_000, recent(90, 0), 680_000},
			{ms(200), 60, 100, 680_000, recent(90, 0), 231_200},
		}},
		{"clean grows", false, []fb{
			{ms(0), 0, 100, 1_000_000, nil, 1_050_000},
			{ms(100), 1, 100, 1_000_000, nil, 1_050_000}, // within lossGrowEvery
			{ms(200), 1, 100, 1_000_000, nil, 1_102_500},
		}},
		{"5 % holds", false, []fb{
			{ms(0), 5, 100, 1_000_000, nil, 1_000_000},
			{ms(200), 5, 100, 1_000_000, nil, 1_000_000},
			{ms(1400), 1, 100, 1_000_000, nil, 1_050_000}, // the window has only 1 %
		}},
		{"a burst in a clean second", false, []fb{
			{ms(0), 0, 100, 1_000_000, nil, 1_050_000},
			{ms(100), 0, 100, 1_000_000, nil, 1_050_000},
			{ms(200), 0, 100, 1_000_000, nil, 1_102_500},
			{ms(300), 30, 100, 1_000_000, nil, 1_102_500}, // latest 30 %, short window 7.5 %: hold
			{ms(400), 0, 100, 1_000_000, nil, 1_102_500},  // 6 % over the second: hold
		}},
		{"a burst alone in the window", false, []fb{
			{ms(0), 30, 100, 1_000_000, nil, 850_000}, // both 30 %: × 0.85
			{ms(200), 0, 100, 850_000, nil, 850_000},  // short 15 %, latest 0: hold
		}},
		{"congestion cuts", false, []fb{
			{ms(0), 40, 100, 1_000_000, nil, 800_000},   // 40 %: × 0.8
			{ms(100), 40, 100, 800_000, nil, 800_000},   // within lossCutEvery
			{ms(200), 40, 100, 800_000, nil, 640_000},   //
			{ms(300), 0, 100, 640_000, nil, 640_000},    // short 30 %, latest 0: hold
			{ms(1300), 0, 100, 640_000, nil, 672_000},   // the second clean: grows
			{ms(1400), 0, 100, 640_000, nil, 672_000},   // within lossGrowEvery
			{ms(1500), 100, 100, 640_000, nil, 533_333}, // short ⅓: × ⅚ of the current target
		}},
		{"floor and ceiling", false, []fb{
			{ms(0), 100, 100, 150_000, nil, 100_000},
			{ms(5000), 0, 100, 2_500_000, nil, 105_000},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t0 := time.Unix(100, 0)
			b := newLossBound(1_000_000, 100_000, 2_500_000)
			b.starting = tt.start
			for i, f := range tt.fbs {
				if got := b.feedback(t0.Add(f.at), f.lost, f.total, f.current, f.path); got < f.want-1 || got > f.want+1 { // ± rounding
					t.Errorf("feedback %d at %v: bound %d, want %d", i, f.at, got, f.want)
				}
			}
		})
	}
}

// TestLossBWE: the wrapper hands feedback to GCC, counts its losses, and
// tells the listener the smaller of its bound and GCC's delay-based
// estimate; a long run of lost packets after a second without feedback
// (an outage) does not move it, the same run with feedback flowing does.
func TestLossBWE(t *testing.T) {
	run := func(n uint16) *rtcp.TransportLayerCC {
		return &rtcp.TransportLayerCC{PacketStatusCount: n, PacketChunks: []rtcp.PacketStatusChunk{
			&rtcp.RunLengthChunk{PacketStatusSymbol: rtcp.TypeTCCPacketNotReceived, RunLength: n},
		}}
	}
	tests := []struct {
		name    string
		silence time.Duration // since the feedback before; 0: none before
		fb      *rtcp.TransportLayerCC
		want    int
	}{
		{"heavy loss cuts", 0, run(20), 300_000},
		{"an outage does not", 2 * lossOutageSilence, run(lossOutageRun), 600_000},
		{"a long run with feedback flowing does", lossOutageSilence / 10, run(lossOutageRun), 300_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newTestLossBWE(t)
			if tt.silence > 0 {
				b.lastFB = time.Now().Add(-tt.silence)
			}
			for seq := range tt.fb.PacketStatusCount { // as if sent
				b.sent[seq/32].Or(1 << (seq % 32))
			}
			got := make(chan int, 10)
			b.OnTargetBitrateChange(func(bps int) { got <- bps })
			if err := b.WriteRTCP([]rtcp.Packet{tt.fb}, nil); err != nil {
				t.Fatal(err)
			}
			if tb := b.GetTargetBitrate(); tb != tt.want {
				t.Errorf("target %d, want %d", tb, tt.want)
			}
			select {
			case bps := <-got:
				if tt.want == 600_000 {
					t.Errorf("listener told %d with no change", bps)
				} else if bps != tt.want {
					t.Errorf("listener told %d, want %d", bps, tt.want)
				}
			default:
				if tt.want != 600_000 {
					t.Error("listener not told")
				}
			}
		})
	}
}

// TestLossBWEReportedAgain: packets sent through the wrapper reach the
// stream's writer and are noted by transport-wide sequence number; a
// receiver reports a range again when a retransmission brings an old
// number back, and the second report of a packet counts neither as loss
// nor as received; a number sent again (it came round) counts again.
func TestLossBWEReportedAgain(t *testing.T) {
	b := newTestLossBWE(t)
	const extID = 5
	wrote := 0
	w := b.AddStream(&interceptor.StreamInfo{SSRC: 1, RTPHeaderExtensions: []interceptor.RTPHeaderExtension{{URI: sdp.TransportCCURI, ID: extID}}},
		interceptor.RTPWriterFunc(func(_ *rtp.Header, payload []byte, _ interceptor.Attributes) (int, error) {
			wrote++
			return len(payload), nil
		}))
	send := func(from, n uint16) {
		for seq := from; seq != from+n; seq++ {
			h := &rtp.Header{Version: 2, SSRC: 1, SequenceNumber: seq}
			if err := h.SetExtension(extID, []byte{byte(seq >> 8), byte(seq)}); err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write(h, make([]byte, 100), nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	fb := func(base, n uint16, status uint16) *rtcp.TransportLayerCC {
		return &rtcp.TransportLayerCC{BaseSequenceNumber: base, PacketStatusCount: n, PacketChunks: []rtcp.PacketStatusChunk{
			&rtcp.RunLengthChunk{PacketStatusSymbol: status, RunLength: n},
		}}
	}
	recv, miss := uint16(rtcp.TypeTCCPacketReceivedSmallDelta), uint16(rtcp.TypeTCCPacketNotReceived)
	send(65530, 26) // 65530 to 19, across the wrap
	if wrote != 26 {
		t.Fatalf("the stream's writer got %d packets, want 26", wrote)
	}
	tests := []struct {
		name              string
		sendFrom, sendN   uint16 // sent before the feedback
		fb                *rtcp.TransportLayerCC
		wantLost, wantAll int
	}{
		{"first report", 0, 0, fb(65530, 16, recv), 0, 16},
		{"the same range again", 0, 0, fb(65530, 16, recv), 0, 0},
		{"lost, first report", 0, 0, fb(10, 5, miss), 5, 5},
		{"the lost ones received after all", 0, 0, fb(10, 5, recv), 0, 0},
		{"overlapping a new range", 0, 0, fb(5, 15, recv), 0, 5},
		{"never sent", 0, 0, fb(100, 5, recv), 0, 0},
		{"sent again", 0, 10, fb(0, 10, miss), 10, 10},
	}
	for _, tt := range tests {
		send(tt.sendFrom, tt.sendN)
		first, _ := b.firstReports(tt.fb)
		if lost, total := countTWCC(tt.fb, false, first); lost != tt.wantLost || total != tt.wantAll {
			t.Errorf("%s: lost %d of %d, want %d of %d", tt.name, lost, total, tt.wantLost, tt.wantAll)
		}
	}
}

// TestFirstReportsOnly: packets reported before become not received in
// what GCC reads, the others keep their arrival times (a removed packet's
// delta carried to the next one received), and the result marshals.
func TestFirstReportsOnly(t *testing.T) {
	// arrivals reads a feedback as arrival offsets (µs) by index, -1 for
	// not received.
	arrivals := func(fb *rtcp.TransportLayerCC) []int64 {
		var out []int64
		deltas := fb.RecvDeltas
		var at int64
		left := int(fb.PacketStatusCount)
		add := func(received bool) {
			if left == 0 {
				return
			}
			left--
			if received && len(deltas) > 0 {
				at += deltas[0].Delta
				deltas = deltas[1:]
				out = append(out, at)
				return
			}
			out = append(out, -1)
		}
		for _, c := range fb.PacketChunks {
			switch c := c.(type) {
			case *rtcp.RunLengthChunk:
				for range c.RunLength {
					add(c.PacketStatusSymbol != rtcp.TypeTCCPacketNotReceived)
				}
			case *rtcp.StatusVectorChunk:
				for _, s := range c.SymbolList {
					add(s != rtcp.TypeTCCPacketNotReceived)
				}
			}
		}
		return out
	}
	small := func(us int64) *rtcp.RecvDelta {
		return &rtcp.RecvDelta{Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: us}
	}
	fb := &rtcp.TransportLayerCC{
		Header:             rtcp.Header{Padding: true, Count: rtcp.FormatTCC, Type: rtcp.TypeTransportSpecificFeedback},
		BaseSequenceNumber: 65533, PacketStatusCount: 9, ReferenceTime: 100, FbPktCount: 3,
		PacketChunks: []rtcp.PacketStatusChunk{
			&rtcp.RunLengthChunk{PacketStatusSymbol: rtcp.TypeTCCPacketReceivedSmallDelta, RunLength: 4},
			&rtcp.StatusVectorChunk{SymbolSize: rtcp.TypeTCCSymbolSizeOneBit, SymbolList: []uint16{0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
		},
		RecvDeltas: []*rtcp.RecvDelta{small(1000), small(60000), small(60000), small(250), small(500), small(750), small(1000), small(1250)},
	}
	// 0..3 received, 4 lost, 5..8 received.
	want := []int64{1000, 61000, 121000, 121250, -1, 121750, 122500, 123500, 124750}
	if got := arrivals(fb); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("test feedback reads %v, want %v", got, want)
	}
	tests := []struct {
		name  string
		again []int // indexes reported before
		want  []int64
	}{
		{"all first", nil, want},
		{"one in the middle", []int{1}, []int64{1000, -1, 121000, 121250, -1, 121750, 122500, 123500, 124750}},
		{"a run, the large delta carried", []int{1, 2, 3}, []int64{1000, -1, -1, -1, -1, 121750, 122500, 123500, 124750}},
		{"the first and the last", []int{0, 8}, []int64{-1, 61000, 121000, 121250, -1, 121750, 122500, 123500, -1}},
		{"a lost one reported again stays lost", []int{4}, want},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first := make([]bool, fb.PacketStatusCount)
			for k := range first {
				first[k] = true
			}
			for _, k := range tt.again {
				first[k] = false
			}
			out := firstReportsOnly(fb, first)
			if got := arrivals(out); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("arrivals %v, want %v", got, tt.want)
			}
			raw, err := out.Marshal()
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			var back rtcp.TransportLayerCC
			if err := back.Unmarshal(raw); err != nil {
				t.Fatalf("unmarshal: %v", err)
			}
			if got := arrivals(&back); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("after a round trip: arrivals %v, want %v", got, tt.want)
			}
			if back.BaseSequenceNumber != fb.BaseSequenceNumber || back.ReferenceTime != fb.ReferenceTime || back.FbPktCount != fb.FbPktCount {
				t.Errorf("header fields %d %d %d, want %d %d %d", back.BaseSequenceNumber, back.ReferenceTime, back.FbPktCount,
					fb.BaseSequenceNumber, fb.ReferenceTime, fb.FbPktCount)
			}
		})
	}
}

// TestLossBWELeavesCallersFeedback: GCC gets the feedback with the
// packets reported again left out, but the caller's packets are not
// changed (other interceptors read them too).
func TestLossBWELeavesCallersFeedback(t *testing.T) {
	b := newTestLossBWE(t)
	fb := &rtcp.TransportLayerCC{PacketStatusCount: 4, PacketChunks: []rtcp.PacketStatusChunk{
		&rtcp.RunLengthChunk{PacketStatusSymbol: rtcp.TypeTCCPacketReceivedSmallDelta, RunLength: 4},
	}, RecvDeltas: []*rtcp.RecvDelta{
		{Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 250}, {Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 250},
		{Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 250}, {Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 250},
	}}
	b.sent[0].Or(0b0101) // 0 and 2 sent and not reported yet; 1 and 3 reported before
	pkts := []rtcp.Packet{fb}
	if err := b.WriteRTCP(pkts, nil); err != nil {
		t.Fatal(err)
	}
	if pkts[0] != fb || len(fb.RecvDeltas) != 4 || len(fb.PacketChunks) != 1 {
		t.Errorf("the caller's feedback changed: %v", pkts[0])
	}
	if v := b.sent[0].Load(); v != 0 {
		t.Errorf("sent bits %b after the report, want none", v)
	}
}

// newTestLossBWE is a lossBWE over pion's GCC from 600 kbit/s (100 kbit/s
// to 2.5 Mbit/s), closed with the test.
func newTestLossBWE(t *testing.T) *lossBWE {
	t.Helper()
	g, err := gcc.NewSendSideBWE(gcc.SendSideBWEInitialBitrate(600_000), gcc.SendSideBWEMinBitrate(100_000),
		gcc.SendSideBWEMaxBitrate(2_500_000), gcc.SendSideBWEPacer(gcc.NewNoOpPacer()))
	if err != nil {
		t.Fatal(err)
	}
	b := newLossBWE(g, 600_000, 100_000, 2_500_000, nil)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// TestLossBoundNarrowed: only a feedback that takes the bound to what a
// full queue delivers (heavy loss behind a standing queue, or behind a
// queue that has just filled), and to under half the target, flags a
// link that got much narrower; a full link's own overflow, loss without
// a queue, a plain congestion cut and a backoff do not.
func TestLossBoundNarrowed(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	tests := []struct {
		name        string
		lost, total int
		path        *pathReading
		want        bool
	}{
		{"heavy loss behind a queue that has just filled", 60, 100, &pathReading{recent: ms(90), acked: 1_000_000, latest: 450_000}, true},
		{"heavy loss behind a standing queue", 40, 100, &pathReading{queue: ms(60), recent: ms(60), acked: 500_000}, true},
		{"no loss yet, spread out behind a new queue at under half the target", 0, 100, &pathReading{recent: ms(60), acked: 1_000_000, latest: 420_000, spread: true}, true},
		{"no loss, arrivals as sparse as sent behind a queue", 0, 100, &pathReading{recent: ms(60), acked: 1_000_000, latest: 420_000}, false},
		{"no loss behind a new queue at the target (a burst)", 0, 100, &pathReading{recent: ms(60), acked: 900_000, latest: 1_400_000, spread: true}, false},
		{"no loss behind a new queue at over half the target", 0, 100, &pathReading{recent: ms(60), acked: 900_000, latest: 600_000, spread: true}, false},
		{"spread out without a queue", 0, 100, &pathReading{recent: ms(5), acked: 300_000, latest: 100_000, spread: true}, false},
		{"a full link's own overflow", 40, 100, &pathReading{queue: ms(60), recent: ms(60), acked: 800_000, latest: 700_000}, false},
		{"heavy loss with no queue", 40, 100, &pathReading{recent: ms(5), acked: 400_000}, false},
		{"a congestion cut", 15, 100, nil, false},
		{"a queue without loss (backoff)", 0, 100, &pathReading{queue: ms(60), recent: ms(60), acked: 300_000}, false},
		{"clean", 0, 100, &pathReading{acked: 1_000_000}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newLossBound(1_000_000, 100_000, 2_500_000)
			b.starting = false
			b.feedback(time.Unix(100, 0), tt.lost, tt.total, 1_000_000, tt.path)
			if b.narrowed != tt.want {
				t.Errorf("narrowed %v, want %v (bound %.0f)", b.narrowed, tt.want, b.bps)
			}
		})
	}
}

// TestLossBWEOnNarrowed: the wrapper reports a much narrower link once,
// after the listener has had the new target, and not for a clean
// feedback.
func TestLossBWEOnNarrowed(t *testing.T) {
	b := newTestLossBWE(t)
	var events []string
	b.OnTargetBitrateChange(func(bps int) { events = append(events, fmt.Sprintf("target %d", bps)) })
	b.onNarrowed = func() { events = append(events, "narrowed") }
	now := time.Now()
	b.update(now, 60, 100, &pathReading{recent: 90 * time.Millisecond, acked: 600_000, latest: 300_000})
	b.update(now.Add(50*time.Millisecond), 0, 100, &pathReading{acked: 600_000, latest: 400_000})
	want := []string{"target 255000", "narrowed"} // 0.85 × the 300 kbit/s its packets arrived at
	if !slices.Equal(events, want) {
		t.Errorf("events %q, want %q", events, want)
	}
}

// TestLossBoundNearLevel: growth by where the bound is against the rate
// delivered at the last backoff (the level): farGrow well under it,
// nearGrow just under it, levelGrow from it to nearLevel of it while the
// path delivers less than levelWider of it, farGrow past that, once the
// path delivers more, and once the level is older than levelFor.
func TestLossBoundNearLevel(t *testing.T) {
	t0 := time.Unix(100, 0)
	tests := []struct {
		name    string
		bps     float64
		backoff time.Duration // before the feedback
		acked   int
		want    int
	}{
		{"well under the level", 700_000, time.Second, 900_000, 742_000},
		{"just under it", 800_000, time.Second, 900_000, 816_000},
		{"past it", 950_000, time.Second, 900_000, 954_750},
		{"past it, the path delivering 5 % more than it", 950_000, time.Second, 945_000, 1_007_000},
		{"past nearLevel of it", 1_100_000, time.Second, 900_000, 1_166_000},
		{"an old level", 950_000, levelFor + time.Second, 900_000, 1_007_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newLossBound(1_000_000, 100_000, 2_500_000)
			b.starting = false
			b.bps, b.level, b.backoff = tt.bps, 900_000, t0.Add(-tt.backoff)
			got := b.feedback(t0, 0, 100, int(tt.bps), &pathReading{acked: tt.acked})
			if got < tt.want-1 || got > tt.want+1 {
				t.Errorf("bound %d, want %d", got, tt.want)
			}
		})
	}
}

// TestLossBWEQueueFree: after each update the wrapper publishes whether
// the path is read and no queue stood in it within congestedFor, for the
// NACK guard.
func TestLossBWEQueueFree(t *testing.T) {
	b := newTestLossBWE(t)
	b.queueFree = &atomic.Bool{}
	t0 := time.Now()
	steps := []struct {
		name string
		at   time.Duration
		path *pathReading
		want bool
	}{
		{"the path not read yet", 0, nil, false},
		{"read, no queue", 50 * time.Millisecond, &pathReading{acked: 600_000}, true},
		{"a queue", 100 * time.Millisecond, &pathReading{queue: 40 * time.Millisecond, acked: 600_000}, false},
		{"no queue since, within congestedFor", 900 * time.Millisecond, &pathReading{acked: 600_000}, false},
		{"congestedFor after the queue", 100*time.Millisecond + congestedFor, &pathReading{acked: 600_000}, true},
	}
	for _, s := range steps {
		b.update(t0.Add(s.at), 0, 100, s.path)
		if got := b.queueFree.Load(); got != s.want {
			t.Errorf("%s: queueFree %v, want %v", s.name, got, s.want)
		}
	}
}

// TestLossBWECarried: the wrapper tells what the link has shown it
// carries: nothing before a backoff, then the larger of the backoff's
// delivered rate and the rate delivered now, only for changes of
// carriedStep or more, and 0 once levelFor has passed since the backoff.
func TestLossBWECarried(t *testing.T) {
	b := newTestLossBWE(t)
	var told []int
	b.onCarried = func(bps int) { told = append(told, bps) }
	t0 := time.Now()
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	steps := []struct {
		name string
		at   time.Duration
		path *pathReading
		want []int // told by this step
	}{
		{"no backoff yet", 0, &pathReading{acked: 600_000}, nil},
		{"a backoff at 500 kbit/s", ms(100), &pathReading{queue: ms(40), acked: 500_000}, []int{500_000}},
		{"delivering 2 % more", ms(300), &pathReading{acked: 510_000}, nil},
		{"delivering 700 kbit/s", ms(500), &pathReading{acked: 700_000}, []int{700_000}},
		{"delivering under the backoff's rate", ms(700), &pathReading{acked: 300_000}, []int{500_000}},
		{"levelFor after the backoff", ms(100) + levelFor, &pathReading{acked: 600_000}, []int{0}},
		{"still none", ms(300) + levelFor, &pathReading{acked: 650_000}, nil},
	}
	for _, s := range steps {
		told = nil
		b.update(t0.Add(s.at), 0, 100, s.path)
		if !slices.Equal(told, s.want) {
			t.Errorf("%s: told %v, want %v", s.name, told, s.want)
		}
	}
}

// TestLossBoundOverflowFloor: an overflow cuts to the rate that
// feedback's packets arrived at only while the target is over the
// delivered rate (the link got narrower than what was sent); under it a
// burst overflowed the queue, and the few of its packets that got through
// are no measure of the link.
func TestLossBoundOverflowFloor(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	tests := []struct {
		name        string
		current     int
		lost, total int
		path        pathReading
		want        int
	}{
		{"a link much narrower", 1_500_000, 60, 100, pathReading{recent: ms(90), acked: 1_050_000, latest: 450_000}, 382_500},
		{"a keyframe's burst under the delivered rate", 171_000, 7, 11, pathReading{recent: ms(91), acked: 238_000, latest: 114_000}, 171_000},
		{"the delivered rate not read", 1_000_000, 79, 100, pathReading{recent: ms(90), latest: 449_000}, 381_650},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newLossBound(tt.current, 100_000, 2_500_000)
			b.starting = false
			p := tt.path
			if got := b.feedback(time.Unix(100, 0), tt.lost, tt.total, tt.current, &p); got < tt.want-1 || got > tt.want+1 {
				t.Errorf("bound %d, want %d", got, tt.want)
			}
		})
	}
}
