//go:build !js

package client_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"parley/client"
	"parley/internal/clienttest"
	"parley/server"
)

// fullServer starts a server that holds one network session, and fills
// it with a WebSocket client (an in-process one would take no slot).
func fullServer(t *testing.T) *testServer {
	t.Helper()
	ts := startServer(t, "127.0.0.1:0", server.Config{MaxSessions: 1})
	ts.dialUntilAdmitted(t, "Hog")
	return ts
}

// failingDialer fails every dial with err.
type failingDialer struct{ err error }

func (d failingDialer) Dial(context.Context) (client.Conn, error) { return nil, d.err }

// wantFull checks that err says the server is full, in its own words.
func wantFull(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, client.ErrServerFull) {
		t.Fatalf("%s: %v, want ErrServerFull", what, err)
	}
	if !strings.Contains(err.Error(), "parley: the server is full (1 session); try again later") {
		t.Errorf("%s: %q lacks the server's words", what, err)
	}
}

func TestDialServerFull(t *testing.T) {
	ts := fullServer(t)
	ctx := ctxT(t)
	wt, err := client.NewWebTransportDialer(ts.addr, ts.hash)
	if err != nil {
		t.Fatal(err)
	}
	ws, err := client.NewWebSocketDialer(ts.addr, ts.hash)
	if err != nil {
		t.Fatal(err)
	}
	_, err = wt.Dial(ctx)
	wantFull(t, "webtransport", err)
	_, err = ws.Dial(ctx)
	wantFull(t, "websocket", err)

	// The fallback dialer: both full → one "full" error, not two joined.
	_, err = (&client.FallbackDialer{Primary: wt, Fallback: ws}).Dial(ctx)
	wantFull(t, "fallback", err)
	if strings.Count(err.Error(), "the server is full") != 1 {
		t.Errorf("fallback: %q says it twice", err)
	}
	// One full, the other failing otherwise: the full one is not hidden.
	other := errors.New("no route")
	for _, d := range []*client.FallbackDialer{
		{Primary: wt, Fallback: failingDialer{other}},
		{Primary: failingDialer{other}, Fallback: ws},
	} {
		_, err = d.Dial(ctx)
		if !errors.Is(err, client.ErrServerFull) || !errors.Is(err, other) {
			t.Errorf("fallback with one full: %v, want both errors", err)
		}
	}

	// Dial of a Client (the default dialer) fails alike.
	_, err = client.Dial(ctx, client.Config{Server: ts.addr, CertHash: ts.hash, Name: "Ann", Logger: quietLogger()})
	wantFull(t, "client.Dial", err)
	if m := ts.srv.Metrics(); m.Refused < 5 {
		t.Errorf("the server counted %d refusals, want at least 5", m.Refused)
	}
}

// lastConnDialer dials through d and keeps the Conn it made last.
type lastConnDialer struct {
	d    client.Dialer
	mu   sync.Mutex
	last client.Conn
}

func (l *lastConnDialer) Dial(ctx context.Context) (client.Conn, error) {
	c, err := l.d.Dial(ctx)
	if err == nil {
		l.mu.Lock()
		l.last = c
		l.mu.Unlock()
	}
	return c, err
}

// TestReconnectWhileServerFull: a client whose session is lost while the
// server fills up reports ErrServerFull and keeps retrying with backoff;
// once a slot frees up it is back.
func TestReconnectWhileServerFull(t *testing.T) {
	ts := startServer(t, "127.0.0.1:0", server.Config{MaxSessions: 1})
	wt, _ := client.NewWebTransportDialer(ts.addr, ts.hash)
	ws, _ := client.NewWebSocketDialer(ts.addr, ts.hash)
	last := &lastConnDialer{d: &client.FallbackDialer{Primary: wt, Fallback: ws}}
	g := clienttest.NewGatedDialer(last)
	c := ts.dial(t, "Ann", func(cfg *client.Config) { cfg.Dialer = g })
	if _, err := c.Join(ctxT(t), "lobby"); err != nil {
		t.Fatal(err)
	}

	// Hold the client's redials, lose its session, and take its slot.
	g.Shut()
	last.mu.Lock()
	lost := last.last
	last.mu.Unlock()
	lost.Close(0, "network lost")
	waitState(t, c, client.StateReconnecting)
	hog := ts.dialUntilAdmitted(t, "Hog")

	// Let the client redial: the server is full.
	g.Unshut()
	for i := 0; i < 2; i++ { // at least one retry after the first refusal
		ev := next(t, c, client.EventError)
		if !errors.Is(ev.Err, client.ErrServerFull) || ev.State != client.StateReconnecting {
			t.Fatalf("reconnect error %v (state %q), want ErrServerFull marked as a failed reconnection attempt", ev.Err, ev.State)
		}
	}
	hog.Close()
	waitState(t, c, client.StateConnected)
	if _, err := c.Say(ctxT(t), "lobby", "back"); err != nil {
		t.Fatalf("say after the reconnect: %v", err)
	}
}

// dialUntilAdmitted dials a client over WebSocket, retrying while the
// server is full (a closed session's slot is released once it has ended).
func (ts *testServer) dialUntilAdmitted(t *testing.T, name string) *client.Client {
	t.Helper()
	ctx := ctxT(t)
	ws, err := client.NewWebSocketDialer(ts.addr, ts.hash)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(15 * time.Second); ; {
		c, err := client.Dial(ctx, client.Config{Name: name, Logger: quietLogger(), Dialer: ws})
		if err == nil {
			t.Cleanup(func() { c.Close() })
			return c
		}
		if !errors.Is(err, client.ErrServerFull) || time.Now().After(deadline) {
			t.Fatalf("dial %s: %v", name, err)
		}
		time.Sleep(time.Millisecond) // polling with a deadline
	}
}

// waitState waits for an EventState with state st, skipping other events.
func waitState(t *testing.T, c *client.Client, st client.State) {
	t.Helper()
	for {
		if next(t, c, client.EventState).State == st {
			return
		}
	}
}
