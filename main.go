// Command peercall is the Peercall desktop app; `peercall --headless ...`
// runs a call without a window (see docs/headless-report.md).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/peercall/peercall/app/cli"
	"github.com/peercall/peercall/ui"
)

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "--headless" || os.Args[1] == "-headless") {
		// As peercall-headless: SIGINT or SIGTERM ends the call cleanly, a
		// second one kills at once.
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		go func() {
			<-ctx.Done()
			stop()
		}()
		code := cli.HeadlessMain(ctx, os.Args[2:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	o, err := cli.ParseGUIFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if cli.IsHelp(err) {
			os.Exit(cli.ExitOK)
		}
		fmt.Fprintln(os.Stderr, "peercall:", err)
		os.Exit(cli.ExitBadFlags)
	}
	os.Exit(ui.Run(o))
}
