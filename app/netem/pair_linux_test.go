package netem

import (
	"context"
	"encoding/binary"
	"io"
	"math"
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// startPair starts a Pair for a test, or skips where namespaces cannot be
// made (not root, no /dev/net/tun, no ip).
func startPair(t *testing.T, ab, ba Config) *Pair {
	t.Helper()
	if err := Check(); err != nil {
		skipOrFail(t, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p, err := Start(ctx, Options{AtoB: ab, BtoA: ba, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		out, _ := exec.Command("ip", "netns", "list").Output()
		for _, ns := range p.NS {
			if strings.Contains(string(out), ns) {
				t.Errorf("namespace %s left behind", ns)
			}
		}
	})
	return p
}

type udpResult struct {
	sent     int
	got      int
	gotBytes int
	delays   []time.Duration // one way, in arrival order
	first    time.Time
	last     time.Time
}

// sendUDP sends size-byte datagrams from A to B at pps for dur and
// collects what arrives until linger after the last one. Each datagram
// carries its send time (this process's clock serves both ends).
func sendUDP(t *testing.T, p *Pair, pps, size int, dur, linger time.Duration) udpResult {
	t.Helper()
	rx, err := p.ListenPacket(B, "udp4", p.Addr[B].String()+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	tx, err := p.ListenPacket(A, "udp4", p.Addr[A].String()+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	var res udpResult
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			_ = rx.SetReadDeadline(time.Now().Add(dur + linger + time.Second))
			n, _, err := rx.ReadFrom(buf)
			if err != nil {
				return
			}
			now := time.Now()
			if n < 8 {
				continue
			}
			sent := time.Unix(0, int64(binary.BigEndian.Uint64(buf))) //nolint:gosec // our own stamp
			if res.got == 0 {
				res.first = now
			}
			res.got++
			res.gotBytes += n
			res.last = now
			res.delays = append(res.delays, now.Sub(sent))
		}
	}()
	pkt := make([]byte, size)
	gap := time.Second / time.Duration(pps)
	start := time.Now()
	for i := 0; ; i++ {
		at := start.Add(time.Duration(i) * gap)
		if at.Sub(start) >= dur {
			break
		}
		time.Sleep(time.Until(at))
		binary.BigEndian.PutUint64(pkt, uint64(time.Now().UnixNano())) //nolint:gosec // positive
		if _, err := tx.WriteTo(pkt, net.UDPAddrFromAddrPort(addrPort(rx.LocalAddr()))); err != nil {
			t.Fatalf("send: %v", err)
		}
		res.sent++
	}
	time.Sleep(linger)
	_ = rx.Close()
	<-done
	return res
}

func addrPort(a net.Addr) netip.AddrPort { return a.(*net.UDPAddr).AddrPort() }

func quantile(ds []time.Duration, q float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

// TestPairCapacityDelayLoss sends UDP between two namespaces through the
// emulator and checks that capacity, delay and loss land near their
// settings. Bounds are generous (a shared 2-core machine) and each figure
// is measured over seconds.
func TestPairCapacityDelayLoss(t *testing.T) {
	t.Run("capacity", func(t *testing.T) {
		t.Parallel()
		p := startPair(t, Config{Rate: 1_000_000, Delay: 50 * time.Millisecond, Queue: 100 * time.Millisecond}, Config{})
		// 2 Mbit/s offered (1000-byte datagrams, 1028 on the wire) for 3 s.
		r := sendUDP(t, p, 250, 1000, 3*time.Second, 500*time.Millisecond)
		ab, _ := p.Counters()
		span := r.last.Sub(r.first).Seconds()
		rate := float64(r.got*1028*8) / span
		if math.Abs(rate-1e6)/1e6 > 0.15 {
			t.Errorf("received %.0f bit/s over %.1fs, want 1 Mbit/s ± 15 %%", rate, span)
		}
		if ab.QueueDropPackets == 0 || ab.InPackets < int64(r.sent) {
			t.Errorf("counters %+v after %d sent", ab, r.sent)
		}
		// A full queue: about 50 ms delay + 100 ms queue. The median, and
		// most packets within 250 ms: a loaded machine stalls the
		// forwarder now and then.
		if p50, p80 := quantile(r.delays, 0.5), quantile(r.delays, 0.8); p50 < 130*time.Millisecond || p50 > 200*time.Millisecond || p80 > 250*time.Millisecond {
			t.Errorf("one-way p50 %v p80 %v under load, want about 150 ms (p50 130..200, p80 ≤ 250)", p50, p80)
		}
		t.Logf("sent %d got %d, %.0f bit/s, p50 %v p95 %v, counters %+v", r.sent, r.got, rate,
			quantile(r.delays, 0.5), quantile(r.delays, 0.95), ab)
	})
	t.Run("delay", func(t *testing.T) {
		t.Parallel()
		p := startPair(t, Config{Rate: 3_000_000, Delay: 50 * time.Millisecond}, Config{})
		r := sendUDP(t, p, 50, 200, 2*time.Second, 300*time.Millisecond)
		if r.got != r.sent {
			t.Errorf("got %d of %d on a lossless, idle link", r.got, r.sent)
		}
		lo, p50 := quantile(r.delays, 0), quantile(r.delays, 0.5)
		if lo < 50*time.Millisecond || p50 > 80*time.Millisecond {
			t.Errorf("one-way min %v p50 %v, want ≥ 50 ms and p50 ≤ 80 ms", lo, p50)
		}
		t.Logf("min %v p50 %v p95 %v", lo, p50, quantile(r.delays, 0.95))
	})
	t.Run("burst-loss", func(t *testing.T) {
		t.Parallel()
		p := startPair(t, Config{Loss: BurstLoss(0.05, 4)}, Config{})
		r := sendUDP(t, p, 1000, 200, 4*time.Second, 300*time.Millisecond)
		ab, _ := p.Counters()
		loss := 1 - float64(r.got)/float64(r.sent)
		// 4000 packets in bursts of 4: the mean's spread is about ±1.5 %.
		if loss < 0.02 || loss > 0.09 {
			t.Errorf("lost %.3f of %d, want 0.05 (0.02..0.09)", loss, r.sent)
		}
		if ab.LossDropPackets != int64(r.sent-r.got) {
			t.Errorf("loss counter %d, missing %d", ab.LossDropPackets, r.sent-r.got)
		}
		t.Logf("lost %.3f (%d of %d)", loss, r.sent-r.got, r.sent)
	})
	t.Run("command", func(t *testing.T) {
		t.Parallel()
		p := startPair(t, Config{}, Config{})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		out, err := p.Command(ctx, A, "ip", "-4", "-o", "addr", "show", "dev", TUNName).CombinedOutput()
		if err != nil || !strings.Contains(string(out), p.Addr[A].String()) {
			t.Fatalf("ip in namespace A: %v: %s", err, out)
		}
		// TCP from A to a listener in B, across the link.
		ln, err := p.Listen(B, "tcp4", p.Addr[B].String()+":0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			c, err := ln.Accept()
			if err == nil {
				_, _ = c.Write([]byte("hello from B"))
				_ = c.Close()
			}
		}()
		c, err := p.DialContext(ctx, A, "tcp4", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		b, err := io.ReadAll(c)
		if err != nil || string(b) != "hello from B" {
			t.Fatalf("read %q, %v", b, err)
		}
	})
}
