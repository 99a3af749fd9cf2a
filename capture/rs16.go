package capture

// Reed-Solomon over GF(16) for the audio marker: one MFSK symbol is one
// field element, so a symbol the codec garbles costs exactly one error and a
// symbol too impure to read is an erasure. Primitive polynomial x^4+x+1,
// first consecutive root alpha^0. Codewords are high-degree first: c[0] is the
// coefficient of x^(n-1).

var gf16Exp, gf16Log = func() ([30]byte, [16]byte) {
	var exp [30]byte
	var log [16]byte
	x := byte(1)
	for i := range 15 {
		exp[i], exp[i+15] = x, x
		log[x] = byte(i)
		x <<= 1
		if x&0x10 != 0 {
			x ^= 0x13
		}
	}
	return exp, log
}()

func gfMul(a, b byte) byte {
	if a == 0 || b == 0 {
		return 0
	}
	return gf16Exp[int(gf16Log[a])+int(gf16Log[b])]
}

func gfInv(a byte) byte { return gf16Exp[15-int(gf16Log[a])] }

// gfPow returns alpha^e.
func gfPow(e int) byte { return gf16Exp[((e%15)+15)%15] }

// polyEval evaluates p (lowest degree first) at x.
func polyEval(p []byte, x byte) byte {
	var y byte
	for i := len(p) - 1; i >= 0; i-- {
		y = gfMul(y, x) ^ p[i]
	}
	return y
}

// polyMul multiplies polynomials (lowest degree first).
func polyMul(a, b []byte) []byte {
	out := make([]byte, len(a)+len(b)-1)
	for i, x := range a {
		for j, y := range b {
			out[i+j] ^= gfMul(x, y)
		}
	}
	return out
}

// rsGenerator returns prod_{i<nsym} (x - alpha^i), highest degree first.
func rsGenerator(nsym int) []byte {
	g := []byte{1}
	for i := range nsym {
		// Multiply by (x + alpha^i), highest first.
		next := make([]byte, len(g)+1)
		for j, c := range g {
			next[j] ^= c
			next[j+1] ^= gfMul(c, gfPow(i))
		}
		g = next
	}
	return g
}

// rsEncode appends nsym parity symbols to data (4-bit values).
func rsEncode(data []byte, nsym int) []byte {
	g := rsGenerator(nsym)
	buf := make([]byte, len(data)+nsym)
	copy(buf, data)
	for i := range data {
		c := buf[i]
		if c == 0 {
			continue
		}
		for j := 1; j < len(g); j++ {
			buf[i+j] ^= gfMul(g[j], c)
		}
	}
	out := append([]byte(nil), data...)
	return append(out, buf[len(data):]...)
}

// rsDecode corrects cw in place given the positions known to be unreliable
// (erasures). It succeeds when 2*errors + erasures <= nsym and reports
// false when the word is beyond repair (or miscorrection is detected).
func rsDecode(cw []byte, nsym int, erasures []int) bool {
	n := len(cw)
	if n > 15 || len(erasures) > nsym {
		return false
	}
	// Syndromes S_i = c(alpha^i), lowest index first.
	synd := make([]byte, nsym)
	clean := true
	for i := range synd {
		var s byte
		for _, c := range cw {
			s = gfMul(s, gfPow(i)) ^ c
		}
		synd[i] = s
		clean = clean && s == 0
	}
	if clean {
		return true
	}
	// Position j (index in cw) has locator X = alpha^(n-1-j).
	loc := func(j int) byte { return gfPow(n - 1 - j) }
	// Erasure locator Gamma(x) = prod (1 + X_j x), lowest degree first.
	gamma := []byte{1}
	for _, j := range erasures {
		gamma = polyMul(gamma, []byte{1, loc(j)})
	}
	// Forney syndromes: T(x) = S(x) Gamma(x) mod x^nsym.
	fs := polyMul(synd, gamma)[:nsym]
	// Berlekamp-Massey on the syndromes left after the erasures.
	lambda := []byte{1}
	prev := []byte{1}
	l, m := 0, 1
	var b byte = 1
	e := len(erasures)
	for k := e; k < nsym; k++ {
		var d byte
		for i := 0; i <= l && i < len(lambda); i++ {
			if k-i >= e {
				d ^= gfMul(lambda[i], fs[k-i])
			}
		}
		if d == 0 {
			m++
			continue
		}
		coef := gfMul(d, gfInv(b))
		shifted := make([]byte, len(prev)+m)
		for i, c := range prev {
			shifted[i+m] = gfMul(c, coef)
		}
		next := make([]byte, max(len(lambda), len(shifted)))
		copy(next, lambda)
		for i, c := range shifted {
			next[i] ^= c
		}
		if 2*l <= k-e {
			prev, l, b, m = lambda, k-e+1-l, d, 1
		} else {
			m++
		}
		lambda = next
	}
	if 2*l+e > nsym {
		return false
	}
	// Errata locator and evaluator.
	psi := polyMul(lambda, gamma)
	for len(psi) > 1 && psi[len(psi)-1] == 0 {
		psi = psi[:len(psi)-1]
	}
	omega := polyMul(synd, psi)
	if len(omega) > nsym {
		omega = omega[:nsym]
	}
	// Formal derivative: in characteristic 2 only odd terms survive.
	dpsi := make([]byte, max(1, len(psi)-1))
	for i := 1; i < len(psi); i += 2 {
		dpsi[i-1] = psi[i]
	}
	// Chien search over the n positions.
	found := 0
	for j := range n {
		x := loc(j)
		xinv := gfInv(x)
		if polyEval(psi, xinv) != 0 {
			continue
		}
		den := polyEval(dpsi, xinv)
		if den == 0 {
			return false
		}
		// Forney with first root alpha^0: e = X * Omega(X^-1) / Psi'(X^-1).
		cw[j] ^= gfMul(x, gfMul(polyEval(omega, xinv), gfInv(den)))
		found++
	}
	if found != len(psi)-1 {
		return false // locator degree and roots disagree: beyond capacity
	}
	for i := range nsym {
		var s byte
		for _, c := range cw {
			s = gfMul(s, gfPow(i)) ^ c
		}
		if s != 0 {
			return false
		}
	}
	return true
}
