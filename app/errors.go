package app

import (
	"errors"
	"fmt"
)

// Sentinel errors of the composition root. Callers branch with errors.Is.
var (
	// errPreviewStopped ends the waiting-room self-view when the peer
	// arrives while the camera is off (internal, never returned to callers).
	errPreviewStopped = errors.New("preview stopped")
	// ErrBadFlags marks invalid command-line input (exit code 2, see app/cli).
	ErrBadFlags = errors.New("invalid flags")
	// ErrExpectationUnmet marks a headless run whose --expect-* checks failed (exit code 3).
	ErrExpectationUnmet = errors.New("expectation unmet")
	// ErrConnect marks a run that never reached a connected call (exit code 4).
	ErrConnect = errors.New("could not connect")
	// ErrInterrupted marks a headless run stopped by SIGINT/SIGTERM before
	// its call connected (exit code 5); after, a signal ends the call normally.
	ErrInterrupted = errors.New("interrupted")
	// ErrUnsupportedMedia marks a --video/--audio value this build cannot serve.
	ErrUnsupportedMedia = errors.New("unsupported media source")
	// ErrInvalidSettings marks settings that fail validation (never saved).
	ErrInvalidSettings = errors.New("invalid settings")
	// ErrNoKeyring means the OS keyring is unavailable; secrets fall back
	// to the settings store and the UI says so.
	ErrNoKeyring = errors.New("no system keyring")
	// ErrBusy is returned by a command that needs the controller idle (or
	// in a call) when it is not.
	ErrBusy = errors.New("another call is in progress")
	// ErrNotInCall is returned by in-call commands outside a call.
	ErrNotInCall = errors.New("not in a call")
	// ErrAlreadySharing is returned by a second share while one runs.
	ErrAlreadySharing = errors.New("already sharing the screen")
	// ErrNotSharing is returned by StopShare when nothing is shared.
	ErrNotSharing = errors.New("not sharing the screen")
	// ErrShareSource marks a screen share source that cannot be shared.
	ErrShareSource = errors.New("cannot share that screen")
	// ErrShareCanceled means the user closed the desktop's screen picker
	// without choosing: not a failure to show.
	ErrShareCanceled = errors.New("screen share canceled")
	// ErrFileUnavailable is returned by file commands a call cannot serve
	// (nobody connected to send to, a call without file transfer).
	ErrFileUnavailable = errors.New("file transfer not available")
	// ErrUnknownFile is returned for a transfer id this call does not have.
	ErrUnknownFile = errors.New("no such file transfer")
	// ErrFileState is returned for a command the transfer's state does
	// not allow (accepting a finished one).
	ErrFileState = errors.New("not possible in the transfer's state")
	// ErrFileSource marks a file that cannot be sent (missing, a folder,
	// unreadable).
	ErrFileSource = errors.New("cannot send that file")
	// ErrFileTooLarge marks an offer above the receive limit.
	ErrFileTooLarge = errors.New("file too large")
	// ErrFileWrite marks a transfer ended by a local disk error (full,
	// permission): only that transfer ends.
	ErrFileWrite = errors.New("cannot write the file")
	// ErrFileRead marks a transfer ended by a read error of the file sent.
	ErrFileRead = errors.New("cannot read the file")
	// ErrFileHash marks a received file whose SHA-256 did not match.
	ErrFileHash = errors.New("file damaged in transfer")
	// ErrFileTransfer marks a transfer that failed in a headless run
	// (exit code 6).
	ErrFileTransfer = errors.New("file transfer failed")
)

// UserError is an error whose message is safe to show to a user as-is (the
// GUI shows it verbatim). It wraps the underlying cause for errors.Is.
type UserError struct {
	Msg string
	Err error
}

func (e *UserError) Error() string { return e.Msg }
func (e *UserError) Unwrap() error { return e.Err }

func badFlag(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadFlags, fmt.Sprintf(format, args...))
}
