// Command peercall is the Peercall desktop app; `peercall --headless ...`
// runs a call without a window (see docs/headless-report.md).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/peercall/peercall/app"
	"github.com/peercall/peercall/ui"
)

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "--headless" || os.Args[1] == "-headless") {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		code := app.HeadlessMain(ctx, os.Args[2:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	o, err := app.ParseGUIFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if app.IsHelp(err) {
			os.Exit(app.ExitOK)
		}
		fmt.Fprintln(os.Stderr, "peercall:", err)
		os.Exit(app.ExitBadFlags)
	}
	os.Exit(ui.Run(o))
}
