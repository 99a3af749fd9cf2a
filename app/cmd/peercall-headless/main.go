// Command peercall-headless joins a Peercall room without a window, sends
// synthetic or file media and writes a JSON report (docs/headless-report.md).
// `peercall-headless bench` runs the call-quality bench (docs/benchmarks.md).
//
// SIGINT or SIGTERM ends the call cleanly (bye sent, report written); a
// second signal kills the process at once.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/peercall/peercall/app/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // the next signal gets the default action: exit now
	}()
	var code int
	if len(os.Args) > 1 && os.Args[1] == "bench" {
		code = cli.BenchMain(ctx, os.Args[2:], os.Stdout, os.Stderr)
	} else {
		code = cli.HeadlessMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	}
	stop()
	os.Exit(code)
}
