package server

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"

	"parley/protocol"
)

// Metrics are the server's counters and gauges. Read them with
// Server.Metrics or export them with Server.MetricsHandler.
type Metrics struct {
	sessions   atomic.Int64 // gauge
	sessionsT  atomic.Int64 // total opened
	rooms      atomic.Int64 // gauge: rooms with members
	messages   atomic.Int64 // stored messages (room and private)
	broadcasts atomic.Int64
	deliveries atomic.Int64 // frames queued to sessions by fan-out
	bytesOut   atomic.Int64
	bytesIn    atomic.Int64
	images     atomic.Int64
	rejected   atomic.Int64 // sessions refused (origin, shutdown)
	refused    atomic.Int64 // session attempts refused: the server was full (MaxSessions)
	panics     atomic.Int64
	rateLimit  atomic.Int64

	mu     sync.Mutex
	drops  map[string]int64 // by reason
	closes map[string]int64 // by close code name
	errors map[string]int64 // err answers by code
}

func newMetrics() *Metrics {
	return &Metrics{drops: map[string]int64{}, closes: map[string]int64{}, errors: map[string]int64{}}
}

func (m *Metrics) drop(reason string) {
	m.mu.Lock()
	m.drops[reason]++
	m.mu.Unlock()
}

func (m *Metrics) closed(code protocol.CloseCode) {
	m.mu.Lock()
	m.closes[code.String()]++
	m.mu.Unlock()
}

func (m *Metrics) errored(code protocol.Code) {
	m.mu.Lock()
	m.errors[string(code)]++
	m.mu.Unlock()
}

// MetricsSnapshot is a copy of the server's metrics at one moment.
type MetricsSnapshot struct {
	Sessions, SessionsTotal, Rooms, Messages, Broadcasts, Deliveries int64
	BytesIn, BytesOut, Images, Rejected, Panics, RateLimited         int64
	Refused                                                          int64 // session attempts refused with 503: the server held Config.MaxSessions sessions
	// Conversations is how many rooms and private conversations the hub
	// holds in memory (in use, or with a user online); unused ones are
	// forgotten, so it stays bounded by what is in use.
	Conversations         int64
	Drops, Closes, Errors map[string]int64
}

// Metrics returns a snapshot of the server's metrics.
func (s *Server) Metrics() MetricsSnapshot {
	m := s.metrics
	snap := MetricsSnapshot{
		Sessions: m.sessions.Load(), SessionsTotal: m.sessionsT.Load(), Rooms: m.rooms.Load(),
		Messages: m.messages.Load(), Broadcasts: m.broadcasts.Load(), Deliveries: m.deliveries.Load(),
		BytesIn: m.bytesIn.Load(), BytesOut: m.bytesOut.Load(), Images: m.images.Load(),
		Rejected: m.rejected.Load(), Panics: m.panics.Load(), RateLimited: m.rateLimit.Load(),
		Refused: m.refused.Load(), Conversations: int64(s.hub.held()), Drops: map[string]int64{}, Closes: map[string]int64{}, Errors: map[string]int64{},
	}
	m.mu.Lock()
	for k, v := range m.drops {
		snap.Drops[k] = v
	}
	for k, v := range m.closes {
		snap.Closes[k] = v
	}
	for k, v := range m.errors {
		snap.Errors[k] = v
	}
	m.mu.Unlock()
	return snap
}

// MetricsHandler serves the metrics in the Prometheus text exposition format.
func (s *Server) MetricsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		s.writeMetrics(w)
	})
}

func (s *Server) writeMetrics(w io.Writer) {
	snap := s.Metrics()
	metric := func(name, typ, help string, v int64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s %d\n", name, help, name, typ, name, v)
	}
	labelled := func(name, help, label string, vals map[string]int64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n", name, help, name)
		keys := make([]string, 0, len(vals))
		for k := range vals {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "%s{%s=%q} %d\n", name, label, k, vals[k])
		}
	}
	metric("parley_sessions", "gauge", "Open sessions.", snap.Sessions)
	metric("parley_sessions_total", "counter", "Sessions opened.", snap.SessionsTotal)
	metric("parley_rooms", "gauge", "Rooms with members.", snap.Rooms)
	metric("parley_hub_conversations", "gauge", "Rooms and private conversations held in memory (in use).", snap.Conversations)
	metric("parley_messages_total", "counter", "Messages stored (room and private).", snap.Messages)
	metric("parley_broadcasts_total", "counter", "Broadcasts sent.", snap.Broadcasts)
	metric("parley_deliveries_total", "counter", "Event frames queued to sessions.", snap.Deliveries)
	metric("parley_bytes_in_total", "counter", "Bytes received on control channels and uploads.", snap.BytesIn)
	metric("parley_bytes_out_total", "counter", "Bytes written on control channels.", snap.BytesOut)
	metric("parley_images_total", "counter", "Images accepted.", snap.Images)
	metric("parley_rejected_total", "counter", "Session attempts refused (origin, shutdown).", snap.Rejected)
	metric("parley_sessions_refused_total", "counter", "Session attempts refused with 503: the server was full (max sessions).", snap.Refused)
	metric("parley_panics_total", "counter", "Panics recovered at the session boundary.", snap.Panics)
	metric("parley_rate_limited_total", "counter", "Requests answered rate_limited.", snap.RateLimited)
	labelled("parley_drops_total", "Frames dropped, by reason.", "reason", snap.Drops)
	labelled("parley_closes_total", "Sessions closed by the server, by close code.", "code", snap.Closes)
	labelled("parley_errors_total", "Requests answered err, by code.", "code", snap.Errors)
}
