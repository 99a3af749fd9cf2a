package netem

import (
	"os"
	"testing"
)

// skipOrFail skips where namespaces cannot be made, or fails when
// PEERCALL_TEST_STRICT is set (make test: make deps installed what is
// needed, and the tests run as root).
func skipOrFail(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("PEERCALL_TEST_STRICT") != "" {
		t.Fatalf("%v (PEERCALL_TEST_STRICT is set: make test needs it)", err)
	}
	t.Skip(err)
}
