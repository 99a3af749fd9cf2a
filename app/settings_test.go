package app

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/zalando/go-keyring"

	"github.com/peercall/peercall/call"
)

func TestValidateICEServer(t *testing.T) {
	tests := []struct {
		url, user, pass string
		ok              bool
	}{
		{"stun:127.0.0.1:3478", "", "", true},
		{"stun:stun.example.org", "", "", true},
		{"turn:127.0.0.1:3478", "u", "p", true},
		{"turn:turn.example.org:3478?transport=tcp", "u", "p", true},
		{"turn:turn.example.org?transport=udp", "u", "p", true},
		{"turns:turn.example.org:5349", "u", "p", true},
		{"turns:turn.example.org:5349?transport=tcp", "u", "p", true},
		{"turns:turn.example.org:5349?transport=udp", "u", "p", false},
		{"turn:127.0.0.1:3478", "", "", false},
		{"turn:127.0.0.1:3478", "u", "", false},
		{"stun:127.0.0.1?transport=tcp", "", "", false},
		{"http://127.0.0.1", "", "", false},
		{"127.0.0.1:3478", "", "", false},
		{"stun:", "", "", false},
		{"turn:host?transport=sctp", "u", "p", false},
		{"stuns:stun.example.org", "", "", false}, // ICE gathers nothing from it
		{" turn:127.0.0.1:3478 ", "u", "p", true},
		{"", "", "", false},
	}
	for _, tt := range tests {
		err := ValidateICEServer(ICEServerSetting{URL: tt.url, Username: tt.user, Password: tt.pass})
		if (err == nil) != tt.ok {
			t.Errorf("%q user=%q: err=%v, want ok=%v", tt.url, tt.user, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidSettings) {
			t.Errorf("%q: %v does not wrap ErrInvalidSettings", tt.url, err)
		}
	}
}

func TestSettingsValidate(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*Settings)
		field string // "" = valid
	}{
		{"defaults", func(*Settings) {}, ""},
		{"odd width", func(s *Settings) { s.Width = 641 }, "resolution"},
		{"fps", func(s *Settings) { s.FPS = 0 }, "fps"},
		{"bitrate", func(s *Settings) { s.MaxBitrateKbps = 10 }, "max_bitrate_kbps"},
		{"policy", func(s *Settings) { s.ICEPolicy = "leaky" }, "ice_policy"},
		{"relay without turn", func(s *Settings) { s.ICEPolicy = "relay" }, "ice_policy"},
		{"relay with turn", func(s *Settings) {
			s.ICEPolicy = "relay"
			s.ICEServers = []ICEServerSetting{{URL: "turn:127.0.0.1:3478", Username: "u", Password: "p"}}
		}, ""},
		{"proxy with udp turn", func(s *Settings) {
			s.ICEPolicy = "proxy"
			s.ICEServers = []ICEServerSetting{{URL: "turn:127.0.0.1:3478", Username: "u", Password: "p"}}
		}, "ice_policy"},
		{"proxy with tcp turn", func(s *Settings) {
			s.ICEPolicy = "proxy"
			s.ICEServers = []ICEServerSetting{{URL: "turn:127.0.0.1:3478?transport=tcp", Username: "u", Password: "p"}}
		}, ""},
		{"ports", func(s *Settings) { s.PortRange = "60000-50000" }, "port_range"},
		{"ports ok", func(s *Settings) { s.PortRange = "50000-50100" }, ""},
		{"interface", func(s *Settings) { s.Interfaces = []string{"eth 0"} }, "interfaces"},
		{"server", func(s *Settings) { s.SignalingServer = "https://x" }, "signaling_server"},
		{"bad ice entry", func(s *Settings) { s.ICEServers = []ICEServerSetting{{URL: "stun:ok"}, {URL: "nope"}} }, "ice_servers[1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := DefaultSettings()
			tt.edit(&s)
			err := s.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("unexpected %v", err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("want ValidationError, got %v", err)
			}
			if _, ok := ve.Fields[tt.field]; !ok {
				t.Errorf("fields %v lack %q", ve.Fields, tt.field)
			}
		})
	}
}

