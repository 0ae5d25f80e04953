package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
	"github.com/quic-go/webtransport-go"

	"parley/protocol"
)

// wtServer is the UDP side: HTTP/3 with WebTransport. It is the only part
// of the server that knows quic-go and webtransport-go.
type wtServer struct {
	h3       *http3.Server
	wt       *webtransport.Server
	quic     *quic.Config
	resetKey *quic.StatelessResetKey // nil: no stateless resets

	mu     sync.Mutex
	ln     *quic.EarlyListener
	tr     *quic.Transport // set with resetKey; closed after ln
	conns  int             // QUIC connections being served
	closed bool
}

// quicConfig is the QUIC configuration, set deliberately:
//   - stream limits: a session needs the control stream plus a few uploads
//     and fetches in flight; HTTP/3 itself needs one request stream (the
//     CONNECT) and three unidirectional streams (control, QPACK encoder and
//     decoder). Anything more is a client hoarding server memory.
//   - idle timeout: dead peers are noticed; the server keeps idle but alive
//     sessions open with keep-alives (a third of the idle timeout), so NAT
//     bindings survive quiet rooms.
//   - 0-RTT off (Allow0RTT false): 0-RTT data can be replayed by an
//     attacker, and every request here has effects (a say would be posted
//     twice, a hello would take a name); one round trip is cheap next to that.
func (s *Server) quicConfig() *quic.Config {
	return &quic.Config{
		MaxIdleTimeout:                   s.cfg.IdleTimeout,
		KeepAlivePeriod:                  s.cfg.IdleTimeout / 3,
		MaxIncomingStreams:               int64(s.cfg.MaxStreams) + 1,
		MaxIncomingUniStreams:            int64(s.cfg.MaxStreams) + 3,
		Allow0RTT:                        false,
		EnableDatagrams:                  true,
		EnableStreamResetPartialDelivery: true,
		HandshakeIdleTimeout:             10 * time.Second,
		// A small first window (quic-go grows it as a stream is read
		// fast) lets the paced reading of an upload (uploadRate) pace
		// the client's sending too, instead of taking 512 KiB at once.
		InitialStreamReceiveWindow: 64 << 10,
	}
}

func (s *Server) newWTServer() *wtServer {
	h3 := &http3.Server{
		TLSConfig:  http3.ConfigureTLSConfig(s.tlsConf.Clone()),
		QUICConfig: s.quicConfig(),
		Handler:    s.handler,
		Logger:     s.log,
	}
	wt := &webtransport.Server{
		H3: h3,
		// The origin was checked by serveParley (PROTOCOL.md section 1).
		CheckOrigin: func(*http.Request) bool { return true },
	}
	webtransport.ConfigureHTTP3Server(h3)
	return &wtServer{h3: h3, wt: wt, quic: h3.QUICConfig, resetKey: (*quic.StatelessResetKey)(s.cfg.StatelessResetKey)}
}

// serve accepts QUIC connections on udp and serves each in a goroutine,
// all waited for before it returns. (The listener is ours rather than
// webtransport.Server.Serve's so that a Close racing with the start of
// serving is safe.)
func (w *wtServer) serve(udp net.PacketConn) error {
	// A Transport of our own carries the stateless reset key; it does not
	// close udp (the server does).
	var tr *quic.Transport
	var ln *quic.EarlyListener
	var err error
	if w.resetKey != nil {
		tr = &quic.Transport{Conn: udp, StatelessResetKey: w.resetKey}
		ln, err = tr.ListenEarly(w.h3.TLSConfig, w.quic)
	} else {
		ln, err = quic.ListenEarly(udp, w.h3.TLSConfig, w.quic)
	}
	if err != nil {
		if tr != nil {
			tr.Close()
		}
		return err
	}
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		ln.Close()
		if tr != nil {
			tr.Close()
		}
		return nil
	}
	w.ln, w.tr = ln, tr
	w.mu.Unlock()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		qc, err := ln.Accept(context.Background())
		if err != nil {
			w.mu.Lock()
			closed := w.closed
			w.mu.Unlock()
			if closed {
				return nil
			}
			return err
		}
		w.mu.Lock()
		w.conns++
		w.mu.Unlock()
		wg.Go(func() {
			w.wt.ServeQUICConn(qc) // returns once the connection is closed
			w.mu.Lock()
			w.conns--
			w.mu.Unlock()
		})
	}
}

