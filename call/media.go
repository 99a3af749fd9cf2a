package call

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/interceptor/pkg/gcc"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/interceptor/pkg/stats"
	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/webrtc/v4"
)

// Bitrate defaults (bits per second) for the congestion controller
// (lossbwe.go). The start counts RTP packets, as the controller does: at
// 250 kbit/s of audio and video the headers that IP, UDP and SRTP add take a
// call to about 300 kbit/s on the wire, libwebrtc's start, from where it
// climbs as the path allows.
const (
	DefaultMinBitrate   = 100_000
	DefaultMaxBitrate   = 2_500_000
	DefaultStartBitrate = 250_000
	// FlexFECPayloadType is the payload type registered for flexfec-03; it
	// is free in pion's default codec table.
	FlexFECPayloadType = 118
	// nackInterval is how often the NACK requester looks for packets to
	// ask for (each is asked for again only after a round trip).
	nackInterval = 20 * time.Millisecond
	// twccInterval is how often the transport-wide feedback goes back,
	// libwebrtc's 50 ms at the rates of a call (pion's default is 100).
	// On a link full both ways (a capacity drop) most feedback is lost in
	// the queue back: at 100 ms the sender heard nothing for 300-400 ms
	// at a time while it sent three times what the link carried (traced,
	// bench --network 3M-500k-3M).
	twccInterval = 50 * time.Millisecond
)

// mediaHooks receives per-peer-connection objects from interceptor
// factories, which only hand them out through callbacks.
type mediaHooks struct {
	mu     sync.Mutex
	bwe    cc.BandwidthEstimator
	getter stats.Getter
	target atomic.Int64
	rtt    atomic.Int64 // round trip from RTCP reports, ns (0 unknown)
	// iceRTT is the selected candidate pair's round trip, ns (0
	// unknown), read with the stats.
	iceRTT atomic.Int64
	// repaired counts the bytes the NACK guard let be resent.
	repaired atomic.Int64
	// queueFree is whether the path is read and no queue stood in it
	// lately (lossbwe.go): the NACK guard doubles repairs only then.
	queueFree atomic.Bool
	// carried is what the link has shown it carries (bit/s, 0: not
	// found full lately; lossBound.carried): the pacer keeps to it.
	carried atomic.Int64
	// narrowedAt is when the link was last found much narrower than what
	// was sent (unix ns, 0: never; Config.OnLinkNarrowed): video sent
	// before it is neither queued on nor repaired (pacer.go,
	// nackguard.go).
	narrowedAt atomic.Int64
	// requester is the peer connection's NACK requester (repairs.go).
	requester atomic.Pointer[nackRequester]
}

// RepairRTT is the round trip a NACK repair takes, from RTCP reception
// reports, else from ICE's checks (0 before either): receivers size their
// wait for a missing packet by it.
func (s *Session) RepairRTT() time.Duration { return effectiveRTT(&s.hooks.rtt, &s.hooks.iceRTT) }

func (h *mediaHooks) estimator() cc.BandwidthEstimator {
	h.mu.Lock()
	defer h.mu.Unlock()

	return h.bwe
}

func (h *mediaHooks) stats() stats.Getter {
	h.mu.Lock()
	defer h.mu.Unlock()

	return h.getter
}

func clamp(v, lo, hi int) int {
	return max(lo, min(v, hi))
}

