package call

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/logging"
	"github.com/pion/stun/v4"
	"github.com/pion/transport/v4"
	"github.com/pion/webrtc/v4"
)

// Policy is an ICE privacy preset: which candidates a session gathers and
// signals, and so which of the user's addresses the peer can learn.
// docs/ice-policy.md maps each preset to Chrome's WebRTC IP handling policy.
type Policy string

// Policies, from most connective to most private.
const (
	// PolicyAll gathers host, srflx and relay candidates (Chrome "default").
	PolicyAll Policy = "all"
	// PolicyMDNS hides host IPs behind random "<uuid>.local" names
	// (Chrome "default_public_and_private_interfaces" with mDNS obfuscation).
	PolicyMDNS Policy = "mdns"
	// PolicyNoHost gathers srflx and relay only, from the default-route
	// interface only (Chrome "default_public_interface_only").
	PolicyNoHost Policy = "no-host"
	// PolicyRelay uses TURN relay candidates only; the peer only ever sees
	// the TURN server's address.
	PolicyRelay Policy = "relay"
	// PolicyProxy relays through TURN over TCP or TLS only, for networks
	// where UDP must not leave the host (Chrome "disable_non_proxied_udp").
	PolicyProxy Policy = "proxy"
)

// Policies lists every preset, for settings UIs and flags.
var Policies = []Policy{PolicyAll, PolicyMDNS, PolicyNoHost, PolicyRelay, PolicyProxy}

// ParsePolicy maps a name ("" means all) to a Policy. It is the one check
// of a policy name: settings, flags and New all go through it.
func ParsePolicy(name string) (Policy, error) {
	if name == "" {
		return PolicyAll, nil
	}
	p := Policy(strings.ToLower(strings.TrimSpace(name)))
	if !slices.Contains(Policies, p) {
		return "", fmt.Errorf("%w: unknown policy %q (want %s)", ErrInvalidPolicy, name, PolicyNames())
	}

	return p, nil
}

