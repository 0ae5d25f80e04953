//go:build js && wasm

package client

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall/js"
	"time"

	"parley/protocol"
)

// Limits of the browser WebTransport conn.
const (
	// jsMaxPending bounds the control frames queued for the browser's
	// stream writer; Send fails past it (the session is hopelessly behind).
	jsMaxPending = 8 << 20
	// jsUploadChunk is the size of each write of an image upload.
	jsUploadChunk = 256 << 10
	// jsDatagramQueue is how many received datagrams wait for RecvDatagram;
	// more are dropped (typing is best effort).
	jsDatagramQueue = 64
	// jsCloseWait bounds how long Recv waits, after the control stream
	// ended, for the session's close code to arrive.
	jsCloseWait = 2 * time.Second
)

// errNoWebTransport is returned when the page has no WebTransport API.
var errNoWebTransport = errors.New("client: this browser has no WebTransport")

// wtConn is a Conn over the browser's WebTransport API.
type wtConn struct {
	wt   js.Value
	ctlW *streamWriter
	ctlR *protocol.Reader
	ctlS *streamReader

	dgMu sync.Mutex
	dgW  js.Value // datagram writer, or undefined
	dgs  chan []byte

	closed   chan struct{} // closed when wt.closed has settled
	closeErr error         // set before closed is closed

	stop     chan struct{}
	stopOnce sync.Once
}

// dialWebTransport opens a WebTransport session to url (https://…/parley)
// pinning the certificate by hashes (hex SHA-256 of the DER), and opens the
// control stream.
func dialWebTransport(ctx context.Context, url string, hashes []string) (*wtConn, error) {
	ctor := js.Global().Get("WebTransport")
	if ctor.Type() != js.TypeFunction {
		return nil, errNoWebTransport
	}
	opts := js.Global().Get("Object").New()
	if len(hashes) > 0 {
		arr := js.Global().Get("Array").New()
		for _, h := range hashes {
			b, err := hex.DecodeString(h)
			if err != nil || len(b) != 32 {
				return nil, fmt.Errorf("client: certificate hash %q is not 64 hex digits", h)
			}
			o := js.Global().Get("Object").New()
			o.Set("algorithm", "sha-256")
			o.Set("value", jsBytes(b))
			arr.Call("push", o)
		}
		opts.Set("serverCertificateHashes", arr)
	}
	c := &wtConn{closed: make(chan struct{}), stop: make(chan struct{}), dgs: make(chan []byte, jsDatagramQueue)}
	if err := jsTry(func() { c.wt = ctor.New(url, opts) }); err != nil {
		return nil, fmt.Errorf("client: webtransport %s: %w", url, err)
	}
	go c.watchClosed()
	if _, err := jsAwait(ctx, c.wt.Get("ready")); err != nil {
		c.abandon()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("client: webtransport %s: no session: %w", url, ctx.Err())
		}
		return nil, fmt.Errorf("client: webtransport %s: %w", url, err)
	}
	var bidiP js.Value
	if err := jsTry(func() { bidiP = c.wt.Call("createBidirectionalStream") }); err != nil {
		c.abandon()
		return nil, fmt.Errorf("client: webtransport control stream: %w", err)
	}
	bidi, err := jsAwait(ctx, bidiP)
	if err != nil {
		c.abandon()
		return nil, fmt.Errorf("client: webtransport control stream: %w", err)
	}
	if c.ctlW, err = newStreamWriter(bidi.Get("writable"), jsMaxPending); err != nil {
		c.abandon()
		return nil, err
	}
	if c.ctlS, err = newStreamReader(bidi.Get("readable")); err != nil {
		c.abandon()
		return nil, err
	}
	c.ctlR = protocol.NewReader(c.ctlS)
	c.openDatagrams()
	return c, nil
}

// abandon closes a session that never became usable.
func (c *wtConn) abandon() {
	_ = jsTry(func() { c.wt.Call("close") })
	c.stopOnce.Do(func() { close(c.stop) })
}

// watchClosed waits for the session to end and records how.
func (c *wtConn) watchClosed() {
	v, err := jsAwait(context.Background(), c.wt.Get("closed"))
	switch {
	case err != nil:
		c.closeErr = fmt.Errorf("client: webtransport session failed: %w", err)
	case v.Type() == js.TypeObject && v.Get("closeCode").Type() == js.TypeNumber && v.Get("closeCode").Int() != 0:
		c.closeErr = &protocol.CloseError{Code: protocol.CloseCode(v.Get("closeCode").Int()), Reason: jsString(v.Get("reason"))}
	default:
		c.closeErr = io.EOF
	}
	close(c.closed)
	c.stopOnce.Do(func() { close(c.stop) })
}

// openDatagrams starts reading datagrams and gets the datagram writer.
// A browser without datagrams leaves typing silent, never the session broken.
func (c *wtConn) openDatagrams() {
	dg := c.wt.Get("datagrams")
	if dg.Type() != js.TypeObject {
		return
	}
	_ = jsTry(func() {
		var writable js.Value
		if dg.Get("createWritable").Type() == js.TypeFunction {
			writable = dg.Call("createWritable")
		} else {
			writable = dg.Get("writable")
		}
		c.dgW = writable.Call("getWriter")
		jsIgnoreRejection(c.dgW.Get("closed"))
	})
	var reader js.Value
	if err := jsTry(func() { reader = dg.Get("readable").Call("getReader") }); err != nil {
		return
	}
	jsIgnoreRejection(reader.Get("closed"))
	go func() {
		for {
			var p js.Value
			if jsTry(func() { p = reader.Call("read") }) != nil {
				return
			}
			v, err := jsAwait(context.Background(), p)
			if err != nil || v.Get("done").Truthy() {
				return
			}
			b := goBytes(nil, v.Get("value"))
			select {
			case c.dgs <- b:
			default: // nobody is keeping up: typing is best effort
			}
		}
	}()
}

