// Command peercall-headless joins a Peercall room without a window, sends
// synthetic or file media and writes a JSON report (docs/headless-report.md).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/peercall/peercall/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := app.HeadlessMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