// PolicyNames lists the presets for messages and usage text:
// "all, mdns, no-host, relay or proxy".
func PolicyNames() string {
	names := make([]string, len(Policies))
	for i, p := range Policies {
		names[i] = string(p)
	}

	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

func (p Policy) String() string { return string(p) }

// Strict reports whether the preset hides local addresses, which turns on
// candidate filtering and raddr/SDP scrubbing.
func (p Policy) Strict() bool { return p != PolicyAll && p != "" }

// TransportPolicy is the webrtc.Configuration ICETransportPolicy of p.
func (p Policy) TransportPolicy() webrtc.ICETransportPolicy {
	switch p {
	case PolicyNoHost:
		return webrtc.ICETransportPolicyNoHost
	case PolicyRelay, PolicyProxy:
		return webrtc.ICETransportPolicyRelay
	default:
		return webrtc.ICETransportPolicyAll
	}
}

// ICEOptions are the knobs a user (or a test) sets next to the preset.
type ICEOptions struct {
	// PortMin and PortMax bound the local UDP ports; both zero means any.
	PortMin, PortMax uint16
	// AllowInterfaces, if not empty, lists the only interface names used.
	AllowInterfaces []string
	// DenyInterfaces lists interface names never used (e.g. "docker0").
	DenyInterfaces []string
	// IPv6 enables IPv6 candidates. Link-local addresses are never used.
	IPv6 bool
	// Loopback restricts ICE to loopback addresses on both ends: same-host
	// calls and tests that must not touch real networks.
	Loopback bool
	// OnlyIP, if set, is the one local address ICE gathers on (an
	// emulated link's interface in a test namespace): no other host
	// address is offered, and no-host's default-route pick yields to it.
	OnlyIP net.IP
	// Net replaces the OS network (tests pass a pion vnet).
	Net transport.Net
	// MDNSHostName fixes the mDNS name of the mdns preset; empty means a
	// random "<uuid>.local" per session, which is what hides the host.
	MDNSHostName string
	// ICE timeouts; zero keeps pion's defaults (5 s, 25 s, 2 s).
	DisconnectedTimeout, FailedTimeout, KeepAliveInterval time.Duration
	// LoggerFactory routes pion logs (NewSlogLoggerFactory); nil is silent.
	LoggerFactory logging.LoggerFactory
}

// probeAddr is a TEST-NET-1 address (RFC 5737): "connecting" a UDP socket
// to it asks the routing table for the default-route source address
// without sending a packet.
const probeAddr = "192.0.2.1:9"

// dtlsFlightInterval is how long a DTLS handshake flight waits for its
// answer before it is sent again (doubling at each try). pion's default is
// the RFC's 1 s: on a lossy path every lost flight cost a whole second,
// then two, then four, and under 5 % burst loss calls took 3-5 s to
// connect and some not at all in 30 s (bench --network burst-loss, issue
// 16). libwebrtc uses twice the ICE round trip; a quarter second covers
// the round trips of most paths, and a longer one costs a duplicate
// flight of a few kilobytes.
const dtlsFlightInterval = 250 * time.Millisecond

// NewSettingEngine builds the SettingEngine for a preset plus options. It
// rejects contradictory combinations instead of silently leaking.
func NewSettingEngine(p Policy, o ICEOptions) (*webrtc.SettingEngine, error) { //nolint:cyclop
	p, err := ParsePolicy(string(p))
	if err != nil {
		return nil, err
	}
	if err := o.validate(p); err != nil {
		return nil, err
	}
	se := &webrtc.SettingEngine{}
	if o.LoggerFactory != nil {
		se.LoggerFactory = o.LoggerFactory
	} else {
		se.LoggerFactory = NewSlogLoggerFactory(nil)
	}
	if o.Net == nil {
		n, err := newBufferedNet()
		if err != nil {
			return nil, err
		}
		o.Net = n
	}
	se.SetNet(o.Net)
	// A file transfer keeps up to 4 MiB in flight (call/files.go): the
	// receive window matches it, as the UDP buffers do (udpBuffer).
	se.SetSCTPMaxReceiveBufferSize(udpBuffer)
	se.SetDTLSRetransmissionInterval(dtlsFlightInterval)
	// No HelloVerifyRequest round trip: its cookie proves that the client
	// owns its address, which ICE's checks (authenticated with the
	// session's ICE credentials) have proved before DTLS starts. It cost
	// a round trip and one more flight to lose on every call set-up.
	se.SetDTLSInsecureSkipHelloVerify(true)
	if o.PortMin != 0 {
		if err := se.SetEphemeralUDPPortRange(o.PortMin, o.PortMax); err != nil {
			return nil, fmt.Errorf("%w: port range: %w", ErrInvalidPolicy, err)
		}
	}
	// UDP only: ICE-TCP host candidates would bypass the relay presets, and
	// TURN over TCP still yields UDP relay candidates.
	nets := []webrtc.NetworkType{webrtc.NetworkTypeUDP4}
	if o.IPv6 {
		nets = append(nets, webrtc.NetworkTypeUDP6)
	}
	se.SetNetworkTypes(nets)
	if o.DisconnectedTimeout != 0 || o.FailedTimeout != 0 || o.KeepAliveInterval != 0 {
		d, f, k := o.DisconnectedTimeout, o.FailedTimeout, o.KeepAliveInterval
		if d == 0 {
			d = 5 * time.Second
		}
		if f == 0 {
			f = 25 * time.Second
		}
		if k == 0 {
			k = 2 * time.Second
		}
		se.SetICETimeouts(d, f, k)
	}

	// pion waits 2 s for better candidates before accepting a relay pair;
	// under relay and proxy nothing better can come, so that wait is all delay.
	if p == PolicyRelay || p == PolicyProxy {
		se.SetRelayAcceptanceMinWait(0)
	}

	if p == PolicyMDNS {
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeQueryAndGather)
		if o.MDNSHostName != "" {
			se.SetMulticastDNSHostName(o.MDNSHostName)
		}
	} else {
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	}

	if len(o.AllowInterfaces) > 0 || len(o.DenyInterfaces) > 0 {
		allow, deny := o.AllowInterfaces, o.DenyInterfaces
		se.SetInterfaceFilter(func(name string) bool {
			if slices.Contains(deny, name) {
				return false
			}

			return len(allow) == 0 || slices.Contains(allow, name)
		})
	}

	var only net.IP
	switch {
	case o.OnlyIP != nil:
		only = o.OnlyIP
	case p == PolicyNoHost && !o.Loopback:
		only = defaultRouteIP(o.Net)
	}
	loopback := o.Loopback
	se.SetIPFilter(func(ip net.IP) bool {
		if ip.IsLinkLocalUnicast() || ip.IsUnspecified() || ip.IsMulticast() {
			return false
		}
		if loopback != ip.IsLoopback() {
			return false
		}
		if only != nil {
			return ip.Equal(only)
		}

		return true
	})
	if loopback {
		se.SetIncludeLoopbackCandidate(true)
		se.SetRemoteIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	}

	return se, nil
}

