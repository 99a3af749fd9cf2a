package app_test

import (
	"context"
	"fmt"
	"net"
	"testing"

	"github.com/peercall/peercall/signalserver"
	dto "github.com/prometheus/client_model/go"
)

// mediaSent is what one headless peer sends.
type mediaSent struct{ audio, video bool }

func (m mediaSent) String() string {
	switch {
	case m.audio && m.video:
		return "av"
	case m.audio:
		return "a"
	case m.video:
		return "v"
	default:
		return "-"
	}
}

func (m mediaSent) args() []string {
	a, v := "synthetic", "synthetic"
	if !m.audio {
		a = "none"
	}
	if !m.video {
		v = "none"
	}
	return []string{"--audio", a, "--video", v, "--size", "320x240", "--duration", "4s"}
}

// TestHeadlessMediaCombinations calls between two headless processes for
// every combination of audio and video sent or not by the first and the
// second to join (so each pairing in both join orders): every call
// connects, runs its whole duration, carries exactly what each side sends,
// and negotiates a bounded number of times (no offer storm, nothing
// rate-limited by the signaling server).
func TestHeadlessMediaCombinations(t *testing.T) {
	bin := buildHeadless(t, true)
	all := []mediaSent{{false, false}, {true, false}, {false, true}, {true, true}}
	for _, first := range all {
		for _, second := range all {
			t.Run(fmt.Sprintf("first=%v/second=%v", first, second), func(t *testing.T) {
				t.Parallel()
				url, srv := startMetricsSignal(t)
				res := runPair(t, url, [2]peerSpec{{bin, first.args()}, {bin, second.args()}}, 0, nil)
				sent := [2]mediaSent{first, second}
				for i, r := range res {
					peer := sent[1-i]
					if r.code != 0 || !r.rep.OK {
						t.Errorf("peer %d (sends %v): exit %d, ok %v, error %q\n%s", i, sent[i], r.code, r.rep.OK, r.rep.Error, tail(r.stderr, 1500))
						continue
					}
					if got := r.rep.AudioIn.PacketsReceived; (got > 0) != peer.audio || (peer.audio && got < 100) {
						t.Errorf("peer %d received %d audio packets in 4 s; its peer sends audio: %v", i, got, peer.audio)
					}
					if got := r.rep.VideoIn.FramesDecoded; (got > 0) != peer.video || (peer.video && got < 60) {
						t.Errorf("peer %d decoded %d video frames in 4 s; its peer sends video: %v", i, got, peer.video)
					}
				}
				offers, answers := checkNegotiations(t, srv)
				t.Logf("matrix | %v | %v | %d audio pkts, %d frames | %d audio pkts, %d frames | %v | %v |",
					first, second, res[0].rep.AudioIn.PacketsReceived, res[0].rep.VideoIn.FramesDecoded,
					res[1].rep.AudioIn.PacketsReceived, res[1].rep.VideoIn.FramesDecoded, offers, answers)
			})
		}
	}
}

// startMetricsSignal serves a fresh signaling server on 127.0.0.1 for one
// test and returns its URL and the server, whose metrics the test reads.
func startMetricsSignal(t *testing.T, opts ...signalserver.Option) (string, *signalserver.Server) {
	t.Helper()
	srv, err := signalserver.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	return "ws://" + ln.Addr().String() + "/ws", srv
}

// checkNegotiations fails t when the server relayed more offers (offer
// requests included) or answers than one call needs, or rate-limited
// anything; it returns the counts.
func checkNegotiations(t *testing.T, srv *signalserver.Server) (offers, answers float64) {
	t.Helper()
	offers, answers = relayed(t, srv, "offer"), relayed(t, srv, "answer")
	if offers > 3 || answers > 3 {
		t.Errorf("%v offers and %v answers relayed: renegotiation without a change", offers, answers)
	}
	if n := rejected(t, srv, "rate-limited"); n > 0 {
		t.Errorf("signaling server rate-limited %v messages", n)
	}
	return offers, answers
}

// counter reads one labelled counter of the server's registry.
func counter(t *testing.T, srv *signalserver.Server, name, label, value string) float64 {
	t.Helper()
	mfs, err := srv.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if hasLabel(m, label, value) {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

func hasLabel(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

func relayed(t *testing.T, srv *signalserver.Server, typ string) float64 {
	return counter(t, srv, "peercall_signal_messages_relayed_total", "type", typ)
}

func rejected(t *testing.T, srv *signalserver.Server, reason string) float64 {
	return counter(t, srv, "peercall_signal_rejects_total", "reason", reason)
}
