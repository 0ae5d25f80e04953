//go:build js && wasm

package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall/js"
	"unicode/utf8"
)

// This file turns the browser's promise- and callback-based APIs into Go
// calls that block a goroutine. The one rule of syscall/js it exists for:
// a js.FuncOf callback must never block (the JavaScript event loop that
// would unblock it is the one running it), so callbacks here only send on
// buffered channels or append to a queue under a mutex that is never held
// across a JavaScript call that can wait.

// jsError is an exception or a promise rejection from JavaScript.
type jsError struct {
	Name    string // e.g. "WebTransportError", "TypeError"
	Message string
	// Source is WebTransportError.source ("stream" or "session"), if any.
	Source string
}

func (e *jsError) Error() string {
	if e.Source != "" {
		return fmt.Sprintf("%s (%s): %s", e.Name, e.Source, e.Message)
	}
	return e.Name + ": " + e.Message
}

// toJSError converts a rejection reason or thrown value to a Go error.
func toJSError(v js.Value) error {
	if v.IsUndefined() || v.IsNull() {
		return &jsError{Name: "Error", Message: "rejected without a reason"}
	}
	if v.Type() != js.TypeObject {
		return &jsError{Name: "Error", Message: v.String()}
	}
	e := &jsError{Name: jsString(v.Get("name")), Message: jsString(v.Get("message"))}
	if e.Name == "" {
		e.Name = "Error"
	}
	e.Source = jsString(v.Get("source"))
	return e
}

// jsString returns v as a Go string if it is a JavaScript string, else "".
func jsString(v js.Value) string {
	if v.Type() == js.TypeString {
		return v.String()
	}
	return ""
}

// jsTry runs f and turns a JavaScript exception thrown inside it (which
// syscall/js raises as a panic of js.Error) into an error. Other panics
// propagate.
func jsTry(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			je, ok := r.(js.Error)
			if !ok {
				panic(r)
			}
			err = toJSError(je.Value)
		}
	}()
	f()
	return nil
}

// jsAwait blocks the calling goroutine until the promise p settles or ctx
// ends. It must not be called from inside a js.FuncOf callback.
func jsAwait(ctx context.Context, p js.Value) (js.Value, error) {
	if p.Type() != js.TypeObject || p.Get("then").Type() != js.TypeFunction {
		return p, nil // not a promise: already a value
	}
	type result struct {
		v   js.Value
		err error
	}
	ch := make(chan result, 1) // the callbacks never block
	var onOK, onErr js.Func
	onOK = js.FuncOf(func(_ js.Value, args []js.Value) any {
		v := js.Undefined()
		if len(args) > 0 {
			v = args[0]
		}
		ch <- result{v: v}
		return nil
	})
	onErr = js.FuncOf(func(_ js.Value, args []js.Value) any {
		v := js.Undefined()
		if len(args) > 0 {
			v = args[0]
		}
		ch <- result{err: toJSError(v)}
		return nil
	})
	release := func() { onOK.Release(); onErr.Release() }
	p.Call("then", onOK, onErr)
	select {
	case r := <-ch:
		release()
		return r.v, r.err
	case <-ctx.Done():
		// The functions stay referenced by the promise until it settles.
		go func() { <-ch; release() }()
		return js.Undefined(), ctx.Err()
	}
}

// jsIgnoreRejection marks a promise as handled so that a rejection we learn
// about elsewhere (a writer's ready, a stream's closed) is not reported as
// unhandled.
func jsIgnoreRejection(p js.Value) {
	if p.Type() == js.TypeObject && p.Get("catch").Type() == js.TypeFunction {
		p.Call("catch", jsNoop)
	}
}

// jsNoop is a callback that does nothing; it lives as long as the program.
var jsNoop = js.FuncOf(func(js.Value, []js.Value) any { return nil })

// jsBytes copies b into a new Uint8Array.
func jsBytes(b []byte) js.Value {
	u := js.Global().Get("Uint8Array").New(len(b))
	js.CopyBytesToJS(u, b)
	return u
}

// goBytes copies a Uint8Array or an ArrayBuffer into dst (grown as needed)
// and returns it.
func goBytes(dst []byte, v js.Value) []byte {
	if !v.InstanceOf(js.Global().Get("Uint8Array")) {
		v = js.Global().Get("Uint8Array").New(v)
	}
	n := v.Get("byteLength").Int()
	if cap(dst) < n {
		dst = make([]byte, n)
	}
	dst = dst[:n]
	js.CopyBytesToGo(dst, v)
	return dst
}

// streamReader is an io.ReadCloser over a WHATWG ReadableStream of
// Uint8Array chunks (a WebTransport receive stream). One goroutine reads.
type streamReader struct {
	reader js.Value // ReadableStreamDefaultReader
	buf    []byte   // unread part of the last chunk
	store  []byte   // backing array reused across chunks
	err    error
	once   sync.Once
}

