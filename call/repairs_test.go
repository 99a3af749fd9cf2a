package call

import (
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/transport/v4/stdnet"
	"github.com/pion/transport/v4/test"
	"github.com/pion/webrtc/v4"
)

// TestTrackReaderReadsLateRepairs loses one original packet near the end
// of a short stream and checks that its retransmission is read although
// no media packet follows it (pion hands a repair to Read only before it
// blocks on the media stream: with tr.ReadRTP it waits for ever).
func TestTrackReaderReadsLateRepairs(t *testing.T) {
	for _, tc := range []struct {
		name        string
		total, lost int
	}{
		{"the last packet's predecessor", 10, 8},
		{"three before the end (read with the next media packet)", 10, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer test.TimeOut(30 * time.Second).Stop()
			defer test.CheckRoutines(t)()

			base, err := stdnet.NewNet()
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			dropped := false
			wasDropped := func() bool { mu.Lock(); defer mu.Unlock(); return dropped }
			lossy := &lossyNet{Net: base, drop: func(b []byte) bool {
				// The original, not its retransmission: VP8's payload
				// type (the RTP header is not encrypted).
				if !isRTP(b) || b[1]&0x7f != 96 || int(binary.BigEndian.Uint16(b[2:4])) != tc.lost {
					return false
				}
				mu.Lock()
				defer mu.Unlock()
				first := !dropped
				dropped = true
				return first
			}}
			track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", "s")
			if err != nil {
				t.Fatal(err)
			}
			sa, sb := NewPipeSignalers("a", "b")
			got := make(chan uint16, 4*tc.total)
			a, err := New(Config{LocalID: "a", RemoteID: "b", Signaler: sa, ICE: ICEOptions{Loopback: true},
				Tracks: []webrtc.TrackLocal{track}, InterfacePoll: -1})
			if err != nil {
				t.Fatal(err)
			}
			var b *Session
			b, err = New(Config{LocalID: "b", RemoteID: "a", Signaler: sb, ICE: ICEOptions{Loopback: true, Net: lossy},
				InterfacePoll: -1,
				OnTrack: func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
					rd := b.NewTrackReader(tr)
					for {
						p, _, err := rd.ReadRTP()
						if err != nil {
							return
						}
						got <- p.SequenceNumber
					}
				}})
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = a.Close(); _ = b.Close() }()
			connectAndSend(t, a, b, track, tc.total)
			seen := map[uint16]bool{}
			limit := time.After(5 * time.Second)
			for len(seen) < tc.total {
				select {
				case s := <-got:
					seen[s] = true
				case <-limit:
					t.Fatalf("after 5 s, %d of %d packets read; lost one dropped: %v, its repair read: %v",
						len(seen), tc.total, wasDropped(), seen[uint16(tc.lost)])
				}
			}
			if !wasDropped() {
				t.Error("the lossy network dropped nothing: the test tested nothing")
			}
		})
	}
}

// TestRepairRTTWithoutOwnStreams: a side that sends no media gets no
// reception reports to learn its round trip from; it takes ICE's (it
// stayed 0, and its NACKs and waits for repairs assumed 100 ms).
func TestRepairRTTWithoutOwnStreams(t *testing.T) {
	defer test.TimeOut(30 * time.Second).Stop()
	defer test.CheckRoutines(t)()

	p := newPair(t, nil) // neither side sends media
	defer p.close()
	p.start(t)
	p.waitConnected(t)
	deadline := time.Now().Add(10 * time.Second)
	for p.b.RepairRTT() == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if rtt := p.b.RepairRTT(); rtt <= 0 || rtt > time.Second {
		t.Fatalf("round trip on loopback %v, want (0, 1s]", rtt)
	}
	// The stats may store a new reading between two loads: the
	// requester's must be the session's before or after it.
	n := p.b.hooks.requester.Load()
	if n == nil {
		t.Fatal("no NACK requester")
	}
	before, got, after := p.b.RepairRTT(), n.roundTrip(), p.b.RepairRTT()
	if got != before && got != after {
		t.Errorf("the NACK requester's round trip %v, the session's %v", got, before)
	}
}

// fakeTrack hands out its reads in order and books the read deadlines set.
type fakeTrack struct {
	reads     []fakeRead
	deadlines []time.Time
}

type fakeRead struct {
	pkt []byte
	err error
}

func (f *fakeTrack) Read(b []byte) (int, interceptor.Attributes, error) {
	if len(f.reads) == 0 {
		return 0, nil, io.EOF
	}
	r := f.reads[0]
	f.reads = f.reads[1:]
	return copy(b, r.pkt), nil, r.err
}

func (f *fakeTrack) SetReadDeadline(t time.Time) error {
	f.deadlines = append(f.deadlines, t)
	return nil
}

// TestTrackReaderReads: malformed packets (their padding is past SRTP's
// authentication) are skipped, not the track's end; a deadline the reader
// set to look for a repair is read past; any other error ends the track.
func TestTrackReaderReads(t *testing.T) {
	good := func(seq uint16) []byte {
		b, err := (&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, SSRC: 7}, Payload: []byte{1, 2, 3}}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	padded := func(padLen byte) []byte { // the P bit, and a padding length as given
		b := good(9)
		b[0] |= 0x20
		b[len(b)-1] = padLen
		return b
	}
	timeout := &net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}
	broken := errors.New("closed")
	for _, tc := range []struct {
		name      string
		awaiting  bool // a repair is awaited: the reader sets deadlines
		reads     []fakeRead
		wantSeqs  []uint16
		wantErr   error
		deadlines int // read deadlines set, at least
	}{
		{"padding of zero length", false, []fakeRead{{pkt: padded(0)}, {pkt: good(1)}}, []uint16{1}, io.EOF, 0},
		{"padding longer than the payload", false, []fakeRead{{pkt: padded(200)}, {pkt: good(2)}}, []uint16{2}, io.EOF, 0},
		{"too short for a header", false, []fakeRead{{pkt: []byte{0x80, 96, 0}}, {pkt: good(3)}}, []uint16{3}, io.EOF, 0},
		{"a timeout while a repair is awaited", true, []fakeRead{{pkt: good(4)}, {err: timeout}, {err: timeout}, {pkt: good(5)}}, []uint16{4, 5}, io.EOF, 4},
		{"a timeout it did not ask for", false, []fakeRead{{err: timeout}}, nil, timeout, 0},
		{"another error", true, []fakeRead{{pkt: good(6)}, {err: broken}}, []uint16{6}, broken, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			at := time.Unix(1000, 0)
			n := newNACKRequester(nackInterval, nil, func() time.Time { return at })
			if tc.awaiting {
				n.lastRepair = at // the clock stands: awaited for good
			}
			var req atomic.Pointer[nackRequester]
			req.Store(n)
			src := &fakeTrack{reads: tc.reads}
			r := &TrackReader{tr: src, req: &req, log: slog.New(slog.DiscardHandler), ssrc: 7}
			var seqs []uint16
			var err error
			for {
				var p *rtp.Packet
				if p, _, err = r.ReadRTP(); err != nil {
					break
				}
				seqs = append(seqs, p.SequenceNumber)
			}
			if !slices.Equal(seqs, tc.wantSeqs) || !errors.Is(err, tc.wantErr) {
				t.Errorf("read %v and then %v, want %v and then %v", seqs, err, tc.wantSeqs, tc.wantErr)
			}
			if len(src.deadlines) < tc.deadlines || (tc.deadlines == 0 && len(src.deadlines) > 0) {
				t.Errorf("%d read deadlines set, want %d", len(src.deadlines), tc.deadlines)
			}
		})
	}
}
