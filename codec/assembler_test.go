package codec

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
)

// testFrame is a fake VP8 frame: only the P bit of the first byte matters to
// the assembler.
type testFrame struct {
	key  bool
	size int
}

type testStream struct {
	frames  [][]byte
	packets []*rtp.Packet
	owner   []int // frame index of each packet
}

// packetize splits frames into RTP packets with pion's VP8 payloader
// (PictureID on, small MTU so frames span several packets).
func packetize(t testing.TB, firstSeq uint16, frames []testFrame, mtu uint16) *testStream {
	t.Helper()
	st := &testStream{}
	pay := &codecs.VP8Payloader{EnablePictureID: true}
	seq := firstSeq
	for i, f := range frames {
		data := make([]byte, f.size)
		for k := range data {
			data[k] = byte(i*31 + k)
		}
		if f.key {
			data[0] &^= 1
		} else {
			data[0] |= 1
		}
		st.frames = append(st.frames, data)
		payloads := pay.Payload(mtu, data)
		for k, p := range payloads {
			st.packets = append(st.packets, &rtp.Packet{
				Header: rtp.Header{
					Version: 2, PayloadType: 96, SequenceNumber: seq,
					Timestamp: uint32(1000 + i*3000), Marker: k == len(payloads)-1, SSRC: 7,
				},
				Payload: p,
			})
			st.owner = append(st.owner, i)
			seq++
		}
	}
	return st
}

// firstPacket returns the index in packets of frame f's k-th packet.
func (st *testStream) packetOf(f, k int) int {
	for i, o := range st.owner {
		if o == f {
			return i + k
		}
	}
	panic("no such frame")
}

func seq(from, to int) []int {
	var s []int
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return s
}

func gop(n int, keyAt ...int) []testFrame {
	fs := make([]testFrame, n)
	for i := range fs {
		fs[i] = testFrame{key: slices.Contains(keyAt, i), size: 150 + 37*(i%5)}
	}
	return fs
}

