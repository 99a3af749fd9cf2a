package call

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/pion/sdp/v3"
)

// Leak safety. pion fills raddr/rport of srflx and relay candidates with the
// local address whenever an IP or interface filter is set, even in relay-only
// mode, and SDP may carry candidates gathered so far. Every strict preset
// therefore passes each outgoing candidate and SDP through these functions:
// forbidden candidate types are dropped and related addresses zeroed the way
// browsers do ("raddr 0.0.0.0 rport 0").

const (
	zeroAddr = "0.0.0.0"
	zeroPort = "0"
)

// candidate is a parsed a=candidate value (RFC 8839 section 5.1):
// foundation component transport priority address port "typ" type [...].
type candidate struct {
	fields []string
	typ    string
	addr   string
}

func parseCandidate(v string) (candidate, bool) {
	v = strings.TrimPrefix(strings.TrimSpace(v), "candidate:")
	f := strings.Fields(v)
	if len(f) < 8 || f[6] != "typ" {
		return candidate{}, false
	}

	return candidate{fields: f, typ: strings.ToLower(f[7]), addr: f[4]}, true
}

// allowed reports whether p may signal a candidate of this type and address.
func (c candidate) allowed(p Policy) bool {
	switch p {
	case PolicyMDNS:
		if c.typ == "host" {
			return strings.HasSuffix(strings.ToLower(c.addr), ".local")
		}

		return c.typ == "srflx" || c.typ == "relay"
	case PolicyNoHost:
		return c.typ == "srflx" || c.typ == "relay"
	case PolicyRelay, PolicyProxy:
		return c.typ == "relay"
	default:
		return true
	}
}

func (c candidate) scrubbed() string {
	f := append([]string(nil), c.fields...)
	for i := 8; i+1 < len(f); i += 2 {
		switch strings.ToLower(f[i]) {
		case "raddr":
			f[i+1] = zeroAddr
		case "rport":
			f[i+1] = zeroPort
		default:
		}
	}

	return strings.Join(f, " ")
}

// ScrubCandidate applies p to one candidate attribute value (with or without
// the "candidate:" prefix, which is kept as given). ok is false when the
// candidate must not be sent. Under PolicyAll the value is returned as is;
// under strict presets a malformed candidate is dropped. It is
// ScrubCandidateWith with default options (the OS interfaces, no loopback).
func ScrubCandidate(p Policy, value string) (out string, ok bool) {
	return ScrubCandidateWith(p, ICEOptions{}, value)
}

// ScrubCandidateWith is ScrubCandidate for a session with options o. Under
// every strict preset it also drops server-reflexive and peer-reflexive
// candidates whose address is one of this host's interface addresses
// (o.Net's when set) or private, ULA, link-local or loopback: a STUN server
// reached without NAT (an office server, or a hostile one on the user's
// LAN) reflects the local address, which the preset promises to hide.
// Loopback is kept when o.Loopback is set: same-host calls use a STUN
// server on 127.0.0.1 and 127.0.0.1 reveals nothing.
func ScrubCandidateWith(p Policy, o ICEOptions, value string) (out string, ok bool) {
	if !p.Strict() {
		return value, true
	}
	c, parsed := parseCandidate(value)
	if !parsed || !c.allowed(p) {
		return "", false
	}
	if (c.typ == "srflx" || c.typ == "prflx") && revealsLocal(o, c.addr) {
		return "", false
	}
	prefix := ""
	if strings.HasPrefix(strings.TrimSpace(value), "candidate:") {
		prefix = "candidate:"
	}

	return prefix + c.scrubbed(), true
}

// revealsLocal reports whether a reflexive candidate address would show
// the peer an address of the user's own network.
func revealsLocal(o ICEOptions, addr string) bool {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return true // not an address (a .local name is never reflexive)
	}
	a = a.Unmap().WithZone("")
	switch {
	case a.IsLoopback():
		return !o.Loopback
	case a.IsPrivate(), a.IsLinkLocalUnicast(), a.IsUnspecified(), a.IsMulticast():
		return true
	}
	return isLocalAddr(o, a)
}

