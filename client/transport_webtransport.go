//go:build !js

package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
	"github.com/quic-go/webtransport-go"

	"parley/protocol"
)

// WebTransportDialer opens WebTransport sessions over HTTP/3 (QUIC).
type WebTransportDialer struct {
	// URL is the session endpoint, https://host:port/parley.
	URL string
	// TLS is the client TLS configuration (see PinnedTLS).
	TLS *tls.Config
}

// NewWebTransportDialer returns a dialer for server ("https://host:port"
// or "host:port"), pinning certHash when it is not empty.
func NewWebTransportDialer(server, certHash string) (*WebTransportDialer, error) {
	wt, _, err := ServerURLs(server)
	if err != nil {
		return nil, err
	}
	tc, err := PinnedTLS(certHash)
	if err != nil {
		return nil, err
	}
	return &WebTransportDialer{URL: wt, TLS: tc}, nil
}

// PinnedTLS returns a TLS client configuration that accepts the
// certificate whose DER has the SHA-256 certHash (hex), on full and resumed
// handshakes alike, and once it was seen, later certificates for the same
// public key (the server's renewals); with an empty certHash, the system
// roots verify.
func PinnedTLS(certHash string) (*tls.Config, error) {
	pin, err := newKeyPin(certHash, "")
	if err != nil {
		return nil, err
	}
	return pin.tlsConfig(), nil
}

// Dial opens a WebTransport session and its control stream. A server
// that is full (503) yields an error wrapping ErrServerFull.
func (d *WebTransportDialer) Dial(ctx context.Context) (Conn, error) {
	u, err := url.Parse(d.URL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("client: webtransport dial: bad URL %q", d.URL)
	}
	tc := d.TLS.Clone()
	tc.NextProtos = []string{http3.NextProtoH3}
	tr := &webtransport.Transport{}
	// The QUIC connection is ours (what webtransport.Transport.Dial would
	// make), so that
	//   - a lost session reports why the connection ended (a stateless
	//     reset, an idle timeout): webtransport-go flattens that cause
	//     into a string when the CONNECT stream fails first;
	//   - a refused CONNECT's body (the server's words) is read before the
	//     connection closes: Transport.Dial closes it at once.
	qconn, err := quic.DialAddrEarly(ctx, u.Host, tc, &quic.Config{
		EnableDatagrams:                  true,
		EnableStreamResetPartialDelivery: true,
		KeepAlivePeriod:                  10 * time.Second,
		MaxIdleTimeout:                   30 * time.Second,
		HandshakeIdleTimeout:             10 * time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("client: webtransport dial: %w", err)
	}
	cc, err := tr.NewClientConn(qconn)
	if err != nil {
		qconn.CloseWithError(quic.ApplicationErrorCode(http3.ErrCodeNoError), "")
		tr.Close()
		return nil, fmt.Errorf("client: webtransport dial: %w", err)
	}
	rsp, sess, err := cc.Dial(ctx, d.URL, nil)
	if err != nil {
		// A non-2xx status comes as an error with the response.
		var full error
		if rsp != nil && rsp.StatusCode == http.StatusServiceUnavailable {
			full = fullError("webtransport", readBody(rsp.Body, qconn))
		}
		code, msg := quic.ApplicationErrorCode(http3.ErrCodeNoError), ""
		var rne *webtransport.RequirementsNotMetError
		if errors.As(err, &rne) {
			code, msg = webtransport.WTRequirementsNotMetErrorCode, rne.Message
		}
		qconn.CloseWithError(code, msg)
		tr.Close()
		if full != nil {
			return nil, full
		}
		return nil, fmt.Errorf("client: webtransport dial: %w", err)
	}
	context.AfterFunc(sess.Context(), func() {
		qconn.CloseWithError(quic.ApplicationErrorCode(http3.ErrCodeNoError), "")
	})
	if rsp.StatusCode != http.StatusOK {
		sess.CloseWithError(0, "")
		tr.Close()
		return nil, fmt.Errorf("client: webtransport dial: status %s", rsp.Status)
	}
	ctrl, err := sess.OpenStreamSync(ctx)
	if err != nil {
		sess.CloseWithError(0, "")
		tr.Close()
		return nil, fmt.Errorf("client: open the control stream: %w", err)
	}
	return &wtConn{tr: tr, qconn: qconn, sess: sess, ctrl: ctrl, r: protocol.NewReader(ctrl)}, nil
}

// refusalWait bounds the read of a refused session attempt's body.
const refusalWait = 2 * time.Second

// readBody reads the start of a refusal's body: at most 1 KiB, for at
// most refusalWait (closing qconn ends a read that waits longer).
func readBody(body io.ReadCloser, qconn *quic.Conn) []byte {
	if body == nil {
		return nil
	}
	t := time.AfterFunc(refusalWait, func() {
		qconn.CloseWithError(quic.ApplicationErrorCode(http3.ErrCodeNoError), "")
	})
	defer t.Stop()
	b, _ := io.ReadAll(io.LimitReader(body, 1<<10))
	body.Close()
	return b
}

// wtConn is a Conn over a WebTransport session.
type wtConn struct {
	tr    *webtransport.Transport
	qconn *quic.Conn // the session's QUIC connection
	sess  *webtransport.Session
	ctrl  *webtransport.Stream
	r     *protocol.Reader // used by the Recv goroutine only

	wmu sync.Mutex
	buf []byte
}

func (c *wtConn) Kind() string { return "webtransport" }

// Send writes the frames in one stream write.
func (c *wtConn) Send(frames ...[]byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.buf = c.buf[:0]
	for _, f := range frames {
		c.buf = append(c.buf, f...)
		c.buf = append(c.buf, '\n')
	}
	_, err := c.ctrl.Write(c.buf)
	if err != nil {
		return c.sessionErr(err)
	}
	return nil
}

func (c *wtConn) Recv() ([]byte, bool, error) {
	line, err := c.r.Next()
	if err != nil {
		return nil, false, c.sessionErr(err)
	}
	return append([]byte(nil), line...), false, nil
}

// sessionErr turns a stream error into the session's close error when the
// session was closed (the server ends the control stream first, then
// closes the session with a code).
func (c *wtConn) sessionErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		t := time.NewTimer(5 * time.Second)
		defer t.Stop()
		select {
		case <-c.sess.Context().Done():
		case <-t.C:
			return err
		}
	}
	var se *webtransport.SessionError
	if !errors.As(err, &se) && c.sess.Context().Err() != nil {
		if _, oerr := c.sess.OpenStream(); oerr != nil {
			errors.As(oerr, &se)
		}
	}
	if se != nil && se.Remote && se.ErrorCode != 0 {
		return &protocol.CloseError{Code: protocol.CloseCode(se.ErrorCode), Reason: se.Message}
	}
	if cause := c.connCause(se); cause != nil && !errors.Is(err, cause) {
		return fmt.Errorf("%w (session: %v)", cause, err)
	}
	return err
}

