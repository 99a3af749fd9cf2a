// Command peercall-signal runs Peercall's standalone signaling server (and
// optional STUN/TURN). All logic lives in package signalserver; see
// docs/protocol.md and docs/deploy/.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/peercall/peercall/signalserver"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := signalserver.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "peercall-signal:", err)
		os.Exit(1)
	}
}
