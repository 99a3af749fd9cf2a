package app

import (
	"os"
	"testing"
)

// StrictEnv, when set (make test sets it), turns a test's "this machine
// lacks X" skip into a failure: make deps installs everything, so a
// missing tool there is a broken set-up, not a reason to test less.
const StrictEnv = "PEERCALL_TEST_STRICT"

// SkipOrFail skips the test for a missing tool or privilege, or fails it
// under StrictEnv. Package app_test uses it too.
func SkipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv(StrictEnv) != "" {
		t.Fatalf(format+" ("+StrictEnv+" is set: make test needs it)", args...)
	}
	t.Skipf(format, args...)
}
