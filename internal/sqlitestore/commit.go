package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"modernc.org/sqlite"

	"parley/protocol"
	"parley/server"
)

// item is one queued write: an append (m set) or another write (op set).
type item struct {
	m    *server.Message
	op   func(b *batch) error
	done func(error)
	err  error
}

// itemError fails one item of a batch without failing the others.
type itemError struct{ err error }

func (e *itemError) Error() string { return e.err.Error() }
func (e *itemError) Unwrap() error { return e.err }

// itemErrorf makes an itemError.
func itemErrorf(format string, args ...any) error {
	return &itemError{fmt.Errorf(format, args...)}
}

// isItemError reports whether err concerns only the item that met it: an
// itemError or a constraint violation (SQLite undoes just that statement).
// Any other error may have ended the transaction, so it fails the batch.
func isItemError(err error) bool {
	var ie *itemError
	if errors.As(err, &ie) {
		return true
	}
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqliteConstraint
}

// convCache is what the committer knows about a conversation.
type convCache struct {
	id           server.ConvID
	cid          int64
	seq          int64 // latest seq, including this batch's appends
	pair         bool
	aKey, bKey   string
	aName, bName string
	dirty        bool // seq or names changed in this batch
}

// committerState is owned by the committer goroutine.
type committerState struct {
	convs map[server.ConvID]*convCache
	// retainDirty holds conversations that got messages since the last
	// count-retention pass; retainAll asks for a pass over every one.
	retainDirty map[int64]struct{}
	retainAll   bool
	stmts       *stmts
}

func (c *committerState) init() {
	c.convs = make(map[server.ConvID]*convCache)
	c.retainDirty = make(map[int64]struct{})
	c.retainAll = true
}

// batch is one transaction in the making.
type batch struct {
	s       *Store
	ctx     context.Context
	touched []*convCache
	after   []func() // run once the batch committed
}

// Append queues m; done is called once m is durable or has failed, in
// Append order, on the store's notifier goroutine (or inside Append, with
// ErrClosed, once the store is closed). Append blocks only while
// Options.MaxPending items are queued. done must not block on the store.
func (s *Store) Append(m *server.Message, done func(error)) {
	cp := *m
	if m.Image != nil {
		img := *m.Image
		cp.Image = &img
	}
	s.enqueue(&item{m: &cp, done: done})
}

