package assets

import _ "embed"

// Desktop app icon and sounds, drawn and synthesised by assets/internal/genui.
//
//go:generate go run ./internal/genui -out ui
var (
	// Icon is the 512x512 PNG app icon.
	//go:embed ui/icon.png
	Icon []byte
	// Ringing plays while waiting for the other person (48 kHz mono WAV).
	//go:embed ui/ringing.wav
	Ringing []byte
	// Joined plays when the call connects.
	//go:embed ui/joined.wav
	Joined []byte
	// Left plays when the call ends.
	//go:embed ui/left.wav
	Left []byte
)
