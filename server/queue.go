package server

import "sync"

// outQueue is a session's bounded outbound queue of encoded frames. It
// grows on demand (an idle session holds no buffer) up to maxFrames frames
// and maxBytes bytes; push never blocks, and fails when the bound would be
// passed. One writer drains it with take.
type outQueue struct {
	maxFrames, maxBytes int

	mu       sync.Mutex
	frames   [][]byte
	bytes    int
	graceful bool          // a graceful close was asked: after the queued frames
	ready    chan struct{} // capacity 1: something was pushed
}

func newOutQueue(maxFrames, maxBytes int) *outQueue {
	return &outQueue{maxFrames: maxFrames, maxBytes: maxBytes, ready: make(chan struct{}, 1)}
}

// push queues a frame; false means the queue is full.
func (q *outQueue) push(f []byte) bool {
	q.mu.Lock()
	if len(q.frames) >= q.maxFrames || q.bytes+len(f) > q.maxBytes {
		q.mu.Unlock()
		return false
	}
	q.frames = append(q.frames, f)
	q.bytes += len(f)
	q.mu.Unlock()
	q.signal()
	return true
}

// closeAfter asks the writer to close gracefully once the queued frames are written.
func (q *outQueue) closeAfter() {
	q.mu.Lock()
	q.graceful = true
	q.mu.Unlock()
	q.signal()
}

func (q *outQueue) signal() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// take moves the queued frames into buf (reused by the writer) and
// reports whether a graceful close follows them.
func (q *outQueue) take(buf [][]byte) ([][]byte, int, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := append(buf[:0], q.frames...)
	n := q.bytes
	clear(q.frames)
	if cap(q.frames) > 4096 {
		q.frames = nil // let a burst's buffer go
	} else {
		q.frames = q.frames[:0]
	}
	q.bytes = 0
	return out, n, q.graceful
}

// len returns the number of queued frames.
func (q *outQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.frames)
}
