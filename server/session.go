package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"parley/protocol"
)

// Session close codes as used inside the package.
const (
	closeShutdown = protocol.CloseShutdown
)

// closeGrace is how long a session closed for a protocol error waits for
// the client to read the err frame before the session is closed.
const closeGrace = time.Second

// maxBatchBytes bounds one stream write of coalesced frames.
const maxBatchBytes = 256 << 10

// session is one client session. Its reader goroutine (runSession's own)
// reads and handles control frames and owns the writer goroutine, which
// drains the bounded queue. Stream acceptors and upload/fetch handlers are
// further tracked goroutines; runSession waits for all of them.
type session struct {
	srv *Server
	c   conn
	id  uint64
	log *slog.Logger

	queue   *outQueue     // encoded frames for the writer
	closing chan struct{} // closed by close
	done    chan struct{} // closed when the session has fully ended

	closeOnce sync.Once
	closeCode protocol.CloseCode
	wantCode  atomic.Uint32 // close code requested by a graceful close

	wg sync.WaitGroup // every goroutine of the session but the reader

	ctx    context.Context // ends when the session closes
	cancel context.CancelFunc

	// Reader-owned.
	state      int // stateNew, stateChallenged, stateReady
	challenge  []byte
	pendName   string
	pendPub    []byte
	failed     bool // a protocol error: discard further frames
	nonceGiven bool // the current request has a nonce member
	rooms      map[*room]struct{}
	limiter    *rate.Limiter
	limited    int // rate_limited answers in a row

	user  atomic.Pointer[user] // set once hello (and auth) completed
	owner string               // nonce owner, set with user

	pending  atomic.Int64  // say answers not yet queued (waiting for the store)
	answered chan struct{} // signalled when one of them is queued

	// Draining (graceful shutdown): once draining is set no request is
	// started; reqs counts the requests started (control requests being
	// handled, uploads and fetches), so drain waits for them.
	drainMu  sync.Mutex
	draining bool
	reqs     sync.WaitGroup

	lastWrite time.Time // writer-owned: when the writer last wrote frames
}

const (
	stateNew = iota
	stateChallenged
	stateReady
)

var sessionIDs atomic.Uint64

// runSession serves one session until it ends. It is called by a
// transport adapter in the goroutine that accepted the session.
func (s *Server) runSession(c conn) {
	ss := &session{
		srv:      s,
		c:        c,
		id:       sessionIDs.Add(1),
		queue:    newOutQueue(s.cfg.QueueSize, s.cfg.QueueBytes),
		closing:  make(chan struct{}),
		done:     make(chan struct{}),
		rooms:    make(map[*room]struct{}),
		limiter:  newLimiter(s.cfg.Rate, s.cfg.Burst),
		answered: make(chan struct{}, 1),
	}
	ss.log = s.log.With("session", ss.id, "transport", c.Kind(), "remote", c.RemoteAddr())
	ss.ctx, ss.cancel = context.WithCancel(context.Background())
	defer close(ss.done)
	if !s.addSession(ss) {
		s.metrics.rejected.Add(1)
		c.Close(protocol.CloseShutdown, "server shutting down")
		<-c.Done()
		return
	}
	s.metrics.sessionsT.Add(1)
	ss.log.Debug("session opened")

	ss.goSafe(ss.writer)
	ss.goSafe(ss.acceptUploads)
	ss.goSafe(ss.acceptFetches)
	if c.Datagrams() {
		ss.goSafe(ss.readDatagrams)
	}
	hello := time.AfterFunc(s.cfg.HelloTimeout, func() {
		if ss.user.Load() == nil {
			ss.close(protocol.CloseHelloTimeout, "no hello in time")
		}
	})

	ss.safe(ss.reader)

	hello.Stop()
	if ss.wantCode.Load() != 0 {
		// A protocol error: the writer flushes the err frame, ends the
		// control stream and closes the session after the grace period.
		t := time.NewTimer(2 * closeGrace)
		select {
		case <-ss.closing:
		case <-t.C:
		}
		t.Stop()
	}
	ss.close(protocol.CloseCode(ss.wantCode.Load()), "")
	ss.cancel()
	ss.wg.Wait()
	<-c.Done()
	ss.leaveAll()
	s.removeSession(ss)
	ss.log.Debug("session closed", "code", uint32(ss.closeCode))
}

// goSafe runs f in a tracked goroutine of the session, recovering a panic.
func (ss *session) goSafe(f func()) {
	ss.wg.Add(1)
	go func() {
		defer ss.wg.Done()
		ss.safe(f)
	}()
}

