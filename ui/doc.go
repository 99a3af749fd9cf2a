// Package ui is Peercall's Fyne view: windows, widgets and the video view. It
// watches app.Controller snapshots and calls its commands; it owns no state.
package ui
