package call

import (
	"strings"
	"testing"
)

const testSDP = "v=0\r\n" +
	"o=- 123 2 IN IP4 192.168.0.2\r\n" +
	"s=-\r\n" +
	"c=IN IP4 192.168.0.2\r\n" +
	"t=0 0\r\n" +
	"a=fingerprint:sha-256 AA:BB\r\n" +
	"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n" +
	"c=IN IP4 192.168.0.2\r\n" +
	"a=rtcp:9 IN IP4 192.168.0.2\r\n" +
	"a=candidate:1 1 udp 2130706431 192.168.0.2 5000 typ host\r\n" +
	"a=candidate:2 1 udp 2130706431 3f2a.local 5000 typ host\r\n" +
	"a=candidate:3 1 udp 1694498815 1.2.3.10 6000 typ srflx raddr 192.168.0.2 rport 5000\r\n" +
	"a=candidate:4 1 udp 16777215 1.2.3.4 7000 typ relay raddr 192.168.0.2 rport 5001 generation 0\r\n" +
	"a=end-of-candidates\r\n"

func TestScrubCandidate(t *testing.T) {
	host := "candidate:1 1 udp 2130706431 192.168.0.2 5000 typ host"
	mdns := "candidate:2 1 udp 2130706431 3f2a.local 5000 typ host"
	srflx := "candidate:3 1 udp 1694498815 1.2.3.10 6000 typ srflx raddr 192.168.0.2 rport 5000"
	relay := "candidate:4 1 udp 16777215 1.2.3.4 7000 typ relay raddr 192.168.0.2 rport 5001"
	tests := []struct {
		p     Policy
		in    string
		ok    bool
		wantS string
	}{
		{PolicyAll, host, true, host},
		{PolicyAll, srflx, true, srflx},
		{PolicyMDNS, host, false, ""},
		{PolicyMDNS, mdns, true, mdns},
		{PolicyMDNS, srflx, true, "raddr 0.0.0.0 rport 0"},
		{PolicyNoHost, host, false, ""},
		{PolicyNoHost, mdns, false, ""},
		{PolicyNoHost, srflx, true, "1.2.3.10 6000 typ srflx raddr 0.0.0.0 rport 0"},
		{PolicyRelay, srflx, false, ""},
		{PolicyRelay, relay, true, "1.2.3.4 7000 typ relay raddr 0.0.0.0 rport 0"},
		{PolicyProxy, host, false, ""},
		{PolicyProxy, relay, true, "candidate:4 "},
		{PolicyRelay, "garbage", false, ""},
		{PolicyRelay, "candidate:1 1 udp 1 1.2.3.4 7000 typ", false, ""},
	}
	for _, tt := range tests {
		t.Run(string(tt.p)+"/"+tt.in, func(t *testing.T) {
			got, ok := ScrubCandidate(tt.p, tt.in)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v (%q)", ok, tt.ok, got)
			}
			if ok && !strings.Contains(got, tt.wantS) {
				t.Fatalf("got %q, want it to contain %q", got, tt.wantS)
			}
			if ok && tt.p.Strict() && strings.Contains(got, "192.168.") {
				t.Fatalf("private address left in %q", got)
			}
		})
	}
}

func TestScrubSDP(t *testing.T) {
	for _, p := range Policies {
		t.Run(string(p), func(t *testing.T) {
			out, err := ScrubSDP(p, testSDP)
			if err != nil {
				t.Fatal(err)
			}
			if !p.Strict() {
				if out != testSDP {
					t.Fatal("all must not rewrite")
				}

				return
			}
			if strings.Contains(out, "192.168.") {
				t.Fatalf("private address left:\n%s", out)
			}
			if !strings.Contains(out, "c=IN IP4 0.0.0.0") || !strings.Contains(out, "a=fingerprint:") {
				t.Fatalf("structure lost:\n%s", out)
			}
			hasRelay := strings.Contains(out, "typ relay")
			hasSrflx := strings.Contains(out, "typ srflx")
			hasMDNS := strings.Contains(out, ".local")
			want := map[Policy][3]bool{
				PolicyMDNS:   {true, true, true},
				PolicyNoHost: {true, true, false},
				PolicyRelay:  {true, false, false},
				PolicyProxy:  {true, false, false},
			}[p]
			if got := [3]bool{hasRelay, hasSrflx, hasMDNS}; got != want {
				t.Fatalf("relay/srflx/mdns = %v, want %v:\n%s", got, want, out)
			}
			again, err := ScrubSDP(p, out)
			if err != nil || again != out {
				t.Fatalf("not idempotent (%v):\n%s\n---\n%s", err, out, again)
			}
		})
	}
	if _, err := ScrubSDP(PolicyRelay, "not sdp"); err == nil {
		t.Fatal("garbage accepted")
	}
}

func FuzzScrubSDP(f *testing.F) {
	f.Add(testSDP)
	f.Add("v=0\r\no=- 1 1 IN IP6 fd00::1\r\ns=-\r\nt=0 0\r\n")
	f.Fuzz(func(t *testing.T, in string) {
		out, err := ScrubSDP(PolicyRelay, in)
		if err != nil {
			return
		}
		again, err := ScrubSDP(PolicyRelay, out)
		if err != nil {
			t.Fatalf("scrubbed output does not parse: %v\n%q", err, out)
		}
		if again != out {
			t.Fatalf("not idempotent:\n%q\n%q", out, again)
		}
		for _, line := range strings.Split(out, "\r\n") {
			if v, ok := strings.CutPrefix(line, "a=candidate:"); ok {
				c, parsed := parseCandidate(v)
				if !parsed || c.typ != "relay" {
					t.Fatalf("candidate passed the relay filter: %q", line)
				}
				for i := 8; i+1 < len(c.fields); i += 2 {
					if k := strings.ToLower(c.fields[i]); k == "raddr" && c.fields[i+1] != zeroAddr {
						t.Fatalf("raddr kept: %q", line)
					}
				}
			}
		}
	})
}

func FuzzScrubCandidate(f *testing.F) {
	f.Add("candidate:3 1 udp 1694498815 1.2.3.10 6000 typ srflx raddr 192.168.0.2 rport 5000")
	f.Fuzz(func(t *testing.T, in string) {
		for _, p := range Policies {
			out, ok := ScrubCandidate(p, in)
			if !ok || !p.Strict() {
				continue
			}
			again, ok2 := ScrubCandidate(p, out)
			if !ok2 || again != out {
				t.Fatalf("%s: not idempotent %q -> %q", p, out, again)
			}
		}
	})
}

func BenchmarkScrubSDP(b *testing.B) {
	for b.Loop() {
		if _, err := ScrubSDP(PolicyRelay, testSDP); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkScrubCandidate(b *testing.B) {
	c := "candidate:3 1 udp 1694498815 1.2.3.10 6000 typ srflx raddr 192.168.0.2 rport 5000"
	for b.Loop() {
		ScrubCandidate(PolicyNoHost, c)
	}
}
