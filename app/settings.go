package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/pion/stun/v4"
	"github.com/pion/webrtc/v4"
	"github.com/zalando/go-keyring"

	"github.com/peercall/peercall/call"
)

// Settings is everything the Settings screen edits. It is saved as JSON in a
// Store (Fyne preferences in the GUI); TURN passwords go to a SecretStore
// (the OS keyring) and never into the JSON unless the keyring is missing.
type Settings struct {
	DisplayName string `json:"display_name"`

	Camera     string `json:"camera"`     // device Label, "" = default, "synthetic" = test pattern
	Microphone string `json:"microphone"` // device Label, "" = default
	Speaker    string `json:"speaker"`    // output device ID, "" = default

	// The microphone's processing, each on by default.
	EchoCancel    bool `json:"echo_cancel"`
	NoiseSuppress bool `json:"noise_suppress"`
	GainControl   bool `json:"gain_control"`

	Width          int `json:"width"`
	Height         int `json:"height"`
	FPS            int `json:"fps"`
	MaxBitrateKbps int `json:"max_bitrate_kbps"`

	ICEServers []ICEServerSetting `json:"ice_servers"`
	ICEPolicy  string             `json:"ice_policy"`
	PortRange  string             `json:"port_range"` // "A-B" or ""
	IPv6       bool               `json:"ipv6"`
	Interfaces []string           `json:"interfaces"` // allow-list, empty = all

	SignalingServer string `json:"signaling_server"`

	// DownloadDir is where accepted files go ("" declines every offer);
	// MaxFileMB bounds what may be offered (larger: declined too-large).
	DownloadDir string `json:"download_dir"`
	MaxFileMB   int    `json:"max_file_mb"`
	// RecentServers live under their own key (SaveRecentServers): a join
	// remembers its server without writing the rest again.
	RecentServers []string `json:"recent_servers,omitempty"`
}

// ICEServerSetting is one STUN or TURN server. Password is kept out of the
// settings JSON (see SaveSettings).
type ICEServerSetting struct {
	URL      string `json:"url"`
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"` // only in the JSON on the keyring fallback
}

// DefaultSettings are used on first start and for fields never saved.
func DefaultSettings() Settings {
	return Settings{
		DisplayName:    "Me",
		Width:          640,
		Height:         480,
		FPS:            30,
		MaxBitrateKbps: call.DefaultMaxBitrate / 1000,
		ICEPolicy:      string(call.PolicyMDNS),
		EchoCancel:     true,
		NoiseSuppress:  true,
		GainControl:    true,
		DownloadDir:    DefaultDownloadDir(),
		MaxFileMB:      DefaultMaxFileMB,
	}
}

// Voice is the microphone processing these settings ask for.
func (s Settings) Voice() VoiceProcessing {
	return VoiceProcessing{EchoCancel: s.EchoCancel, NoiseSuppress: s.NoiseSuppress, GainControl: s.GainControl}
}

// maxRecentServers bounds the remembered server list.
const maxRecentServers = 5

// PolicyExplanation is the one line the Settings screen shows under each
// ICE policy preset: what the other person (and the servers) can learn.
func PolicyExplanation(p call.Policy) string {
	switch p {
	case call.PolicyAll:
		return "Fastest: the other person can see your local and public IP addresses."
	case call.PolicyMDNS:
		return "Local addresses hidden behind random .local names; your public IP is still visible."
	case call.PolicyNoHost:
		return "No local addresses at all; the other person sees your public IP (or the relay's)."
	case call.PolicyRelay:
		return "Everything through your TURN server: the other person only sees the relay's address."
	case call.PolicyProxy:
		return "TURN over TCP/TLS only, no UDP leaves your machine; the other person sees only the relay."
	}
	return ""
}

// ValidationError lists the invalid fields of a Settings value, by field
// name (the JSON name, or "ice_servers[i]"), each with a user-safe message.
type ValidationError struct {
	Fields map[string]string
}

func (e *ValidationError) Error() string {
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+": "+e.Fields[k])
	}
	return "invalid settings: " + strings.Join(parts, "; ")
}

// Unwrap makes errors.Is(err, ErrInvalidSettings) work.
func (e *ValidationError) Unwrap() error { return ErrInvalidSettings }

