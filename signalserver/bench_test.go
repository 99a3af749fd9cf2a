package signalserver

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// The idle-connection benchmark runs its clients in a child process (this
// test binary re-executed) so the parent's heap holds only the server.
const (
	benchChildEnv = "PEERCALL_BENCH_CHILD"
	benchURLEnv   = "PEERCALL_BENCH_URL"
	benchNEnv     = "PEERCALL_BENCH_N"
	idleConns     = 10000
)

// benchChildMain dials N joined, idle clients, prints READY and holds them
// until stdin closes.
func benchChildMain() int {
	raiseFileLimit()
	url := os.Getenv(benchURLEnv)
	n, _ := strconv.Atoi(os.Getenv(benchNEnv))
	conns := make([]*websocket.Conn, n)
	d := websocket.Dialer{HandshakeTimeout: 30 * time.Second, ReadBufferSize: 256, WriteBufferSize: 256}
	var failed atomic.Int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ws, _, err := d.Dial(url, nil)
			if err != nil {
				failed.Add(1)
				return
			}
			b, _ := Message{Type: TypeJoin, Room: "idle-" + strconv.Itoa(i/2), Name: "idle"}.Encode()
			if ws.WriteMessage(websocket.TextMessage, b) != nil {
				failed.Add(1)
				return
			}
			_ = ws.SetReadDeadline(time.Now().Add(30 * time.Second))
			if _, _, err := ws.ReadMessage(); err != nil {
				failed.Add(1)
				return
			}
			conns[i] = ws
		}()
	}
	wg.Wait()
	fmt.Printf("READY %d\n", failed.Load())
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, ws := range conns {
		if ws != nil {
			_ = ws.Close()
		}
	}
	return 0
}

