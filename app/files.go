package app

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// FileState is where one file transfer is, as the GUI shows it.
type FileState int

// File transfer states.
const (
	// FilePending: an incoming offer waits for Accept or Decline; an
	// outgoing one waits for the peer (or is still being hashed).
	FilePending  FileState = iota
	FileActive             // bytes flow
	FilePaused             // the peer dropped; resumes when it is back
	FileDone               // verified (incoming: in place at Path)
	FileFailed             // Error says why
	FileCanceled           // either side canceled
	FileDeclined           // the receiver said no (Error says why)
)

func (s FileState) String() string {
	switch s {
	case FilePending:
		return "pending"
	case FileActive:
		return "active"
	case FilePaused:
		return "paused"
	case FileDone:
		return "done"
	case FileFailed:
		return "failed"
	case FileCanceled:
		return "canceled"
	case FileDeclined:
		return "declined"
	}
	return fmt.Sprintf("FileState(%d)", int(s))
}

// Terminal reports whether the transfer is over for good.
func (s FileState) Terminal() bool { return s >= FileDone }

// FileView is one file transfer as the GUI shows it.
type FileView struct {
	ID       string
	Outgoing bool
	PeerID   string
	PeerName string
	Name     string // incoming: the sanitised name it will get
	Size     int64
	Bytes    int64 // sent (outgoing) / written (incoming) so far
	State    FileState
	Rate     float64       // bytes/s over the last few seconds
	ETA      time.Duration // 0 when unknown
	Error    string        // user-safe, with FileFailed/FileDeclined
	Path     string        // incoming FileDone: where the file is
}

// FilePolicy is what the receiving side decides: where files go, how
// large they may be, and whether offers are accepted without asking
// (headless --receive-dir).
type FilePolicy struct {
	Dir        string // "" declines every offer with no-folder
	MaxBytes   int64  // offers above it are declined too-large; 0 = no limit
	AutoAccept bool
}

// fileCaller is a call that transfers files (liveCall).
type fileCaller interface {
	SendFile(path string) error
	AcceptFile(id string) error
	DeclineFile(id string) error
	CancelFile(id string) error
	SetFilePolicy(p FilePolicy)
}

// DefaultMaxFileMB is the receive size limit of fresh settings.
const DefaultMaxFileMB = 4096

// maxFileMBLimit bounds the MaxFileMB setting (1 TiB).
const maxFileMBLimit = 1 << 20

// FilePolicy is the receive policy these settings ask for (the desktop
// asks before accepting).
func (s Settings) FilePolicy() FilePolicy {
	return FilePolicy{Dir: s.DownloadDir, MaxBytes: int64(s.MaxFileMB) << 20}
}

// DefaultDownloadDir is the XDG download directory (XDG_DOWNLOAD_DIR, or
// its line in ~/.config/user-dirs.dirs), else ~/Downloads; "" without a
// home directory.
func DefaultDownloadDir() string {
	home, _ := os.UserHomeDir()
	if d := os.Getenv("XDG_DOWNLOAD_DIR"); filepath.IsAbs(d) {
		return filepath.Clean(d)
	}
	if home == "" {
		return ""
	}
	cfg := os.Getenv("XDG_CONFIG_HOME")
	if !filepath.IsAbs(cfg) {
		cfg = filepath.Join(home, ".config")
	}
	if b, err := os.ReadFile(filepath.Join(cfg, "user-dirs.dirs")); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			v, ok := strings.CutPrefix(strings.TrimSpace(l), "XDG_DOWNLOAD_DIR=")
			if !ok {
				continue
			}
			v = strings.Trim(v, `"`)
			v = strings.Replace(v, "$HOME", home, 1)
			if filepath.IsAbs(v) {
				return filepath.Clean(v)
			}
		}
	}
	return filepath.Join(home, "Downloads")
}

// validateFileSettings adds the file fields' problems to bad.
func (s Settings) validateFileSettings(bad map[string]string) {
	if s.DownloadDir != "" {
		if !filepath.IsAbs(s.DownloadDir) || len(s.DownloadDir) > 4096 ||
			strings.IndexFunc(s.DownloadDir, func(r rune) bool { return r < ' ' || r == 0x7f }) >= 0 {
			bad["download_dir"] = "the download folder must be a full path"
		}
	}
	if s.MaxFileMB < 1 || s.MaxFileMB > maxFileMBLimit {
		bad["max_file_mb"] = fmt.Sprintf("maximum file size must be 1 to %d MB", maxFileMBLimit)
	}
}

func (c *Controller) fileCall() (fileCaller, error) {
	cl, err := c.current()
	if err != nil {
		return nil, err
	}
	fc, ok := cl.(fileCaller)
	if !ok {
		return nil, &UserError{Msg: "This call cannot send files.", Err: ErrFileUnavailable}
	}
	return fc, nil
}

// SendFile offers the file at path to everyone in the call (one transfer
// per person). It returns at once; hashing and sending run in the
// background and show in Notify.Files.
func (c *Controller) SendFile(path string) error {
	fc, err := c.fileCall()
	if err != nil {
		return err
	}
	return fc.SendFile(path)
}

// AcceptFile accepts an incoming offer into Settings.DownloadDir.
func (c *Controller) AcceptFile(id string) error {
	fc, err := c.fileCall()
	if err != nil {
		return err
	}
	return fc.AcceptFile(id)
}

// DeclineFile declines an incoming offer.
func (c *Controller) DeclineFile(id string) error {
	fc, err := c.fileCall()
	if err != nil {
		return err
	}
	return fc.DeclineFile(id)
}

// CancelFile cancels a transfer either way (the peer is told).
func (c *Controller) CancelFile(id string) error {
	fc, err := c.fileCall()
	if err != nil {
		return err
	}
	return fc.CancelFile(id)
}

// applyFile folds one transfer's change into n.Files.
func applyFile(n *Notify, f FileView) {
	n.Files = slices.Clone(n.Files)
	if i := slices.IndexFunc(n.Files, func(v FileView) bool { return v.ID == f.ID }); i >= 0 {
		n.Files[i] = f
		return
	}
	n.Files = append(n.Files, f)
}

// fileUserError wraps err for the GUI with msg.
func fileUserError(msg string, err error) error {
	if err == nil {
		err = ErrFileUnavailable
	}
	var ue *UserError
	if errors.As(err, &ue) {
		return err
	}
	return &UserError{Msg: msg, Err: err}
}