func turnSettings() Settings {
	s := DefaultSettings()
	s.DisplayName = "Ann"
	s.ICEServers = []ICEServerSetting{
		{URL: "stun:127.0.0.1:3478"},
		{URL: "turn:127.0.0.1:3478", Username: "ann", Password: "s3cret"},
	}
	return s
}

func TestSettingsKeyringRoundTrip(t *testing.T) {
	keyring.MockInit()
	store := memStore{}
	info, err := SaveSettings(store, KeyringSecrets{}, turnSettings())
	if err != nil {
		t.Fatal(err)
	}
	if info.PlainPasswords {
		t.Error("keyring available but passwords stored in plain")
	}
	if strings.Contains(store[settingsKey], "s3cret") {
		t.Error("password written to the settings store")
	}
	got, err := LoadSettings(store, KeyringSecrets{})
	if err != nil {
		t.Fatal(err)
	}
	if got.ICEServers[1].Password != "s3cret" || got.DisplayName != "Ann" {
		t.Errorf("loaded %+v", got)
	}
	if pw, _ := keyring.Get(KeyringService, "turn:127.0.0.1:3478\x00ann"); pw != "s3cret" {
		t.Errorf("keyring holds %q", pw)
	}
}

func TestSettingsKeyringFallback(t *testing.T) {
	keyring.MockInitWithError(errors.New("no dbus"))
	store := memStore{}
	info, err := SaveSettings(store, KeyringSecrets{}, turnSettings())
	if err != nil {
		t.Fatal(err)
	}
	if !info.PlainPasswords || !errors.Is(info.KeyringErr, ErrNoKeyring) {
		t.Errorf("fallback not reported: %+v", info)
	}
	got, err := LoadSettings(store, KeyringSecrets{})
	if err != nil || got.ICEServers[1].Password != "s3cret" {
		t.Errorf("fallback load %+v %v", got, err)
	}
	c := NewController(ControllerOptions{Store: store, Secrets: KeyringSecrets{}})
	defer c.Close()
	if !c.Snapshot().PlainPasswords {
		t.Error("controller does not show the plain-password notice")
	}
	// No secret store at all behaves the same.
	if info, _ := SaveSettings(memStore{}, nil, turnSettings()); !info.PlainPasswords {
		t.Error("nil secrets not reported")
	}
}

func TestSaveInvalidKeepsOld(t *testing.T) {
	store := memStore{}
	if _, err := SaveSettings(store, nil, DefaultSettings()); err != nil {
		t.Fatal(err)
	}
	before := store[settingsKey]
	bad := DefaultSettings()
	bad.Width = 3
	if _, err := SaveSettings(store, nil, bad); !errors.Is(err, ErrInvalidSettings) {
		t.Fatalf("invalid saved: %v", err)
	}
	if store[settingsKey] != before {
		t.Error("invalid save changed the store")
	}
}

func TestLoadCorrupt(t *testing.T) {
	store := memStore{settingsKey: "{not json"}
	s, err := LoadSettings(store, nil)
	if !errors.Is(err, ErrInvalidSettings) {
		t.Errorf("corrupt: %v", err)
	}
	if s.FPS != DefaultSettings().FPS {
		t.Error("corrupt settings did not give defaults")
	}
}

func TestRememberServer(t *testing.T) {
	var s Settings
	for _, u := range []string{"ws://a/ws", "ws://b/ws", "ws://a/ws", "ws://c/ws", "ws://d/ws", "ws://e/ws", "ws://f/ws"} {
		s.RememberServer(u)
	}
	want := "ws://f/ws ws://e/ws ws://d/ws ws://c/ws ws://a/ws"
	if got := strings.Join(s.RecentServers, " "); got != want {
		t.Errorf("recent %q, want %q", got, want)
	}
}

