//go:build !js

package client_test

import (
	"fmt"
	"testing"

	"parley/client"
	"parley/internal/clienttest"
	"parley/internal/sqlitestore"
	"parley/server"
)

// TestResumeAfterRestartOnDurableStore is the crash test's watcher, made
// deterministic: a server on the SQLite store restarts; the sender sends
// ten messages on the restarted server while the watcher is still
// reconnecting, then the watcher resumes (join with since). It must get
// those ten through its resumed join, then the live ones, each once and in
// order. (The join with since used to ask the store for 101 messages, which
// the SQLite store refuses: the join failed silently and the watcher
// missed every message stored between the restart and its resume.)
func TestResumeAfterRestartOnDurableStore(t *testing.T) {
	st, err := sqlitestore.Open(t.TempDir(), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	tlsConf := testTLS(t)
	ts := startServer(t, "127.0.0.1:0", server.Config{Store: st, TLS: tlsConf})
	ctx := ctxT(t)

	inner, err := client.NewWebTransportDialer("https://"+ts.addr, ts.hash)
	if err != nil {
		t.Fatal(err)
	}
	gate := clienttest.NewGatedDialer(inner)
	sender := ts.dial(t, "Sender")
	watcher := ts.dial(t, "Watcher", func(c *client.Config) { c.Dialer = gate })
	for _, c := range []*client.Client{sender, watcher} {
		if _, err := c.Join(ctx, "r"); err != nil {
			t.Fatal(err)
		}
	}
	say := func(from, to int) {
		t.Helper()
		for i := from; i <= to; i++ {
			s, err := sender.Say(ctx, "r", fmt.Sprint(i))
			if err != nil {
				t.Fatalf("say %d: %v", i, err)
			}
			if s.Seq != int64(i) {
				t.Fatalf("say %d got seq %d", i, s.Seq)
			}
		}
	}
	expect := func(from, to int) {
		t.Helper()
		for want := from; want <= to; want++ {
			ev := next(t, watcher, client.EventMessage, client.EventError)
			if ev.Kind == client.EventError {
				t.Fatalf("watcher error while waiting for seq %d: %v", want, ev.Err)
			}
			if m := ev.Message; m.Seq != int64(want) || m.Text != fmt.Sprint(want) {
				t.Fatalf("watcher got seq %d %q, want seq %d", m.Seq, m.Text, want)
			}
		}
	}
	say(1, 5)
	expect(1, 5)

	gate.Shut()
	ts.stop() // sessions closed with 4002; the watcher cannot reconnect yet
	startServer(t, ts.addr, server.Config{Store: st, TLS: tlsConf})
	say(6, 15) // the sender reconnected; the watcher has not
	if s := watcher.State(); s == client.StateConnected {
		t.Fatalf("the watcher is %v before its gate opened", s)
	}
	gate.Unshut()
	say(16, 20) // racing the watcher's resume
	expect(6, 20)
	noMessageBefore(t, watcher, sayMarker(t, sender, "r"))
}

// sayMarker sends a last message and returns its text.
func sayMarker(t *testing.T, c *client.Client, room string) string {
	t.Helper()
	if _, err := c.Say(ctxT(t), room, "marker"); err != nil {
		t.Fatal(err)
	}
	return "marker"
}
