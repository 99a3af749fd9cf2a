// Package capture turns cameras, microphones, synthetic generators and media
// files into sources for a call. Synthetic sources embed machine-readable
// sequence/time markers so a receiver can measure latency and frame loss.
//
//   - Devices: ListDevices, OpenCamera, OpenMicrophone on pion/mediadevices'
//     manager (V4L2 camera from mediadevices, our own miniaudio microphone
//     in mic_malgo.go, probed on first need, never at init). Microphone.Next
//     returns exact 20 ms mono frames at the asked rate (windowed-sinc
//     resampler, resample.go). Without a device they fail with ErrNoCamera /
//     ErrNoMicrophone so the app can go audio-only.
//   - Screen: OpenScreen grabs an X11 screen, region or window over MIT-SHM, returning only changed frames.
//   - Synthetic video: NewPatternSource, a scrolling test pattern with a video
//     marker (WriteVideoMarker / ReadVideoMarker) that survives VP8.
//   - Synthetic audio: NewToneSource, NewSpeechSource, NewWAVSource, with
//     audio markers (ReadAudioMarkers) that survive Opus at 32 kbit/s.
//   - Files: OpenIVF / OpenOgg stream pre-encoded VP8 / Opus without
//     re-encoding; WriteIVF / WriteOgg write them.
//   - Raw video files: OpenY4M plays a YUV4MPEG2 (4:2:0) clip through the
//     encoder like a camera, paced at its rate, looped, with video markers.
//
// Every source has a plain pull API (Next, optionally paced on the real-time
// clock) and, where mediadevices defines one, a video.Reader / audio.Reader.
package capture
