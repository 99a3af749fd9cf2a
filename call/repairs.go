package call

import (
	"errors"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Retransmissions reach a track's reader late in pion: a repair that
// arrives on the RTX stream goes through the interceptors at once (the
// NACK requester sees it then) and then waits in a channel that
// TrackRemote.Read looks into only before it blocks on the media stream.
// A repair of a frame's last packets therefore waited for the next media
// packet: a frame interval at the least (33 ms at 30 fps, 200 ms for a
// 5 fps screen share), and for ever after a stream's last packet
// (TestNACKRepairsLoss: repairs of the last 30 packets arrived and were
// never read). TrackReader reads with a short deadline while the track's
// NACK requester waits for repairs, so a waiting repair is read within
// repairPoll of its arrival. bench --network burst-loss (5 % bursty
// loss, 50 ms each way), three interleaved runs each: latency p95 192,
// 194, 195 ms, against 218, 252, 287 ms reading the track directly.
const (
	repairPoll = 5 * time.Millisecond
	// repairLinger keeps polling after a repair arrived: pion queues it
	// for the reader only after the interceptors saw it.
	repairLinger = 20 * time.Millisecond
	// readBuffer holds any packet pion reads (its receive MTU is 1460
	// bytes by default).
	readBuffer = 1500
)

// trackSource is what TrackReader reads: a *webrtc.TrackRemote.
type trackSource interface {
	Read(b []byte) (int, interceptor.Attributes, error)
	SetReadDeadline(t time.Time) error
}

// TrackReader reads one received track (see NewTrackReader).
type TrackReader struct {
	tr    trackSource
	req   *atomic.Pointer[nackRequester]
	log   *slog.Logger
	ssrc  uint32
	armed bool   // a read deadline is set
	buf   []byte // the next packet's buffer (a packet keeps its own)
}

// NewTrackReader returns a reader of tr, a track this session received,
// that hands out retransmissions as they arrive and skips malformed
// packets (SRTP authenticates a packet, not its padding: a peer's packet
// whose padding length runs past its payload passes SRTP and fails to
// parse; pion's ReadRTP ended the track on it).
func (s *Session) NewTrackReader(tr *webrtc.TrackRemote) *TrackReader {
	return &TrackReader{tr: tr, req: &s.hooks.requester, log: s.log, ssrc: uint32(tr.SSRC())}
}

// ReadRTP returns the track's next packet, original or retransmission;
// an error ends the track (io.EOF when it closed).
func (r *TrackReader) ReadRTP() (*rtp.Packet, interceptor.Attributes, error) {
	for {
		r.arm()
		if r.buf == nil {
			r.buf = make([]byte, readBuffer)
		}
		n, attr, err := r.tr.Read(r.buf)
		if err != nil {
			var ne net.Error
			if r.armed && errors.As(err, &ne) && ne.Timeout() {
				continue // look for a repair again
			}
			return nil, nil, err
		}
		pkt := &rtp.Packet{}
		if err := pkt.Unmarshal(r.buf[:n]); err != nil {
			r.log.Debug("skipping malformed RTP packet", "err", err)
			continue
		}
		r.buf = nil // the packet's payload points into it
		return pkt, attr, nil
	}
}

// arm sets a read deadline while a repair may be waiting, and clears it
// when none is.
func (r *TrackReader) arm() {
	n := r.req.Load()
	switch {
	case n != nil && n.awaiting(r.ssrc, repairLinger):
		_ = r.tr.SetReadDeadline(time.Now().Add(repairPoll))
		r.armed = true
	case r.armed:
		_ = r.tr.SetReadDeadline(time.Time{})
		r.armed = false
	}
}
