//go:build !js

package bridge

import (
	"context"
	"sync"
	"testing"
	"time"

	"parley/client"
	"parley/protocol"
)

// gatedDialer holds every dial while shut.
type gatedDialer struct {
	inner client.Dialer
	mu    sync.Mutex
	open  chan struct{}
}

func (g *gatedDialer) shut() {
	g.mu.Lock()
	g.open = make(chan struct{})
	g.mu.Unlock()
}

func (g *gatedDialer) unshut() {
	g.mu.Lock()
	close(g.open)
	g.mu.Unlock()
}

func (g *gatedDialer) Dial(ctx context.Context) (client.Conn, error) {
	g.mu.Lock()
	open := g.open
	g.mu.Unlock()
	select {
	case <-open:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.inner.Dial(ctx)
}

// While reconnecting, the status says why — the server restarting, then
// full — and failed attempts are not toasted one by one; once connected,
// no reason is left.
func TestReconnectReasonInStatus(t *testing.T) {
	ts := runServer(t, protocol.Limits{})
	ts.stop()
	ts.cfg.MaxSessions = 1
	ts.start(ts.addr)
	inner, err := client.NewWebTransportDialer(ts.addr, ts.hash)
	if err != nil {
		t.Fatal(err)
	}
	g := &gatedDialer{inner: inner, open: make(chan struct{})}
	close(g.open)
	rec := newRecorder()
	b := New(Options{Emit: rec.emit, ClientName: "parley-bridge-test/1",
		Dial: func(ctx context.Context, cfg client.Config) (*client.Client, error) {
			cfg.Dialer = g
			cfg.Backoff = client.Backoff{Min: 20 * time.Millisecond, Max: 200 * time.Millisecond}
			return client.Dial(ctx, cfg)
		}})
	t.Cleanup(func() { b.Close() })
	connect(t, b, ts, "Alice", "lobby")

	g.shut()
	ts.stop() // 4002: the server is shutting down
	rec.waitFor(t, "reconnecting, the server restarting", func(ev Event) bool {
		return ev.Kind == EvState && ev.Status.State == StateReconnecting && ev.Status.Reason == "the server is restarting"
	})
	ts.start(ts.addr)
	hog := goClient(t, ts, "Hog", "") // takes the only session slot
	g.unshut()
	rec.waitFor(t, "reconnecting, the server full", func(ev Event) bool {
		return ev.Kind == EvState && ev.Status.State == StateReconnecting && ev.Status.Reason == "the server is full"
	})
	hog.Close()
	st := rec.waitFor(t, "connected again", func(ev Event) bool { return ev.Kind == EvState && ev.Status.State == StateConnected })
	if st.Status.Reason != "" {
		t.Fatalf("connected with reason %q, want none", st.Status.Reason)
	}
	if n := rec.count(func(ev Event) bool { return ev.Kind == EvNotice }); n != 0 {
		t.Fatalf("%d notices while reconnecting; the status alone says why", n)
	}
}
