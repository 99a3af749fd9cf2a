//go:build cgo && linux

package codec

import (
	"syscall"
	"testing"
	"time"
)

// threadCPU is the CPU time the calling OS thread has used. On a machine
// shared with other work it measures the encoder's cost where wall time
// also counts the time spent waiting for a core.
func threadCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_THREAD, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
