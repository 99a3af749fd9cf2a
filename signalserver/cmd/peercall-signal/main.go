// Command peercall-signal runs Peercall's standalone signaling server (and
// optional STUN/TURN). The server is package signalserver; this command only
// maps flags and PEERCALL_* variables to its options (cli.go). See
// docs/protocol.md and docs/deploy/.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "peercall-signal:", err)
		os.Exit(1)
	}
}
