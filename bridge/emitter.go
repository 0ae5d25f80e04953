package bridge

import (
	"sync"
	"time"
)

// Batching defaults: events are delivered at most every DefaultFlushEvery,
// or as soon as DefaultMaxBatch are waiting; at most MaxPendingEvents wait
// (past it the oldest are dropped and a notice says so).
const (
	DefaultFlushEvery = 100 * time.Millisecond
	DefaultMaxBatch   = 200
	MaxPendingEvents  = 50_000
)

// emitter batches events for the shell's Emit hook: one goroutine calls
// Emit, in order, never while a lock of the Bridge is held.
type emitter struct {
	emit func(name string, data any)
	// observe, if set before the first push, sees every event pushed, in
	// the pusher's goroutine (the history cache).
	observe func([]Event)
	every   time.Duration
	max     int

	mu      sync.Mutex
	queue   []Event
	dropped int
	closed  bool
	wake    chan struct{} // a batch is full, or closing
	kick    chan struct{} // the queue went from empty to non-empty
	done    chan struct{}
}

func newEmitter(emit func(string, any), every time.Duration, max int) *emitter {
	if every <= 0 {
		every = DefaultFlushEvery
	}
	if max <= 0 {
		max = DefaultMaxBatch
	}
	if emit == nil {
		emit = func(string, any) {}
	}
	e := &emitter{emit: emit, every: every, max: max, wake: make(chan struct{}, 1), kick: make(chan struct{}, 1), done: make(chan struct{})}
	go e.run()
	return e
}

// push queues events; it never blocks on the shell.
func (e *emitter) push(evs ...Event) {
	if len(evs) == 0 {
		return
	}
	if e.observe != nil {
		e.observe(evs)
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	was := len(e.queue)
	e.queue = append(e.queue, evs...)
	if over := len(e.queue) - MaxPendingEvents; over > 0 {
		// Drop the oldest, a tenth of the limit at a time so that a flood
		// does not copy the queue on every push.
		over += MaxPendingEvents / 10
		e.queue = append(e.queue[:0:0], e.queue[over:]...)
		e.dropped += over
	}
	n := len(e.queue)
	e.mu.Unlock()
	if was == 0 {
		signal(e.kick)
	}
	if n >= e.max {
		signal(e.wake)
	}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func (e *emitter) run() {
	defer close(e.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-e.kick:
			// Wait up to one period for more, unless a batch fills first.
			timer.Reset(e.every)
			select {
			case <-timer.C:
			case <-e.wake:
				timer.Stop() // Go ≥ 1.23: no stale tick is delivered after Stop
			}
		case <-e.wake:
		}
		if !e.flush() {
			return
		}
	}
}

// flush delivers what is queued in batches of at most max; it returns
// false once the emitter is closed and drained.
func (e *emitter) flush() bool {
	for {
		e.mu.Lock()
		if len(e.queue) == 0 {
			closed := e.closed
			e.mu.Unlock()
			return !closed
		}
		n := min(len(e.queue), e.max)
		batch := make([]Event, n)
		copy(batch, e.queue)
		e.queue = e.queue[n:]
		if len(e.queue) == 0 {
			e.queue = nil
		}
		dropped := e.dropped
		e.dropped = 0
		e.mu.Unlock()
		if dropped > 0 {
			batch = append([]Event{{Kind: EvNotice, Level: "warn", Text: "Some updates were skipped because the window was too busy."}}, batch...)
		}
		e.emit(EventName, batch)
	}
}

// close delivers what is queued and stops the goroutine.
func (e *emitter) close() {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		<-e.done
		return
	}
	e.closed = true
	e.mu.Unlock()
	signal(e.wake)
	<-e.done
}
