package call

import (
	"errors"
	"io"
	"testing"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
)

func TestWantsKeyFrame(t *testing.T) {
	tests := []struct {
		name string
		pkts []rtcp.Packet
		want bool
	}{
		{"empty", nil, false},
		{"receiver report", []rtcp.Packet{&rtcp.ReceiverReport{}}, false},
		{"pli", []rtcp.Packet{&rtcp.ReceiverReport{}, &rtcp.PictureLossIndication{}}, true},
		{"fir", []rtcp.Packet{&rtcp.FullIntraRequest{}}, true},
		{"nack", []rtcp.Packet{&rtcp.TransportLayerNack{}}, false},
	}
	for _, tt := range tests {
		if got := wantsKeyFrame(tt.pkts); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestLossInterceptorDropsShare(t *testing.T) {
	tests := []struct {
		rate     float64
		min, max int // kept packets out of 10000
	}{
		{0.1, 8700, 9300},
		{0.5, 4600, 5400},
	}
	for _, tt := range tests {
		ic, err := (&lossFactory{rate: tt.rate}).NewInterceptor("")
		if err != nil {
			t.Fatal(err)
		}
		const total = 10000
		sent := 0
		src := interceptor.RTPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
			if sent == total {
				return 0, nil, io.EOF
			}
			sent++
			return 1, a, nil
		})
		r := ic.BindRemoteStream(&interceptor.StreamInfo{}, src)
		kept := 0
		buf := make([]byte, 10)
		for {
			_, _, err := r.Read(buf, nil)
			if errors.Is(err, io.EOF) {
				break
			}
			kept++
		}
		if kept < tt.min || kept > tt.max {
			t.Errorf("rate %v: kept %d of %d, want %d..%d", tt.rate, kept, total, tt.min, tt.max)
		}
	}
}

func TestReceiveLossValidated(t *testing.T) {
	a, _ := NewPipeSignalers("a", "b")
	for _, loss := range []float64{-0.1, 1, 2} {
		_, err := New(Config{LocalID: "a", RemoteID: "b", Signaler: a, ReceiveLoss: loss})
		if !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("loss %v: err = %v, want ErrInvalidConfig", loss, err)
		}
	}
}
