package codec

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if any test leaves a goroutine behind (the null
// player's ticker, for one).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
