package app

import "fmt"

// openX11Share captures an X display (capture.OpenScreen).
func openX11Share(spec shareSpec) (ShareSource, error) {
	return ShareSource{}, fmt.Errorf("%w: X11 capture of %q is not in this build yet", ErrShareSource, spec.Display)
}

// listX11Choices lists the X display's screens and windows.
func listX11Choices() ([]ShareChoice, error) {
	return nil, fmt.Errorf("%w: X11 capture is not in this build yet", ErrShareSource)
}
