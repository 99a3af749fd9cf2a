package app

import "fmt"

// openX11Share captures an X display (capture.OpenScreen).
func openX11Share(spec shareSpec) (ShareSource, error) {
	return ShareSource{}, fmt.Errorf("%w: X11 capture of %q is not in this build yet", ErrShareSource, spec.Display)
}
