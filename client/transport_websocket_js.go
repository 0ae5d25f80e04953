//go:build js && wasm

package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"syscall/js"
	"time"

	"parley/protocol"
)

// jsMaxInbound bounds the bytes of received WebSocket messages waiting for
// Recv. Past it the session is closed with 4001 (we are the slow member).
const jsMaxInbound = 64 << 20

// wsMessage is one received WebSocket message.
type wsMessage struct {
	data   []byte
	binary bool
}

// wsConn is a Conn over the browser's WebSocket API (PROTOCOL.md section 7).
type wsConn struct {
	ws    js.Value
	funcs []js.Func

	mu      sync.Mutex
	queue   []wsMessage
	queued  int
	opened  bool
	wake    chan struct{} // cap 1: queue grew, or the socket opened or closed
	closed  chan struct{} // closed once, when the socket has closed
	closeEr error         // set before closed is closed

	closeOnce sync.Once
	sockGone  chan struct{} // closed by the onclose handler
}

// dialWebSocket opens a WebSocket to url (wss://…/parley).
func dialWebSocket(ctx context.Context, url string) (*wsConn, error) {
	ctor := js.Global().Get("WebSocket")
	if ctor.Type() != js.TypeFunction {
		return nil, errors.New("client: this browser has no WebSocket")
	}
	c := &wsConn{wake: make(chan struct{}, 1), closed: make(chan struct{}), sockGone: make(chan struct{})}
	if err := jsTry(func() { c.ws = ctor.New(url) }); err != nil {
		return nil, fmt.Errorf("client: websocket %s: %w", url, err)
	}
	c.ws.Set("binaryType", "arraybuffer")
	c.on("onopen", func(js.Value) {
		c.mu.Lock()
		c.opened = true
		c.mu.Unlock()
		c.signal()
	})
	c.on("onmessage", func(ev js.Value) {
		data := ev.Get("data")
		var m wsMessage
		if data.Type() == js.TypeString {
			m.data = []byte(data.String())
		} else {
			m.data, m.binary = goBytes(nil, data), true
		}
		c.mu.Lock()
		over := c.queued+len(m.data) > jsMaxInbound
		if !over {
			c.queue = append(c.queue, m)
			c.queued += len(m.data)
		}
		c.mu.Unlock()
		if over {
			c.finish(&protocol.CloseError{Code: protocol.CloseTooSlow, Reason: "client fell behind"})
			_ = jsTry(func() { c.ws.Call("close", int(protocol.CloseTooSlow), "client fell behind") })
			return
		}
		c.signal()
	})
	c.on("onclose", func(ev js.Value) {
		code := ev.Get("code").Int()
		reason := jsString(ev.Get("reason"))
		var err error
		switch {
		case code >= 4000 && code <= 4999:
			err = &protocol.CloseError{Code: protocol.CloseCode(code), Reason: reason}
		case code == 1000:
			err = io.EOF
		default:
			err = fmt.Errorf("client: websocket closed: %d %s", code, reason)
		}
		c.finish(err)
		close(c.sockGone)
	})
	c.on("onerror", func(js.Value) {}) // onclose follows with the code
	// The handlers are released once the socket can call none of them again.
	go func() { <-c.sockGone; c.release() }()

	for {
		c.mu.Lock()
		opened := c.opened
		c.mu.Unlock()
		if opened {
			return c, nil
		}
		select {
		case <-c.wake:
		case <-c.closed:
			var ce *protocol.CloseError
			if !errors.As(c.closeEr, &ce) {
				if err := probeFull(ctx, url); err != nil {
					return nil, err
				}
			}
			return nil, fmt.Errorf("client: websocket %s: %w", url, c.closeEr)
		case <-ctx.Done():
			_ = jsTry(func() { c.ws.Call("close") })
			c.finish(ctx.Err())
			return nil, fmt.Errorf("client: websocket %s: %w", url, ctx.Err())
		}
	}
}

// probeTimeout bounds probeFull.
const probeTimeout = 3 * time.Second