func newStreamReader(readable js.Value) (*streamReader, error) {
	r := &streamReader{}
	if err := jsTry(func() { r.reader = readable.Call("getReader") }); err != nil {
		return nil, err
	}
	jsIgnoreRejection(r.reader.Get("closed"))
	return r, nil
}

// Read returns bytes of the stream; io.EOF at its clean end.
func (r *streamReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		var p js.Value
		if err := jsTry(func() { p = r.reader.Call("read") }); err != nil {
			r.err = err
			continue
		}
		v, err := jsAwait(context.Background(), p)
		switch {
		case err != nil:
			r.err = err
		case v.Get("done").Truthy():
			r.err = io.EOF
		default:
			r.store = goBytes(r.store, v.Get("value"))
			r.buf = r.store
		}
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// Close cancels the stream: the sender learns we stopped reading.
func (r *streamReader) Close() error {
	r.once.Do(func() {
		_ = jsTry(func() { jsIgnoreRejection(r.reader.Call("cancel")) })
	})
	return nil
}

// errQueueFull is returned when more is queued for a stream than maxPending.
var errQueueFull = errors.New("client: send queue full")

// streamWriter is a WHATWG WritableStream writer (a WebTransport send
// stream) fed by Go. Chrome's stream writer accepts one queued write at a
// time, so frames enqueued by any goroutine are coalesced into one buffer
// that a single flushing goroutine hands to JavaScript whenever the writer
// is ready (desiredSize > 0): one write per readiness, however many frames.
type streamWriter struct {
	writer     js.Value // WritableStreamDefaultWriter
	maxPending int

	mu      sync.Mutex
	pending []byte // frames waiting to be written, line-terminated
	spare   []byte
	err     error // sticky: the stream failed or was closed
	closing bool

	wake chan struct{} // cap 1: pending has data, or closing
	done chan struct{} // closed when the flush loop has ended
}

// newStreamWriter starts the flush loop over a WritableStream.
func newStreamWriter(writable js.Value, maxPending int) (*streamWriter, error) {
	w := &streamWriter{maxPending: maxPending, wake: make(chan struct{}, 1), done: make(chan struct{})}
	if err := jsTry(func() { w.writer = writable.Call("getWriter") }); err != nil {
		return nil, err
	}
	jsIgnoreRejection(w.writer.Get("closed"))
	go w.loop()
	return w, nil
}

// Enqueue appends each frame and a line feed, in order, atomically.
func (w *streamWriter) Enqueue(frames ...[]byte) error {
	n := 0
	for _, f := range frames {
		n += len(f) + 1
	}
	w.mu.Lock()
	switch {
	case w.err != nil:
		err := w.err
		w.mu.Unlock()
		return err
	case w.closing:
		w.mu.Unlock()
		return io.ErrClosedPipe
	case len(w.pending)+n > w.maxPending:
		w.mu.Unlock()
		return errQueueFull
	}
	for _, f := range frames {
		w.pending = append(w.pending, f...)
		w.pending = append(w.pending, '\n')
	}
	w.mu.Unlock()
	w.signal()
	return nil
}

func (w *streamWriter) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// fail records the first error; later Enqueues return it.
func (w *streamWriter) fail(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.pending = w.pending[:0]
	w.mu.Unlock()
}

func (w *streamWriter) loop() {
	defer close(w.done)
	for range w.wake {
		for {
			w.mu.Lock()
			if w.err != nil {
				w.mu.Unlock()
				return
			}
			buf := w.pending
			closing := w.closing
			w.pending, w.spare = w.spare[:0], nil
			w.mu.Unlock()
			if len(buf) == 0 {
				if closing {
					_ = jsTry(func() { jsIgnoreRejection(w.writer.Call("close")) })
					w.fail(io.ErrClosedPipe)
					return
				}
				w.mu.Lock()
				w.spare = buf
				w.mu.Unlock()
				break
			}
			if _, err := jsAwait(context.Background(), w.writer.Get("ready")); err != nil {
				w.fail(err)
				return
			}
			err := jsTry(func() { jsIgnoreRejection(w.writer.Call("write", jsBytes(buf))) })
			if err != nil {
				w.fail(err)
				return
			}
			w.mu.Lock()
			if w.spare == nil {
				w.spare = buf[:0]
			}
			w.mu.Unlock()
		}
	}
}

// Close flushes what is queued and then ends the stream.
func (w *streamWriter) Close() {
	w.mu.Lock()
	w.closing = true
	w.mu.Unlock()
	w.signal()
}

// Abort ends the stream at once, dropping what is queued.
func (w *streamWriter) Abort(err error) {
	w.fail(err)
	w.signal()
	_ = jsTry(func() { jsIgnoreRejection(w.writer.Call("abort")) })
}

// jsTruncUTF8 shortens s to at most n bytes without splitting a character.
func jsTruncUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
