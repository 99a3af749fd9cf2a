package capture

// The sample clip in assets/sample is made by our own encoders from the
// synthetic sources; regenerate it after changing either.
//go:generate go run ./internal/gensample -out ../assets/sample
