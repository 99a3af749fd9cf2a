package call

import (
	"fmt"
	"net"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pion/transport/v4/test"
	"github.com/pion/transport/v4/vnet"
	"github.com/pion/turn/v5"
)

// lanSTUNTopo is newTopo's WAN (TURN at 1.2.3.4, bob behind a NAT) with
// alice on a LAN that has its own STUN server: alice reaches it without
// NAT, so it reflects her LAN address. lanCIDR is 192.168.0.0/24 (private)
// or 198.18.5.0/24 (benchmarking space, which is not "private" for Go:
// only the local-interface check catches it).
func lanSTUNTopo(t *testing.T, lanCIDR, hostIP, stunIP string) (tp *topo, stunServer *turn.Server) {
	t.Helper()
	lf := NewSlogLoggerFactory(nil)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	tp = &topo{}
	wan, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "1.2.3.0/24", LoggerFactory: lf})
	must(err)
	tp.wan = wan
	netT, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{turnIP}})
	must(err)
	must(wan.AddNet(netT))

	lanA, err := vnet.NewRouter(&vnet.RouterConfig{StaticIPs: []string{natAIP}, CIDR: lanCIDR, NATType: fullCone, LoggerFactory: lf})
	must(err)
	tp.netA, err = vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{hostIP}})
	must(err)
	must(lanA.AddNet(tp.netA))
	netS, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{stunIP}})
	must(err)
	must(lanA.AddNet(netS))
	must(wan.AddRouter(lanA))

	lanB, err := vnet.NewRouter(&vnet.RouterConfig{StaticIPs: []string{natBIP}, CIDR: "192.168.1.0/24", NATType: fullCone, LoggerFactory: lf})
	must(err)
	tp.netB, err = vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{hostBIP}})
	must(err)
	must(lanB.AddNet(tp.netB))
	must(wan.AddRouter(lanB))
	must(wan.Start())

	pc, err := netT.ListenPacket("udp4", fmt.Sprintf("%s:%d", turnIP, turnPort))
	must(err)
	tp.turn, err = turn.NewServer(turn.ServerConfig{
		Realm: turnRlm, AuthHandler: turnAuth, LoggerFactory: lf,
		PacketConnConfigs: []turn.PacketConnConfig{{
			PacketConn: pc,
			RelayAddressGenerator: &turn.RelayAddressGeneratorStatic{
				RelayAddress: net.ParseIP(turnIP), Address: "0.0.0.0", Net: netT,
			},
		}},
	})
	must(err)
	spc, err := netS.ListenPacket("udp4", fmt.Sprintf("%s:%d", stunIP, turnPort))
	must(err)
	stunServer, err = turn.NewServer(turn.ServerConfig{
		Realm: turnRlm, LoggerFactory: lf,
		AuthHandler:       func(*turn.RequestAttributes) (string, []byte, bool) { return "", nil, false },
		PacketConnConfigs: []turn.PacketConnConfig{{PacketConn: spc}},
	})
	must(err)

	return tp, stunServer
}

// TestVNetLANSTUNLeak: with a STUN server on alice's LAN, her srflx
// candidate is her LAN address. Every preset but all must keep it out of
// trickle and SDP. The table of what alice sent is logged per preset.
func TestVNetLANSTUNLeak(t *testing.T) {
	lans := []struct {
		name, cidr, host, stun string
	}{
		{"private LAN", "192.168.0.0/24", "192.168.0.2", "192.168.0.3"},
		{"198.18 LAN", "198.18.5.0/24", "198.18.5.5", "198.18.5.6"},
	}
	policies := []Policy{PolicyAll, PolicyMDNS, PolicyNoHost, PolicyRelay}
	table := map[string]string{}
	for _, lan := range lans {
		for _, pol := range policies {
			t.Run(lan.name+"/"+string(pol), func(t *testing.T) {
				defer test.TimeOut(40 * time.Second).Stop()
				defer test.CheckRoutines(t)()
				tp, stunSrv := lanSTUNTopo(t, lan.cidr, lan.host, lan.stun)
				defer tp.close()
				defer func() { _ = stunSrv.Close() }()
				var sa sent
				p := newVNetPair(t, tp, func(a, b *Config) {
					a.Policy, b.Policy = pol, pol
					// Alice's STUN is the one on her LAN; relay needs the TURN.
					a.ICEServers = vnetServers(
						fmt.Sprintf("stun:%s:%d", lan.stun, turnPort),
						fmt.Sprintf("turn:%s:%d?transport=udp", turnIP, turnPort))
					b.ICEServers = vnetServers(
						fmt.Sprintf("stun:%s:%d", turnIP, turnPort),
						fmt.Sprintf("turn:%s:%d?transport=udp", turnIP, turnPort))
				})
				defer p.close()
				p.sa.Tap(sa.tap)
				p.start(t)
				p.waitConnected(t)
				time.Sleep(time.Second) // let trickle finish

				counts := map[string]int{}
				leaked := 0
				for _, sig := range sa.all() {
					for _, it := range addressesIn(sig) {
						if it.typ == "raddr" || it.typ == "c=" || it.typ == "o=" {
							continue
						}
						counts[it.typ]++
						if (it.typ == "srflx" || it.typ == "prflx") && it.addr == lan.host {
							leaked++
						}
					}
				}
				var parts []string
				for k, v := range counts {
					parts = append(parts, fmt.Sprintf("%s=%d", k, v))
				}
				sort.Strings(parts)
				table[lan.name+"/"+string(pol)] = fmt.Sprintf("srflx with LAN address %s sent %d times; candidates sent (trickle+SDP): %s",
					lan.host, leaked, strings.Join(parts, " "))
				switch {
				case pol == PolicyAll && leaked == 0:
					t.Errorf("policy all sent no srflx %s: the topology does not reflect the LAN address, the test is blind", lan.host)
				case pol != PolicyAll && leaked > 0:
					t.Errorf("%s sent its LAN address %s as srflx %d times", pol, lan.host, leaked)
				}
			})
		}
	}
	keys := make([]string, 0, len(table))
	for k := range table {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("%-22s %s", k, table[k])
	}
}

