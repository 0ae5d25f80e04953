package client

import (
	"bytes"
	"context"
	"errors"
	"sync"

	"parley/protocol"
)

// session is one Conn with its reader, writer and datagram reader. Its
// queued frames and resume state are guarded by Client.mu.
type session struct {
	c    *Client
	conn Conn
	gen  int64

	ctx    context.Context // ends when the session does
	cancel context.CancelFunc

	out  [][]byte // control frames waiting for the writer
	wake chan struct{}

	// barrier counts the resume requests not yet answered; while it is
	// positive, events are held (in stream order) and flushed when it
	// reaches zero, so that messages re-sent with their nonce are
	// recognised in the resumed history.
	barrier int
	held    []*protocol.Frame
	// gates hold the events of conversations being caught up by paging.
	gates map[string][]*protocol.Frame
	// doomed: a resume request failed and the session is being ended so
	// that the next one resumes again; its events are dropped, not
	// delivered past what was missed.
	doomed bool

	failOnce sync.Once
	err      error // set before ctx is cancelled

	goMu    sync.Mutex
	stopped bool // no goroutine may start any more
	wg      sync.WaitGroup
}

// spawn runs f in a goroutine tracked by the session, unless the session
// is being torn down.
func (s *session) spawn(f func()) bool {
	s.goMu.Lock()
	defer s.goMu.Unlock()
	if s.stopped {
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
	return true
}

// wait waits for every goroutine of the session; the session must have failed.
func (s *session) wait() {
	s.goMu.Lock()
	s.stopped = true
	s.goMu.Unlock()
	s.wg.Wait()
}

func (c *Client) newSession(conn Conn) *session {
	ctx, cancel := context.WithCancel(c.ctx)
	c.mu.Lock()
	c.gen++
	s := &session{c: c, conn: conn, gen: c.gen, ctx: ctx, cancel: cancel, wake: make(chan struct{}, 1), gates: map[string][]*protocol.Frame{}}
	c.mu.Unlock()
	s.spawn(s.readLoop)
	s.spawn(s.writeLoop)
	s.spawn(s.datagramLoop)
	if p, ok := conn.(pinger); ok && c.cfg.PingEvery > 0 {
		s.spawn(func() { s.pingLoop(p, c.cfg.PingEvery) })
	}
	return s
}

// fail ends the session with err (the first error wins) and closes the Conn.
func (s *session) fail(err error) {
	s.failOnce.Do(func() {
		s.err = err
		s.cancel()
		_ = s.conn.Close(0, "")
	})
}

// close ends the session on purpose with a close code.
func (s *session) close(code protocol.CloseCode, reason string) {
	s.failOnce.Do(func() {
		s.err = ErrClosed
		s.cancel()
		_ = s.conn.Close(code, reason)
	})
}

// enqueueLocked queues a control frame for the writer. c.mu is held.
func (s *session) enqueueLocked(frame []byte) {
	s.out = append(s.out, frame)
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *session) writeLoop() {
	for {
		select {
		case <-s.wake:
		case <-s.ctx.Done():
			return
		}
		s.c.mu.Lock()
		frames := s.out
		s.out = nil
		s.c.mu.Unlock()
		if len(frames) == 0 {
			continue
		}
		if err := s.conn.Send(frames...); err != nil {
			s.fail(err)
			return
		}
	}
}

func (s *session) readLoop() {
	for {
		data, binary, err := s.conn.Recv()
		if err != nil {
			s.fail(err)
			return
		}
		if binary {
			s.c.binaryAnswer(s, data)
			continue
		}
		f, err := protocol.Decode(data)
		if f == nil {
			s.c.log.Warn("bad frame from server", "err", err)
			continue
		}
		switch {
		case f.ID > 0 && (f.Type == protocol.TypeOK || f.Type == protocol.TypeErr):
			s.c.answer(s, f, nil)
		case f.Type == protocol.TypeErr:
			s.c.emit(Event{Kind: EventError, Err: &protocol.Error{Code: f.Code, Message: f.Message}})
		default:
			s.c.mu.Lock()
			s.c.eventLocked(s, f)
			s.c.mu.Unlock()
		}
	}
}

func (s *session) datagramLoop() {
	for {
		b, err := s.conn.RecvDatagram(s.ctx)
		if err != nil {
			return
		}
		f, err := protocol.Decode(bytes.TrimSuffix(b, []byte("\n")))
		if err != nil || f.Type != protocol.TypeTyping {
			continue
		}
		s.c.mu.Lock()
		s.c.eventLocked(s, f)
		s.c.mu.Unlock()
	}
}

// errSessionLost fails requests tied to a session that ended.
var errSessionLost = errors.New("client: session lost")