// isLocalAddr reports whether a is an address of one of the host's (or
// o.Net's) interfaces. When the list cannot be read the candidate is
// dropped: failing closed costs a srflx, failing open could leak.
func isLocalAddr(o ICEOptions, a netip.Addr) bool {
	var addrs []net.Addr
	if o.Net != nil {
		ifs, err := o.Net.Interfaces()
		if err != nil {
			return true
		}
		for _, ifc := range ifs {
			as, err := ifc.Addrs()
			if err != nil {
				return true
			}
			addrs = append(addrs, as...)
		}
	} else {
		as, err := net.InterfaceAddrs()
		if err != nil {
			return true
		}
		addrs = as
	}
	for _, na := range addrs {
		var ip net.IP
		switch v := na.(type) {
		case *net.IPNet:
			ip = v.IP
		case *net.IPAddr:
			ip = v.IP
		}
		if x, ok := netip.AddrFromSlice(ip); ok && x.Unmap() == a {
			return true
		}
	}
	return false
}

// ScrubSDP applies p to a whole SDP: candidates are filtered and scrubbed,
// o= and c= addresses set to the unspecified address, a=rtcp addresses
// removed. Under PolicyAll the SDP is returned unchanged. It is ScrubSDPWith
// with default options.
func ScrubSDP(p Policy, text string) (string, error) {
	return ScrubSDPWith(p, ICEOptions{}, text)
}

// ScrubSDPWith is ScrubSDP for a session with options o (see
// ScrubCandidateWith).
func ScrubSDPWith(p Policy, o ICEOptions, text string) (string, error) {
	if !p.Strict() {
		return text, nil
	}
	if err := checkSDPChars(text); err != nil {
		return "", err
	}
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(text); err != nil {
		return "", fmt.Errorf("%w: %w", ErrSDP, err)
	}
	// Marshal needs a complete o= line; fill what a sloppy peer left out.
	if sd.Origin.NetworkType == "" {
		sd.Origin.NetworkType = "IN"
	}
	if !strings.EqualFold(sd.Origin.AddressType, "IP6") {
		sd.Origin.AddressType = "IP4"
	}
	sd.Origin.UnicastAddress = unspecifiedFor(sd.Origin.AddressType)
	scrubConn(sd.ConnectionInformation)
	sd.Attributes = scrubAttrs(p, o, sd.Attributes)
	for _, md := range sd.MediaDescriptions {
		scrubConn(md.ConnectionInformation)
		md.Attributes = scrubAttrs(p, o, md.Attributes)
	}
	out, err := sd.Marshal()
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrSDP, err)
	}

	return string(out), nil
}

// checkSDPChars rejects control characters and bare CRs, which the parser
// would carry into values and a strict receiver would refuse anyway.
func checkSDPChars(text string) error {
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == '\r' && (i+1 == len(text) || text[i+1] != '\n'):
			return fmt.Errorf("%w: bare CR at byte %d", ErrSDP, i)
		case c < 0x20 && c != '\r' && c != '\n' && c != '\t', c == 0x7f:
			return fmt.Errorf("%w: control character at byte %d", ErrSDP, i)
		}
	}

	return nil
}

func unspecifiedFor(addrType string) string {
	if strings.EqualFold(addrType, "IP6") {
		return "::"
	}

	return zeroAddr
}

func scrubConn(ci *sdp.ConnectionInformation) {
	if ci == nil {
		return
	}
	if ci.NetworkType == "" {
		ci.NetworkType = "IN"
	}
	if !strings.EqualFold(ci.AddressType, "IP6") {
		ci.AddressType = "IP4"
	}
	if ci.Address == nil {
		ci.Address = &sdp.Address{}
	}
	ci.Address.Address = unspecifiedFor(ci.AddressType)
	ci.Address.TTL, ci.Address.Range = nil, nil
}

func scrubAttrs(p Policy, o ICEOptions, attrs []sdp.Attribute) []sdp.Attribute {
	out := attrs[:0]
	for _, a := range attrs {
		switch strings.ToLower(a.Key) {
		case "candidate":
			v, ok := ScrubCandidateWith(p, o, a.Value)
			if !ok {
				continue
			}
			a.Value = v
		case "rtcp":
			// "a=rtcp:port [nettype addrtype addr]": keep the port only.
			if f := strings.Fields(a.Value); len(f) > 1 {
				a.Value = f[0]
			}
		default:
		}
		out = append(out, a)
	}

	return out
}
