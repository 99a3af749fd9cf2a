package call

import (
	"math/rand/v2"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
)

// lossFactory builds lossInterceptors: received RTP is dropped at random
// with the given rate, before any other interceptor sees it.
type lossFactory struct{ rate float64 }

func (f *lossFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &lossInterceptor{rate: f.rate}, nil
}

type lossInterceptor struct {
	interceptor.NoOp
	rate float64
}

// BindRemoteStream wraps the reader: a dropped packet is simply not
// returned, and the next one is read in its place.
func (l *lossInterceptor) BindRemoteStream(_ *interceptor.StreamInfo, reader interceptor.RTPReader) interceptor.RTPReader {
	return interceptor.RTPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		for {
			n, attr, err := reader.Read(b, a)
			if err != nil || !l.drop() {
				return n, attr, err
			}
			// Attributes cache the parsed RTP header: forget the dropped
			// packet's, or later interceptors would see its sequence number.
			clear(a)
			clear(attr)
		}
	})
}

func (l *lossInterceptor) drop() bool {
	return rand.Float64() < l.rate //nolint:gosec // simulation, not security
}

// wantsKeyFrame reports whether an RTCP compound asks for a keyframe.
func wantsKeyFrame(pkts []rtcp.Packet) bool {
	for _, p := range pkts {
		switch p.(type) {
		case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
			return true
		}
	}
	return false
}
