//go:build cgo && !linux

package codec

import (
	"testing"
	"time"
)

// threadCPU has no per-thread clock here: cpu-ms/frame reads 0.
func threadCPU(*testing.B) time.Duration { return 0 }