// buildAPI assembles the per-session API: codecs, the interceptor chain
// (FlexFEC, GCC over TWCC, NACK, RTCP reports, stats, TWCC feedback) and the
// policy's SettingEngine. One API per session because the GCC and stats
// factories hand their per-connection objects out through callbacks.
func buildAPI(cfg *Config, hooks *mediaHooks) (*webrtc.API, error) {
	ice := cfg.ICE
	if cfg.ReceiveLoss > 0 {
		n, err := newLossyNet(ice.Net, cfg.ReceiveLoss)
		if err != nil {
			return nil, err
		}
		ice.Net = n
	}
	se, err := NewSettingEngine(cfg.Policy, ice)
	if err != nil {
		return nil, err
	}
	if cfg.SettingEngine != nil {
		cfg.SettingEngine(se)
	}
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, fmt.Errorf("register codecs: %w", err)
	}
	reg := &interceptor.Registry{}
	// FlexFEC must see packets before anything rewrites them (TWCC ids).
	if cfg.FlexFEC {
		if err := webrtc.ConfigureFlexFEC03(FlexFECPayloadType, m, reg); err != nil {
			return nil, fmt.Errorf("flexfec: %w", err)
		}
	}
	// The NACK responder sits above the congestion controller and the
	// transport-wide sequence numbers (added after them below): each
	// retransmission takes a transport-wide number of its own and GCC sees
	// it leave and arrive, as libwebrtc counts its retransmissions. Below
	// them, a retransmission kept its original's number: the receiver
	// reported that range again, and the repairs' share of the link was
	// invisible to GCC, whose received rate then held the media alone; on
	// a full link that rate fell as the repairs grew, and GCC's cuts to
	// 0.85 of it took the call to its minimum (bench --network, 300 kbit/s).
	responder, err := nack.NewResponderInterceptor()
	if err != nil {
		return nil, fmt.Errorf("nack responder: %w", err)
	}
	m.RegisterFeedback(webrtc.RTCPFeedback{Type: "nack"}, webrtc.RTPCodecTypeVideo)
	m.RegisterFeedback(webrtc.RTCPFeedback{Type: "nack", Parameter: "pli"}, webrtc.RTPCodecTypeVideo)
	// Audio NACK too: the jitter buffer holds 20-200 ms, so on paths with a
	// round trip below that a lost Opus packet is usually resent in time,
	// and FEC/PLC only cover what retransmission cannot.
	m.RegisterFeedback(webrtc.RTCPFeedback{Type: "nack"}, webrtc.RTPCodecTypeAudio)
	lo, hi := cfg.MinBitrate, cfg.MaxBitrate
	start := clamp(cfg.StartBitrate, lo, hi)
	ccf, err := cc.NewInterceptor(func() (cc.BandwidthEstimator, error) {
		// No pacer of GCC's: its leaky bucket at the start rate delayed
		// key frames. Ours runs outside it (pacerFactory below).
		bwe, err := gcc.NewSendSideBWE(
			gcc.SendSideBWEInitialBitrate(start),
			gcc.SendSideBWEMinBitrate(lo),
			gcc.SendSideBWEMaxBitrate(hi),
			gcc.SendSideBWEPacer(gcc.NewNoOpPacer()),
			gcc.WithLoggerFactory(se.LoggerFactory),
		)
		if err != nil {
			return nil, err
		}
		// It carries the transport-wide feedback; the controller is
		// ours (lossbwe.go).
		l := newLossBWE(bwe, start, lo, hi, func() {
			hooks.narrowedAt.Store(time.Now().UnixNano())
			if cfg.OnLinkNarrowed != nil {
				cfg.OnLinkNarrowed()
			}
		})
		l.onCarried = cfg.OnCarriedBitrate
		l.carriedNow = &hooks.carried
		l.queueFree = &hooks.queueFree
		return l, nil
	})
	if err != nil {
		return nil, fmt.Errorf("gcc: %w", err)
	}
	st := newSendTarget(hooks, start, lo, cfg.OnTargetBitrate)
	ccf.OnNewPeerConnection(func(_ string, bwe cc.BandwidthEstimator) {
		hooks.mu.Lock()
		hooks.bwe = bwe
		hooks.mu.Unlock()
		bwe.OnTargetBitrateChange(func(bps int) { st.estimate(time.Now(), clamp(bps, lo, hi)) })
	})
	reg.Add(ccf)
	if err := webrtc.ConfigureTWCCHeaderExtensionSender(m, reg); err != nil {
		return nil, fmt.Errorf("twcc header: %w", err)
	}
	// The guard reads RTCP before the responder and thins its NACKs
	// (nackguard.go).
	reg.Add(&nackGuardFactory{rtt: &hooks.rtt, target: &hooks.target, repaired: &hooks.repaired, queueFree: &hooks.queueFree, narrowedAt: &hooks.narrowedAt})
	reg.Add(responder)
	if err := webrtc.ConfigureRTCPReports(reg); err != nil {
		return nil, fmt.Errorf("rtcp reports: %w", err)
	}
	sf, err := stats.NewInterceptor(stats.WithLoggerFactory(se.LoggerFactory))
	if err != nil {
		return nil, fmt.Errorf("stats: %w", err)
	}
	sf.OnNewPeerConnection(func(_ string, g stats.Getter) {
		hooks.mu.Lock()
		hooks.getter = g
		hooks.mu.Unlock()
	})
	reg.Add(sf)
	// NACK quickly, and again once per round trip until the packet comes
	// (nackgen.go). Registered after stats so that the NACKs it writes are
	// counted.
	reg.Add(&nackRequesterFactory{interval: nackInterval, rtt: &hooks.rtt, iceRTT: &hooks.iceRTT, latest: &hooks.requester})
	if err := webrtc.ConfigureTWCCSenderWithOptions(m, reg, twcc.SendInterval(twccInterval)); err != nil {
		return nil, fmt.Errorf("twcc: %w", err)
	}
	// Last, so outermost: video waits in the pacer before GCC and TWCC
	// stamp it, and they see the times it really left (pacer.go).
	reg.Add(&pacerFactory{target: &hooks.target, carried: &hooks.carried, narrowedAt: &hooks.narrowedAt, onSend: st.sent})

	return webrtc.NewAPI(webrtc.WithSettingEngine(*se), webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg)), nil
}
