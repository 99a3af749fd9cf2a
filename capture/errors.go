package capture

import "errors"

// Sentinels callers branch on. Wrapped errors keep them reachable through
// errors.Is; messages stay short and user-safe.
var (
	// ErrNoCamera means no usable camera is present; the app falls back to
	// audio-only.
	ErrNoCamera = errors.New("no camera found")
	// ErrNoMicrophone means no usable microphone is present.
	ErrNoMicrophone = errors.New("no microphone found")
	// ErrDeviceNotFound means a device id given by the caller is unknown.
	ErrDeviceNotFound = errors.New("device not found")
	// ErrDeviceOpen means a device exists but could not be opened.
	ErrDeviceOpen = errors.New("device could not be opened")
	// ErrBadConfig means a source was asked for an impossible size, rate or
	// format.
	ErrBadConfig = errors.New("invalid source configuration")
	// ErrClosed is returned by sources after Close.
	ErrClosed = errors.New("source closed")
	// ErrFrameTooSmall means a frame cannot hold a video marker.
	ErrFrameTooSmall = errors.New("frame too small for marker")
	// ErrNoMarker means no marker start pattern was found.
	ErrNoMarker = errors.New("no marker found")
	// ErrMarkerChecksum means a marker was found but its checksum failed,
	// i.e. a misread.
	ErrMarkerChecksum = errors.New("marker checksum mismatch")
	// ErrUnsupportedFormat means a media file uses a format we do not read
	// (e.g. non-PCM16 WAV, non-VP8 IVF).
	ErrUnsupportedFormat = errors.New("unsupported media format")
	// ErrBadFile means a media file is truncated or malformed.
	ErrBadFile = errors.New("malformed media file")
	// ErrNoScreenCapture means the screen cannot be captured: a build
	// without X11 support, no X display, or its connection was lost.
	ErrNoScreenCapture = errors.New("screen capture not available")
	// ErrWindowGone means the window to capture does not exist (any more)
	// or is not mapped.
	ErrWindowGone = errors.New("window gone")
	// ErrShareCanceled means the user closed the desktop's screen picker
	// without choosing anything.
	ErrShareCanceled = errors.New("screen share canceled")
)