func (o ICEOptions) validate(p Policy) error {
	if (o.PortMin == 0) != (o.PortMax == 0) || o.PortMin > o.PortMax {
		return fmt.Errorf("%w: port range %d-%d", ErrInvalidPolicy, o.PortMin, o.PortMax)
	}
	for _, name := range o.AllowInterfaces {
		if slices.Contains(o.DenyInterfaces, name) {
			return fmt.Errorf("%w: interface %q both allowed and denied", ErrInvalidPolicy, name)
		}
	}
	if p == PolicyMDNS && o.Loopback {
		return fmt.Errorf("%w: mdns names cannot stand for loopback addresses", ErrInvalidPolicy)
	}
	if o.OnlyIP != nil {
		ip := o.OnlyIP
		switch {
		case ip.IsLoopback() || o.Loopback:
			return fmt.Errorf("%w: a single ICE address is not loopback (use Loopback)", ErrInvalidPolicy)
		case ip.IsUnspecified() || ip.IsMulticast() || ip.IsLinkLocalUnicast():
			return fmt.Errorf("%w: ICE address %s is not a unicast address", ErrInvalidPolicy, ip)
		case ip.To4() == nil && !o.IPv6:
			return fmt.Errorf("%w: ICE address %s is IPv6 without IPv6 enabled", ErrInvalidPolicy, ip)
		case p == PolicyMDNS:
			// mdns hides LAN addresses behind names; a pinned address is
			// a test's, and an emulated link carries no multicast.
			return fmt.Errorf("%w: mdns names cannot stand for a pinned ICE address", ErrInvalidPolicy)
		}
	}
	if o.MDNSHostName != "" && (p != PolicyMDNS || !strings.HasSuffix(o.MDNSHostName, ".local")) {
		return fmt.Errorf("%w: mdns host name needs the mdns policy and a .local name", ErrInvalidPolicy)
	}
	if o.DisconnectedTimeout != 0 && o.FailedTimeout != 0 && o.FailedTimeout < o.DisconnectedTimeout {
		return fmt.Errorf("%w: failed timeout shorter than disconnected timeout", ErrInvalidPolicy)
	}

	return nil
}

// defaultRouteIP returns the source address the OS (or vnet) would use for
// the default route, or nil if unknown, in which case no-host keeps every
// interface (still without host candidates).
func defaultRouteIP(n transport.Net) net.IP {
	var (
		c   net.Conn
		err error
	)
	if n != nil {
		c, err = n.Dial("udp4", probeAddr)
	} else {
		c, err = net.Dial("udp4", probeAddr)
	}
	if err != nil {
		return nil
	}
	defer c.Close() //nolint:errcheck // nothing was sent
	if a, ok := c.LocalAddr().(*net.UDPAddr); ok && !a.IP.IsUnspecified() {
		return a.IP
	}

	return nil
}

