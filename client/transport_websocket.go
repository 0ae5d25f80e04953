//go:build !js

package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"

	"github.com/coder/websocket"

	"parley/protocol"
)

// WebSocketDialer opens WebSocket sessions (the fallback transport,
// PROTOCOL.md section 7), over TLS to a server, or over any connection
// DialContext returns (the in-process transport).
type WebSocketDialer struct {
	// URL is the session endpoint: wss://host:port/parley, or
	// ws://inprocess/parley for an in-process server.
	URL string
	// TLS is the client TLS configuration for wss (see PinnedTLS).
	TLS *tls.Config
	// DialContext, when set, makes the connection instead of the network
	// (its network and address arguments are then ignored).
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// KindName is what Conn.Kind returns. Empty: "websocket".
	KindName string
	// MaxMessage bounds a message read from the server (a fetch answer
	// carries a whole image). Zero: protocol.DefaultMaxImage plus a frame.
	MaxMessage int64
}

// NewWebSocketDialer returns a dialer for server ("https://host:port" or
// "host:port"), pinning certHash when it is not empty.
func NewWebSocketDialer(server, certHash string) (*WebSocketDialer, error) {
	_, ws, err := ServerURLs(server)
	if err != nil {
		return nil, err
	}
	tc, err := PinnedTLS(certHash)
	if err != nil {
		return nil, err
	}
	return &WebSocketDialer{URL: ws, TLS: tc}, nil
}

// InProcessURL is the URL of a server reached through a connection made in
// the same process (server.(*Server).DialInProcess).
const InProcessURL = "ws://inprocess/parley"

// NewInProcessDialer returns a dialer that speaks the WebSocket transport
// over connections from dial, for example server.(*Server).DialInProcess.
// Its Conns' Kind is "inprocess".
func NewInProcessDialer(dial func(ctx context.Context) (net.Conn, error)) *WebSocketDialer {
	return &WebSocketDialer{
		URL:         InProcessURL,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx) },
		KindName:    "inprocess",
	}
}

// Dial opens a WebSocket session.
func (d *WebSocketDialer) Dial(ctx context.Context) (Conn, error) {
	tr := &http.Transport{TLSClientConfig: d.TLS, ForceAttemptHTTP2: false, DisableKeepAlives: true}
	if d.TLS != nil {
		tr.TLSClientConfig = d.TLS.Clone()
		tr.TLSClientConfig.NextProtos = []string{"http/1.1"}
	}
	if d.DialContext != nil {
		tr.DialContext = d.DialContext
		tr.DialTLSContext = nil
	}
	ws, rsp, err := websocket.Dial(ctx, d.URL, &websocket.DialOptions{
		HTTPClient:      &http.Client{Transport: tr},
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		tr.CloseIdleConnections()
		if rsp != nil && rsp.StatusCode == http.StatusServiceUnavailable {
			// The library keeps the first KiB of a refused answer's body.
			var body []byte
			if rsp.Body != nil {
				body, _ = io.ReadAll(io.LimitReader(rsp.Body, 1<<10))
			}
			return nil, fullError("websocket", body)
		}
		return nil, fmt.Errorf("client: websocket dial: %w", err)
	}
	limit := d.MaxMessage
	if limit <= 0 {
		limit = protocol.DefaultMaxImage + protocol.MaxFrame
	}
	ws.SetReadLimit(limit)
	kind := d.KindName
	if kind == "" {
		kind = "websocket"
	}
	ctx2, cancel := context.WithCancel(context.Background())
	return &wsConn{ws: ws, kind: kind, ctx: ctx2, cancel: cancel}, nil
}

// wsConn is a Conn over a WebSocket: one text message per frame, binary
// messages for uploads and fetch answers.
type wsConn struct {
	ws     *websocket.Conn
	kind   string
	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	once   sync.Once
}

func (c *wsConn) Kind() string { return c.kind }

func (c *wsConn) Send(frames ...[]byte) error {
	for _, f := range frames {
		if err := c.ws.Write(c.ctx, websocket.MessageText, f); err != nil {
			return closeErr(err)
		}
	}
	return nil
}

func (c *wsConn) Recv() ([]byte, bool, error) {
	typ, b, err := c.ws.Read(c.ctx)
	if err != nil {
		return nil, false, closeErr(err)
	}
	return b, typ == websocket.MessageBinary, nil
}

// closeErr turns a WebSocket close with a Parley code into a *protocol.CloseError.
func closeErr(err error) error {
	var ce websocket.CloseError
	if errors.As(err, &ce) && ce.Code >= 4000 && ce.Code < 5000 {
		return &protocol.CloseError{Code: protocol.CloseCode(ce.Code), Reason: ce.Reason}
	}
	return err
}

func (c *wsConn) Upload(ctx context.Context, header []byte, body io.Reader, size int64) error {
	w, err := c.ws.Writer(ctx, websocket.MessageBinary)
	if err != nil {
		return closeErr(err)
	}
	if _, err := w.Write(append(append([]byte(nil), header...), '\n')); err != nil {
		return closeErr(err)
	}
	n, err := io.Copy(w, io.LimitReader(body, size))
	if err != nil {
		return closeErr(err)
	}
	if n != size {
		return fmt.Errorf("client: image body is %d bytes, not %d", n, size)
	}
	return closeErr(w.Close())
}

func (c *wsConn) Fetch(context.Context, []byte) (io.ReadCloser, error) {
	return nil, ErrFetchOnControl
}

func (c *wsConn) SendDatagram(frame []byte) error {
	return closeErr(c.ws.Write(c.ctx, websocket.MessageText, frame))
}

func (c *wsConn) RecvDatagram(ctx context.Context) ([]byte, error) {
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.ctx.Done():
		return nil, net.ErrClosed
	}
}

func (c *wsConn) Close(code protocol.CloseCode, reason string) error {
	var err error
	c.once.Do(func() {
		st := websocket.StatusCode(code)
		if code == 0 {
			st = websocket.StatusNormalClosure
		}
		err = c.ws.Close(st, reason)
		c.cancel()
	})
	return err
}
