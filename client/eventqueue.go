package client

import (
	"strconv"
	"sync"
)

// eventQueue delivers events in order without ever blocking the producer:
// push appends to a bounded slice and one pump goroutine moves events to
// the out channel.
type eventQueue struct {
	out chan Event

	mu      sync.Mutex
	buf     []Event
	max     int
	dropped int
	closed  bool
	wake    chan struct{}
	done    chan struct{}
}

func newEventQueue(max int) *eventQueue {
	q := &eventQueue{out: make(chan Event), max: max, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go q.pump()
	return q
}

// push queues ev. Past max queued events the oldest is dropped.
func (q *eventQueue) push(ev Event) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	if len(q.buf) >= q.max {
		q.buf = q.buf[1:]
		q.dropped++
	}
	q.buf = append(q.buf, ev)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// close stops the queue: out is closed and events not yet delivered, or
// pushed afterwards, are dropped.
func (q *eventQueue) close() {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.done)
	}
	q.mu.Unlock()
}

func (q *eventQueue) pump() {
	defer close(q.out)
	for {
		q.mu.Lock()
		if q.dropped > 0 {
			n := q.dropped
			q.dropped = 0
			q.buf = append([]Event{{Kind: EventError, Err: &droppedError{n}}}, q.buf...)
		}
		if len(q.buf) == 0 {
			closed := q.closed
			q.mu.Unlock()
			if closed {
				return
			}
			select {
			case <-q.wake:
			case <-q.done:
			}
			continue
		}
		if q.closed {
			q.mu.Unlock()
			return
		}
		ev := q.buf[0]
		q.buf[0] = Event{}
		q.buf = q.buf[1:]
		q.mu.Unlock()
		select {
		case q.out <- ev:
		case <-q.done:
			return
		}
	}
}

// droppedError reports events dropped because nobody read Events.
type droppedError struct{ n int }

func (e *droppedError) Error() string {
	return "client: " + strconv.Itoa(e.n) + " events dropped because Events was not read"
}