func TestVP8Assembler(t *testing.T) {
	cases := []struct {
		name     string
		seq      uint16
		frames   []testFrame
		edit     func(st *testStream) []*rtp.Packet
		want     []int // frame indices handed out, in order
		needKF   bool
		gaps     uint64
		dups     uint64
		minDrops uint64
	}{
		{
			name: "in order", frames: gop(5, 0),
			want: []int{0, 1, 2, 3, 4},
		},
		{
			name: "keyframe far bigger than the reorder window", frames: []testFrame{{key: true, size: 6000}, {size: 200}, {size: 3000}},
			want: []int{0, 1, 2},
		},
		{
			name: "sequence wrap", seq: 65530, frames: gop(6, 0),
			want: []int{0, 1, 2, 3, 4, 5},
		},
		{
			name: "reordered inside a frame", frames: gop(3, 0),
			edit: func(st *testStream) []*rtp.Packet {
				p := slices.Clone(st.packets)
				a, b := st.packetOf(1, 0), st.packetOf(1, 1)
				p[a], p[b] = p[b], p[a]
				return p
			},
			want: []int{0, 1, 2},
		},
		{
			name: "next frame before the end of this one", frames: gop(3, 0),
			edit: func(st *testStream) []*rtp.Packet {
				p := slices.Clone(st.packets)
				last := st.packetOf(2, 0) - 1 // marker packet of frame 1
				m := p[last]
				p = slices.Delete(p, last, last+1)
				return append(p, m)
			},
			want: []int{0, 1, 2},
		},
		{
			name: "first packet reordered behind the second", frames: gop(2, 0),
			edit: func(st *testStream) []*rtp.Packet {
				p := slices.Clone(st.packets)
				p[0], p[1] = p[1], p[0]
				return p
			},
			want: []int{0, 1},
		},
		{
			name: "duplicates", frames: gop(3, 0),
			edit: func(st *testStream) []*rtp.Packet {
				var p []*rtp.Packet
				for _, pk := range st.packets {
					p = append(p, pk, pk)
				}
				return append(p, st.packets[0])
			},
			want: []int{0, 1, 2}, dups: 0, // counted below per packet
		},
		{
			name: "lost packet then long wait then keyframe", frames: gop(40, 0, 39),
			edit: func(st *testStream) []*rtp.Packet {
				p := slices.Clone(st.packets)
				i := st.packetOf(2, 1)
				return slices.Delete(p, i, i+1)
			},
			want: []int{0, 1, 39}, gaps: 1, minDrops: 30,
		},
		{
			name: "lost packet, keyframe right after", frames: gop(5, 0, 3),
			edit: func(st *testStream) []*rtp.Packet {
				p := slices.Clone(st.packets)
				i := st.packetOf(1, 1)
				return slices.Delete(p, i, i+1)
			},
			want: []int{0, 3, 4}, gaps: 1, minDrops: 2,
		},
		{
			name: "starts mid-GOP", frames: gop(4, 0),
			edit: func(st *testStream) []*rtp.Packet {
				return st.packets[st.packetOf(1, 0):]
			},
			want: nil, needKF: true, minDrops: 0,
		},
		{
			name: "starts mid-GOP then keyframe", frames: gop(5, 0, 4),
			edit: func(st *testStream) []*rtp.Packet {
				return st.packets[st.packetOf(2, 1):]
			},
			want: []int{4}, minDrops: 2,
		},
		{
			name: "lost marker bit", frames: gop(3, 0),
			edit: func(st *testStream) []*rtp.Packet {
				p := slices.Clone(st.packets)
				i := st.packetOf(2, 0) - 1
				c := *p[i]
				c.Marker = false
				p[i] = &c
				return p
			},
			want: []int{0, 1, 2},
		},
		{
			name: "keyframe packet retransmitted after the window", frames: gop(30, 0),
			edit: func(st *testStream) []*rtp.Packet {
				// A NACK brings the lost keyframe packet back late: the
				// keyframe and the interframes held since are handed out.
				p := slices.Clone(st.packets)
				i := st.packetOf(0, 1)
				lost := p[i]
				p = slices.Delete(p, i, i+1)
				return append(p, lost)
			},
			want: seq(0, 30),
		},
		{
			name: "loss, then the new keyframe repaired late", frames: gop(45, 0, 5),
			edit: func(st *testStream) []*rtp.Packet {
				p := slices.Clone(st.packets)
				late := p[st.packetOf(5, 1)]
				p = slices.Delete(p, st.packetOf(5, 1), st.packetOf(5, 1)+1)
				p = slices.Delete(p, st.packetOf(3, 1), st.packetOf(3, 1)+1)
				return append(p, late)
			},
			want: append([]int{0, 1, 2}, seq(5, 45)...), gaps: 1, minDrops: 2,
		},
		{
			name: "sender restarts with new sequence numbers", frames: gop(60, 0, 40),
			edit: func(st *testStream) []*rtp.Packet {
				// From frame 5 on the sequence numbers jump by 40000,
				// which looks like 25536 packets back.
				var p []*rtp.Packet
				for i, pk := range st.packets {
					if st.owner[i] >= 5 {
						c := *pk
						c.SequenceNumber += 40000
						pk = &c
					}
					p = append(p, pk)
				}
				return p
			},
			want: append(seq(0, 5), seq(40, 60)...), gaps: 1,
		},
		{
			name: "whole frame lost", frames: gop(50, 0),
			edit: func(st *testStream) []*rtp.Packet {
				p := slices.Clone(st.packets)
				return slices.Delete(p, st.packetOf(3, 0), st.packetOf(4, 0))
			},
			want: []int{0, 1, 2}, needKF: true, gaps: 1, minDrops: 40,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := packetize(t, tc.seq, tc.frames, 80)
			pkts := st.packets
			if tc.edit != nil {
				pkts = tc.edit(st)
			}
			a := NewVP8Assembler()
			var got []int
			for _, p := range pkts {
				frames, err := a.Push(p)
				if err != nil {
					t.Fatal(err)
				}
				for _, f := range frames {
					idx := int(f.Timestamp-1000) / 3000
					if !bytes.Equal(f.Data, st.frames[idx]) {
						t.Fatalf("frame %d: data differs", idx)
					}
					if f.KeyFrame != tc.frames[idx].key {
						t.Fatalf("frame %d: KeyFrame = %v", idx, f.KeyFrame)
					}
					got = append(got, idx)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("frames %v, want %v", got, tc.want)
			}
			s := a.Stats()
			if a.NeedKeyFrame() != tc.needKF {
				t.Errorf("NeedKeyFrame = %v, want %v", a.NeedKeyFrame(), tc.needKF)
			}
			if s.Gaps != tc.gaps {
				t.Errorf("gaps %d, want %d", s.Gaps, tc.gaps)
			}
			if s.Dropped < tc.minDrops {
				t.Errorf("dropped %d, want >= %d", s.Dropped, tc.minDrops)
			}
			if s.Frames != uint64(len(tc.want)) {
				t.Errorf("frames counter %d, want %d", s.Frames, len(tc.want))
			}
			if tc.name == "duplicates" && s.Duplicates+s.Late != uint64(len(st.packets)+1) {
				t.Errorf("duplicates %d + late %d, want %d", s.Duplicates, s.Late, len(st.packets)+1)
			}
		})
	}
}