// Validate checks every field; the error is a *ValidationError.
func (s Settings) Validate() error {
	bad := map[string]string{}
	if len(strings.TrimSpace(s.DisplayName)) > 64 {
		bad["display_name"] = "at most 64 characters"
	}
	if CheckVideoSize(s.Width, s.Height) != nil {
		bad["resolution"] = "width and height must be even, between 16 and 4096"
	}
	if s.FPS < 1 || s.FPS > 60 {
		bad["fps"] = "frame rate must be 1 to 60"
	}
	if s.MaxBitrateKbps < call.DefaultMinBitrate/1000 || s.MaxBitrateKbps > 20000 {
		bad["max_bitrate_kbps"] = fmt.Sprintf("maximum bitrate must be %d to 20000 kbit/s", call.DefaultMinBitrate/1000)
	}
	policy, policyErr := call.ParsePolicy(s.ICEPolicy)
	if policyErr != nil {
		bad["ice_policy"] = "unknown ICE policy"
	}
	if s.PortRange != "" {
		if _, _, err := ParsePortRange(s.PortRange); err != nil {
			bad["port_range"] = "port range must look like 50000-50100 (1024-65535)"
		}
	}
	for _, name := range s.Interfaces {
		if name == "" || strings.ContainsAny(name, " \t/") || len(name) > 32 {
			bad["interfaces"] = fmt.Sprintf("%q is not an interface name", name)
		}
	}
	if s.SignalingServer != "" {
		if err := ValidateServerURL(s.SignalingServer); err != nil {
			bad["signaling_server"] = err.Error()
		}
	}
	for i, ice := range s.ICEServers {
		if err := ValidateICEServer(ice); err != nil {
			bad[fmt.Sprintf("ice_servers[%d]", i)] = err.Error()
		}
	}
	if policyErr == nil && (policy == call.PolicyRelay || policy == call.PolicyProxy) {
		if _, err := call.FilterICEServers(policy, s.WebRTCICEServers()); err != nil {
			bad["ice_policy"] = "this policy needs a TURN server" + map[bool]string{true: " over TCP or TLS", false: ""}[policy == call.PolicyProxy]
		}
	}
	s.validateFileSettings(bad)
	if len(bad) > 0 {
		return &ValidationError{Fields: bad}
	}
	return nil
}

// ValidateServerURL accepts ws:// and wss:// URLs with a host.
func ValidateServerURL(s string) error {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		return &UserError{Msg: "the server address must start with ws:// or wss://", Err: ErrInvalidSettings}
	}
	return nil
}

// ValidateICEServer checks one STUN/TURN entry: the URL by
// call.ParseICEServerURL (stun:, turn: or turns:); TURN needs a username
// and a password.
func ValidateICEServer(s ICEServerSetting) error {
	u, err := call.ParseICEServerURL(s.URL)
	if err != nil {
		msg := "not a valid STUN/TURN address"
		var ue *call.ICEServerURLError
		if errors.As(err, &ue) {
			msg = ue.Problem
		}
		return &UserError{Msg: msg, Err: ErrInvalidSettings}
	}
	if u.Scheme == stun.SchemeTypeTURN || u.Scheme == stun.SchemeTypeTURNS {
		if s.Username == "" || s.Password == "" {
			return &UserError{Msg: "a TURN server needs a username and a password", Err: ErrInvalidSettings}
		}
	}
	return nil
}

// WebRTCICEServers converts the STUN/TURN list for call.Config.
func (s Settings) WebRTCICEServers() []webrtc.ICEServer {
	out := make([]webrtc.ICEServer, 0, len(s.ICEServers))
	for _, e := range s.ICEServers {
		out = append(out, webrtc.ICEServer{URLs: []string{strings.TrimSpace(e.URL)}, Username: e.Username, Credential: e.Password})
	}
	return out
}

// ICEOptions maps the network fields to call.ICEOptions. Validate first.
func (s Settings) ICEOptions() call.ICEOptions {
	o := call.ICEOptions{IPv6: s.IPv6, AllowInterfaces: slices.Clone(s.Interfaces)}
	if s.PortRange != "" {
		o.PortMin, o.PortMax, _ = ParsePortRange(s.PortRange)
	}
	return o
}

// RememberServer puts u first in the recent list (deduplicated, bounded).
func (s *Settings) RememberServer(u string) {
	u = strings.TrimSpace(u)
	if u == "" {
		return
	}
	list := []string{u}
	for _, r := range s.RecentServers {
		if r != u && len(list) < maxRecentServers {
			list = append(list, r)
		}
	}
	s.RecentServers = list
}

// Store is where settings are kept: fyne.Preferences implements it.
type Store interface {
	String(key string) string
	SetString(key, value string)
}

// SecretStore keeps TURN passwords: the OS keyring (KeyringSecrets) or a fake.
type SecretStore interface {
	Get(service, user string) (string, error)
	Set(service, user, password string) error
	Delete(service, user string) error
}

// KeyringSecrets is the OS keyring through zalando/go-keyring (Secret
// Service on Linux, Keychain, Credential Manager). keyring.MockInit swaps
// it for an in-memory one in tests.
type KeyringSecrets struct{}