// Send queues frames for the control stream; they go out coalesced.
func (c *wtConn) Send(frames ...[]byte) error {
	select {
	case <-c.closed:
		return c.closeErr
	default:
	}
	return c.ctlW.Enqueue(frames...)
}

// Recv returns the next control frame.
func (c *wtConn) Recv() ([]byte, bool, error) {
	line, err := c.ctlR.Next()
	if err == nil {
		return append([]byte(nil), line...), false, nil
	}
	if errors.Is(err, protocol.ErrFrameTooLarge) {
		return nil, false, err
	}
	// The stream ended: the session's close code says why.
	t := time.NewTimer(jsCloseWait)
	defer t.Stop()
	select {
	case <-c.closed:
		if c.closeErr != io.EOF {
			return nil, false, c.closeErr
		}
	case <-t.C:
	}
	if err == io.ErrUnexpectedEOF {
		err = io.EOF
	}
	return nil, false, err
}

// Upload sends header and size bytes of body on a new unidirectional stream.
func (c *wtConn) Upload(ctx context.Context, header []byte, body io.Reader, size int64) error {
	var p js.Value
	if err := jsTry(func() { p = c.wt.Call("createUnidirectionalStream") }); err != nil {
		return fmt.Errorf("client: upload stream: %w", err)
	}
	ws, err := jsAwait(ctx, p)
	if err != nil {
		return fmt.Errorf("client: upload stream: %w", err)
	}
	var w js.Value
	if err := jsTry(func() { w = ws.Call("getWriter") }); err != nil {
		return fmt.Errorf("client: upload stream: %w", err)
	}
	jsIgnoreRejection(w.Get("closed"))
	abort := func(err error) error {
		_ = jsTry(func() { jsIgnoreRejection(w.Call("abort")) })
		return err
	}
	write := func(b []byte) error {
		if _, err := jsAwait(ctx, w.Get("ready")); err != nil {
			return err
		}
		return jsTry(func() { jsIgnoreRejection(w.Call("write", jsBytes(b))) })
	}
	buf := make([]byte, 0, jsUploadChunk)
	buf = append(append(buf, header...), '\n')
	left := size
	for {
		n := int64(cap(buf) - len(buf))
		if n > left {
			n = left
		}
		got, rerr := io.ReadFull(body, buf[len(buf):len(buf)+int(n)])
		buf = buf[:len(buf)+got]
		left -= int64(got)
		if rerr != nil && left > 0 {
			return abort(fmt.Errorf("client: image body ended %d bytes short: %w", left, rerr))
		}
		if len(buf) > 0 {
			if err := write(buf); err != nil {
				return abort(fmt.Errorf("client: upload: %w", err))
			}
		}
		if left == 0 {
			break
		}
		buf = buf[:0]
	}
	var cp js.Value
	if err := jsTry(func() { cp = w.Call("close") }); err != nil {
		return fmt.Errorf("client: upload: %w", err)
	}
	if _, err := jsAwait(ctx, cp); err != nil {
		return abort(fmt.Errorf("client: upload: %w", err))
	}
	return nil
}

// Fetch opens a bidirectional stream carrying req and returns its answer.
func (c *wtConn) Fetch(ctx context.Context, req []byte) (io.ReadCloser, error) {
	var p js.Value
	if err := jsTry(func() { p = c.wt.Call("createBidirectionalStream") }); err != nil {
		return nil, fmt.Errorf("client: fetch stream: %w", err)
	}
	bidi, err := jsAwait(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("client: fetch stream: %w", err)
	}
	r, err := newStreamReader(bidi.Get("readable"))
	if err != nil {
		return nil, err
	}
	err = jsTry(func() {
		w := bidi.Get("writable").Call("getWriter")
		jsIgnoreRejection(w.Get("closed"))
		jsIgnoreRejection(w.Call("write", jsBytes(append(append([]byte(nil), req...), '\n'))))
		jsIgnoreRejection(w.Call("close"))
	})
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("client: fetch: %w", err)
	}
	return r, nil
}

// SendDatagram sends a typing frame as a datagram; when the datagram queue
// is full it is dropped, as datagrams may be.
func (c *wtConn) SendDatagram(frame []byte) error {
	c.dgMu.Lock()
	defer c.dgMu.Unlock()
	select {
	case <-c.closed:
		return c.closeErr
	default:
	}
	if c.dgW.Type() != js.TypeObject {
		return nil
	}
	return jsTry(func() {
		if ds := c.dgW.Get("desiredSize"); ds.Type() == js.TypeNumber && ds.Float() <= 0 {
			return
		}
		jsIgnoreRejection(c.dgW.Call("write", jsBytes(frame)))
	})
}

// RecvDatagram returns the next datagram.
func (c *wtConn) RecvDatagram(ctx context.Context) ([]byte, error) {
	select {
	case b := <-c.dgs:
		return b, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.stop:
		select {
		case <-c.closed:
			return nil, c.closeErr
		default:
			return nil, io.ErrClosedPipe
		}
	}
}

// Close ends the session with code and reason.
func (c *wtConn) Close(code protocol.CloseCode, reason string) error {
	reason = jsTruncUTF8(reason, 1024)
	c.ctlW.Abort(io.ErrClosedPipe)
	err := jsTry(func() {
		info := js.Global().Get("Object").New()
		info.Set("closeCode", int(code))
		info.Set("reason", reason)
		c.wt.Call("close", info)
	})
	c.stopOnce.Do(func() { close(c.stop) })
	return err
}

// Kind reports "webtransport".
func (c *wtConn) Kind() string { return "webtransport" }