func TestVP8AssemblerKeyFrameRequests(t *testing.T) {
	st := packetize(t, 100, gop(8, 0, 6), 80)
	a := NewVP8Assembler()
	push := func(from, to int) (n int) {
		for _, p := range st.packets[from:to] {
			fs, err := a.Push(p)
			if err != nil {
				t.Fatal(err)
			}
			n += len(fs)
		}
		return n
	}
	if n := push(0, st.packetOf(3, 0)); n != 3 || a.NeedKeyFrame() {
		t.Fatalf("got %d frames, need keyframe %v", n, a.NeedKeyFrame())
	}
	a.ReportDecodeError()
	if !a.NeedKeyFrame() {
		t.Fatal("decode error did not ask for a keyframe")
	}
	if n := push(st.packetOf(3, 0), st.packetOf(6, 0)); n != 0 {
		t.Fatalf("interframes after a decode error: %d handed out", n)
	}
	if n := push(st.packetOf(6, 0), len(st.packets)); n != 2 || a.NeedKeyFrame() {
		t.Fatalf("after keyframe: %d frames, need keyframe %v", n, a.NeedKeyFrame())
	}
	s := a.Stats()
	if s.DecodeErrors != 1 || s.KeyFrameRequests != 1 || s.Dropped != 3 {
		t.Fatalf("stats %+v", s)
	}
}

func TestVP8AssemblerMalformed(t *testing.T) {
	good := packetize(t, 1, gop(1, 0), 1200).packets[0]
	cases := []struct {
		name string
		pkt  *rtp.Packet
	}{
		{"nil packet", nil},
		{"empty payload", &rtp.Packet{Header: good.Header}},
		{"descriptor only", &rtp.Packet{Header: good.Header, Payload: []byte{0x10}}},
		{"extension bits but no extension", &rtp.Packet{Header: good.Header, Payload: []byte{0x90}}},
		{"picture id truncated", &rtp.Packet{Header: good.Header, Payload: []byte{0x90, 0x80, 0x80}}},
	}
	a := NewVP8Assembler()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs, err := a.Push(tc.pkt)
			if !errors.Is(err, ErrMalformedPacket) || fs != nil {
				t.Fatalf("Push = %v, %v; want ErrMalformedPacket", fs, err)
			}
		})
	}
	if s := a.Stats(); s.Malformed != uint64(len(cases)) {
		t.Fatalf("malformed %d, want %d", s.Malformed, len(cases))
	}
	// The assembler still works afterwards.
	if fs, err := a.Push(good); err != nil || len(fs) != 1 {
		t.Fatalf("good packet after malformed ones: %v %v", fs, err)
	}
}

// FuzzVP8Assembler feeds arbitrary packet sequences: the assembler must never
// panic and every frame it hands out must be consistent.
func FuzzVP8Assembler(f *testing.F) {
	st := packetize(f, 65500, gop(4, 0, 2), 60)
	var seed []byte
	for _, p := range st.packets {
		seed = append(seed, byte(p.SequenceNumber), byte(p.Timestamp/3000), boolByte(p.Marker), byte(len(p.Payload)))
		seed = append(seed, p.Payload...)
	}
	f.Add(seed)
	f.Add([]byte{0, 0, 1, 1, 0x10})
	f.Add([]byte{5, 1, 1, 3, 0x90, 0x80, 0x80, 4, 1, 0, 2, 0x10, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		a := NewVP8Assembler(WithReorderWindow(int(len(data) % 40)))
		var base uint16 = 65000
		handed := 0
		for len(data) >= 4 {
			seq, ts, flags, n := data[0], data[1], data[2], int(data[3])
			data = data[4:]
			n = min(n, len(data))
			pkt := &rtp.Packet{
				Header:  rtp.Header{Version: 2, SequenceNumber: base + uint16(seq)*uint16(1+flags>>4), Timestamp: uint32(ts) * 3000, Marker: flags&1 != 0},
				Payload: data[:n],
			}
			data = data[n:]
			if flags&2 != 0 {
				a.ReportDecodeError()
			}
			frames, err := a.Push(pkt)
			if err != nil && !errors.Is(err, ErrMalformedPacket) {
				t.Fatalf("unexpected error %v", err)
			}
			handed += len(frames)
			for _, fr := range frames {
				if len(fr.Data) == 0 || fr.Packets < 1 || fr.Packets > assemblerRing {
					t.Fatalf("bad frame %+v", fr)
				}
			}
		}
		if s := a.Stats(); s.Frames != uint64(handed) {
			t.Fatalf("frames counter %d, handed out %d", s.Frames, handed)
		}
	})
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}