// Get implements SecretStore.
func (KeyringSecrets) Get(service, user string) (string, error) { return keyring.Get(service, user) }

// Set implements SecretStore.
func (KeyringSecrets) Set(service, user, password string) error {
	return keyring.Set(service, user, password)
}

// Delete implements SecretStore.
func (KeyringSecrets) Delete(service, user string) error { return keyring.Delete(service, user) }

// Settings storage keys and the keyring service name.
const (
	settingsKey     = "settings.v1"
	recentKey       = "recent_servers.v1"
	KeyringService  = "io.peercall.app"
	secretUserDelim = "\x00"
)

// SaveInfo says how a save went beyond success.
type SaveInfo struct {
	// PlainPasswords is set when no keyring was available and TURN
	// passwords were written into the settings file instead: the UI
	// must say so.
	PlainPasswords bool
	// KeyringErr is why the keyring could not be used.
	KeyringErr error
}

func secretUser(e ICEServerSetting) string {
	return strings.TrimSpace(e.URL) + secretUserDelim + e.Username
}

// SaveSettings validates s and writes it. Invalid settings are not written
// (the error is a *ValidationError). Passwords go to secrets; when that
// fails (no keyring daemon) they are kept in the store and SaveInfo says so.
func SaveSettings(store Store, secrets SecretStore, s Settings) (SaveInfo, error) {
	if err := s.Validate(); err != nil {
		return SaveInfo{}, err
	}
	var info SaveInfo
	stored := s
	stored.RecentServers = nil // under recentKey
	stored.ICEServers = slices.Clone(s.ICEServers)
	for i, e := range stored.ICEServers {
		if e.Password == "" {
			continue
		}
		if secrets == nil {
			info.KeyringErr = ErrNoKeyring
		} else if info.KeyringErr == nil {
			if err := secrets.Set(KeyringService, secretUser(e), e.Password); err != nil {
				info.KeyringErr = fmt.Errorf("%w: %w", ErrNoKeyring, err)
			}
		}
		if info.KeyringErr == nil {
			stored.ICEServers[i].Password = ""
		}
	}
	if info.KeyringErr != nil {
		// Fall back for all of them, so one save is all-keyring or all-plain.
		stored.ICEServers = slices.Clone(s.ICEServers)
		info.PlainPasswords = true
	}
	data, err := json.Marshal(stored)
	if err != nil {
		return info, fmt.Errorf("encode settings: %w", err)
	}
	store.SetString(settingsKey, string(data))
	if store.String(recentKey) == "" && len(s.RecentServers) > 0 {
		// The list came from an older version's settings: move it, or
		// this save would drop it.
		SaveRecentServers(store, s.RecentServers)
	}
	return info, nil
}

// SaveRecentServers writes the recent server list under its own key.
func SaveRecentServers(store Store, list []string) {
	data, _ := json.Marshal(list) // []string always encodes
	store.SetString(recentKey, string(data))
}

// LoadSettings reads the saved settings over the defaults. Missing or
// corrupt data gives the defaults (corruption is reported, not fatal).
// Passwords not in the store are fetched from secrets.
func LoadSettings(store Store, secrets SecretStore) (Settings, error) {
	s := DefaultSettings()
	raw := store.String(settingsKey)
	if raw != "" {
		if err := json.Unmarshal([]byte(raw), &s); err != nil {
			return DefaultSettings(), fmt.Errorf("%w: saved settings unreadable: %w", ErrInvalidSettings, err)
		}
	}
	// Older versions kept the list inside the settings: used until the
	// first join writes the key.
	if r := store.String(recentKey); r != "" {
		var list []string
		if err := json.Unmarshal([]byte(r), &list); err == nil {
			s.RecentServers = list
		}
	}
	if raw == "" {
		return s, nil
	}
	for i, e := range s.ICEServers {
		if e.Password != "" || e.Username == "" || secrets == nil {
			continue
		}
		if pw, err := secrets.Get(KeyringService, secretUser(e)); err == nil {
			s.ICEServers[i].Password = pw
		}
	}
	return s, nil
}

// ParseInterfaces splits a comma or space separated interface list.
func ParseInterfaces(s string) []string {
	f := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
	if len(f) == 0 {
		return nil
	}
	return f
}

// ParseResolution parses "WxH" for the settings form: ParseSize under the
// name the form uses.
func ParseResolution(s string) (w, h int, err error) { return ParseSize(s) }

// FormatResolution is the inverse of ParseResolution.
func FormatResolution(w, h int) string { return strconv.Itoa(w) + "x" + strconv.Itoa(h) }
