package client

import (
	"bytes"
	"context"
	"errors"
	"io"

	"parley/protocol"
)

// request is one request waiting for its answer.
type request struct {
	id    int64
	frame []byte // JSON text of the control frame, or of the upload header
	// upload, for an image: the bytes that follow the header on its stream.
	upload []byte
	// progress, for an upload: told how much of it was written (may be nil).
	progress func(sent, total int64)
	// binary: the answer is a binary message (a fetch on the control channel).
	binary bool
	// resend: the request survives a lost session and is sent again on the
	// next one (user requests). Otherwise it fails with errSessionLost.
	resend bool
	// onAnswer runs in the reader goroutine with c.mu held, in stream order,
	// before the waiter is woken. It may be nil.
	onAnswer func(s *session, f *protocol.Frame)
	// onErr runs like onAnswer for an err answer (internal requests only).
	// It may be nil.
	onErr func(s *session, e *protocol.Error)
	// gen is the session the request was last sent on (0: not sent yet).
	gen int64
	// abandoned: the caller stopped waiting after the request was sent; it
	// stays registered only to route its answer, and is not re-sent.
	abandoned bool
	// inBarrier: its answer counts down the session's resume barrier.
	inBarrier bool

	done chan answer
}

type answer struct {
	f    *protocol.Frame
	data []byte // binary answer body
	err  error
}

type reqOpts struct {
	resend   bool
	binary   bool
	upload   []byte
	progress func(sent, total int64)
	onAnswer func(s *session, f *protocol.Frame)
	// on: send only on this session (internal requests); nil: the live one,
	// waiting for it while reconnecting.
	on *session
}

// do sends f as a request and waits for its answer. An err answer is
// returned as a *protocol.Error.
func (c *Client) do(ctx context.Context, f *protocol.Frame, o reqOpts) (answer, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return answer{}, ErrClosed
	}
	c.nextID++
	f.ID = c.nextID
	b, err := protocol.Encode(f)
	if err != nil {
		c.mu.Unlock()
		return answer{}, err
	}
	r := &request{id: f.ID, frame: b[:len(b)-1], upload: o.upload, progress: o.progress, binary: o.binary, resend: o.resend, onAnswer: o.onAnswer, done: make(chan answer, 1)}
	c.pending[r.id] = r
	switch {
	case o.on != nil:
		if o.on.ctx.Err() != nil {
			delete(c.pending, r.id)
			c.mu.Unlock()
			return answer{}, errSessionLost
		}
		c.sendLocked(o.on, r)
	case c.live != nil:
		c.sendLocked(c.live, r)
	}
	c.mu.Unlock()

	var lost <-chan struct{} // the session an internal request is tied to ends
	if o.on != nil {
		lost = o.on.ctx.Done()
	}
	select {
	case a := <-r.done:
		return a, a.err
	case <-lost:
		// Nobody would answer: a hello on a session that died before its
		// answer would otherwise wait for ctx (15 s) before reconnecting.
		c.mu.Lock()
		delete(c.pending, r.id)
		c.mu.Unlock()
		select {
		case a := <-r.done: // answered meanwhile
			return a, a.err
		default:
		}
		return answer{}, errSessionLost
	case <-ctx.Done():
		c.mu.Lock()
		if _, ok := c.pending[r.id]; ok {
			if r.gen != 0 && c.live != nil && r.gen == c.live.gen {
				r.abandoned = true // in flight: keep it to route the answer
			} else {
				delete(c.pending, r.id)
			}
		}
		c.mu.Unlock()
		select {
		case a := <-r.done: // answered meanwhile
			return a, a.err
		default:
		}
		return answer{}, ctx.Err()
	}
}

// sendLocked sends r on s: control frames through the writer, uploads on
// their own stream. c.mu is held.
func (c *Client) sendLocked(s *session, r *request) {
	r.gen = s.gen
	if r.upload == nil {
		s.enqueueLocked(r.frame)
		return
	}
	s.spawn(func() {
		var body io.Reader = bytes.NewReader(r.upload)
		var wr *writtenReader
		if r.progress != nil {
			wr = newWrittenReader(body, int64(len(r.upload)), r.progress)
			body = wr
		}
		err := s.conn.Upload(s.ctx, r.frame, body, int64(len(r.upload)))
		if err == nil && wr != nil {
			wr.done()
		}
		if err != nil && s.ctx.Err() == nil {
			// The stream failed but the session lives: the server will
			// answer the request (an error) or never see it; fail it now.
			c.answer(s, &protocol.Frame{Type: protocol.TypeErr, ID: r.id}, err)
		}
	})
}

// answer routes an answer (or a local failure err) to its request.
func (c *Client) answer(s *session, f *protocol.Frame, err error) {
	c.mu.Lock()
	r, ok := c.pending[f.ID]
	if !ok || r.gen != s.gen {
		c.mu.Unlock()
		return
	}
	delete(c.pending, f.ID)
	var a answer
	switch {
	case err != nil:
		a.err = err
	case f.Type == protocol.TypeErr:
		e := &protocol.Error{Code: f.Code, Message: f.Message, ID: f.ID}
		a.err, a.f = e, f
		if r.onErr != nil {
			r.onErr(s, e)
		}
	default:
		a.f = f
		if r.onAnswer != nil {
			r.onAnswer(s, f)
		}
	}
	if r.inBarrier {
		c.barrierDoneLocked(s)
	}
	c.mu.Unlock()
	r.done <- a
}

// binaryAnswer routes a binary message (a fetch answer on the control
// channel): a header line carrying the request's id, a line feed, the bytes.
func (c *Client) binaryAnswer(s *session, data []byte) {
	i := bytes.IndexByte(data, '\n')
	if i < 0 {
		c.log.Warn("binary message without header line")
		return
	}
	f, err := protocol.Decode(data[:i])
	if f == nil || f.ID <= 0 {
		c.log.Warn("binary message with a bad header", "err", err)
		return
	}
	body := data[i+1:]
	if f.Type == protocol.TypeImage && f.Size != int64(len(body)) {
		c.answer(s, f, errors.New("client: fetch answer size differs from its header"))
		return
	}
	c.mu.Lock()
	r, ok := c.pending[f.ID]
	if !ok || r.gen != s.gen || !r.binary {
		c.mu.Unlock()
		return
	}
	delete(c.pending, f.ID)
	c.mu.Unlock()
	r.done <- answer{f: f, data: body}
}

// sessionEndedLocked fails the requests tied to s and keeps the others for
// the next session. c.mu is held.
func (c *Client) sessionEndedLocked(s *session) {
	for id, r := range c.pending {
		if r.gen != s.gen && r.gen != 0 {
			continue
		}
		if r.gen == 0 && r.resend {
			continue // not sent yet: goes out on the next session
		}
		if r.resend && !r.abandoned {
			r.gen = 0
			continue
		}
		delete(c.pending, id)
		r.done <- answer{err: errSessionLost}
	}
}
