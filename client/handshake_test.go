package client

import (
	"context"
	"errors"
	"testing"

	"parley/protocol"
)

// A session that dies before its hello is answered ends the handshake at
// once with errSessionLost, so that the next dial comes after the
// backoff; it used to wait for the handshake's own timeout (15 s), which
// left a client that redialled into a server shutting down reconnecting
// for that long.
func TestHelloOnDeadSessionFailsAtOnce(t *testing.T) {
	srv := newFakeServer(t)
	srv.dropAnswer = func(f *protocol.Frame) bool { return f.Type == protocol.TypeHello }
	// A deadline under the handshake's (HelloTimeout + 5 s): waiting for
	// it would fail with context.DeadlineExceeded instead.
	ctx, cancel := context.WithTimeout(context.Background(), protocol.HelloTimeout)
	defer cancel()
	if _, err := Dial(ctx, Config{Name: "A", Dialer: srv, Backoff: fastBackoff}); !errors.Is(err, errSessionLost) {
		t.Fatalf("Dial on a session dying before hello's answer: %v, want errSessionLost", err)
	}
	c := dialFake(t, srv, "A") // the next session is fine
	if c.State() != StateConnected {
		t.Fatalf("state %s after a good dial", c.State())
	}
}
