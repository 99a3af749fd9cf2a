package app

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pion/stun/v4"

	"github.com/peercall/peercall/call"
	"github.com/peercall/peercall/capture"
	"github.com/peercall/peercall/signalserver"
)

// DefaultPeerWait is how long a headless run waits for the other peer
// unless --peer-wait says otherwise.
const DefaultPeerWait = 60 * time.Second

// Call sizes a headless run accepts (--peers): a group call is a mesh, and
// the hosted room holds signalserver.DefaultRoomCapacity people.
const (
	DefaultPeers = 2
	MaxPeers     = signalserver.DefaultRoomCapacity
)

// HeadlessOptions configures one headless run (see docs/headless-report.md).
type HeadlessOptions struct {
	Server   string // ws:// or wss:// URL of the signaling endpoint
	Serve    string // if set, host the signaling server in-process on this address
	Room     string
	Name     string
	Password string
	Token    string

	Duration time.Duration
	// PeerWait bounds how long the run waits in the room for the other peer.
	PeerWait time.Duration
	// Peers is the size of the call, this run included (--peers, 2..4):
	// the run waits for Peers-1 others.
	Peers int

	Video string // synthetic | camera | screen[:DISPLAY[:WxH+X+Y]] | window:ID | FILE.y4m | FILE.ivf | none
	Audio string // synthetic | tone | mic | FILE.ogg | FILE.wav | none
	// AudioMarkers mixes latency markers into a FILE.wav (synthetic and
	// tone always carry them); off by default so a file is sent unchanged.
	AudioMarkers bool
	Width        int
	Height       int
	FPS          int
	// Voice is the microphone's processing (--aec, --ns, --agc): it runs
	// on --audio mic only (test sources and files go out as they are).
	Voice VoiceProcessing
	// Share is a screen share sent beside the video once everyone is
	// connected: "" (none), "synthetic" (a moving 1280x720 test picture
	// at 10 fps) or "screen[:DISPLAY[:WxH+X+Y]]" (an X display).
	Share string
	// ShareSnapshot, when set, is a PNG file the last decoded frame of a
	// peer's screen share is written to at the end (to compare with what
	// was shared).
	ShareSnapshot string
	// ShareToggle stops and starts the share again every ShareToggle
	// (0: it runs to the end).
	ShareToggle time.Duration
	// Speaker plays what the peers send to a sound device (--speaker):
	// "none" (default) plays it nowhere, "default" the system's default
	// output, else a device id. The echo canceller's reference is this
	// playback.
	Speaker string

	ICEPolicy    string
	STUN         []string
	TURN         []string
	TURNUser     string
	TURNPass     string
	PortMin      uint16
	PortMax      uint16
	LoopbackOnly bool
	// ICEIP pins ICE to one local IPv4 address (--ice-ip): the interface
	// of an emulated link in a test namespace (app/netem).
	ICEIP string

	RecordDir    string
	SimulateLoss float64 // percent of received RTP dropped at random
	OpusFEC      bool
	ReportPath   string // "-" for stdout, "" for none
	ReadyFile    string // created once joined (scripts wait for it)

	ExpectFPS       float64
	ExpectMinFrames int

	// SendFiles are offered to every peer once it connects (--send-file).
	SendFiles []string
	// ReceiveDir accepts every offer into this folder (--receive-dir);
	// without it offers are declined no-folder.
	ReceiveDir string
	// MaxFileSize declines larger offers too-large (--max-file-size);
	// 0 means DefaultMaxFileMB.
	MaxFileSize int64
}