// FilterICEServers keeps the servers (and URLs) a preset may use: relay
// drops STUN, proxy keeps only turn:…?transport=tcp and turns:. Relay
// presets without any TURN URL left are an error, not a silent fallback.
func FilterICEServers(p Policy, servers []webrtc.ICEServer) ([]webrtc.ICEServer, error) {
	out := make([]webrtc.ICEServer, 0, len(servers))
	turns := 0
	for _, s := range servers {
		keep := s
		keep.URLs = nil
		for _, raw := range s.URLs {
			u, err := stun.ParseURI(raw)
			if err != nil {
				return nil, fmt.Errorf("%w: ICE server URL: %w", ErrInvalidConfig, err)
			}
			isTURN := u.Scheme == stun.SchemeTypeTURN || u.Scheme == stun.SchemeTypeTURNS
			ok := true
			switch p {
			case PolicyRelay:
				ok = isTURN
			case PolicyProxy:
				ok = u.Scheme == stun.SchemeTypeTURNS ||
					(u.Scheme == stun.SchemeTypeTURN && u.Proto == stun.ProtoTypeTCP)
			default:
			}
			if ok {
				keep.URLs = append(keep.URLs, raw)
				if isTURN {
					turns++
				}
			}
		}
		if len(keep.URLs) > 0 {
			out = append(out, keep)
		}
	}
	if (p == PolicyRelay || p == PolicyProxy) && turns == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNoRelayServer, p)
	}
	if p == PolicyNoHost && len(out) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNoICEServer, p)
	}

	return out, nil
}

// ICEServerURLError says what is wrong with a STUN or TURN server URL, in
// words a user can act on (Problem), for settings forms and flags alike.
type ICEServerURLError struct {
	URL     string
	Problem string
}

func (e *ICEServerURLError) Error() string {
	return fmt.Sprintf("ICE server URL %q: %s", e.URL, e.Problem)
}

// Unwrap makes errors.Is(err, ErrBadICEServerURL) work.
func (e *ICEServerURLError) Unwrap() error { return ErrBadICEServerURL }

// ParseICEServerURL is the one check of a STUN or TURN server URL a user
// gives: stun:, turn: or turns: with a host and an optional port; turn: may
// take ?transport=udp or tcp, turns: only tcp, stun: nothing. stuns: is
// refused because ICE gathers nothing from it (no STUN over TLS), so it
// would fail silently. Errors are *ICEServerURLError.
func ParseICEServerURL(raw string) (*stun.URI, error) {
	raw = strings.TrimSpace(raw)
	bad := func(problem string) (*stun.URI, error) {
		return nil, &ICEServerURLError{URL: raw, Problem: problem}
	}
	scheme, _, _ := strings.Cut(raw, ":")
	switch stun.NewSchemeType(strings.ToLower(scheme)) {
	case stun.SchemeTypeSTUN, stun.SchemeTypeTURN, stun.SchemeTypeTURNS:
	case stun.SchemeTypeSTUNS:
		return bad("stuns: is not supported (ICE gathers nothing from STUN over TLS); use stun: or turns:")
	default:
		return bad("must start with stun:, turn: or turns:")
	}
	u, err := stun.ParseURI(raw)
	switch {
	case errors.Is(err, stun.ErrSTUNQuery):
		return bad("stun: addresses take no ?transport option")
	case err != nil || u.Host == "":
		return bad("not a valid STUN/TURN address (e.g. turn:turn.example.org:3478?transport=tcp)")
	case u.Scheme == stun.SchemeTypeTURNS && u.Proto == stun.ProtoTypeUDP:
		return bad("turns: runs over TCP only")
	}

	return u, nil
}
