package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/peercall/peercall/app/netem"
	"github.com/peercall/peercall/signalserver"
)

// runNetworkCall runs a two-peer call of dur over an emulated link of c:
// the signaling server (in this process) and the host in namespace A, the
// joiner in B, so the joiner's signaling and all media cross the link.
// The link's schedule counts from the joiner's start.
func runNetworkCall(ctx context.Context, o BenchOptions, c NetworkCondition, dur time.Duration) (nc networkCall, err error) {
	ctx, cancel := context.WithTimeout(ctx, dur+o.Timeout)
	defer cancel()
	room, err := startEmulatedRoom(ctx, c)
	if err != nil {
		return nc, err
	}
	// Closed after the peers (below) have exited: a namespace with a
	// process in it outlives its deletion.
	defer func() {
		var cerr error
		nc.ab, nc.ba, cerr = room.close()
		err = errors.Join(err, cerr)
	}()
	pair, url := room.pair, "ws://"+room.addr+"/ws"

	dir, err := os.MkdirTemp("", "peercall-netbench")
	if err != nil {
		return nc, err
	}
	defer os.RemoveAll(dir)
	roomName := fmt.Sprintf("net-%s-%d", c.Name, os.Getpid())
	type result struct {
		rep *Report
		err error
	}
	start := func(side netem.Side, name string) (<-chan result, string, error) {
		report, ready := filepath.Join(dir, name+".json"), filepath.Join(dir, name+".ready")
		args := []string{"--server", url, "--room", roomName, "--name", name, "--ice-policy", "all",
			"--ice-ip", pair.Addr[side].String(), "--audio", "synthetic", "--duration", dur.String(),
			"--peer-wait", "30s", "--report", report, "--ready-file", ready}
		if o.NetworkVideo != "" {
			args = append(args, "--video", o.NetworkVideo)
		} else {
			args = append(args, "--video", "synthetic", "--size", "640x480", "--fps", "30")
		}
		cmd := pair.Command(ctx, side, o.Binary, args...)
		cmd.WaitDelay = 5 * time.Second
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			return nil, "", fmt.Errorf("%s: %w", name, err)
		}
		ch := make(chan result, 1)
		go func() {
			err := cmd.Wait()
			rep, rerr := readReport(report)
			if err != nil {
				err = fmt.Errorf("%s: %w: %s", name, err, lastLines(stderr.String(), 1))
			} else if rerr != nil {
				err = rerr
			}
			ch <- result{rep, err}
		}()
		return ch, ready, nil
	}
	hostc, ready, err := start(netem.A, "host")
	if err != nil {
		return nc, err
	}
	hostDone := make(chan struct{})
	var host result
	go func() { host = <-hostc; close(hostDone) }()
	if err := waitForFile(ctx, ready, hostDone); err != nil {
		cancel()
		<-hostDone
		return nc, errors.Join(err, host.err)
	}
	nc.origin = time.Now()
	pair.SetOrigin(nc.origin)
	stopSeries := sampleLink(pair, &nc.series, &nc.offered)
	defer stopSeries()
	joinc, _, err := start(netem.B, "joiner")
	if err != nil {
		cancel()
		<-hostDone
		return nc, errors.Join(err, host.err)
	}
	joiner := <-joinc
	<-hostDone
	nc.host, nc.joiner = host.rep, joiner.rep
	return nc, errors.Join(host.err, joiner.err)
}

// emulatedRoom is an emulated link with a signaling server (and its web
// page) listening in namespace A on A's address: what runs in B reaches it
// across the link.
type emulatedRoom struct {
	pair *netem.Pair
	addr string // host:port of the server
	stop func()
}

// startEmulatedRoom starts the link of c (both directions alike) and the
// server; close ends both.
func startEmulatedRoom(ctx context.Context, c NetworkCondition) (*emulatedRoom, error) {
	log := slog.New(slog.DiscardHandler)
	pair, err := netem.Start(ctx, netem.Options{AtoB: c.Link, BtoA: c.Link, Log: log})
	if err != nil {
		return nil, fmt.Errorf("%w: link emulator: %w", ErrConnect, err)
	}
	ln, err := pair.Listen(netem.A, "tcp4", pair.Addr[netem.A].String()+":0")
	if err != nil {
		return nil, errors.Join(fmt.Errorf("%w: signaling listener: %w", ErrConnect, err), pair.Close())
	}
	srv, err := signalserver.New(signalserver.WithLogger(log))
	if err != nil {
		_ = ln.Close()
		return nil, errors.Join(fmt.Errorf("signaling server: %w", err), pair.Close())
	}
	sctx, stop := context.WithCancel(ctx)
	served := serveInBackground(sctx, srv, ln, log)
	return &emulatedRoom{pair: pair, addr: ln.Addr().String(), stop: func() { stop(); <-served }}, nil
}

// close stops the server and the link and returns the link's counters.
func (e *emulatedRoom) close() (ab, ba netem.Counters, err error) {
	e.stop()
	ab, ba = e.pair.Counters()
	return ab, ba, e.pair.Close()
}

// sampleLink appends a LinkPoint to *out every second and an
// offeredSample to *fine every linkFineEvery until the returned function
// is called (which waits for the sampler).
func sampleLink(pair *netem.Pair, out *[]LinkPoint, fine *[]offeredSample) func() {
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(linkFineEvery)
		defer t.Stop()
		per := int(time.Second / linkFineEvery)
		last := time.Now()
		var prev [2]netem.Counters
		prev[0], prev[1] = pair.Counters()
		*fine = append(*fine, offeredSample{at: last, in: [2]int64{prev[0].InBytes, prev[1].InBytes}})
		for tick := 1; ; tick++ {
			select {
			case <-stop:
				return
			case now := <-t.C:
				var cur [2]netem.Counters
				cur[0], cur[1] = pair.Counters()
				*fine = append(*fine, offeredSample{at: now, in: [2]int64{cur[0].InBytes, cur[1].InBytes}})
				if tick%per != 0 {
					continue
				}
				caps := [2]int64{pair.Link(netem.A).RateAt(now), pair.Link(netem.B).RateAt(now)}
				*out = append(*out, linkPoint(now, now.Sub(last), caps, prev, cur))
				prev, last = cur, now
			}
		}
	}()
	return func() { close(stop); <-done }
}
