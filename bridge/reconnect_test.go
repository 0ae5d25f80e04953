package bridge

import (
	"testing"

	"parley/client"
	"parley/protocol"
)

// A server restart: the bridge reports reconnecting, then connected; a
// message typed meanwhile goes out once; messages sent by others while it
// was away arrive.
func TestReconnectResumesAndFlushesOutbox(t *testing.T) {
	ts := runServer(t, protocol.Limits{})
	b, rec := newBridge(t)
	connect(t, b, ts, "Alice", "lobby")
	rec.waitFor(t, "connected", func(ev Event) bool { return ev.Kind == EvState && ev.Status.State == StateConnected })

	ts.stop()
	rec.waitFor(t, "reconnecting", func(ev Event) bool { return ev.Kind == EvState && ev.Status.State == StateReconnecting })
	m, err := b.Send(SendRequest{Conv: "r:lobby", Text: "typed while offline"})
	if err != nil {
		t.Fatal(err)
	}
	ts.start(ts.addr)

	rec.waitFor(t, "connected again", func(ev Event) bool {
		return ev.Kind == EvState && ev.Status.State == StateConnected && ev.Status.Transport != ""
	})
	ack := rec.waitFor(t, "ack after reconnect", func(ev Event) bool { return ev.Kind == EvAck && ev.Local == m.Local })
	bob := goClient(t, ts, "Bob", "")
	page, err := bob.Join(t.Context(), "lobby")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, h := range page.History {
		if h.Text == "typed while offline" {
			n++
			if h.Seq != ack.Seq {
				t.Fatalf("stored seq %d, acked %d", h.Seq, ack.Seq)
			}
		}
	}
	if n != 1 {
		t.Fatalf("the offline message is in the history %d times", n)
	}
	if _, err := bob.Say(t.Context(), "lobby", "welcome back"); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "message after reconnect", isMsg("r:lobby", "welcome back"))
	if n := rec.count(func(ev Event) bool { return ev.Kind == EvFailed }); n != 0 {
		t.Fatalf("%d failed events", n)
	}
	_ = client.StateConnected
}
