package netem

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Pair is two network namespaces joined through this process by the link
// model. Close tears everything down.
type Pair struct {
	NS   [2]string     // namespace names, by Side
	Addr [2]netip.Addr // each side's address on its TUN device
	tun  [2]*os.File
	link [2]*Link // link[A] carries A→B
	log  *slog.Logger

	// Write errors on the receiving TUN (counted, not fatal).
	writeErrs atomic.Int64
	wg        sync.WaitGroup
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

var pairSeq atomic.Int64

// Check says why Start cannot work here (nil when it can): it needs root,
// /dev/net/tun and the ip command.
func Check() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: network namespaces need root", ErrSetup)
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		return fmt.Errorf("%w: no /dev/net/tun", ErrSetup)
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return fmt.Errorf("%w: no ip command", ErrSetup)
	}
	return nil
}

// Start creates the namespaces and TUN devices and starts forwarding. The
// schedule and outages of both directions count from now (SetOrigin moves
// them). It needs root, /dev/net/tun and the ip command.
func Start(ctx context.Context, o Options) (p *Pair, err error) {
	if o.Prefix == "" {
		o.Prefix = "pc"
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	seed := o.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	now := time.Now()
	p = &Pair{log: o.Log, done: make(chan struct{})}
	for i, c := range []Config{o.AtoB, o.BtoA} {
		if p.link[i], err = NewLink(c, now, rand.New(rand.NewPCG(seed, uint64(i)))); err != nil {
			return nil, err
		}
	}
	n := pairSeq.Add(1)
	for s := range 2 {
		p.NS[s] = fmt.Sprintf("%s%s-%d-%d", o.Prefix, Side(s), os.Getpid(), n)
		p.Addr[s] = netip.AddrFrom4([4]byte{10, 99, o.Subnet, byte(s + 1)})
	}
	defer func() {
		if err != nil {
			_ = p.Close()
			p = nil
		}
	}()
	for s := range 2 {
		if err := ipCmd(ctx, "netns", "add", p.NS[s]); err != nil {
			p.NS[s] = "" // not ours to delete
			return p, err
		}
		tun, err := openTUN(p.NS[s])
		if err != nil {
			return p, err
		}
		p.tun[s] = tun
		peer := p.Addr[1-s].String() + "/32"
		for _, args := range [][]string{
			{"link", "set", "lo", "up"},
			{"addr", "add", p.Addr[s].String() + "/32", "peer", peer, "dev", TUNName},
			{"link", "set", TUNName, "up"},
		} {
			if err := ipCmd(ctx, append([]string{"-n", p.NS[s]}, args...)...); err != nil {
				return p, err
			}
		}
	}
	for s := range 2 {
		p.forward(Side(s))
	}
	o.Log.Info("netem pair up", "a", p.NS[A], "b", p.NS[B], "addr_a", p.Addr[A], "addr_b", p.Addr[B])
	return p, nil
}

// Link is the model of the direction from side s to the other.
func (p *Pair) Link(from Side) *Link { return p.link[from] }

// SetOrigin makes both directions' schedules and outages count from t.
func (p *Pair) SetOrigin(t time.Time) {
	p.link[A].SetOrigin(t)
	p.link[B].SetOrigin(t)
}

// Counters returns both directions' totals: A→B and B→A.
func (p *Pair) Counters() (ab, ba Counters) { return p.link[A].Counters(), p.link[B].Counters() }

// WriteErrors counts packets the model delivered that the TUN device
// refused (a namespace already going away).
func (p *Pair) WriteErrors() int64 { return p.writeErrs.Load() }

// Command runs name in side s's namespace (ip netns exec), bound to ctx.
func (p *Pair) Command(ctx context.Context, s Side, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", p.NS[s], name}, args...)...)
}

// Listen opens a listener inside side s's namespace (a signaling server
// the other side reaches across the link). The socket stays in that
// namespace; this process serves it from any thread.
func (p *Pair) Listen(s Side, network, addr string) (ln net.Listener, err error) {
	err = p.inNS(s, func() error {
		ln, err = net.Listen(network, addr)
		return err
	})
	return ln, err
}

// ListenPacket opens a packet socket inside side s's namespace.
func (p *Pair) ListenPacket(s Side, network, addr string) (c net.PacketConn, err error) {
	err = p.inNS(s, func() error {
		c, err = net.ListenPacket(network, addr)
		return err
	})
	return c, err
}

// DialContext connects from inside side s's namespace (to reach a
// process there, e.g. a browser's DevTools port on its loopback).
func (p *Pair) DialContext(ctx context.Context, s Side, network, addr string) (c net.Conn, err error) {
	err = p.inNS(s, func() error {
		var d net.Dialer
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

func (p *Pair) inNS(s Side, fn func() error) error {
	select {
	case <-p.done:
		return ErrClosed
	default:
	}
	return inNamespace(p.NS[s], fn)
}

// Close stops forwarding, closes the TUN devices and deletes the
// namespaces. Processes still running in a namespace keep it alive until
// they exit; callers stop theirs first.
func (p *Pair) Close() error {
	p.closeOnce.Do(func() {
		close(p.done)
		var errs []error
		for s := range 2 {
			if p.tun[s] != nil {
				errs = append(errs, p.tun[s].Close())
			}
		}
		p.wg.Wait()
		for s := range 2 {
			if p.NS[s] != "" {
				errs = append(errs, ipCmd(context.Background(), "netns", "delete", p.NS[s]))
			}
		}
		p.closeErr = errors.Join(errs...)
		p.log.Info("netem pair down", "a", p.NS[A], "b", p.NS[B], "err", p.closeErr)
	})
	return p.closeErr
}

// forward reads IPv4 packets from side from's TUN, passes them through its
// link and writes them to the other side's TUN when they arrive.
func (p *Pair) forward(from Side) {
	q := &arrivals{wake: make(chan struct{}, 1)}
	link, in, out := p.link[from], p.tun[from], p.tun[1-from]
	p.wg.Add(2)
	go func() {
		defer p.wg.Done()
		defer q.close()
		buf := make([]byte, 65536)
		for {
			n, err := in.Read(buf)
			if err != nil {
				return
			}
			// IPv4 only: the addresses are IPv4 and stray IPv6 (router
			// solicitations) would only muddle the counters.
			if n < 20 || buf[0]>>4 != 4 {
				continue
			}
			at, v := link.Offer(time.Now(), n)
			if v != Delivered {
				continue
			}
			q.push(at, append([]byte(nil), buf[:n]...))
		}
	}()
	go func() {
		defer p.wg.Done()
		t := time.NewTimer(time.Hour)
		defer t.Stop()
		for {
			pkt, wait, ok := q.next(time.Now())
			switch {
			case !ok:
				return
			case pkt != nil:
				if _, err := out.Write(pkt); err != nil {
					p.writeErrs.Add(1)
				}
				continue
			}
			if wait > 0 {
				t.Reset(wait)
			}
			select {
			case <-t.C:
			case <-q.wake:
			case <-p.done:
				return
			}
		}
	}()
}

// arrivals holds the packets in flight, earliest arrival first (ties in
// offer order).
type arrivals struct {
	mu     sync.Mutex
	h      pktHeap
	seq    uint64
	closed bool
	wake   chan struct{}
}

type inFlight struct {
	at  time.Time
	seq uint64
	pkt []byte
}

type pktHeap []inFlight

func (h pktHeap) Len() int { return len(h) }
func (h pktHeap) Less(i, j int) bool {
	if h[i].at.Equal(h[j].at) {
		return h[i].seq < h[j].seq
	}
	return h[i].at.Before(h[j].at)
}
func (h pktHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *pktHeap) Push(x any)   { *h = append(*h, x.(inFlight)) }
func (h *pktHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func (q *arrivals) push(at time.Time, pkt []byte) {
	q.mu.Lock()
	q.seq++
	heap.Push(&q.h, inFlight{at: at, seq: q.seq, pkt: pkt})
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *arrivals) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// next returns a packet due at now, else how long until the next one is
// due (0: none queued); ok is false once closed.
func (q *arrivals) next(now time.Time) (pkt []byte, wait time.Duration, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil, 0, false
	}
	if len(q.h) == 0 {
		return nil, 0, true
	}
	if d := q.h[0].at.Sub(now); d > 0 {
		return nil, d, true
	}
	return heap.Pop(&q.h).(inFlight).pkt, 0, true
}

// openTUN creates the TUN device TUNName inside namespace ns and returns
// its file (non-blocking, so Close ends a pending Read).
func openTUN(ns string) (f *os.File, err error) {
	err = inNamespace(ns, func() error {
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
		if err != nil {
			return fmt.Errorf("%w: open /dev/net/tun: %w", ErrSetup, err)
		}
		ifr, err := unix.NewIfreq(TUNName)
		if err != nil {
			_ = unix.Close(fd)
			return fmt.Errorf("%w: %w", ErrSetup, err)
		}
		ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
		if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
			_ = unix.Close(fd)
			return fmt.Errorf("%w: TUNSETIFF: %w", ErrSetup, err)
		}
		f = os.NewFile(uintptr(fd), "tun:"+ns)
		return nil
	})
	return f, err
}

// inNamespace runs fn on an OS thread that has joined the named network
// namespace, then returns the thread to this process's namespace. A thread
// that cannot go back is never reused (it stays locked and exits with its
// goroutine).
func inNamespace(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("%w: own namespace: %w", ErrSetup, err)
			return
		}
		defer unix.Close(orig)
		target, err := unix.Open("/var/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("%w: namespace %s: %w", ErrSetup, ns, err)
			return
		}
		defer unix.Close(target)
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("%w: setns %s: %w", ErrSetup, ns, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("%w: back from %s: %w", ErrSetup, ns, err))
			return // thread stays locked: it dies with this goroutine
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

func ipCmd(ctx context.Context, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: ip %s: %w: %s", ErrSetup, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
