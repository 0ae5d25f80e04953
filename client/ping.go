package client

import "time"

// pingDatagram is the ping a client sends on a WebTransport session
// (docs/protocol.md, "Ping datagrams"): 64 bytes, padded so that the QUIC
// packet carrying it is larger than the smallest packet a server answers
// with a stateless reset (quic-go resets only packets over 42 bytes; its
// own keep-alive PINGs are smaller). A server restarted with the same
// reset key after a crash resets the connection at the first ping, so a
// client that only listens notices within PingEvery instead of at its
// idle timeout.
var pingDatagram = []byte(`{"type":"ping","pad":"........................................"}`)

// pinger is implemented by the Conns that carry ping datagrams: the native
// WebTransport one. (WebSocket runs on TCP, whose restarted peer answers
// with a reset anyway; the browser's QUIC stack is its own.)
type pinger interface {
	// Ping sends one ping datagram, best effort.
	Ping() error
}

// pingLoop sends a ping datagram every interval until the session ends.
// A failed send is not an error of the session: the QUIC connection
// reports its own loss.
func (s *session) pingLoop(p pinger, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			_ = p.Ping()
		case <-s.ctx.Done():
			return
		}
	}
}
