// Package codec holds Peercall's media codecs and receive path: VP8 and Opus
// encoders on libvpx and libopus (cgo) that implement mediadevices' codec
// interfaces, the VP8 decoder, YCbCr→RGBA conversion, the VP8 RTP frame
// assembler, the Opus jitter buffer with FEC/PLC and audio playback.
//
// Send side: VP8Encoder (Encode, SetBitRate, ForceKeyFrame) and OpusEncoder
// (SetBitRate, SetPacketLossPerc, SetDTX, SetComplexity), or the same wrapped
// as mediadevices builders: VP8Params and OpusParams, whose encoders' Controller
// implements codec.BitRateController (and codec.KeyFrameController for VP8,
// so an RTCP PLI becomes ForceKeyFrame).
//
// Receive side: VP8Assembler turns RTP packets into whole frames as soon as
// the marker packet is in and says when to send a PLI (NeedKeyFrame);
// VP8Decoder decodes them; YCbCrToRGBA prepares them for the screen.
// AudioJitterBuffer reorders Opus packets, rebuilds single losses from the
// next packet's FEC, conceals longer ones and shortens its delay by time
// compression (whole periods cross-faded away, no dropped frames); Player (fed by JitterSource)
// plays it on an output device or a null sink.
//
// Capture side: AudioProcessor (the WebRTC audio processing module, cgo;
// ErrNoAudioProcessing without) removes from 10 ms mic frames the echo of
// what ProcessRender was given, noise, level swings and rumble.
//
// Without cgo (CGO_ENABLED=0) the package still builds: the assembler,
// VP8FrameCheck, YCbCrToRGBA, the jitter buffer and the Opus decoder
// (pion/opus, pure Go, without FEC or PLC: lost frames play as silence) work;
// the VP8 encoder and decoder and the Opus encoder return ErrNoCGO and the
// player is always the null sink.
//
// C memory is owned by Go values with an explicit Close; no Go pointer is
// kept by C beyond one call, and nothing relies on finalizers.
package codec
