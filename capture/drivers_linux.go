//go:build linux && cgo && !peercall_nodevices

package capture

// Importing mediadevices' camera package registers its V4L2 camera driver
// from its init() (it only scans /dev/video*). Microphones are ours
// (mic_malgo.go) and probed lazily: nothing here opens the sound system at
// package init, which would print ALSA/JACK noise on every start. Build with
// -tags peercall_nodevices to leave the drivers out entirely.
import (
	"github.com/pion/mediadevices/pkg/driver/camera"
)

func init() { rescanCameras = camera.Initialize }