// drain waits, at most grace, for the clients to close their QUIC
// connections: a client closes its connection once it has read the
// session's close capsule (4002), which closing the connection from here
// first could overtake. (The listener stays open meanwhile: closing a
// single-use listener would close its connections; new sessions are
// refused with 4002 by then.)
func (w *wtServer) drain(grace time.Duration) {
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		w.mu.Lock()
		n := w.conns
		w.mu.Unlock()
		if n == 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// close closes every QUIC connection (sessions were closed before) and
// the listener; serve then returns.
func (w *wtServer) close() {
	w.wt.Close()
	w.mu.Lock()
	w.closed = true
	ln, tr := w.ln, w.tr
	w.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	if tr != nil {
		tr.Close()
	}
}

// serveWebTransport upgrades an extended CONNECT to a WebTransport session
// and runs it until it ends.
func (s *Server) serveWebTransport(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	wt := s.wt
	s.mu.Unlock()
	if wt == nil || r.ProtoMajor != 3 {
		http.Error(w, "WebTransport only over HTTP/3", http.StatusBadRequest)
		return
	}
	sess, err := wt.wt.Upgrade(w, r)
	if err != nil {
		s.log.Debug("webtransport upgrade failed", "remote", r.RemoteAddr, "err", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	s.runSession(&wtConn{sess: sess, remote: r.RemoteAddr, ready: make(chan struct{})})
}

// wtConn adapts a WebTransport session to conn.
type wtConn struct {
	sess   *webtransport.Session
	remote string

	readyOnce sync.Once
	ready     chan struct{} // closed once the control stream is accepted
	ctrl      *webtransport.Stream
	reader    *protocol.Reader
	buf       []byte // writer-owned coalescing buffer

	closeOnce sync.Once
}

func (c *wtConn) ReadControl(ctx context.Context) ([]byte, io.Reader, error) {
	if c.ctrl == nil {
		str, err := c.sess.AcceptStream(ctx)
		if err != nil {
			return nil, nil, err
		}
		c.ctrl = str
		c.reader = protocol.NewReader(str)
		c.readyOnce.Do(func() { close(c.ready) })
	}
	b, err := c.reader.Next()
	return b, nil, err
}

func (c *wtConn) waitReady(ctx context.Context) error {
	select {
	case <-c.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.sess.Context().Done():
		return net.ErrClosed
	}
}

func (c *wtConn) WriteFrames(frames [][]byte) error {
	select {
	case <-c.ready:
	default:
		return errors.New("server: no control stream yet")
	}
	if len(frames) == 1 {
		_, err := c.ctrl.Write(frames[0])
		return err
	}
	c.buf = c.buf[:0]
	for _, f := range frames {
		c.buf = append(c.buf, f...)
	}
	_, err := c.ctrl.Write(c.buf)
	if cap(c.buf) > 1<<20 {
		c.buf = nil // do not keep a large burst's buffer
	}
	return err
}

func (c *wtConn) CloseControl() {
	select {
	case <-c.ready:
		c.ctrl.Close()
	default:
	}
}

func (c *wtConn) AcceptUpload(ctx context.Context) (recvStream, error) {
	if err := c.waitReady(ctx); err != nil {
		return nil, err
	}
	str, err := c.sess.AcceptUniStream(ctx)
	if err != nil {
		return nil, err
	}
	return wtRecv{str}, nil
}

func (c *wtConn) AcceptFetch(ctx context.Context) (bidiStream, error) {
	if err := c.waitReady(ctx); err != nil {
		return nil, err
	}
	str, err := c.sess.AcceptStream(ctx)
	if err != nil {
		return nil, err
	}
	return wtBidi{str}, nil
}

func (c *wtConn) WriteBinary(context.Context, []byte, io.Reader, int64) error {
	return errors.New("server: WebTransport fetches go on their own streams")
}

func (c *wtConn) Datagrams() bool { return true }

func (c *wtConn) SendDatagram(b []byte) error { return c.sess.SendDatagram(b) }

func (c *wtConn) ReceiveDatagram(ctx context.Context) ([]byte, error) {
	return c.sess.ReceiveDatagram(ctx)
}

// Close closes the session in the background: CloseWithError waits until
// the close capsule is written, which connection-level flow control can
// delay (a slow member), and callers may hold fan-out locks. Done is
// closed when it has finished.
func (c *wtConn) Close(code protocol.CloseCode, reason string) {
	c.closeOnce.Do(func() {
		go c.sess.CloseWithError(webtransport.SessionErrorCode(code), reason)
	})
}

func (c *wtConn) Done() <-chan struct{} { return c.sess.Context().Done() }
func (c *wtConn) Kind() string          { return "webtransport" }
func (c *wtConn) RemoteAddr() string    { return c.remote }

// streamCancelled is the stream error code the server uses to abandon a stream.
const streamCancelled = 0

type wtRecv struct{ *webtransport.ReceiveStream }

func (s wtRecv) Cancel() { s.CancelRead(streamCancelled) }

type wtBidi struct{ *webtransport.Stream }

func (s wtBidi) Cancel() {
	s.CancelRead(streamCancelled)
	s.CancelWrite(streamCancelled)
}

var _ = slog.LevelDebug
