package signalserver

import (
	"net"
	"net/netip"
	"sync"
	"time"
)

// DefaultIPv6Prefix is the IPv6 prefix length per-client limits count
// against: one subscriber usually holds a whole /64, so counting single
// addresses would let one client look like 2^64 of them.
const DefaultIPv6Prefix = 64

// addrKey is the key per-client limits count against: the IPv4 address,
// or the IPv6 address cut to v6Prefix bits. A string that is not an IP
// (a malformed X-Real-IP) is its own key.
func addrKey(ip string, v6Prefix int) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, err := a.WithZone("").Prefix(v6Prefix)
	if err != nil {
		return a.String()
	}
	return p.String()
}

// specialPurpose lists the IANA special-purpose ranges (RFC 6890 registries
// for IPv4 and IPv6) that are not globally reachable, plus multicast and
// the documentation/benchmark blocks a relay has no reason to reach.
var specialPurpose = mustPrefixes(
	// IPv4
	"0.0.0.0/8",          // this network
	"10.0.0.0/8",         // private
	"100.64.0.0/10",      // shared address space (carrier-grade NAT)
	"127.0.0.0/8",        // loopback
	"169.254.0.0/16",     // link-local
	"172.16.0.0/12",      // private
	"192.0.0.0/24",       // IETF protocol assignments
	"192.0.2.0/24",       // documentation (TEST-NET-1)
	"192.88.99.0/24",     // 6to4 relay anycast (deprecated)
	"192.168.0.0/16",     // private
	"198.18.0.0/15",      // benchmarking
	"198.51.100.0/24",    // documentation (TEST-NET-2)
	"203.0.113.0/24",     // documentation (TEST-NET-3)
	"224.0.0.0/4",        // multicast
	"240.0.0.0/4",        // reserved
	"255.255.255.255/32", // limited broadcast
	// IPv6
	"::/128",         // unspecified
	"::1/128",        // loopback
	"64:ff9b:1::/48", // local-use IPv4/IPv6 translation
	"100::/64",       // discard-only
	"2001::/23",      // IETF protocol assignments (Teredo, benchmarking, ORCHID)
	"2001:db8::/32",  // documentation
	"2002::/16",      // 6to4
	"3fff::/20",      // documentation
	"5f00::/16",      // segment routing SIDs
	"fc00::/7",       // unique local
	"fe80::/10",      // link-local
	"fec0::/10",      // site-local (deprecated)
	"ff00::/8",       // multicast
)

// nat64 embeds an IPv4 address in its low 32 bits; the embedded address
// decides.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

func mustPrefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

// relayablePeer refuses peers a public relay must not reach: every
// special-purpose range that is not globally reachable (loopback, private,
// CGNAT, link-local, benchmarking, reserved, multicast, broadcast, ...).
// The relay would otherwise be a door into the server's own network.
func relayablePeer(ip net.IP) bool {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return false
	}
	a = a.Unmap()
	if nat64.Contains(a) {
		b := a.As16()
		a = netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
	}
	for _, p := range specialPurpose {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// ownAddrs is the set of the host's own interface addresses (and the
// advertised relay address), refreshed at most once a minute: a relay must
// not reach services of the TURN host itself on its public address.
type ownAddrs struct {
	extra []netip.Addr

	mu      sync.Mutex
	at      time.Time
	addrs   map[netip.Addr]struct{}
	listAll func() ([]net.Addr, error)
}

func newOwnAddrs(extra ...net.IP) *ownAddrs {
	o := &ownAddrs{listAll: net.InterfaceAddrs}
	for _, ip := range extra {
		if a, ok := netip.AddrFromSlice(ip); ok && !a.IsUnspecified() {
			o.extra = append(o.extra, a.Unmap())
		}
	}
	return o
}

func (o *ownAddrs) contains(ip net.IP) bool {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return false
	}
	a = a.Unmap()
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.addrs == nil || time.Since(o.at) > time.Minute {
		o.addrs = make(map[netip.Addr]struct{})
		for _, e := range o.extra {
			o.addrs[e] = struct{}{}
		}
		if list, err := o.listAll(); err == nil {
			for _, na := range list {
				if pn, ok := na.(*net.IPNet); ok {
					if x, ok := netip.AddrFromSlice(pn.IP); ok {
						o.addrs[x.Unmap()] = struct{}{}
					}
				}
			}
		}
		o.at = time.Now()
	}
	_, mine := o.addrs[a]
	return mine
}
