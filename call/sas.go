package call

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// sasLabel versions the SAS derivation; change it if the algorithm changes so
// old and new clients never show matching codes by accident.
const sasLabel = "peercall-sas-v1\n"

// SAS derives the short authentication string both peers show. Each side
// passes its own and the peer's DTLS fingerprint (in either order): the two
// normalized fingerprints are sorted so both sides hash the same input.
//
// Algorithm (docs/ice-policy.md, reimplemented by the browser page):
//
//	a, b  = NormalizeFingerprint(fpA), NormalizeFingerprint(fpB)  // "sha-256 AB:CD:..."
//	lo,hi = min(a,b), max(a,b)                                    // byte-wise string order
//	h     = SHA-256("peercall-sas-v1\n" + lo + "\n" + hi)
//	digits = fmt("%06d", bigEndianUint32(h[0:4]) % 1000000)
//	words  = [W[h[4]], W[h[5]], W[h[6]], W[h[7]]]                 // W = sasWords
//
// A man in the middle terminates DTLS twice with its own certificates, so the
// two honest peers see different fingerprint pairs and, with overwhelming
// probability, different codes. A fingerprint that does not normalize is
// hashed as given (trimmed), which also yields a mismatch.
func SAS(fpA, fpB string) (digits string, words []string) {
	a, b := normalizeOrTrim(fpA), normalizeOrTrim(fpB)
	if b < a {
		a, b = b, a
	}
	h := sha256.Sum256([]byte(sasLabel + a + "\n" + b))
	digits = fmt.Sprintf("%06d", binary.BigEndian.Uint32(h[0:4])%1_000_000)
	words = []string{sasWords[h[4]], sasWords[h[5]], sasWords[h[6]], sasWords[h[7]]}

	return digits, words
}

func normalizeOrTrim(fp string) string {
	if n, err := NormalizeFingerprint(fp); err == nil {
		return n
	}

	return strings.TrimSpace(fp)
}

// NormalizeFingerprint turns "sha-256 ab:cd:..." (any case, extra spaces)
// into "sha-256 AB:CD:...": algorithm lower case, hex upper case, one space.
func NormalizeFingerprint(fp string) (string, error) {
	fields := strings.Fields(fp)
	if len(fields) != 2 {
		return "", fmt.Errorf("%w: want \"<algorithm> <hex>\"", ErrBadFingerprint)
	}
	algo := strings.ToLower(fields[0])
	parts := strings.Split(strings.ToUpper(fields[1]), ":")
	for _, p := range parts {
		if len(p) != 2 || !isHex(p[0]) || !isHex(p[1]) {
			return "", fmt.Errorf("%w: bad hex byte", ErrBadFingerprint)
		}
	}
	if algo == "sha-256" && len(parts) != sha256.Size {
		return "", fmt.Errorf("%w: sha-256 needs %d bytes, got %d", ErrBadFingerprint, sha256.Size, len(parts))
	}

	return algo + " " + strings.Join(parts, ":"), nil
}

func isHex(c byte) bool { return ('0' <= c && c <= '9') || ('A' <= c && c <= 'F') }

// ParseFingerprint returns the normalized DTLS fingerprint of an SDP. It
// prefers sha-256 (what pion and browsers send); session-level and
// media-level a=fingerprint lines are both accepted.
func ParseFingerprint(sdp string) (string, error) {
	var first string
	sc := bufio.NewScanner(strings.NewReader(sdp))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		v, ok := strings.CutPrefix(line, "a=fingerprint:")
		if !ok {
			continue
		}
		n, err := NormalizeFingerprint(v)
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(n, "sha-256 ") {
			return n, nil
		}
		if first == "" {
			first = n
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("%w: %w", ErrSDP, err)
	}
	if first == "" {
		return "", ErrNoFingerprint
	}

	return first, nil
}

// SASCode is the short authentication string of a connected call.
type SASCode struct {
	Digits            string
	Words             []string
	LocalFingerprint  string
	RemoteFingerprint string
}

// SAS returns the short authentication string once connected.
func (s *Session) SAS() (SASCode, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sas == nil {
		return SASCode{}, ErrNotStarted
	}

	return *s.sas, nil
}

func (s *Session) updateSAS() {
	ld, rd := s.pc.CurrentLocalDescription(), s.pc.CurrentRemoteDescription()
	if ld == nil || rd == nil {
		return
	}
	lfp, err1 := ParseFingerprint(ld.SDP)
	rfp, err2 := ParseFingerprint(rd.SDP)
	if err := errors.Join(err1, err2); err != nil {
		s.log.Warn("no fingerprint for sas", "err", err)

		return
	}
	s.mu.Lock()
	same := s.sas != nil && s.sas.LocalFingerprint == lfp && s.sas.RemoteFingerprint == rfp
	s.mu.Unlock()
	if same {
		return
	}
	d, w := SAS(lfp, rfp)
	code := &SASCode{Digits: d, Words: w, LocalFingerprint: lfp, RemoteFingerprint: rfp}
	s.mu.Lock()
	s.sas = code
	s.mu.Unlock()
	c := *code
	s.publish(Update{Kind: UpdateSAS, SAS: &c})
}
