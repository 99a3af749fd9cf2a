package netem

import (
	"log/slog"
)

// Side names one end of a Pair.
type Side int

// The two ends.
const (
	A Side = iota
	B
)

func (s Side) String() string {
	if s == A {
		return "A"
	}
	return "B"
}

// TUNName is the interface each namespace sees the link as.
const TUNName = "pcnet0"

// Options configures a Pair.
type Options struct {
	// Prefix names the namespaces Prefix+"A-<pid>-<n>" and
	// Prefix+"B-<pid>-<n>"; "" is "pc".
	Prefix string
	// Subnet is X in the addresses 10.99.X.1 (side A) and 10.99.X.2 (B).
	Subnet uint8
	// AtoB and BtoA are the two directions' links.
	AtoB, BtoA Config
	// Seed makes the random draws repeatable; 0 picks one.
	Seed uint64
	// Log gets setup and teardown; nil is silent.
	Log *slog.Logger
}
