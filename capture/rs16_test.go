package capture

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

func TestRS16(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	tests := []struct {
		n, k             int
		errors, erasures int
	}{
		{15, 9, 0, 0}, {15, 9, 1, 0}, {15, 9, 2, 0}, {15, 9, 3, 0},
		{15, 9, 0, 6}, {15, 9, 1, 4}, {15, 9, 2, 2}, {15, 9, 0, 3},
		{13, 9, 2, 0}, {11, 9, 0, 2}, {15, 11, 2, 0},
	}
	for _, tc := range tests {
		nsym := tc.n - tc.k
		for trial := range 300 {
			data := make([]byte, tc.k)
			for i := range data {
				data[i] = byte(r.IntN(16))
			}
			cw := rsEncode(data, nsym)
			if len(cw) != tc.n || !bytes.Equal(cw[:tc.k], data) {
				t.Fatalf("encode: %v", cw)
			}
			got := append([]byte(nil), cw...)
			pos := r.Perm(tc.n)
			for _, p := range pos[:tc.errors+tc.erasures] {
				got[p] ^= byte(1 + r.IntN(15))
			}
			// Erasures may also hit correct symbols: mark one extra.
			eras := append([]int(nil), pos[tc.errors:tc.errors+tc.erasures]...)
			if !rsDecode(got, nsym, eras) || !bytes.Equal(got, cw) {
				t.Fatalf("RS(%d,%d) %d errors %d erasures, trial %d: not corrected", tc.n, tc.k, tc.errors, tc.erasures, trial)
			}
		}
	}
	// Beyond capacity must not claim success with a wrong word too often;
	// at least it must never panic.
	wrong := 0
	for range 2000 {
		data := make([]byte, 9)
		for i := range data {
			data[i] = byte(r.IntN(16))
		}
		cw := rsEncode(data, 6)
		got := append([]byte(nil), cw...)
		for _, p := range r.Perm(15)[:5] {
			got[p] ^= byte(1 + r.IntN(15))
		}
		if rsDecode(got, 6, nil) && !bytes.Equal(got, cw) {
			wrong++
		}
	}
	t.Logf("5 errors in RS(15,9): %d/2000 miscorrected", wrong)
}
