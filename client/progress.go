package client

import (
	"io"
	"sync"
)

// ImageOption adjusts one SendImage call.
type ImageOption func(*imageOpts)

type imageOpts struct {
	progress func(sent, total int64)
}

// WithProgress makes SendImage call f as the image's bytes are written to
// the transport: sent counts the bytes of the body handed to the
// transport so far (not just read from the caller), total is the image's
// size. f is called from the upload's goroutine, in increasing order of
// sent within one attempt; after a reconnect the upload is sent again and
// sent starts over from 0. The last call of a successful upload has
// sent == total. f must not block.
func WithProgress(f func(sent, total int64)) ImageOption {
	return func(o *imageOpts) { o.progress = f }
}

// progressReport passes an upload's progress on to the caller's function:
// per attempt, increasing; a new attempt (after a reconnect) starts at 0
// again; nothing is reported after finish.
type progressReport struct {
	f        func(sent, total int64)
	mu       sync.Mutex
	last     int64
	finished bool
}

// report is the request's progress hook.
func (p *progressReport) report(sent, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.finished || (sent != 0 && sent <= p.last) {
		return
	}
	p.last = sent
	p.f(sent, total)
}

// finish reports the whole image sent (the server acknowledged it).
func (p *progressReport) finish(total int64) {
	if p == nil {
		return
	}
	p.report(total, total)
	p.mu.Lock()
	p.finished = true
	p.mu.Unlock()
}

// writtenReader feeds an upload's body to a transport and reports how much
// of it the transport has written. A transport copies the body in a loop
// (read a chunk, write it, read the next), so when it asks for more, the
// bytes it read before are written; the last chunk is reported by done,
// once the transport returned.
type writtenReader struct {
	r       io.Reader
	total   int64
	read    int64 // bytes returned by Read so far
	written int64 // bytes reported as written
	report  func(sent, total int64)
}

func newWrittenReader(r io.Reader, total int64, report func(sent, total int64)) *writtenReader {
	w := &writtenReader{r: r, total: total, report: report}
	report(0, total)
	return w
}

func (w *writtenReader) Read(p []byte) (int, error) {
	if w.read > w.written {
		w.written = w.read
		w.report(w.written, w.total)
	}
	n, err := w.r.Read(p)
	w.read += int64(n)
	return n, err
}

// done reports the whole body written (the transport returned without error).
func (w *writtenReader) done() {
	if w.read > w.written {
		w.written = w.read
		w.report(w.written, w.total)
	}
}
