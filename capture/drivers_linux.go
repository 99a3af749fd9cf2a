//go:build linux && cgo && !peercall_nodevices

package capture

// Importing these packages registers mediadevices' V4L2 camera and miniaudio
// microphone drivers from their init(). They need cgo (linux/videodev2.h,
// malgo). The microphone init panics if miniaudio cannot create a context;
// miniaudio always has its null backend, so on Linux that does not happen
// (on a machine without sound hardware it registers only the null device,
// which ListDevices hides). Build with -tags peercall_nodevices (or
// mediadevices' own nomicrophone) to leave the drivers out entirely.
import (
	"github.com/pion/mediadevices/pkg/driver/camera"
	_ "github.com/pion/mediadevices/pkg/driver/microphone"
)

func init() { rescanCameras = camera.Initialize }
