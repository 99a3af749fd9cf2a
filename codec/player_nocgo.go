//go:build !cgo

package codec

// devicePlayer does not exist without cgo: every player is the null sink.
type devicePlayer struct{}

func (*devicePlayer) close() error { return nil }

// ListOutputDevices returns ErrNoCGO: audio devices need cgo (miniaudio).
func ListOutputDevices() ([]Device, error) { return nil, ErrNoCGO }

// NewPlayer returns the null sink for deviceID "" or NullDeviceID, and
// ErrNoCGO for a named device.
func NewPlayer(deviceID string, sampleRate, channels int, src AudioSource) (*Player, error) {
	if err := validPlayerFormat(sampleRate, channels, src); err != nil {
		return nil, err
	}
	if deviceID != "" && deviceID != NullDeviceID {
		return nil, ErrNoCGO
	}
	return newNullPlayer(sampleRate, channels, src), nil
}