// Validate checks a headless run's options as the command line gives them
// and puts them in canonical form (ICEPolicy by its canonical name, Peers 0
// as DefaultPeers). Errors wrap ErrBadFlags and name the offending flag.
func (o *HeadlessOptions) Validate() error {
	if o.Peers == 0 {
		o.Peers = DefaultPeers
	}
	switch {
	case o.Room == "":
		return badFlag("--room is required")
	case !signalserver.ValidRoom(o.Room):
		return badFlag("--room %q: a room name is 1-64 characters of A-Z a-z 0-9 . _ -", o.Room)
	case o.Server == "" && o.Serve == "":
		return badFlag("give --server URL or --serve ADDR")
	case o.Duration <= 0 || o.Duration > 24*time.Hour:
		return badFlag("--duration must be between 0 and 24h")
	case o.PeerWait <= 0 || o.PeerWait > 24*time.Hour:
		return badFlag("--peer-wait must be between 0 and 24h")
	case o.Peers < 2:
		return badFlag("--peers %d: a call needs at least 2 people", o.Peers)
	case o.Peers > MaxPeers:
		return badFlag("--peers %d: a room holds at most %d people", o.Peers, MaxPeers)
	case o.FPS < 1 || o.FPS > 120:
		return badFlag("--fps must be 1..120")
	case o.SimulateLoss < 0 || o.SimulateLoss >= 100:
		return badFlag("--simulate-loss must be in [0, 100)")
	case o.ExpectFPS < 0 || o.ExpectMinFrames < 0:
		return badFlag("--expect-* must not be negative")
	case o.Password != "" && o.Token != "":
		return badFlag("give --password or --token, not both")
	}
	if o.Server != "" {
		u, err := url.Parse(o.Server)
		if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
			return badFlag("--server must be a ws:// or wss:// URL")
		}
	}
	policy, err := call.ParsePolicy(o.ICEPolicy)
	if err != nil {
		return badFlag("--ice-policy %q: want %s", o.ICEPolicy, call.PolicyNames())
	}
	o.ICEPolicy = string(policy)
	if policy == call.PolicyMDNS && o.LoopbackOnly {
		return badFlag("--ice-policy mdns cannot be combined with --loopback-only: mdns names stand for LAN addresses, not loopback")
	}
	if err := o.checkICEIP(policy); err != nil {
		return err
	}
	if (o.TURNUser == "") != (o.TURNPass == "") {
		return badFlag("--turn-user and --turn-pass go together")
	}
	if len(o.TURN) > 0 && o.TURNUser == "" {
		return badFlag("--turn needs --turn-user and --turn-pass")
	}
	for _, s := range o.STUN {
		if err := checkICEServerURL("--stun", s, false, o.LoopbackOnly); err != nil {
			return err
		}
	}
	for _, s := range o.TURN {
		if err := checkICEServerURL("--turn", s, true, o.LoopbackOnly); err != nil {
			return err
		}
	}
	if o.Share != "" && o.Share != "synthetic" {
		if _, err := parseShareSpec(o.Share); err != nil {
			return badFlag("--share %q: want synthetic, screen[:DISPLAY[:WxH+X+Y]], window:ID or portal", o.Share)
		}
	}
	if strings.HasSuffix(strings.ToLower(o.Video), ".y4m") {
		if err := checkY4M(o.Video); err != nil {
			return badFlag("--video %s: %v", o.Video, err)
		}
	}
	if o.ShareToggle < 0 || (o.ShareToggle > 0 && o.Share == "") {
		return badFlag("--share-toggle needs --share and a positive duration")
	}
	if o.Speaker == "" {
		o.Speaker = "none"
	}
	if len(o.Speaker) > 256 || strings.IndexFunc(o.Speaker, func(r rune) bool { return r < ' ' || r == 0x7f }) >= 0 {
		return badFlag("--speaker: want a device id, default or none")
	}
	if o.AudioMarkers && !strings.HasSuffix(strings.ToLower(o.Audio), ".wav") {
		return badFlag("--audio-markers applies to --audio FILE.wav only (synthetic and tone always carry markers)")
	}
	for _, p := range o.SendFiles {
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() {
			return badFlag("--send-file %s: not a readable regular file", p)
		}
	}
	if o.ReceiveDir != "" {
		if fi, err := os.Stat(o.ReceiveDir); err != nil || !fi.IsDir() {
			return badFlag("--receive-dir %s: not a folder", o.ReceiveDir)
		}
		if err := checkWritable(filepath.Join(o.ReceiveDir, ".peercall-check")); err != nil {
			return badFlag("--receive-dir %s: %v", o.ReceiveDir, err)
		}
	}
	if o.MaxFileSize < 0 {
		return badFlag("--max-file-size must not be negative")
	}
	if o.MaxFileSize == 0 {
		o.MaxFileSize = DefaultMaxFileMB << 20
	}
	for _, f := range []struct{ flag, path string }{{"--report", o.ReportPath}, {"--ready-file", o.ReadyFile}, {"--share-snapshot", o.ShareSnapshot}} {
		if f.path == "" || (f.flag == "--report" && f.path == "-") {
			continue
		}
		if err := checkWritable(f.path); err != nil {
			return badFlag("%s %s: %v", f.flag, f.path, err)
		}
	}
	return nil
}

// checkICEIP validates --ice-ip against the address rules of
// call.ICEOptions.OnlyIP, with flag names in the messages.
func (o *HeadlessOptions) checkICEIP(policy call.Policy) error {
	if o.ICEIP == "" {
		return nil
	}
	ip := net.ParseIP(o.ICEIP)
	switch {
	case ip == nil || ip.To4() == nil:
		return badFlag("--ice-ip %q: want an IPv4 address", o.ICEIP)
	case o.LoopbackOnly || ip.IsLoopback():
		return badFlag("--ice-ip %s: not with --loopback-only or a loopback address (--loopback-only is that)", o.ICEIP)
	case ip.IsUnspecified() || ip.IsMulticast() || ip.IsLinkLocalUnicast():
		return badFlag("--ice-ip %s: want a unicast address of this host", o.ICEIP)
	case policy == call.PolicyMDNS:
		return badFlag("--ice-policy mdns cannot be combined with --ice-ip: mdns names stand for LAN addresses, not a pinned one")
	}
	return nil
}

