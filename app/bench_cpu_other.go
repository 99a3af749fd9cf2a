//go:build !linux

package app

import (
	"context"
	"fmt"
)

// chromium needs Linux (/proc, Debian's chromium).
func (r cpuRound) chromium(context.Context, bool) (CPUSample, error) {
	return CPUSample{}, fmt.Errorf("%w: --cpu-chromium runs on Linux", ErrUnsupportedMedia)
}

func chromiumVersion() string { return "" }
