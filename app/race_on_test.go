//go:build race

package app

// raceEnabled: the race detector slows the Go parts (the test picture's
// renderer above all) several times over.
const raceEnabled = true
