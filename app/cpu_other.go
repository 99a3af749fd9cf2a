//go:build !unix

package app

import "time"

// cpuTimes is not measured on this platform.
func cpuTimes() (user, sys time.Duration) { return 0, 0 }