// checkY4M opens a --video FILE.y4m (which reads its header and indexes
// its frames) and checks that the encoder takes its size, so that a clip
// that cannot be sent fails before joining.
func checkY4M(path string) error {
	src, err := capture.OpenY4M(path, capture.Y4MConfig{})
	if err != nil {
		return err
	}
	defer src.Close()
	return CheckVideoSize(src.Header.Width, src.Header.Height)
}

// checkICEServerURL checks a --stun (turn false) or --turn URL with
// call.ParseICEServerURL, that it names the right kind of server, and,
// under --loopback-only, refuses servers off this host (such a run must
// not send anywhere else).
func checkICEServerURL(flag, s string, turn, loopbackOnly bool) error {
	u, err := call.ParseICEServerURL(s)
	var ue *call.ICEServerURLError
	if errors.As(err, &ue) {
		return badFlag("%s %q: %s", flag, s, ue.Problem)
	}
	if err != nil {
		return badFlag("%s %q: %v", flag, s, err)
	}
	isTURN := u.Scheme == stun.SchemeTypeTURN || u.Scheme == stun.SchemeTypeTURNS
	switch {
	case turn && !isTURN:
		return badFlag("%s %q: want a turn: or turns: URL", flag, s)
	case !turn && isTURN:
		return badFlag("%s %q: want a stun: URL (TURN servers go in --turn)", flag, s)
	}
	if !loopbackOnly || u.Host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(u.Host); ip == nil || !ip.IsLoopback() {
		return badFlag("%s %q: --loopback-only allows only servers on 127.0.0.0/8 or ::1", flag, s)
	}
	return nil
}

// checkWritable fails when path could not be written at the end of the run
// (missing directory, a directory in its place, no permission), so a long
// call is not lost for want of a report. It leaves no file behind.
func checkWritable(path string) error {
	if fi, err := os.Stat(path); err == nil {
		if !fi.Mode().IsRegular() {
			return errors.New("not a regular file")
		}
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return pathCause(err)
		}
		return f.Close()
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".peercall-check-*")
	if err != nil {
		return fmt.Errorf("cannot create files in %s: %w", filepath.Dir(path), pathCause(err))
	}
	name := f.Name()
	_ = f.Close()
	return os.Remove(name)
}

// ParseByteSize parses a size in bytes with an optional K, M or G suffix
// (binary: 1K = 1024), as --max-file-size takes it.
func ParseByteSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	if n := len(s); n > 0 {
		switch strings.ToUpper(s[n-1:]) {
		case "K":
			mult = 1 << 10
		case "M":
			mult = 1 << 20
		case "G":
			mult = 1 << 30
		}
		if mult > 1 {
			s = s[:n-1]
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 || v > call.MaxFileSize/mult {
		return 0, fmt.Errorf("%q is not BYTES, NK, NM or NG", s)
	}
	return v * mult, nil
}

// ParseSize parses a video size "WxH" (SplitSize, then CheckVideoSize): the
// one size parser of flags and settings.
func ParseSize(s string) (w, h int, err error) {
	if w, h, err = SplitSize(s); err != nil {
		return 0, 0, err
	}
	if err := CheckVideoSize(w, h); err != nil {
		return 0, 0, err
	}
	return w, h, nil
}

// SplitSize parses "WxH" into two positive integers with no other bound,
// for sizes whose range is the caller's (a window). Video sizes use
// ParseSize.
func SplitSize(s string) (w, h int, err error) {
	a, b, ok := strings.Cut(strings.ToLower(strings.TrimSpace(s)), "x")
	if !ok {
		return 0, 0, fmt.Errorf("%q is not WxH", s)
	}
	w, err1 := strconv.Atoi(a)
	h, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil || w <= 0 || h <= 0 {
		return 0, 0, fmt.Errorf("%q is not WxH", s)
	}
	return w, h, nil
}

// CheckVideoSize accepts what the encoders take: even sides between 16
// and 4096.
func CheckVideoSize(w, h int) error {
	if w < 16 || h < 16 || w > 4096 || h > 4096 || w%2 != 0 || h%2 != 0 {
		return fmt.Errorf("%dx%d: sides must be even and between 16 and 4096", w, h)
	}
	return nil
}

// ParsePortRange parses "A-B" with 1024 <= A <= B <= 65535.
func ParsePortRange(s string) (lo, hi uint16, err error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, fmt.Errorf("%q is not A-B", s)
	}
	x, err1 := strconv.ParseUint(strings.TrimSpace(a), 10, 16)
	y, err2 := strconv.ParseUint(strings.TrimSpace(b), 10, 16)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("%q is not A-B", s)
	}
	if x < 1024 || x > y {
		return 0, 0, fmt.Errorf("%q: need 1024 <= A <= B <= 65535", s)
	}
	return uint16(x), uint16(y), nil
}

// pathCause drops the path from an *os.PathError (the caller names it).
func pathCause(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
