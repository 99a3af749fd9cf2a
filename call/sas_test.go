package call

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

func fakeFingerprint(seed string) string {
	h := sha256.Sum256([]byte(seed))
	parts := make([]string, len(h))
	for i, b := range h {
		parts[i] = fmt.Sprintf("%02x", b)
	}

	return "sha-256 " + strings.Join(parts, ":")
}

func TestSASWordList(t *testing.T) {
	seen := map[string]bool{}
	for i, w := range sasWords {
		if w == "" || strings.ToLower(w) != w || seen[w] {
			t.Fatalf("word %d %q empty, not lower case or duplicate", i, w)
		}
		seen[w] = true
	}
	if !slices.IsSorted(sasWords[:]) {
		t.Fatal("word list not sorted")
	}
}

func TestSASSymmetricAndStable(t *testing.T) {
	a, b := fakeFingerprint("alice"), fakeFingerprint("bob")
	d1, w1 := SAS(a, b)
	d2, w2 := SAS(b, a)
	if d1 != d2 || !slices.Equal(w1, w2) {
		t.Fatalf("order matters: %s %v vs %s %v", d1, w1, d2, w2)
	}
	// Case and spacing must not matter: the browser may print lower case.
	d3, w3 := SAS("  SHA-256  "+strings.ToUpper(a[8:]), strings.ToLower(b))
	if d1 != d3 || !slices.Equal(w1, w3) {
		t.Fatalf("normalization differs: %s %v vs %s %v", d1, w1, d3, w3)
	}
	if len(d1) != 6 || len(w1) != 4 {
		t.Fatalf("shape: %q %v", d1, w1)
	}
}

// TestSASKnownVector pins the algorithm so the JS port can check itself.
func TestSASKnownVector(t *testing.T) {
	a := "sha-256 " + strings.TrimSuffix(strings.Repeat("AA:", 32), ":")
	b := "sha-256 " + strings.TrimSuffix(strings.Repeat("BB:", 32), ":")
	h := sha256.Sum256([]byte("peercall-sas-v1\n" + a + "\n" + b))
	wantDigits := fmt.Sprintf("%06d", (uint32(h[0])<<24|uint32(h[1])<<16|uint32(h[2])<<8|uint32(h[3]))%1000000)
	d, w := SAS(b, a)
	if d != wantDigits || w[0] != sasWords[h[4]] || w[3] != sasWords[h[7]] {
		t.Fatalf("SAS = %s %v, want %s", d, w, wantDigits)
	}
	t.Logf("vector: digits=%s words=%v", d, w)
}

func TestSASManInTheMiddle(t *testing.T) {
	alice, bob := fakeFingerprint("alice"), fakeFingerprint("bob")
	mitmToAlice, mitmToBob := fakeFingerprint("mallory-1"), fakeFingerprint("mallory-2")
	// Alice talks DTLS with mallory-1, Bob with mallory-2.
	da, wa := SAS(alice, mitmToAlice)
	db, wb := SAS(mitmToBob, bob)
	if da == db || slices.Equal(wa, wb) {
		t.Fatalf("MITM not detected: %s %v / %s %v", da, wa, db, wb)
	}
	// Even one shared certificate (mallory reuses bob's) differs.
	dc, _ := SAS(alice, fakeFingerprint("bob2"))
	dd, _ := SAS(alice, bob)
	if dc == dd {
		t.Fatal("different peer certificate gave the same digits")
	}
}

func TestParseFingerprint(t *testing.T) {
	fp := fakeFingerprint("x")
	tests := []struct {
		name, sdp string
		want      string
		err       error
	}{
		{"session level", "v=0\r\na=fingerprint:" + fp + "\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n", strings.ToUpper(fp[8:]), nil},
		{"prefers sha-256", "v=0\r\na=fingerprint:sha-1 AA:BB\r\nm=audio 9 X 1\r\na=fingerprint:" + fp + "\r\n", strings.ToUpper(fp[8:]), nil},
		{"only sha-1", "a=fingerprint:sha-1 aa:bb\n", "AA:BB", nil},
		{"none", "v=0\r\n", "", ErrNoFingerprint},
		{"bad hex", "a=fingerprint:sha-256 ZZ:00\r\n", "", ErrBadFingerprint},
		{"short sha-256", "a=fingerprint:sha-256 AA:BB\r\n", "", ErrBadFingerprint},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseFingerprint(tt.sdp)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if tt.err == nil && !strings.HasSuffix(got, " "+tt.want) {
				t.Fatalf("got %q, want suffix %q", got, tt.want)
			}
		})
	}
}

func FuzzParseFingerprint(f *testing.F) {
	f.Add("a=fingerprint:" + fakeFingerprint("seed") + "\r\n")
	f.Add("a=fingerprint:sha-1 aa:bb\n")
	f.Fuzz(func(t *testing.T, sdp string) {
		fp, err := ParseFingerprint(sdp)
		if err != nil {
			return
		}
		again, err := NormalizeFingerprint(fp)
		if err != nil || again != fp {
			t.Fatalf("normalized output not stable: %q -> %q (%v)", fp, again, err)
		}
		SAS(fp, fp)
	})
}

// TestSASWordListMatchesDocs keeps docs/ice-policy.md (which the browser
// page copies) identical to the built-in list.
func TestSASWordListMatchesDocs(t *testing.T) {
	b, err := os.ReadFile("../docs/ice-policy.md")
	if err != nil {
		t.Skip("docs not present:", err)
	}
	_, rest, ok := strings.Cut(string(b), "<!-- sas-words:begin -->")
	list, _, ok2 := strings.Cut(rest, "<!-- sas-words:end -->")
	if !ok || !ok2 {
		t.Fatal("word list markers missing in docs/ice-policy.md")
	}
	if got := strings.Fields(list); !slices.Equal(got, sasWords[:]) {
		t.Fatalf("docs list has %d words and differs from sasWords", len(got))
	}
}

func BenchmarkSAS(b *testing.B) {
	a, c := fakeFingerprint("a"), fakeFingerprint("b")
	for b.Loop() {
		SAS(a, c)
	}
}