func TestPolicyExplanations(t *testing.T) {
	for _, p := range []string{"all", "mdns", "no-host", "relay", "proxy"} {
		s := DefaultSettings()
		s.ICEPolicy = p
		if PolicyExplanation(callPolicy(p)) == "" {
			t.Errorf("%s has no explanation", p)
		}
	}
}

func FuzzValidateICEServer(f *testing.F) {
	for _, s := range []string{"stun:a", "turn:a:1?transport=tcp", "turns:b", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, u string) {
		_ = ValidateICEServer(ICEServerSetting{URL: u, Username: "u", Password: "p"})
		_, _, _ = ParseJoinString(u)
	})
}

func callPolicy(s string) call.Policy { return call.Policy(s) }

// TestRecentServersKey: the recent list lives under its own key; saving
// the settings neither rewrites nor drops it, and a list kept inside the
// settings by an older version is read, then moved under the key.
func TestRecentServersKey(t *testing.T) {
	legacy := `{"display_name":"Old","recent_servers":["ws://old:1/ws"]}`
	tests := []struct {
		name   string
		store  memStore
		recent []string // written with SaveRecentServers, nil: none
		want   []string
	}{
		{"nothing saved", memStore{}, nil, nil},
		{"own key", memStore{}, []string{"ws://a:1/ws", "ws://b:2/ws"}, []string{"ws://a:1/ws", "ws://b:2/ws"}},
		{"older version", memStore{settingsKey: legacy}, nil, []string{"ws://old:1/ws"}},
		{"own key wins", memStore{settingsKey: legacy}, []string{"ws://new:1/ws"}, []string{"ws://new:1/ws"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.recent != nil {
				SaveRecentServers(tt.store, tt.recent)
			}
			s, err := LoadSettings(tt.store, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(s.RecentServers, tt.want) {
				t.Fatalf("loaded %v, want %v", s.RecentServers, tt.want)
			}
			// A save of other settings leaves the list where it is (an
			// older version's list moves under the key).
			s.DisplayName = "Changed"
			if tt.recent != nil {
				s.RecentServers = []string{"ws://stale:1/ws"}
			}
			if _, err := SaveSettings(tt.store, nil, s); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(tt.store[settingsKey], "recent_servers") {
				t.Errorf("settings carry the recent list: %s", tt.store[settingsKey])
			}
			again, _ := LoadSettings(tt.store, nil)
			if !slices.Equal(again.RecentServers, tt.want) || again.DisplayName != "Changed" {
				t.Errorf("after a save: %q %v", again.DisplayName, again.RecentServers)
			}
		})
	}
}

// TestVoiceSettings: the microphone's processing is on by default, also
// for settings saved before it existed, and turning a part off persists.
func TestVoiceSettings(t *testing.T) {
	tests := []struct {
		name  string
		saved string // settings JSON in the store ("" = none)
		off   func(*Settings)
		want  VoiceProcessing
	}{
		{"first start", "", nil, VoiceProcessing{true, true, true}},
		{"saved before voice settings existed", `{"display_name":"Old","fps":15}`, nil, VoiceProcessing{true, true, true}},
		{"echo cancellation off", "", func(s *Settings) { s.EchoCancel = false }, VoiceProcessing{false, true, true}},
		{"all off", "", func(s *Settings) { s.EchoCancel, s.NoiseSuppress, s.GainControl = false, false, false }, VoiceProcessing{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := memStore{}
			if tt.saved != "" {
				store[settingsKey] = tt.saved
			}
			if tt.off != nil {
				s := DefaultSettings()
				tt.off(&s)
				if _, err := SaveSettings(store, nil, s); err != nil {
					t.Fatal(err)
				}
			}
			s, err := LoadSettings(store, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Voice(); got != tt.want {
				t.Errorf("voice %+v, want %+v", got, tt.want)
			}
		})
	}
}