// connCause returns why the QUIC connection under a session that ended
// without a WebTransport close (se == nil) ended, or nil if it is still
// open. quic-go fails the streams before it records the cause in the
// connection's context, so the cause is awaited briefly.
func (c *wtConn) connCause(se *webtransport.SessionError) error {
	if c.qconn == nil || se != nil || c.sess.Context().Err() == nil {
		return nil
	}
	t := time.NewTimer(500 * time.Millisecond)
	defer t.Stop()
	select {
	case <-c.qconn.Context().Done():
		return context.Cause(c.qconn.Context())
	case <-t.C:
		return nil
	}
}

func (c *wtConn) Upload(ctx context.Context, header []byte, body io.Reader, size int64) error {
	str, err := c.sess.OpenUniStreamSync(ctx)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { str.CancelWrite(0) })
	defer stop()
	if _, err := str.Write(append(append([]byte(nil), header...), '\n')); err != nil {
		return err
	}
	if n, err := io.Copy(str, io.LimitReader(body, size)); err != nil {
		return err
	} else if n != size {
		str.CancelWrite(0)
		return fmt.Errorf("client: image body is %d bytes, not %d", n, size)
	}
	return str.Close()
}

func (c *wtConn) Fetch(ctx context.Context, req []byte) (io.ReadCloser, error) {
	str, err := c.sess.OpenStreamSync(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := str.Write(append(append([]byte(nil), req...), '\n')); err != nil {
		str.CancelRead(0)
		return nil, err
	}
	if err := str.Close(); err != nil {
		str.CancelRead(0)
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { str.CancelRead(0) })
	return &fetchStream{str: str, stop: stop}, nil
}

// fetchStream is the read side of a fetch stream.
type fetchStream struct {
	str  *webtransport.Stream
	stop func() bool
}

func (f *fetchStream) Read(p []byte) (int, error) { return f.str.Read(p) }

func (f *fetchStream) Close() error {
	f.stop()
	f.str.CancelRead(0)
	return nil
}

func (c *wtConn) SendDatagram(frame []byte) error { return c.sess.SendDatagram(frame) }

// Ping sends the padded ping datagram (see pingDatagram).
func (c *wtConn) Ping() error { return c.sess.SendDatagram(pingDatagram) }

func (c *wtConn) RecvDatagram(ctx context.Context) ([]byte, error) {
	return c.sess.ReceiveDatagram(ctx)
}

func (c *wtConn) Close(code protocol.CloseCode, reason string) error {
	err := c.sess.CloseWithError(webtransport.SessionErrorCode(code), reason)
	c.tr.Close()
	return err
}
