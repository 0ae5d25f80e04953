//go:build js && wasm

package client

import (
	"context"
	"errors"
	"io"
	"sync"
	"syscall/js"
	"unicode/utf8"

	"parley/internal/jsinterop"
)

// This file adapts the browser's streams to Go (streamReader,
// streamWriter). The promise, exception and byte helpers are
// internal/jsinterop's; the short names below keep the transports terse.
// The one rule of syscall/js: a js.FuncOf callback must never block (the
// JavaScript event loop that would unblock it is the one running it), so
// callbacks here only send on buffered channels or append to a queue under
// a mutex that is never held across a JavaScript call that can wait.

// jsString returns v as a Go string if it is a JavaScript string, else "".
func jsString(v js.Value) string { return jsinterop.String(v) }

// jsTry runs f and returns a JavaScript exception thrown inside it as an
// error (a *jsinterop.Error); other panics propagate.
func jsTry(f func()) error { return jsinterop.Try(f) }

// jsAwait blocks the calling goroutine until the promise p settles or ctx
// ends. It must not be called from inside a js.FuncOf callback.
func jsAwait(ctx context.Context, p js.Value) (js.Value, error) { return jsinterop.Await(ctx, p) }

// jsIgnoreRejection marks a promise as handled so that a rejection we learn
// about elsewhere (a writer's ready, a stream's closed) is not reported as
// unhandled.
func jsIgnoreRejection(p js.Value) { jsinterop.IgnoreRejection(p) }

// jsBytes copies b into a new Uint8Array.
func jsBytes(b []byte) js.Value { return jsinterop.Uint8Array(b) }

// goBytes copies a Uint8Array or an ArrayBuffer into dst (grown as needed)
// and returns it.
func goBytes(dst []byte, v js.Value) []byte { return jsinterop.Bytes(dst, v) }

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
