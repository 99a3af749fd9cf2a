// Package app is Peercall's composition root: it wires capture, codec, call
// and signalserver together behind a Fyne-free Controller (commands in,
// Notify snapshots out), owns the settings model and runs headless mode.
package app
