package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"sync"

	"github.com/coder/websocket"

	"parley/protocol"
)

// serveWebSocket upgrades a request on /parley to a WebSocket session (the
// fallback transport, PROTOCOL.md section 7) and runs it until it ends.
// In-process connections arrive here too, without TLS.
func (s *Server) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		// The origin was checked by serveParley (section 1), with the
		// server's own rule.
		InsecureSkipVerify: true,
		// Compression costs CPU on every fan-out and frames are small.
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		s.log.Debug("websocket upgrade failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	// Limits are enforced by the adapter, so that an over-limit message is
	// answered too_large and closed with 4000, never with 1009.
	c.SetReadLimit(-1)
	kind := "websocket"
	if r.RemoteAddr == (memAddr{}).String() {
		kind = "inprocess"
	}
	ctx, cancel := context.WithCancel(context.Background())
	wc := &wsConn{c: c, kind: kind, remote: r.RemoteAddr, ctx: ctx, cancel: cancel, done: make(chan struct{})}
	s.runSession(wc)
}

// wsConn adapts a WebSocket connection to conn. Frames are text messages
// without line feed; uploads and fetch answers are binary messages.
type wsConn struct {
	c      *websocket.Conn
	kind   string
	remote string
	ctx    context.Context // ends when the session is closed
	cancel context.CancelFunc
	buf    []byte // reader-owned

	closeOnce sync.Once
	done      chan struct{}
}

func (c *wsConn) ReadControl(ctx context.Context) ([]byte, io.Reader, error) {
	typ, r, err := c.c.Reader(c.ctx)
	if err != nil {
		return nil, nil, err
	}
	if typ == websocket.MessageBinary {
		return nil, r, nil
	}
	if c.buf == nil {
		c.buf = make([]byte, 0, 4096)
	}
	b := bytes.NewBuffer(c.buf[:0])
	n, err := b.ReadFrom(io.LimitReader(r, protocol.MaxFrameJSON+1))
	c.buf = b.Bytes()
	if err != nil {
		return nil, nil, err
	}
	if n > protocol.MaxFrameJSON {
		return c.buf, nil, protocol.ErrFrameTooLarge
	}
	return c.buf, nil, nil
}

func (c *wsConn) WriteFrames(frames [][]byte) error {
	for _, f := range frames {
		if n := len(f); n > 0 && f[n-1] == '\n' {
			f = f[:n-1]
		}
		if err := c.c.Write(c.ctx, websocket.MessageText, f); err != nil {
			return err
		}
	}
	return nil
}

// CloseControl does nothing: a WebSocket close frame follows the messages
// written before it.
func (c *wsConn) CloseControl() {}

func (c *wsConn) AcceptUpload(ctx context.Context) (recvStream, error) {
	return nil, c.wait(ctx)
}

func (c *wsConn) AcceptFetch(ctx context.Context) (bidiStream, error) {
	return nil, c.wait(ctx)
}

func (c *wsConn) wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-c.ctx.Done():
		return errors.New("server: session closed")
	}
}

func (c *wsConn) WriteBinary(ctx context.Context, head []byte, body io.Reader, size int64) error {
	w, err := c.c.Writer(ctx, websocket.MessageBinary)
	if err != nil {
		return err
	}
	if _, err := w.Write(append(head, '\n')); err != nil {
		w.Close()
		return err
	}
	if _, err := io.CopyN(w, body, size); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

func (c *wsConn) Datagrams() bool { return false }

func (c *wsConn) SendDatagram([]byte) error { return errors.New("server: no datagrams over WebSocket") }

func (c *wsConn) ReceiveDatagram(ctx context.Context) ([]byte, error) {
	return nil, c.wait(ctx)
}

// Close sends the close frame with code in the background (the closing
// handshake may wait for the peer) and ends the session's reads; Done is
// closed when the connection is gone.
func (c *wsConn) Close(code protocol.CloseCode, reason string) {
	c.closeOnce.Do(func() {
		go func() {
			defer close(c.done)
			status := websocket.StatusCode(code)
			if code == 0 {
				status = websocket.StatusNormalClosure
			}
			c.c.Close(status, reason)
			c.cancel()
			c.c.CloseNow()
		}()
	})
}

func (c *wsConn) Done() <-chan struct{} { return c.done }
func (c *wsConn) Kind() string          { return c.kind }
func (c *wsConn) RemoteAddr() string    { return c.remote }
