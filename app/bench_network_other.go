//go:build !linux

package app

import (
	"context"
	"fmt"
	"time"

	"github.com/peercall/peercall/app/netem"
)

// runNetworkCall needs Linux network namespaces.
func runNetworkCall(context.Context, BenchOptions, NetworkCondition, time.Duration) (networkCall, error) {
	return networkCall{}, fmt.Errorf("bench --network: %w", netem.ErrUnsupported)
}

// runChromiumCall needs Linux network namespaces.
func runChromiumCall(context.Context, BenchOptions, NetworkCondition, time.Duration) (chromiumCall, error) {
	return chromiumCall{}, fmt.Errorf("bench --network-chromium: %w", netem.ErrUnsupported)
}
