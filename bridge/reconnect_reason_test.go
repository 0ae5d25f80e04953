//go:build !js

package bridge

import (
	"context"
	"testing"
	"time"

	"parley/client"
	"parley/internal/clienttest"
	"parley/protocol"
)

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
	g := clienttest.NewGatedDialer(inner)
	rec := newRecorder()
	b := New(Options{Emit: rec.emit, ClientName: "parley-bridge-test/1",
		Dial: func(ctx context.Context, cfg client.Config) (*client.Client, error) {
			cfg.Dialer = g
			cfg.Backoff = client.Backoff{Min: 20 * time.Millisecond, Max: 200 * time.Millisecond}
			return client.Dial(ctx, cfg)
		}})
	t.Cleanup(func() { b.Close() })
	connect(t, b, ts, "Alice", "lobby")

	g.Shut()
	ts.stop() // 4002: the server is shutting down
	rec.waitFor(t, "reconnecting, the server restarting", func(ev Event) bool {
		return ev.Kind == EvState && ev.Status.State == StateReconnecting && ev.Status.Reason == "the server is restarting"
	})
	ts.start(ts.addr)
	hog := goClient(t, ts, "Hog", "") // takes the only session slot
	g.Unshut()
	rec.waitFor(t, "reconnecting, the server full", func(ev Event) bool {
		return ev.Kind == EvState && ev.Status.State == StateReconnecting && ev.Status.Reason == "the server is full"
	})
	// A bridge connecting meanwhile is told in the UI's words.
	b2 := New(Options{Emit: func(string, any) {}, ClientName: "parley-bridge-test/1"})
	t.Cleanup(func() { b2.Close() })
	_, err = b2.Connect(ConnectRequest{Name: "Bea", Server: ts.addr, CertHash: ts.hash})
	if pe, ok := err.(*protocol.Error); !ok || pe.Code != CodeUnavailable || pe.Message != FullMessage {
		t.Fatalf("connecting to the full server: %v, want %q", err, FullMessage)
	}
	hog.Close()
	st := rec.waitFor(t, "connected again", func(ev Event) bool { return ev.Kind == EvState && ev.Status.State == StateConnected })
	if st.Status.Reason != "" {
		t.Fatalf("connected with reason %q, want none", st.Status.Reason)
	}
	if n := rec.count(func(ev Event) bool { return ev.Kind == EvNotice }); n != 0 {
		t.Fatalf("%d notices while reconnecting; the status alone says why", n)
	}
}
