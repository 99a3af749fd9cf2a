package signalserver

import "time"

// maxTrackedAddrs bounds the per-address failure table; beyond it entries
// whose wait is over are dropped first.
const maxTrackedAddrs = 100000

// failState is the wrong-attempt record of one address.
type failState struct {
	count int
	until time.Time // no attempt is looked at before this
	last  time.Time
}

// attempts throttles wrong passwords and tokens per client address: after
// `free` failures each further attempt waits, and the wait doubles with
// each failure. A record
// is forgotten once the longest wait has passed without a failure, so a
// success does not reset it (an attacker could otherwise interleave joins
// to a room of its own). Owned by the hub goroutine.
type attempts struct {
	free        int
	first, most time.Duration
	byAddr      map[string]*failState
}

func newAttempts(free int, first, most time.Duration) *attempts {
	return &attempts{free: free, first: first, most: most, byAddr: make(map[string]*failState)}
}

func (a *attempts) wait(count int) time.Duration {
	n := count - a.free
	if n < 0 {
		return 0
	}
	d := a.first
	for i := 0; i < n && d < a.most; i++ {
		d *= 2
	}
	return min(d, a.most)
}

func (a *attempts) allowed(addr string, now time.Time) bool {
	f := a.byAddr[addr]
	return f == nil || !now.Before(f.until)
}

func (a *attempts) failed(addr string, now time.Time) {
	f := a.byAddr[addr]
	if f != nil && now.Sub(f.last) > a.most+a.wait(f.count) {
		f = nil // quiet long enough: start over
	}
	if f == nil {
		if len(a.byAddr) >= maxTrackedAddrs {
			a.sweep(now)
		}
		f = &failState{}
		a.byAddr[addr] = f
	}
	f.count++
	f.last = now
	f.until = now.Add(a.wait(f.count))
}

func (a *attempts) sweep(now time.Time) {
	for k, f := range a.byAddr {
		if now.Sub(f.last) > a.most+a.wait(f.count) {
			delete(a.byAddr, k)
		}
	}
	if len(a.byAddr) >= maxTrackedAddrs {
		// Still full: forget the oldest half rather than grow.
		n := 0
		for k := range a.byAddr {
			if n++; n > maxTrackedAddrs/2 {
				break
			}
			delete(a.byAddr, k)
		}
	}
}

// roomFails is the per-room throttle: after the free failures against a
// room, an address that has failed against it waits a doubling delay,
// shared by all such addresses. Addresses that never failed are not held
// back, so the room's own users still get in.
type roomFails struct {
	count  int
	until  time.Time
	byAddr map[string]int
}

// maxRoomFailAddrs bounds one room's table; past it every address counts
// as having failed (the room is under attack from many addresses).
const maxRoomFailAddrs = 1024

func (r *roomFails) allowed(addr string, now time.Time) bool {
	if !now.Before(r.until) {
		return true
	}
	return r.byAddr[addr] == 0 && len(r.byAddr) < maxRoomFailAddrs
}

func (r *roomFails) failed(addr string, now time.Time, a *attempts) {
	if r.byAddr == nil {
		r.byAddr = make(map[string]int)
	}
	if _, ok := r.byAddr[addr]; ok || len(r.byAddr) < maxRoomFailAddrs {
		r.byAddr[addr]++
	}
	r.count++
	r.until = now.Add(a.wait(r.count))
}
