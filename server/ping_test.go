package server_test

import (
	"strings"
	"testing"
	"time"

	"parley/protocol"
	"parley/server"
)

// TestPingDatagramIgnored: a client's ping datagram (padded as clients
// send it, or with its fields in another order) is ignored: no answer, no
// event to anyone, not counted as a bad datagram, and the session goes on.
func TestPingDatagramIgnored(t *testing.T) {
	ts := startServer(t, server.Config{})
	a, b := dialWT(t, ts), dialWT(t, ts)
	a.hello("Alice")
	b.hello("Bob")
	a.join("lobby")
	b.join("lobby")
	a.eventOf(protocol.TypeJoined)
	for _, d := range []string{
		`{"type":"ping","pad":"` + strings.Repeat(".", 40) + `"}`,
		`{"pad":"x","type":"ping"}`,
		`{"type":"nope"}`, // counted: it tells when the pings were handled
	} {
		if err := a.sess.SendDatagram([]byte(d)); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(waitTimeout)
	for ts.srv.Metrics().Drops["bad_datagram"] == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the server never handled the datagrams")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if d := ts.srv.Metrics().Drops["bad_datagram"]; d != 1 {
		t.Fatalf("bad datagrams counted: %d, want 1 (pings are not bad)", d)
	}
	a.quiet()
	b.quiet()
	a.ok(map[string]any{"type": "say", "room": "lobby", "text": "still here"})
}
