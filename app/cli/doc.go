// Package cli is the command line of Peercall's binaries: it turns the
// flags of `peercall` (desktop), `peercall --headless`, `peercall-headless`
// and `peercall-headless bench` into app's option types, prints usage, and
// maps app's errors to process exit codes. Validation and the runs
// themselves live in package app; this package only parses and maps, so
// the binaries' main functions stay a few lines long.
package cli