// enqueue adds it to the queue, or fails it with ErrClosed.
func (s *Store) enqueue(it *item) {
	s.mu.Lock()
	for len(s.pending) >= s.opts.MaxPending && !s.closed {
		s.cond.Wait()
	}
	if s.closed {
		s.mu.Unlock()
		it.done(ErrClosed)
		return
	}
	s.pending = append(s.pending, it)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// write runs op in the committer's next transaction and waits for it to
// commit. If ctx ends first, write returns ctx.Err() and op may still commit.
func (s *Store) write(ctx context.Context, op func(b *batch) error) error {
	ch := make(chan error, 1)
	s.enqueue(&item{op: op, done: func(err error) { ch <- err }})
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// committer takes everything queued, commits it as one transaction and
// hands the batch to the notifier, until the store is closed and drained.
func (s *Store) committer() {
	defer s.wg.Done()
	defer s.notifyClose()
	for {
		s.mu.Lock()
		for len(s.pending) == 0 && !s.closed {
			s.mu.Unlock()
			<-s.wake
			s.mu.Lock()
		}
		if len(s.pending) == 0 {
			s.mu.Unlock()
			return
		}
		items := s.pending
		if len(items) > s.opts.MaxBatch {
			items = items[:s.opts.MaxBatch:s.opts.MaxBatch]
			s.pending = append([]*item(nil), s.pending[s.opts.MaxBatch:]...)
		} else {
			s.pending = nil
		}
		s.cond.Broadcast()
		s.mu.Unlock()
		s.commit(items)
	}
}

// commit writes items in one transaction. Item errors fail that item only;
// any other error, or a failed COMMIT, fails them all and empties the
// committer's caches.
func (s *Store) commit(items []*item) {
	b := &batch{s: s, ctx: context.Background()}
	fatal := s.exec(b.ctx, "BEGIN IMMEDIATE")
	for _, it := range items {
		if fatal != nil {
			break
		}
		if it.m != nil {
			it.err = b.append(it.m)
		} else {
			it.err = b.runOp(it.op)
		}
		if it.err != nil && !isItemError(it.err) {
			fatal = it.err
		}
	}
	if fatal == nil {
		fatal = b.flush()
	}
	if fatal == nil {
		fatal = s.exec(b.ctx, "COMMIT")
	}
	if fatal != nil {
		_ = s.exec(b.ctx, "ROLLBACK") // fails harmlessly if SQLite already rolled back
		clear(s.c.convs)
		err := fmt.Errorf("sqlitestore: write failed: %w", fatal)
		for _, it := range items {
			it.err = err
		}
	} else {
		for _, f := range b.after {
			f()
		}
	}
	// Other writes' callers are woken now; their order does not matter and
	// they must not wait for a notifier that may be calling them.
	for _, it := range items {
		if it.op != nil {
			it.done(it.err)
		}
	}
	s.notifyPush(items)
}

// exec runs one statement on the committer's connection.
func (s *Store) exec(ctx context.Context, q string) error {
	_, err := s.wc.ExecContext(ctx, q)
	return err
}

// notifyPush hands a committed batch to the notifier. The backlog is not
// bounded, so the committer never waits for done callbacks.
func (s *Store) notifyPush(items []*item) {
	s.nmu.Lock()
	s.nq = append(s.nq, items)
	s.nmu.Unlock()
	s.ncond.Signal()
}

// notifyClose tells the notifier that no batch will follow.
func (s *Store) notifyClose() {
	s.nmu.Lock()
	s.nclosed = true
	s.nmu.Unlock()
	s.ncond.Signal()
}

// notifier calls the appends' done callbacks, batch after batch, in order.
func (s *Store) notifier() {
	defer s.wg.Done()
	for {
		s.nmu.Lock()
		for len(s.nq) == 0 && !s.nclosed {
			s.ncond.Wait()
		}
		if len(s.nq) == 0 {
			s.nmu.Unlock()
			return
		}
		items := s.nq[0]
		s.nq[0] = nil
		s.nq = s.nq[1:]
		s.nmu.Unlock()
		for _, it := range items {
			if it.m != nil {
				it.done(it.err)
			}
		}
	}
}

// runOp runs a non-append write inside a savepoint, so that its failure
// undoes only its own changes.
func (b *batch) runOp(op func(b *batch) error) error {
	if err := b.s.exec(b.ctx, "SAVEPOINT op"); err != nil {
		return err
	}
	err := op(b)
	if err != nil {
		if isItemError(err) {
			if rerr := b.s.exec(b.ctx, "ROLLBACK TO op"); rerr != nil {
				return rerr
			}
		} else {
			return err
		}
	}
	if rerr := b.s.exec(b.ctx, "RELEASE op"); rerr != nil {
		return rerr
	}
	return err
}

// conv returns the committer's view of a conversation, creating it if the
// store has never seen it (name is used then).
func (b *batch) conv(id server.ConvID, name string) (*convCache, error) {
	if c, ok := b.s.c.convs[id]; ok {
		return c, nil
	}
	st := b.s.c.stmts
	c := &convCache{id: id}
	var aName, bName sql.NullString
	err := st.convGet.QueryRowContext(b.ctx, string(id)).Scan(&c.cid, &c.seq, &aName, &bName)
	if errors.Is(err, sql.ErrNoRows) {
		if err := b.createConv(id, name); err != nil {
			return nil, err
		}
		err = st.convGet.QueryRowContext(b.ctx, string(id)).Scan(&c.cid, &c.seq, &aName, &bName)
	}
	if err != nil {
		return nil, err
	}
	c.aKey, c.bKey, c.pair = splitPair(id)
	c.aName, c.bName = aName.String, bName.String
	b.s.c.convs[id] = c
	return c, nil
}

// createConv inserts a conversation with a new epoch, unless it exists.
func (b *batch) createConv(id server.ConvID, name string) error {
	var aKey, bKey any
	if a, bk, ok := splitPair(id); ok {
		aKey, bKey, name = a, bk, ""
	}
	_, err := b.s.c.stmts.convNew.ExecContext(b.ctx, string(id), name, newEpoch(), aKey, bKey)
	return err
}

// splitPair returns the two folded names of a pair conversation.
func splitPair(id server.ConvID) (a, b string, ok bool) {
	s := string(id)
	if !strings.HasPrefix(s, "p:") {
		return "", "", false
	}
	a, b, ok = strings.Cut(s[2:], "\n")
	return a, b, ok
}

// append adds one message to the transaction.
func (b *batch) append(m *server.Message) error {
	c, err := b.conv(m.Conv, m.Room)
	if err != nil {
		return err
	}
	if m.Seq != c.seq+1 {
		return itemErrorf("sqlitestore: %q: seq %d does not follow the stored seq %d", m.Conv, m.Seq, c.seq)
	}
	st := b.s.c.stmts
	if m.Nonce != "" {
		var one int
		err := st.orphanHas.QueryRowContext(b.ctx, m.Owner, m.Nonce).Scan(&one)
		if err == nil {
			return itemErrorf("sqlitestore: nonce %q of %q was already used", m.Nonce, m.Owner)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
	}
	var imgID, imgMime, imgName any
	var imgW, imgH, imgSize any
	if im := m.Image; im != nil {
		imgID, imgMime, imgW, imgH, imgSize, imgName = im.ID, im.Mime, im.W, im.H, im.Size, im.Name
	}
	if _, err := st.msgPut.ExecContext(b.ctx, c.cid, m.Seq, m.TS.UnixNano(), m.Room, m.From, m.To, m.Text,
		imgID, imgMime, imgW, imgH, imgSize, imgName, m.Owner, m.Nonce); err != nil {
		if isItemError(err) {
			return itemErrorf("sqlitestore: message %d of %q (nonce %q of %q already used?): %w", m.Seq, m.Conv, m.Nonce, m.Owner, err)
		}
		return err
	}
	if im := m.Image; im != nil {
		if _, err := st.imgPut.ExecContext(b.ctx, im.ID, im.Mime, im.W, im.H, im.Size); err != nil {
			return err
		}
		if _, err := st.postPut.ExecContext(b.ctx, im.ID, c.cid); err != nil {
			return err
		}
	}
	c.seq = m.Seq
	if !c.dirty {
		c.dirty = true
		b.touched = append(b.touched, c)
	}
	if c.pair && m.To != "" {
		if from := protocol.Fold(m.From); from == c.aKey {
			c.aName, c.bName = m.From, m.To
		} else if from == c.bKey {
			c.bName, c.aName = m.From, m.To
		}
	}
	return nil
}

// flush writes the seqs (and pair names) of the conversations this batch
// appended to.
func (b *batch) flush() error {
	st := b.s.c.stmts
	for _, c := range b.touched {
		c.dirty = false
		var aName, bName any
		if c.pair {
			aName, bName = c.aName, c.bName
		}
		if _, err := st.convSeq.ExecContext(b.ctx, c.seq, aName, bName, c.cid); err != nil {
			return err
		}
		b.s.c.retainDirty[c.cid] = struct{}{}
	}
	return nil
}
