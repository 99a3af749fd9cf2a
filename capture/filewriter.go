package capture

import (
	"fmt"
	"io"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4/pkg/media/ivfwriter"
	"github.com/pion/webrtc/v4/pkg/media/oggwriter"
)

// The writers go through RTP because that is what pion's ivfwriter and
// oggwriter take; it also proves our files round-trip through the same
// packetisation a call uses.

const rtpMTU = 1200

// WriteIVF writes VP8 frames as an IVF file with a 90 kHz time base, so
// frame durations survive exactly.
func WriteIVF(w io.Writer, width, height int, frames []EncodedFrame) error {
	if width <= 0 || height <= 0 || width > 65535 || height > 65535 {
		return fmt.Errorf("ivf size %dx%d: %w", width, height, ErrBadConfig)
	}
	iw, err := ivfwriter.NewWith(w,
		ivfwriter.WithCodec("video/VP8"),
		ivfwriter.WithWidthAndHeight(uint16(width), uint16(height)),
		ivfwriter.WithFrameRate(1, 90000),
		ivfwriter.WithDirectPTS())
	if err != nil {
		return fmt.Errorf("ivf writer: %w", err)
	}
	var pay codecs.VP8Payloader
	var seq uint16
	var ts uint32
	for i, f := range frames {
		payloads := pay.Payload(rtpMTU, f.Data)
		for j, p := range payloads {
			pkt := &rtp.Packet{
				Header:  rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts, Marker: j == len(payloads)-1},
				Payload: p,
			}
			seq++
			if err := iw.WriteRTP(pkt); err != nil {
				return fmt.Errorf("ivf frame %d: %w", i, err)
			}
		}
		ts += uint32((f.Duration*90000 + time.Second/2) / time.Second)
	}
	return iw.Close()
}

// oggSerial is the stream serial of files we write; fixed (instead of
// random) so generated files are reproducible.
const oggSerial = 0x5043_4c4c

// WriteOgg writes Opus packets (48 kHz clock) as an Ogg Opus file.
func WriteOgg(w io.Writer, channels int, packets []EncodedFrame) error {
	if channels < 1 || channels > 2 {
		return fmt.Errorf("ogg channels %d: %w", channels, ErrBadConfig)
	}
	ow, err := oggwriter.NewWriter(w, oggwriter.WithSampleRate(48000), oggwriter.WithChannelCount(uint16(channels)))
	if err != nil {
		return fmt.Errorf("ogg writer: %w", err)
	}
	const ssrc = 1
	track, err := ow.NewTrack(ssrc, oggwriter.WithSerial(oggSerial))
	if err != nil {
		return fmt.Errorf("ogg track: %w", err)
	}
	var ts uint32
	for i, p := range packets {
		pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SSRC: ssrc, SequenceNumber: uint16(i), Timestamp: ts}, Payload: p.Data}
		if err := track.WriteRTP(pkt); err != nil {
			return fmt.Errorf("ogg packet %d: %w", i, err)
		}
		ts += uint32((p.Duration*48000 + time.Second/2) / time.Second)
	}
	return ow.Close()
}