// safe runs f; a panic is logged, counted and closes the session (the
// last resort: nothing from the network should panic).
func (ss *session) safe(f func()) {
	defer func() {
		if v := recover(); v != nil {
			ss.srv.metrics.panics.Add(1)
			ss.log.Error("panic in session", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			ss.close(protocol.CloseProtocolError, "internal error")
		}
	}()
	f()
}

// close ends the session with code (0: the peer went away). Safe to call
// from any goroutine, more than once.
func (ss *session) close(code protocol.CloseCode, reason string) {
	ss.closeOnce.Do(func() {
		ss.closeCode = code
		close(ss.closing)
		ss.queue.signal() // the writer waits on the queue alone
		if code != 0 {
			ss.srv.metrics.closed(code)
			ss.log.Debug("closing session", "code", uint32(code), "reason", reason)
		}
		ss.c.Close(code, reason)
		if ss.cancel != nil {
			ss.cancel()
		}
	})
}

// closeGracefully asks the writer to flush what is queued, end the control
// stream and close the session with code once the client had time to read.
func (ss *session) closeGracefully(code protocol.CloseCode) {
	if ss.wantCode.CompareAndSwap(0, uint32(code)) {
		ss.queue.closeAfter()
	}
}

// send queues an encoded frame for the writer. A full queue means the
// client does not keep up: it is closed with 4001 and nobody waits.
func (ss *session) send(frame []byte) bool {
	select {
	case <-ss.closing:
		return false
	default:
	}
	if ss.queue.push(frame) {
		return true
	}
	ss.srv.metrics.drop("queue_full")
	ss.close(protocol.CloseTooSlow, "outbound queue full")
	return false
}

// writer drains the queue, writing what accumulated with as few stream
// writes as maxBatchBytes allows.
func (ss *session) writer() {
	var frames [][]byte
	for {
		// One channel, not a select with closing: this wait is once per
		// delivery on a quiet room, and close signals the queue too.
		<-ss.queue.ready
		select {
		case <-ss.closing:
			return
		default:
		}
		var size int
		var graceful bool
		// frames keeps its backing array from wake-up to wake-up (rest
		// walks through it), so a steady stream of frames allocates nothing.
		frames, size, graceful = ss.queue.take(frames)
		for rest := frames; len(rest) > 0; {
			n, b := 0, 0
			for n < len(rest) && (n == 0 || b+len(rest[n]) <= maxBatchBytes) {
				b += len(rest[n])
				n++
			}
			if err := ss.c.WriteFrames(rest[:n]); err != nil {
				ss.close(protocol.CloseCode(ss.wantCode.Load()), "")
				return
			}
			rest = rest[n:]
		}
		if len(frames) > 0 {
			ss.lastWrite = time.Now()
		}
		clear(frames) // do not keep written frames alive
		if cap(frames) > 4096 {
			frames = nil // let a burst's buffer go
		}
		ss.srv.metrics.bytesOut.Add(int64(size))
		if graceful {
			ss.c.CloseControl()
			// Closing the session resets its streams: give the client
			// closeGrace after the last write to read it (a session that
			// wrote nothing lately has nothing unread and closes at once).
			wait := closeGrace - time.Since(ss.lastWrite)
			if ss.lastWrite.IsZero() || wait < 0 {
				wait = 0
			}
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ss.closing:
			case <-ss.c.Done():
			}
			t.Stop()
			reason := "protocol error"
			if protocol.CloseCode(ss.wantCode.Load()) == protocol.CloseShutdown {
				reason = "server shutting down"
			}
			ss.close(protocol.CloseCode(ss.wantCode.Load()), reason)
			return
		}
	}
}

// reader reads and handles control messages until the session ends.
func (ss *session) reader() {
	for {
		text, upload, err := ss.c.ReadControl(ss.ctx)
		if err != nil {
			if errors.Is(err, protocol.ErrFrameTooLarge) && !ss.failed {
				ss.srv.metrics.bytesIn.Add(int64(len(text)))
				_, derr := protocol.Decode(text)
				ss.protocolError(derr)
				if _, ok := ss.c.(*wsConn); ok {
					return // the rest of the message cannot be skipped
				}
				continue
			}
			return
		}
		if ss.failed || !ss.begin() {
			// A protocol error, or draining: read, not answered.
			if upload != nil {
				io.Copy(io.Discard, upload)
			}
			continue
		}
		if upload != nil {
			ss.wsUpload(upload)
			ss.reqs.Done()
			continue
		}
		ss.srv.metrics.bytesIn.Add(int64(len(text)) + 1)
		ss.handle(text)
		ss.reqs.Done()
	}
}

// begin starts a request (a control frame, an upload or a fetch): false
// once the session drains. A true begin is paired with ss.reqs.Done.
func (ss *session) begin() bool {
	ss.drainMu.Lock()
	defer ss.drainMu.Unlock()
	if ss.draining {
		return false
	}
	ss.reqs.Add(1)
	return true
}

