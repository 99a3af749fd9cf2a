// Package signalserver is Peercall's signaling service: the versioned JSON
// wire protocol, the room server (auth, limits, metrics), the reconnecting
// client the app uses and the optional built-in STUN/TURN server. It is pure
// Go so the standalone binary builds with CGO_ENABLED=0.
package signalserver
