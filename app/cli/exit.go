package cli

import (
	"errors"
	"fmt"

	"github.com/peercall/peercall/app"
)

// Exit codes of the binaries, documented in docs/headless-report.md.
const (
	ExitOK          = 0
	ExitError       = 1
	ExitBadFlags    = 2
	ExitExpectation = 3
	ExitConnect     = 4
	ExitInterrupted = 5
	ExitFileFailed  = 6
)

// ExitCode maps an error returned by the headless runner to its exit code.
func ExitCode(err error) int {
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, app.ErrBadFlags):
		return ExitBadFlags
	case errors.Is(err, app.ErrExpectationUnmet):
		return ExitExpectation
	case errors.Is(err, app.ErrConnect):
		return ExitConnect
	case errors.Is(err, app.ErrInterrupted):
		return ExitInterrupted
	case errors.Is(err, app.ErrFileTransfer):
		return ExitFileFailed
	default:
		return ExitError
	}
}

// badFlag marks a command-line error the way app marks invalid options.
func badFlag(format string, args ...any) error {
	return fmt.Errorf("%w: %s", app.ErrBadFlags, fmt.Sprintf(format, args...))
}
