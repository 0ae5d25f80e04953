package server

import (
	"context"
	"errors"
	"time"

	"parley/protocol"
)

// post is a message about to be stored: a say or an image.
type post struct {
	id    int64 // the request's id
	text  string
	image *protocol.ImageMeta
	nonce string
	async bool // answered from the reader (counts in ss.pending)
	// epoch is the private conversation's epoch, set when the message is
	// private: its ok and msg carry it, so that a client tells a restarted
	// conversation (a guest's, dropped after its session) from the old one.
	epoch string
}

// inflight is a say or image with a nonce whose Append has not completed:
// repeats of it wait for its outcome.
type inflight struct {
	waiters []func(ok *protocol.Frame, err error)
}

func (ss *session) say(ctx context.Context, f *protocol.Frame) {
	if ss.nonceGiven {
		if err := protocol.CheckNonce(f.Nonce); err != nil {
			ss.fail(f.ID, err)
			return
		}
	}
	if f.Room == "" {
		if f.To != "" {
			ss.fail(f.ID, protocol.Errorf(protocol.CodeBadRequest, "a private message needs a room"))
			return
		}
		if err := protocol.CheckText(f.Text, ss.srv.cfg.Limits.Text); err != nil {
			ss.fail(f.ID, err)
			return
		}
		ss.broadcast(f)
		return
	}
	ss.post(ctx, f.Room, f.To, &post{id: f.ID, text: f.Text, nonce: f.Nonce, async: true})
}

// post de-duplicates a say or image by its nonce, checks it and stores
// it; the answer and the fan-out follow when it is durable. Answers come
// in order with the reader's (p.async) or straight away (uploads).
func (ss *session) post(ctx context.Context, roomName, to string, p *post) {
	answer := ss.fail
	if !p.async {
		answer = ss.sendErr
	}
	h := ss.srv.hub

	// Nonce first: a repeat is answered with the first ok's fields,
	// whatever its other fields say.
	var fl *inflight
	if p.nonce != "" {
		nk := ss.owner + "\x00" + p.nonce
		h.nonceMu.Lock()
		if first := h.inflight[nk]; first != nil {
			if p.async {
				ss.pending.Add(1)
			}
			first.waiters = append(first.waiters, func(ok *protocol.Frame, err error) {
				ss.answerPost(p, ok, err)
			})
			h.nonceMu.Unlock()
			return
		}
		m, err := ss.srv.store.ByNonce(ctx, ss.owner, p.nonce)
		if err == nil {
			h.nonceMu.Unlock()
			if p.async {
				ss.waitPending()
			}
			ss.sendFrame(okFor(p.id, m))
			return
		}
		if !errors.Is(err, ErrNotFound) {
			h.nonceMu.Unlock()
			answer(p.id, err)
			return
		}
		fl = &inflight{}
		h.inflight[nk] = fl
		h.nonceMu.Unlock()
	}
	// check takes references to the room and the private conversation:
	// the hub keeps them until the message is durable and fanned out (or
	// failed), so that nobody loads their seq from the store meanwhile.
	m, conv, r, pc, err := ss.check(roomName, to, p)
	if err != nil {
		ss.release(p, fl, nil, err)
		answer(p.id, err)
		return
	}
	if p.async {
		ss.pending.Add(1)
	}
	conv.mu.Lock()
	if _, err := conv.load(ctx, ss.srv.store, ""); err != nil {
		conv.mu.Unlock()
		ss.finish(p, fl, nil, err)
		ss.unref(r, pc)
		return
	}
	conv.seq++
	m.Conv, m.Seq = conv.id, conv.seq
	if pc != nil {
		p.epoch = conv.epoch
	}
	ss.srv.store.Append(m, func(err error) {
		if err != nil {
			conv.reload.Store(true)
			ss.finish(p, fl, nil, err)
			ss.unref(r, pc)
			return
		}
		ss.srv.metrics.messages.Add(1)
		if pc != nil {
			ss.fanPrivate(pc, m, p.epoch)
		} else {
			ss.fanRoom(r, m)
		}
		ss.finish(p, fl, m, nil)
		ss.unref(r, pc)
	})
	conv.mu.Unlock()
}

// unref gives back the references check took.
func (ss *session) unref(r *room, pc *pconv) {
	h := ss.srv.hub
	if pc != nil {
		h.releasePair(pc)
	}
	h.releaseRoom(r)
}

// check validates a post and makes its message (without conversation and
// seq). It returns the room, and the private conversation for a private
// message, each with a reference (given back with unref); none on error.
func (ss *session) check(roomName, to string, p *post) (*Message, *seqConv, *room, *pconv, error) {
	if p.image == nil {
		if err := protocol.CheckText(p.text, ss.srv.cfg.Limits.Text); err != nil {
			return nil, nil, nil, nil, err
		}
	}
	if roomName == "" {
		return nil, nil, nil, nil, protocol.Errorf(protocol.CodeBadRequest, "room is required")
	}
	name, key, err := roomArg(roomName)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	h := ss.srv.hub
	r := h.acquireRoom(key)
	if r == nil {
		return nil, nil, nil, nil, protocol.Errorf(protocol.CodeNotMember, "you are not in %s", name)
	}
	m, pc, err := ss.checkIn(r, name, to, p)
	if err != nil {
		h.releaseRoom(r)
		return nil, nil, nil, nil, err
	}
	if pc != nil {
		return m, &pc.seqConv, r, pc, nil
	}
	return m, &r.seqConv, r, nil, nil
}

