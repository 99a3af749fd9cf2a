//go:build unix

package signalserver

import "syscall"

// raiseFileLimit lifts the soft open-file limit to the hard limit for the
// 10,000-connection benchmark.
func raiseFileLimit() {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err == nil && r.Cur < r.Max {
		r.Cur = r.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r)
	}
}
