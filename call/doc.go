// Package call owns one peer-to-peer session: its state machine, perfect
// negotiation over a Signaler, the ICE policy (leak-safe presets), stats, the
// data channel (chat, and each side's mic and camera state) and the short
// authentication string. It is pure Go and imports pion only: media arrives
// as webrtc.TrackLocal values and received RTP is handed to a sink, so the
// codec layer stays outside.
package call
