//go:build !linux

package netem

import (
	"context"
	"net/netip"
)

// Pair needs Linux network namespaces; elsewhere Start fails.
type Pair struct {
	NS   [2]string
	Addr [2]netip.Addr
}

// Check returns ErrUnsupported off Linux.
func Check() error { return ErrUnsupported }

// Start returns ErrUnsupported off Linux.
func Start(context.Context, Options) (*Pair, error) { return nil, ErrUnsupported }

// Close does nothing off Linux.
func (p *Pair) Close() error { return nil }