func serverMem() (heap, stack uint64) {
	for range 6 { // stacks shrink by half per GC cycle
		runtime.GC()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse, ms.StackInuse
}

// BenchmarkIdleConnections holds 10,000 joined, idle WebSocket connections
// (clients in a child process) and reports the server's memory per
// connection. The workload is fixed; b.N does not scale it.
func BenchmarkIdleConnections(b *testing.B) {
	raiseFileLimit()
	// Every client comes from 127.0.0.1: the per-address limits must hold
	// all of them.
	ts := startServer(b, WithMaxConnsPerIP(idleConns+10), WithMaxRooms(idleConns), WithMaxRoomsPerIP(idleConns),
		WithMaxPendingPerIP(idleConns), WithShutdownTimeout(30*time.Second))
	waitConns := func(want int) {
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			ts.s.mu.Lock()
			n := len(ts.s.conns)
			ts.s.mu.Unlock()
			if n == want {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		b.Fatalf("server connections did not reach %d", want)
	}
	for i := 0; i < b.N; i++ {
		if i > 0 {
			continue // bounded: one run of the fixed workload
		}
		heap0, stack0 := serverMem()
		g0 := runtime.NumGoroutine()
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), benchChildEnv+"=1", benchURLEnv+"="+ts.url, benchNEnv+"="+strconv.Itoa(idleConns))
		stdin, err := cmd.StdinPipe()
		if err != nil {
			b.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		start := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil {
			b.Fatalf("child: %v", err)
		}
		var failed int
		if _, err := fmt.Sscanf(line, "READY %d", &failed); err != nil || failed != 0 {
			b.Fatalf("child reported %q", line)
		}
		setup := time.Since(start)
		waitConns(idleConns)
		time.Sleep(500 * time.Millisecond)
		heap1, stack1 := serverMem()
		if p := os.Getenv("PEERCALL_BENCH_HEAPPROFILE"); p != "" {
			if f, err := os.Create(p); err == nil {
				_ = pprof.WriteHeapProfile(f)
				_ = f.Close()
			}
		}
		g1 := runtime.NumGoroutine()
		b.ReportMetric(float64(heap1+stack1-heap0-stack0)/idleConns, "bytes/conn")
		b.ReportMetric(float64(heap1-heap0)/idleConns, "heap-bytes/conn")
		b.ReportMetric(float64(stack1-stack0)/idleConns, "stack-bytes/conn")
		b.ReportMetric(float64(g1-g0)/idleConns, "goroutines/conn")
		b.ReportMetric(setup.Seconds(), "setup-s")
		_ = stdin.Close()
		_ = cmd.Wait()
		waitConns(0)
	}
}

// BenchmarkRelayLatency relays 5,000 messages/s for 2 s across 1,000
// two-peer rooms and reports end-to-end (client write to client read)
// latency percentiles. Fixed workload; b.N does not scale it.
func BenchmarkRelayLatency(b *testing.B) {
	raiseFileLimit()
	const (
		rooms    = 1000
		rate     = 5000
		duration = 2 * time.Second
		total    = int(rate * duration / time.Second)
	)
	ts := startServer(b, WithMaxConnsPerIP(2*rooms+10), WithMaxRooms(rooms), WithMaxRoomsPerIP(rooms))
	for it := 0; it < b.N; it++ {
		if it > 0 {
			continue
		}
		senders := make([]*websocket.Conn, rooms)
		receivers := make([]*websocket.Conn, rooms)
		d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
		for i := range rooms {
			for j, dst := range [][]*websocket.Conn{senders, receivers} {
				ws, resp, err := d.Dial(ts.url, http.Header{})
				if resp != nil && resp.Body != nil {
					_ = resp.Body.Close()
				}
				if err != nil {
					b.Fatal(err)
				}
				dst[i] = ws
				m, _ := Message{Type: TypeJoin, Room: "lat-" + strconv.Itoa(i), Name: "p" + strconv.Itoa(j)}.Encode()
				if err := ws.WriteMessage(websocket.TextMessage, m); err != nil {
					b.Fatal(err)
				}
				if _, _, err := ws.ReadMessage(); err != nil { // joined
					b.Fatal(err)
				}
			}
			if _, _, err := senders[i].ReadMessage(); err != nil { // peer-joined
				b.Fatal(err)
			}
		}
		epoch := time.Now()
		var mu sync.Mutex
		lat := make([]time.Duration, 0, total)
		var got atomic.Int64
		var wg sync.WaitGroup
		for _, ws := range receivers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					_, data, err := ws.ReadMessage()
					if err != nil {
						return
					}
					var m struct {
						Candidate struct {
							T int64 `json:"t"`
						} `json:"candidate"`
					}
					if json.Unmarshal(data, &m) != nil || m.Candidate.T == 0 {
						continue
					}
					l := time.Since(epoch) - time.Duration(m.Candidate.T)
					mu.Lock()
					lat = append(lat, l)
					mu.Unlock()
					got.Add(1)
				}
			}()
		}
		b.ResetTimer()
		ticker := time.NewTicker(time.Millisecond)
		sent := 0
		start := time.Now()
		for sent < total {
			<-ticker.C
			due := min(total, int(time.Since(start)*rate/time.Second))
			for ; sent < due; sent++ {
				payload := fmt.Sprintf(`{"v":1,"type":"candidate","candidate":{"t":%d}}`, int64(time.Since(epoch)))
				ws := senders[sent%rooms]
				_ = ws.SetWriteDeadline(time.Now().Add(time.Second))
				if err := ws.WriteMessage(websocket.TextMessage, []byte(payload)); err != nil {
					b.Fatal(err)
				}
			}
		}
		ticker.Stop()
		deadline := time.Now().Add(5 * time.Second)
		for got.Load() < int64(total) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		b.StopTimer()
		for _, ws := range append(senders, receivers...) {
			_ = ws.Close()
		}
		wg.Wait()
		slices.Sort(lat)
		if len(lat) == 0 {
			b.Fatal("no messages relayed")
		}
		q := func(p float64) float64 {
			return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds())
		}
		b.ReportMetric(q(0.50), "p50-µs")
		b.ReportMetric(q(0.99), "p99-µs")
		b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "max-µs")
		b.ReportMetric(float64(len(lat))/float64(total)*100, "delivered-%")
	}
}