func TestScrubReflexiveLocal(t *testing.T) {
	cand := func(addr, typ string) string {
		return fmt.Sprintf("candidate:3 1 udp 1694498815 %s 6000 typ %s raddr 10.0.0.2 rport 5000", addr, typ)
	}
	tests := []struct {
		name string
		p    Policy
		o    ICEOptions
		c    string
		ok   bool
	}{
		{"all keeps private srflx", PolicyAll, ICEOptions{}, cand("192.168.0.2", "srflx"), true},
		{"mdns private srflx", PolicyMDNS, ICEOptions{}, cand("192.168.0.2", "srflx"), false},
		{"no-host private srflx", PolicyNoHost, ICEOptions{}, cand("10.1.2.3", "srflx"), false},
		{"no-host 172.16 srflx", PolicyNoHost, ICEOptions{}, cand("172.20.0.1", "srflx"), false},
		{"no-host ULA srflx", PolicyNoHost, ICEOptions{}, cand("fd12::1", "srflx"), false},
		{"no-host link-local srflx", PolicyNoHost, ICEOptions{}, cand("fe80::1", "srflx"), false},
		{"no-host 169.254 srflx", PolicyNoHost, ICEOptions{}, cand("169.254.3.4", "srflx"), false},
		{"no-host loopback srflx", PolicyNoHost, ICEOptions{}, cand("127.0.0.1", "srflx"), false},
		{"no-host loopback srflx, loopback mode", PolicyNoHost, ICEOptions{Loopback: true}, cand("127.0.0.1", "srflx"), true},
		{"no-host private srflx, loopback mode", PolicyNoHost, ICEOptions{Loopback: true}, cand("192.168.0.2", "srflx"), false},
		{"no-host public srflx", PolicyNoHost, ICEOptions{}, cand("1.2.3.10", "srflx"), true},
		{"mdns private prflx", PolicyMDNS, ICEOptions{}, cand("192.168.0.2", "prflx"), false},
		{"relay private relay kept", PolicyRelay, ICEOptions{}, cand("10.9.9.9", "relay"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, ok := ScrubCandidateWith(tt.p, tt.o, tt.c)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v (%q)", ok, tt.ok, out)
			}
			sdpText := testSDP + "a=" + tt.c + "\r\n"
			scrubbed, err := ScrubSDPWith(tt.p, tt.o, sdpText)
			if err != nil {
				t.Fatal(err)
			}
			addr := strings.Fields(tt.c)[4]
			if in := strings.Contains(scrubbed, " "+addr+" 6000 "); in != tt.ok {
				t.Fatalf("SDP keeps %s: %v, want %v", addr, in, tt.ok)
			}
		})
	}
}

// TestScrubLocalInterfaceAddress: a srflx equal to an address of one of
// the host's interfaces is dropped even when it is public.
func TestScrubLocalInterfaceAddress(t *testing.T) {
	wan, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "1.2.3.0/24", LoggerFactory: NewSlogLoggerFactory(nil)})
	if err != nil {
		t.Fatal(err)
	}
	n, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{"1.2.3.77"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := wan.AddNet(n); err != nil {
		t.Fatal(err)
	}
	c := "candidate:3 1 udp 1694498815 1.2.3.77 6000 typ srflx raddr 0.0.0.0 rport 0"
	if _, ok := ScrubCandidateWith(PolicyNoHost, ICEOptions{Net: n}, c); ok {
		t.Fatal("srflx equal to an interface address was sent")
	}
	if _, ok := ScrubCandidateWith(PolicyAll, ICEOptions{Net: n}, c); !ok {
		t.Fatal("policy all dropped a candidate")
	}
	other := strings.Replace(c, "1.2.3.77", "1.2.3.78", 1)
	if _, ok := ScrubCandidateWith(PolicyNoHost, ICEOptions{Net: n}, other); !ok {
		t.Fatal("a public srflx that is not local was dropped")
	}
}
