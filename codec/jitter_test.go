package codec

import (
	"encoding/binary"
	"errors"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/speech.opus (needs cgo)")

const speechFile = "testdata/speech.opus"

// loadSpeechPackets reads the Opus packets of speechLike (48 kHz mono, 20 ms,
// 32 kbit/s, FEC on) stored by TestWriteSpeechOpus, so that the CGO-free
// build can test decoding too.
func loadSpeechPackets(t testing.TB) [][]byte {
	t.Helper()
	b, err := os.ReadFile(speechFile)
	if err != nil {
		t.Fatal(err)
	}
	var pkts [][]byte
	for len(b) >= 2 {
		n := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+n {
			t.Fatal("truncated testdata")
		}
		pkts = append(pkts, b[2:2+n])
		b = b[2+n:]
	}
	return pkts
}

func writeSpeechPackets(t testing.TB, pkts [][]byte) {
	var out []byte
	for _, p := range pkts {
		out = binary.BigEndian.AppendUint16(out, uint16(len(p)))
		out = append(out, p...)
	}
	if err := os.MkdirAll(filepath.Dir(speechFile), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(speechFile, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

type sentPacket struct {
	seq     uint16
	ts      uint32
	payload []byte
	arrival time.Duration
}

// playout simulates the network and the playout clock: every 20 ms the
// packets that have arrived are pushed, then one frame is popped. It
// returns each frame's kind and all the PCM played.
func playout(t *testing.T, jb *AudioJitterBuffer, pkts []sentPacket, pops int) ([]FrameKind, []int16) {
	t.Helper()
	order := slices.Clone(pkts)
	slices.SortStableFunc(order, func(a, b sentPacket) int { return int(a.arrival - b.arrival) })
	epoch := time.Unix(1000, 0)
	var kinds []FrameKind
	var played []int16
	for k := 0; k < pops; k++ {
		now := time.Duration(k) * 20 * time.Millisecond
		for len(order) > 0 && order[0].arrival <= now {
			p := order[0]
			order = order[1:]
			if err := jb.Push(p.seq, p.ts, p.payload, epoch.Add(p.arrival)); err != nil {
				t.Fatal(err)
			}
		}
		pcm, kind := jb.Pop()
		if len(pcm) != jb.FrameSamples() {
			t.Fatalf("pop %d: %d samples", k, len(pcm))
		}
		kinds = append(kinds, kind)
		played = append(played, pcm...)
	}
	return kinds, played
}

func countKinds(kinds []FrameKind) map[FrameKind]int {
	m := map[FrameKind]int{}
	for _, k := range kinds {
		m[k]++
	}
	return m
}

func TestAudioJitterBuffer(t *testing.T) {
	speech := loadSpeechPackets(t)[:100]
	base := func() []sentPacket {
		var out []sentPacket
		for i, p := range speech {
			out = append(out, sentPacket{
				seq: uint16(65500 + i), ts: uint32(0xfffff000 + i*960), payload: p,
				arrival: time.Duration(i)*20*time.Millisecond + 5*time.Millisecond,
			})
		}
		return out
	}
	drop := func(pkts []sentPacket, idx ...int) []sentPacket {
		var out []sentPacket
		for i, p := range pkts {
			if !slices.Contains(idx, i) {
				out = append(out, p)
			}
		}
		return out
	}
	every5th := []int{}
	for i := 4; i < 95; i += 5 {
		every5th = append(every5th, i)
	}
	conceal := !(&OpusDecoder{}).CanConceal() // false with cgo
	cases := []struct {
		name    string
		pkts    []sentPacket
		want    JitterStats // only the counters compared below
		minFEC  uint64
		checkFn func(t *testing.T, s JitterStats)
	}{
		{
			name: "in order",
			pkts: base(),
			want: JitterStats{Received: 100, Decoded: 100},
		},
		{
			name: "reordered pairs",
			pkts: func() []sentPacket {
				p := base()
				for i := 10; i < 90; i += 7 {
					p[i].arrival, p[i+1].arrival = p[i+1].arrival, p[i].arrival+time.Millisecond
				}
				return p
			}(),
			want: JitterStats{Received: 100, Decoded: 100},
		},
		{
			name: "duplicates",
			pkts: func() []sentPacket {
				p := base()
				return append(p, p[20], p[21], p[50])
			}(),
			want: JitterStats{Received: 100, Decoded: 100, Duplicates: 0, Late: 3},
		},
		{
			name: "every 5th lost",
			pkts: drop(base(), every5th...),
			want: JitterStats{Received: uint64(100 - len(every5th)), Decoded: uint64(100 - len(every5th)), Lost: uint64(len(every5th))},
			checkFn: func(t *testing.T, s JitterStats) {
				if conceal {
					if s.FECRecovered != 0 || s.ConcealedMs-20*s.Underruns != 20*uint64(len(every5th)) {
						t.Errorf("pure Go: FEC %d, concealed %d ms", s.FECRecovered, s.ConcealedMs)
					}
					return
				}
				// A lost frame is rebuilt when the packet after it carries
				// FEC; the others are concealed.
				withFEC := uint64(0)
				for _, i := range every5th {
					if OpusHasFEC(base()[i+1].payload) {
						withFEC++
					}
				}
				if withFEC < uint64(len(every5th))*3/4 {
					t.Fatalf("only %d of %d packets after a loss carry FEC: test signal not speech-like", withFEC, len(every5th))
				}
				if s.FECRecovered != withFEC || s.ConcealedMs != 20*(s.Underruns+uint64(len(every5th))-withFEC) {
					t.Errorf("FEC recovered %d of %d (want %d), concealed %d ms", s.FECRecovered, len(every5th), withFEC, s.ConcealedMs)
				}
			},
		},
		{
			name: "burst of three lost",
			pkts: drop(base(), 40, 41, 42),
			want: JitterStats{Received: 97, Decoded: 97, Lost: 3},
			checkFn: func(t *testing.T, s JitterStats) {
				// Waiting for the burst to end holds the playout point
				// (underruns); the buffer may then skip a missing frame
				// to shrink back. Either way the last lost frame comes
				// from FEC and the others are concealed or skipped.
				wantFEC := uint64(1)
				if conceal {
					wantFEC = 0
				}
				if s.FECRecovered != wantFEC || s.ConcealedMs == 0 {
					t.Errorf("FEC %d (want %d), concealed %d ms", s.FECRecovered, wantFEC, s.ConcealedMs)
				}
			},
		},
		{
			name: "dtx pause",
			pkts: func() []sentPacket {
				// After packet 30 the sender stays silent for 400 ms:
				// timestamps jump, sequence numbers do not.
				p := base()
				for i := 31; i < len(p); i++ {
					p[i].ts += 20 * 960
					p[i].arrival += 400 * time.Millisecond
				}
				return p
			}(),
			want: JitterStats{Received: 100, Decoded: 100},
			checkFn: func(t *testing.T, s JitterStats) {
				if s.Underruns < 15 {
					t.Errorf("underruns %d during a 400 ms pause", s.Underruns)
				}
			},
		},
		{
			name: "sender restarts its timestamps",
			pkts: func() []sentPacket {
				p := base()
				for i := 50; i < len(p); i++ {
					p[i].ts -= 1 << 30
					p[i].seq += 3000
				}
				return p
			}(),
			// The first jbMaxLateRun packets after the jump are taken
			// as late; then the buffer starts over.
			want: JitterStats{Received: 100 - jbMaxLateRun + 1, Decoded: 100 - jbMaxLateRun + 1, Late: jbMaxLateRun},
		},
		{
			name: "one packet far too late",
			pkts: func() []sentPacket {
				p := base()
				p[30].arrival += 500 * time.Millisecond
				return p
			}(),
			want: JitterStats{Received: 99, Decoded: 99, Lost: 1, Late: 1},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			jb, err := NewAudioJitterBuffer(JitterBufferConfig{})
			if err != nil {
				t.Fatal(err)
			}
			defer jb.Close()
			kinds, _ := playout(t, jb, tc.pkts, 130)
			s := jb.Stats()
			got := JitterStats{Received: s.Received, Decoded: s.Decoded, Lost: s.Lost, Late: s.Late, Duplicates: s.Duplicates}
			want := tc.want
			if tc.name == "duplicates" {
				// Duplicates of packets already played count as late.
				got.Duplicates, got.Late = 0, s.Duplicates+s.Late
			}
			if got != want {
				t.Errorf("stats %+v\nwant  %+v\n(kinds %v)", got, want, countKinds(kinds))
			}
			t.Logf("compressed %d times, %d ms; underruns %d", s.Dropped, s.CompressedMs, s.Underruns)
			// At most two frames' worth (a whole frame dropped, before
			// time compression, was at most one).
			if s.CompressedMs > 40 {
				t.Errorf("compressed %d ms", s.CompressedMs)
			}
			if tc.checkFn != nil {
				tc.checkFn(t, s)
			}
		})
	}
}

func TestAudioJitterBufferAdapts(t *testing.T) {
	speech := loadSpeechPackets(t)
	run := func(jitter time.Duration) JitterStats {
		rng := rand.New(rand.NewPCG(1, 2))
		var pkts []sentPacket
		for i := range 400 {
			p := speech[i%len(speech)]
			d := time.Duration(0)
			if jitter > 0 {
				d = time.Duration(rng.Int64N(int64(jitter)))
			}
			pkts = append(pkts, sentPacket{seq: uint16(i), ts: uint32(i * 960), payload: p,
				arrival: time.Duration(i)*20*time.Millisecond + d})
		}
		jb, err := NewAudioJitterBuffer(JitterBufferConfig{})
		if err != nil {
			t.Fatal(err)
		}
		defer jb.Close()
		playout(t, jb, pkts, 400)
		return jb.Stats()
	}
	calm, rough := run(0), run(100*time.Millisecond)
	t.Logf("no jitter: target %v, jitter %v; 0-100 ms jitter: target %v, jitter %v, lost %d late %d",
		calm.TargetDelay, calm.Jitter, rough.TargetDelay, rough.Jitter, rough.Lost, rough.Late)
	if calm.TargetDelay != 20*time.Millisecond {
		t.Errorf("target without jitter %v, want 20ms", calm.TargetDelay)
	}
	if rough.TargetDelay < 90*time.Millisecond || rough.TargetDelay > 200*time.Millisecond {
		t.Errorf("target with 100 ms jitter %v, want 90..200 ms", rough.TargetDelay)
	}
	if rough.Jitter < 10*time.Millisecond {
		t.Errorf("measured jitter %v", rough.Jitter)
	}
}

func TestAudioJitterBufferInvalid(t *testing.T) {
	if _, err := NewAudioJitterBuffer(JitterBufferConfig{SampleRate: 44100}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("44.1 kHz: %v", err)
	}
	if _, err := NewAudioJitterBuffer(JitterBufferConfig{MinDelay: time.Second}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("min > max: %v", err)
	}
	jb, err := NewAudioJitterBuffer(JitterBufferConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer jb.Close()
	if err := jb.Push(1, 0, nil, time.Now()); !errors.Is(err, ErrMalformedPacket) {
		t.Fatalf("empty payload: %v", err)
	}
	if _, kind := jb.Pop(); kind != FrameSilence {
		t.Fatalf("empty buffer gave %v", kind)
	}
}

// FuzzAudioJitterBuffer pushes arbitrary packets (and garbage payloads
// straight into the decoder) between pops: nothing may panic and every frame
// has the right size.
func FuzzAudioJitterBuffer(f *testing.F) {
	f.Add([]byte{0, 0, 1, 0xf8, 1, 1, 1, 0xf8, 3, 2, 1, 0xf8, 2, 40, 2, 0x08, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		jb, err := NewAudioJitterBuffer(JitterBufferConfig{})
		if err != nil {
			t.Fatal(err)
		}
		defer jb.Close()
		epoch := time.Unix(0, 0)
		for k := 0; len(data) >= 3; k++ {
			seq, tsStep, n := data[0], data[1], int(data[2]%64)
			data = data[3:]
			n = min(n, len(data))
			_ = jb.Push(uint16(seq), uint32(tsStep)*960, data[:n], epoch.Add(time.Duration(k)*7*time.Millisecond))
			data = data[n:]
			if pcm, _ := jb.Pop(); len(pcm) != jb.FrameSamples() {
				t.Fatalf("frame of %d samples", len(pcm))
			}
		}
		_ = jb.Stats()
	})
}
