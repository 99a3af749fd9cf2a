package netem

import "errors"

// Sentinel errors; callers branch with errors.Is.
var (
	// ErrBadConfig reports a link configuration the model refuses.
	ErrBadConfig = errors.New("netem: invalid link config")
	// ErrSetup reports a namespace or TUN device that could not be set up.
	ErrSetup = errors.New("netem: setup failed")
	// ErrUnsupported is returned where namespaces and TUN devices do not exist.
	ErrUnsupported = errors.New("netem: needs Linux")
	// ErrClosed is returned by a Pair used after Close.
	ErrClosed = errors.New("netem: closed")
)
