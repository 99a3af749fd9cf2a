// Package codec holds Peercall's media codecs and receive path: VP8 and Opus
// encoders on libvpx and libopus (cgo) that implement mediadevices' codec
// interfaces, the VP8 decoder, YCbCr→RGBA conversion, the VP8 RTP frame
// assembler, the Opus jitter buffer with FEC/PLC and audio playback.
package codec