// drain ends the session for a graceful shutdown: it starts no further
// request, lets the requests started finish (their store callbacks and
// answers included), then has the writer flush every queued frame, end
// the control stream and close with 4002 once the client could read it.
// The server closes the session outright if its shutdown context ends
// first (which also ends the waits here).
func (ss *session) drain() {
	ss.drainMu.Lock()
	ss.draining = true
	ss.drainMu.Unlock()
	ss.reqs.Wait()
	ss.waitPending()
	ss.closeGracefully(protocol.CloseShutdown)
}

// protocolError answers err (with the request's id if one could be read)
// and closes the session with 4000 once the client could read it.
func (ss *session) protocolError(err error) {
	var pe *protocol.Error
	if !errors.As(err, &pe) {
		pe = &protocol.Error{Code: protocol.CodeBadRequest, Message: "malformed frame"}
	}
	ss.failed = true
	ss.waitPending()
	ss.srv.metrics.errored(pe.Code)
	ss.sendFrame(pe.Frame())
	ss.closeGracefully(protocol.CloseProtocolError)
}

// waitPending waits until every say answered asynchronously has been
// queued, so that control requests are answered in the order they came.
func (ss *session) waitPending() {
	for ss.pending.Load() > 0 {
		select {
		case <-ss.answered:
		case <-ss.closing:
			return
		}
	}
}

// asyncDone marks one asynchronous answer as queued.
func (ss *session) asyncDone() {
	ss.pending.Add(-1)
	select {
	case ss.answered <- struct{}{}:
	default:
	}
}

// sendFrame encodes and queues a frame.
func (ss *session) sendFrame(f *protocol.Frame) {
	b, err := protocol.Encode(f)
	if err != nil {
		ss.log.Error("encode", "type", f.Type, "err", err)
		b, _ = protocol.Encode(&protocol.Frame{Type: protocol.TypeErr, ID: f.ID, Code: protocol.CodeInternal, Message: "answer too large"})
	}
	ss.send(b)
}

// reply answers a control request in order (the reader's answers).
func (ss *session) reply(f *protocol.Frame) {
	ss.waitPending()
	ss.sendFrame(f)
}

// fail answers a request with an error (in order, from the reader).
func (ss *session) fail(id int64, err error) {
	ss.waitPending()
	ss.sendErr(id, err)
}

// sendErr queues an err frame for err (internal unless it is a *protocol.Error).
func (ss *session) sendErr(id int64, err error) {
	var pe *protocol.Error
	if !errors.As(err, &pe) {
		ss.log.Error("request failed", "id", id, "err", err)
		pe = &protocol.Error{Code: protocol.CodeInternal, Message: "the server failed; nothing was done"}
	}
	ss.srv.metrics.errored(pe.Code)
	ss.sendFrame(&protocol.Frame{Type: protocol.TypeErr, ID: id, Code: pe.Code, Message: pe.Message})
}

// allow applies the session's rate limit to one request. Persistent abuse
// closes the session with 4005.
func (ss *session) allow() bool {
	if ss.limiter.Allow() {
		ss.limited = 0
		return true
	}
	ss.limited++
	ss.srv.metrics.rateLimit.Add(1)
	if lim := ss.srv.cfg.AbuseLimit; lim > 0 && ss.limited >= lim {
		ss.close(protocol.CloseRateLimit, "rate limit exceeded")
	}
	return false
}

// leaveAll takes a closed session out of its rooms and its user.
func (ss *session) leaveAll() {
	for r := range ss.rooms {
		ss.srv.hub.leave(ss, r)
	}
	u := ss.user.Load()
	if u == nil {
		return
	}
	for _, d := range ss.srv.hub.removeSession(ss, u) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		// An earlier drop of the pair first, then the posts still using
		// the conversation (so that no Append lands after DropConv).
		for _, ch := range []chan struct{}{d.prev, d.idle} {
			if ch != nil {
				select {
				case <-ch:
				case <-ctx.Done():
				}
			}
		}
		if err := ss.srv.store.DropConv(ctx, d.id); err != nil {
			ss.log.Warn("drop guest conversation", "err", err)
		}
		cancel()
		ss.srv.hub.finishDrop(d)
	}
}

// protocolErrorAsync is protocolError from a goroutine other than the
// reader (a malformed upload header).
func (ss *session) protocolErrorAsync(err error) {
	var pe *protocol.Error
	if !errors.As(err, &pe) {
		pe = &protocol.Error{Code: protocol.CodeBadRequest, Message: "malformed frame"}
	}
	ss.srv.metrics.errored(pe.Code)
	ss.sendFrame(pe.Frame())
	ss.closeGracefully(protocol.CloseProtocolError)
}