// probeFull asks the server why a WebSocket did not open. A browser hides
// a refused upgrade's status, so a full server (503 before the upgrade,
// as the native dialers see it) would look unreachable; a plain GET of the
// same URL (https for wss) tells the two apart. It returns the full
// server's error, or nil when the server is not full or cannot say.
func probeFull(ctx context.Context, wsURL string) error {
	var target string
	if rest, ok := strings.CutPrefix(wsURL, "wss://"); ok {
		target = "https://" + rest
	} else if rest, ok := strings.CutPrefix(wsURL, "ws://"); ok {
		target = "http://" + rest
	} else {
		return nil
	}
	fetch := js.Global().Get("fetch")
	if fetch.Type() != js.TypeFunction {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	opts := js.Global().Get("Object").New()
	opts.Set("cache", "no-store")
	var p js.Value
	if jsTry(func() { p = fetch.Invoke(target, opts) }) != nil {
		return nil
	}
	res, err := jsAwait(ctx, p)
	if err != nil || res.Get("status").Int() != 503 {
		return nil
	}
	body, err := jsAwait(ctx, res.Call("text"))
	if err != nil {
		return fullError("websocket", nil)
	}
	return fullError("websocket", []byte(jsString(body)))
}

// on sets an event handler property; handlers never block.
func (c *wsConn) on(prop string, f func(ev js.Value)) {
	fn := js.FuncOf(func(_ js.Value, args []js.Value) any {
		ev := js.Undefined()
		if len(args) > 0 {
			ev = args[0]
		}
		f(ev)
		return nil
	})
	c.funcs = append(c.funcs, fn)
	c.ws.Set(prop, fn)
}

func (c *wsConn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// finish records why the socket ended, once.
func (c *wsConn) finish(err error) {
	c.closeOnce.Do(func() {
		c.closeEr = err
		close(c.closed)
	})
}

// release drops the event handlers once nothing more can arrive.
func (c *wsConn) release() {
	for _, p := range []string{"onopen", "onmessage", "onclose", "onerror"} {
		c.ws.Set(p, js.Null())
	}
	for _, f := range c.funcs {
		f.Release()
	}
	c.funcs = nil
}

func (c *wsConn) isClosed() error {
	select {
	case <-c.closed:
		return c.closeEr
	default:
		return nil
	}
}

// Send sends each frame as one text message.
func (c *wsConn) Send(frames ...[]byte) error {
	if err := c.isClosed(); err != nil {
		return err
	}
	return jsTry(func() {
		for _, f := range frames {
			c.ws.Call("send", string(f))
		}
	})
}

// Recv returns the next message; binary ones are fetch answers.
func (c *wsConn) Recv() ([]byte, bool, error) {
	for {
		c.mu.Lock()
		if len(c.queue) > 0 {
			m := c.queue[0]
			c.queue[0] = wsMessage{}
			c.queue = c.queue[1:]
			c.queued -= len(m.data)
			c.mu.Unlock()
			return m.data, m.binary, nil
		}
		c.mu.Unlock()
		select {
		case <-c.wake:
		case <-c.closed:
			c.mu.Lock()
			n := len(c.queue)
			c.mu.Unlock()
			if n == 0 {
				return nil, false, c.closeEr
			}
		}
	}
}

// Upload sends the header line and size bytes as one binary message.
func (c *wsConn) Upload(ctx context.Context, header []byte, body io.Reader, size int64) error {
	if err := c.isClosed(); err != nil {
		return err
	}
	if size < 0 || size > 1<<31-1 {
		return fmt.Errorf("client: image of %d bytes cannot be sent", size)
	}
	msg := make([]byte, len(header)+1+int(size))
	copy(msg, header)
	msg[len(header)] = '\n'
	if _, err := io.ReadFull(body, msg[len(header)+1:]); err != nil {
		return fmt.Errorf("client: image body shorter than %d bytes: %w", size, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return jsTry(func() { c.ws.Call("send", jsBytes(msg)) })
}

// Fetch reports that fetches go on the control channel.
func (c *wsConn) Fetch(context.Context, []byte) (io.ReadCloser, error) {
	return nil, ErrFetchOnControl
}

// SendDatagram sends the typing frame as a normal text message.
func (c *wsConn) SendDatagram(frame []byte) error { return c.Send(frame) }

// RecvDatagram blocks until the socket closes: typing arrives through Recv.
func (c *wsConn) RecvDatagram(ctx context.Context) ([]byte, error) {
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.closed:
		return nil, c.closeEr
	}
}

// Close closes the socket with code and reason.
func (c *wsConn) Close(code protocol.CloseCode, reason string) error {
	reason = jsTruncUTF8(reason, 123) // a close frame's reason is at most 123 bytes
	err := jsTry(func() { c.ws.Call("close", int(code), reason) })
	c.finish(&protocol.CloseError{Code: code, Reason: reason})
	return err
}

// Kind reports "websocket".
func (c *wsConn) Kind() string { return "websocket" }
