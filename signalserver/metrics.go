package signalserver

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics live in a registry private to one Server, so tests and an app
// hosting several servers never collide on registration.
type metrics struct {
	reg          *prometheus.Registry
	connections  prometheus.Gauge
	rooms        prometheus.Gauge
	relayed      *prometheus.CounterVec
	rejects      *prometheus.CounterVec
	relayLatency prometheus.Histogram
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "peercall_signal_connections",
			Help: "Open WebSocket connections.",
		}),
		rooms: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "peercall_signal_rooms",
			Help: "Rooms with at least one member (connected or in resume grace).",
		}),
		relayed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "peercall_signal_messages_relayed_total",
			Help: "Messages relayed between peers, per recipient, by type.",
		}, []string{"type"}),
		rejects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "peercall_signal_rejects_total",
			Help: "Requests rejected, by error code or drop reason.",
		}, []string{"reason"}),
		relayLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "peercall_signal_relay_latency_seconds",
			Help:    "Time from a message being read to it being written to the recipient.",
			Buckets: prometheus.ExponentialBuckets(50e-6, 2, 16), // 50µs .. ~1.6s
		}),
	}
	m.reg.MustRegister(m.connections, m.rooms, m.relayed, m.rejects, m.relayLatency)
	// Export zero series up front so dashboards and alerts see them.
	for _, t := range []Type{TypeOffer, TypeAnswer, TypeCandidate, TypeBye} {
		m.relayed.WithLabelValues(string(t))
	}
	for _, r := range []string{string(CodeRoomFull), string(CodeRateLimited), string(CodeMessageTooBig),
		string(CodeWrongPassword), string(CodeTokenInvalid), string(CodeTokenExpired),
		string(CodeOriginNotAllowed), string(CodeTooManyConnections), string(CodeTooManyAttempts),
		string(CodeTooManyRooms), "too-many-pending", "turn-quota", "slow-consumer"} {
		m.rejects.WithLabelValues(r)
	}
	return m
}

func (m *metrics) reject(reason string) { m.rejects.WithLabelValues(reason).Inc() }
