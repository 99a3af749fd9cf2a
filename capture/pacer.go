package capture

import "time"

// pacer releases one item per slot on the real-time clock. Slots follow
// from the first call; a caller that falls more than a slot behind is
// re-anchored to now rather than handed a burst of catch-up items.
type pacer struct {
	next time.Time
}

// wait sleeps until the current slot and books the next one d later (d is
// the length of the item being released), or returns ErrClosed once closed
// is closed.
func (p *pacer) wait(d time.Duration, closed <-chan struct{}) error {
	now := time.Now()
	if p.next.IsZero() {
		p.next = now.Add(d)
		return nil
	}
	wait := p.next.Sub(now)
	switch {
	case wait < -d:
		p.next = now.Add(d)
		return nil
	case wait <= 0:
		p.next = p.next.Add(d)
		return nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		p.next = p.next.Add(d)
		return nil
	case <-closed:
		return ErrClosed
	}
}
