//go:build !linux

package app

import (
	"context"
	"fmt"
)

// chromiumPath is where Debian puts the reference browser; the CPU bench
// reads /proc and stops before it is needed.
const chromiumPath = "/usr/bin/chromium"

// chromium needs Linux (/proc, Debian's chromium).
func (r cpuRound) chromium(context.Context, bool) (CPUSample, error) {
	return CPUSample{}, fmt.Errorf("%w: --cpu-chromium runs on Linux", ErrUnsupportedMedia)
}

func chromiumVersion() string { return "" }
