package call

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if any test leaves a goroutine behind: a session
// must stop everything it started (and pion everything it started) by the
// time Close returns or soon after.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