// checkIn is check once the room is found (and referenced): it returns the
// message and, for a private one, the conversation with a reference.
func (ss *session) checkIn(r *room, name, to string, p *post) (*Message, *pconv, error) {
	h := ss.srv.hub
	u := ss.user.Load()
	if !r.isMember(ss) {
		return nil, nil, protocol.Errorf(protocol.CodeNotMember, "you are not in %s", name)
	}
	m := &Message{
		TS:    ss.srv.cfg.Now().UTC().Truncate(time.Millisecond),
		Room:  r.name,
		From:  u.name,
		Text:  p.text,
		Image: p.image,
		Owner: ss.owner,
		Nonce: p.nonce,
	}
	if to == "" {
		return m, nil, nil
	}
	toName, err := protocol.CleanName(to)
	if err != nil {
		return nil, nil, protocol.Errorf(protocol.CodeNoSuchUser, "no user %s in %s", to, r.name)
	}
	toKey := protocol.Fold(toName)
	if toKey == u.key {
		return nil, nil, protocol.Errorf(protocol.CodeBadRequest, "a private message cannot go to yourself")
	}
	toUser := h.online(toKey)
	if toUser == nil || !r.hasUser(toKey) {
		return nil, nil, protocol.Errorf(protocol.CodeNoSuchUser, "no user %s in %s", toName, r.name)
	}
	m.To = toUser.name
	pc := h.pair(u.key, toKey, toUser)
	if pc == nil {
		return nil, nil, protocol.Errorf(protocol.CodeNoSuchUser, "%s has left", toName)
	}
	return m, pc, nil
}

// finish answers a post (and the repeats that waited for it).
func (ss *session) finish(p *post, fl *inflight, m *Message, err error) {
	var ok *protocol.Frame
	if err == nil {
		ok = okFor(p.id, m)
		ok.Epoch = p.epoch
	}
	ss.answerPost(p, ok, err)
	ss.release(p, fl, ok, err)
}

// release ends a post's in-flight nonce and answers the repeats that waited.
func (ss *session) release(p *post, fl *inflight, ok *protocol.Frame, err error) {
	if fl == nil {
		return
	}
	h := ss.srv.hub
	h.nonceMu.Lock()
	delete(h.inflight, ss.owner+"\x00"+p.nonce)
	waiters := fl.waiters
	h.nonceMu.Unlock()
	for _, w := range waiters {
		w(ok, err)
	}
}

// answerPost queues a post's answer: ok (its fields under p.id) or err.
func (ss *session) answerPost(p *post, ok *protocol.Frame, err error) {
	if err != nil {
		ss.sendErr(p.id, err)
	} else {
		a := *ok
		a.ID = p.id
		ss.sendFrame(&a)
	}
	if p.async {
		ss.asyncDone()
	}
}

// okFor is the ok answer of a stored message.
func okFor(id int64, m *Message) *protocol.Frame {
	ok := &protocol.Frame{Type: protocol.TypeOK, ID: id, Seq: protocol.Int64(m.Seq), TS: protocol.FormatTime(m.TS)}
	if m.Image != nil {
		ok.Image.Meta = m.Image
	}
	return ok
}

// fanRoom sends a durable room message to every member but the sending
// session. The event is encoded once for all of them.
func (ss *session) fanRoom(r *room, m *Message) {
	ev, err := protocol.Encode(msgFrame(m))
	if err != nil {
		ss.log.Error("encode msg", "err", err)
		return
	}
	limit := ss.srv.cfg.QueueSize
	r.fanMu.Lock()
	if m.Seq > r.durable {
		r.durable = m.Seq
	}
	n := 0
	for o, om := range r.members {
		if o != ss {
			r.deliver(om, ev, limit)
			n++
		}
	}
	r.fanMu.Unlock()
	ss.srv.metrics.deliveries.Add(int64(n))
}

// fanPrivate sends a durable private message to every session of the
// recipient and the sender's other sessions; the event carries the
// conversation's epoch.
func (ss *session) fanPrivate(pc *pconv, m *Message, epoch string) {
	f := msgFrame(m)
	f.Epoch = epoch
	ev, err := protocol.Encode(f)
	if err != nil {
		ss.log.Error("encode msg", "err", err)
		return
	}
	n := 0
	for _, o := range ss.srv.hub.sessionsOf(pc.a, pc.b) {
		if o != ss {
			o.send(ev)
			n++
		}
	}
	ss.srv.metrics.deliveries.Add(int64(n))
}

// broadcast sends a message without room to every other session that
// completed hello; it is not stored and is limited per user.
func (ss *session) broadcast(f *protocol.Frame) {
	u := ss.user.Load()
	if !u.bcast.Allow() {
		ss.srv.metrics.rateLimit.Add(1)
		ss.fail(f.ID, protocol.Errorf(protocol.CodeRateLimited, "too many broadcasts; slow down"))
		return
	}
	ts := protocol.FormatTime(ss.srv.cfg.Now())
	ev, err := protocol.Encode(&protocol.Frame{Type: protocol.TypeMsg, From: u.name, Broadcast: true, TS: ts, Text: f.Text})
	if err != nil {
		ss.fail(f.ID, err)
		return
	}
	ss.srv.metrics.broadcasts.Add(1)
	ss.waitPending()
	n := 0
	for _, o := range ss.srv.hub.allSessions() {
		if o != ss {
			o.send(ev)
			n++
		}
	}
	ss.srv.metrics.deliveries.Add(int64(n))
	ss.sendFrame(&protocol.Frame{Type: protocol.TypeOK, ID: f.ID, TS: ts})
}
