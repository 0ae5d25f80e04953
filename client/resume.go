package client

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode"

	"parley/protocol"
)

// resume makes s the live session: it re-joins every room with since,
// asks where private conversations stand (identities only), re-sends every
// unanswered request, all in one write, and holds events until those
// answers are in (the resume barrier).
func (c *Client) resume(s *session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || s.ctx.Err() != nil {
		return
	}
	keys := make([]string, 0, len(c.rooms))
	for k := range c.rooms {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		c.rejoinLocked(s, key, 0)
	}
	if c.cfg.Identity != nil {
		c.askConversationsLocked(s, 0)
	}
	var again []*request
	for _, r := range c.pending {
		if r.gen == 0 && r.resend && !r.abandoned {
			again = append(again, r)
		}
	}
	sort.Slice(again, func(i, j int) bool { return again[i].id < again[j].id })
	for _, r := range again {
		r.inBarrier = true
		s.barrier++
		c.sendLocked(s, r)
	}
	c.live = s
	c.wakeLiveLocked()
	c.setStateLocked(StateConnected, s.conn.Kind(), nil)
}

// rejoinLocked sends the resuming join of the room whose folded name is
// key: with since, the highest seq delivered without a gap. attempt counts
// the earlier tries answered rate_limited. c.mu is held.
func (c *Client) rejoinLocked(s *session, key string, attempt int) {
	room := c.rooms[key]
	if room == nil {
		return
	}
	since := c.seenLocked("r:" + key).floor
	c.startLocked(s, &protocol.Frame{Type: protocol.TypeJoin, Room: room.name, Since: &since}, func(s *session, f *protocol.Frame) {
		c.resumedJoinLocked(s, key, since, f)
	}, func(s *session, e *protocol.Error) {
		if e.Code == protocol.CodeRateLimited {
			c.retryLaterLocked(s, attempt, func() { c.rejoinLocked(s, key, attempt+1) })
			return
		}
		c.resumeFailedLocked(s, key, "", e)
	})
}

// askConversationsLocked sends the resuming conversations request (an
// identity's private conversations). c.mu is held.
func (c *Client) askConversationsLocked(s *session, attempt int) {
	c.startLocked(s, &protocol.Frame{Type: protocol.TypeConversations}, c.resumedConversationsLocked, func(s *session, e *protocol.Error) {
		if e.Code == protocol.CodeRateLimited {
			c.retryLaterLocked(s, attempt, func() { c.askConversationsLocked(s, attempt+1) })
			return
		}
		c.resumeFailedLocked(s, "", "", e)
	})
}

// retryLaterLocked runs again (with c.mu held) after the backoff delay of
// attempt, on the same session, and keeps the resume barrier up meanwhile:
// events stay held, in order, until the retried request is answered. It
// is called from the err answer's hook, before the barrier counts that
// answer down. c.mu is held.
func (c *Client) retryLaterLocked(s *session, attempt int, again func()) {
	s.barrier++ // stands for the retry until it is sent
	d := c.cfg.Backoff.delay(attempt, nil)
	s.spawn(func() {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-s.ctx.Done():
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if s.ctx.Err() != nil || s.doomed {
			return
		}
		s.barrier-- // again takes it back with its request
		again()
	})
}

// startLocked sends an internal request on s that counts in its resume
// barrier; onAnswer handles its ok, onErr its err. c.mu is held.
func (c *Client) startLocked(s *session, f *protocol.Frame, onAnswer func(*session, *protocol.Frame), onErr func(*session, *protocol.Error)) {
	c.nextID++
	f.ID = c.nextID
	b, err := protocol.Encode(f)
	if err != nil {
		c.log.Error("encode resume request", "err", err)
		return
	}
	r := &request{id: f.ID, frame: b[:len(b)-1], onAnswer: onAnswer, onErr: onErr, inBarrier: true, done: make(chan answer, 1)}
	c.pending[r.id] = r
	s.barrier++
	c.sendLocked(s, r)
}

// barrierDoneLocked counts down the resume barrier and, at zero, delivers
// the events held meanwhile. c.mu is held.
func (c *Client) barrierDoneLocked(s *session) {
	if s.barrier == 0 {
		return
	}
	s.barrier--
	if s.barrier > 0 || s.doomed {
		return
	}
	held := s.held
	s.held = nil
	for _, f := range held {
		c.deliverLocked(s, f)
	}
}

// resumeFailedLocked handles an err answer (other than rate_limited,
// which is retried on the session) to a request that resumes a
// conversation: the rejoin of the room whose folded name is key, or the
// conversations list (key empty). Nothing is skipped silently: the error
// is reported and, when the server may succeed later (internal), the
// session is ended so that the next one resumes from the same seq, after
// a backoff. A room the server refuses for good (bad_room, say) is
// forgotten. c.mu is held.
func (c *Client) resumeFailedLocked(s *session, key, with string, e *protocol.Error) {
	room := ""
	if r := c.rooms[key]; r != nil {
		room = r.name
	}
	c.emit(Event{Kind: EventError, Room: room, With: with, Err: e})
	if retryable(e) {
		s.doomed = true
		s.held = nil
		// Not s.fail here: this runs in the reader goroutine, and closing
		// the Conn may wait for it.
		s.spawn(func() { s.fail(fmt.Errorf("client: resume: %w", e)) })
		return
	}
	if key != "" {
		delete(c.rooms, key)
	}
}

// retryable reports whether a server error may not happen again on a
// new session (rate_limited is retried on the same session instead).
func retryable(e *protocol.Error) bool {
	return e.Code == protocol.CodeInternal
}

// resumedJoinLocked handles the answer to a resuming join of the room
// whose folded name is key. c.mu is held.
func (c *Client) resumedJoinLocked(s *session, key string, since int64, f *protocol.Frame) {
	room := c.rooms[key]
	if room == nil {
		return
	}
	if f.Room != "" {
		room.name = f.Room
	}
	room.members = f.Members
	c.emit(Event{Kind: EventMembers, Room: room.name, Members: f.Members})
	ck := "r:" + key
	sn := c.seenLocked(ck)
	seq := derefSeq(f.Seq)
	if sn.epoch != "" && f.Epoch != "" && f.Epoch != sn.epoch {
		sn.reset(seq, f.Epoch)
		c.emit(Event{Kind: EventEpoch, Room: room.name, Epoch: f.Epoch, History: c.messagesLocked(f.History)})
		return
	}
	if f.Epoch != "" {
		sn.epoch = f.Epoch
	}
	if f.Truncated {
		c.catchUpLocked(s, ck, room.name, "", seq)
		return
	}
	for _, h := range f.History {
		h.Type = protocol.TypeMsg
		if h.Room == "" {
			h.Room = room.name
		}
		s.held = append(s.held, h)
	}
}

// resumedConversationsLocked handles the answer to conversations: new
// conversations start at their seq, changed epochs are announced, and
// conversations that moved are caught up. c.mu is held.
func (c *Client) resumedConversationsLocked(s *session, f *protocol.Frame) {
	listed := make(map[string]bool, len(f.Private))
	for _, pc := range f.Private {
		listed["p:"+protocol.Fold(pc.With)] = true
	}
	// A private conversation that had messages and that the server no
	// longer lists lost its history (a wiped store, a guest's conversation
	// dropped): it starts over, or its new seqs would be taken for ones
	// already seen.
	for ck, sn := range c.seen {
		if !f.Truncated && strings.HasPrefix(ck, "p:") && sn.known && !listed[ck] {
			sn.reset(0, "")
			c.emit(Event{Kind: EventEpoch, With: strings.TrimPrefix(ck, "p:")})
		}
	}
	for _, pc := range f.Private {
		ck := "p:" + protocol.Fold(pc.With)
		sn := c.seenLocked(ck)
		switch {
		case !sn.known:
			sn.reset(pc.Seq, pc.Epoch)
		case sn.epoch != "" && pc.Epoch != "" && sn.epoch != pc.Epoch:
			sn.reset(pc.Seq, pc.Epoch)
			c.emit(Event{Kind: EventEpoch, With: pc.With, Epoch: pc.Epoch})
		default:
			sn.epoch = pc.Epoch
			if pc.Seq > sn.floor {
				c.catchUpLocked(s, ck, "", pc.With, pc.Seq)
			}
		}
	}
}

// catchUpLocked pages a conversation forward with history since until
// target, holding its live events meanwhile. c.mu is held.
func (c *Client) catchUpLocked(s *session, ck, room, with string, target int64) {
	if _, busy := s.gates[ck]; busy {
		return
	}
	s.gates[ck] = []*protocol.Frame{}
	since := c.seenLocked(ck).floor
	s.spawn(func() { c.catchUp(s, ck, room, with, since, target) })
}

func (c *Client) catchUp(s *session, ck, room, with string, since, target int64) {
	release := func() {
		held := s.gates[ck]
		delete(s.gates, ck)
		for _, f := range held {
			c.deliverLocked(s, f)
		}
	}
	limited := 0 // pages answered rate_limited in a row
	for {
		q := &protocol.Frame{Type: protocol.TypeHistory, Room: room, With: with, Since: &since, Limit: protocol.MaxHistory}
		a, err := c.do(s.ctx, q, reqOpts{on: s})
		if protocol.CodeOf(err) == protocol.CodeRateLimited {
			if !c.pause(s, limited) {
				return
			}
			limited++
			continue
		}
		if err != nil {
			if protocol.CodeOf(err) == "" {
				return // the session ended: the next one starts over
			}
			c.emit(Event{Kind: EventError, Room: room, With: with, Err: err})
			var e *protocol.Error
			if errors.As(err, &e) && retryable(e) {
				// The next session pages again from the same seq; the
				// held events go with this one.
				c.mu.Lock()
				s.doomed = true
				c.mu.Unlock()
				s.fail(fmt.Errorf("client: catch up: %w", err))
				return
			}
			c.mu.Lock()
			release()
			c.mu.Unlock()
			return
		}
		limited = 0
		c.mu.Lock()
		for _, h := range a.f.History {
			h.Type = protocol.TypeMsg
			if h.Room == "" {
				h.Room = room
			}
			c.markAndEmitLocked(ck, h)
			since = max(since, derefSeq(h.Seq))
		}
		done := len(a.f.History) == 0 || since >= target
		if done {
			release()
		}
		c.mu.Unlock()
		if done {
			return
		}
	}
}

// pause waits the backoff delay of attempt, or until s ends; it reports
// whether s is still up.
func (c *Client) pause(s *session, attempt int) bool {
	t := time.NewTimer(c.cfg.Backoff.delay(attempt, nil))
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.ctx.Done():
		return false
	}
}

// eventLocked handles an event frame from s. c.mu is held.
func (c *Client) eventLocked(s *session, f *protocol.Frame) {
	if s != c.cur || s.doomed {
		return
	}
	if s.barrier > 0 {
		s.held = append(s.held, f)
		return
	}
	c.deliverLocked(s, f)
}

// deliverLocked turns an event frame into an Event, dropping messages
// already delivered. c.mu is held.
func (c *Client) deliverLocked(s *session, f *protocol.Frame) {
	switch f.Type {
	case protocol.TypeMsg:
		ck := c.convKeyLocked(f)
		if ck != "" {
			if held, gated := s.gates[ck]; gated {
				s.gates[ck] = append(held, f)
				return
			}
		}
		c.markAndEmitLocked(ck, f)
	case protocol.TypeJoined, protocol.TypeLeft:
		if room := c.rooms[protocol.Fold(f.Room)]; room != nil {
			room.members = applyMember(room.members, f.User, f.Type == protocol.TypeJoined)
		}
		kind := EventJoined
		if f.Type == protocol.TypeLeft {
			kind = EventLeft
		}
		c.emit(Event{Kind: kind, Room: f.Room, User: f.User})
	case protocol.TypeTyping:
		c.emit(Event{Kind: EventTyping, Room: f.Room, User: f.User})
	default:
		c.log.Debug("unknown event", "type", f.Type)
	}
}

func applyMember(members []string, user string, in bool) []string {
	k := protocol.Fold(user)
	out := members[:0:0]
	for _, m := range members {
		if protocol.Fold(m) != k {
			out = append(out, m)
		}
	}
	if in {
		out = append(out, user)
	}
	return out
}

// markAndEmitLocked emits a message unless its seq was delivered already.
// A private msg that carries its conversation's epoch is checked against
// the one known first (privateEpochLocked).
func (c *Client) markAndEmitLocked(ck string, f *protocol.Frame) {
	if f.Epoch != "" && f.To != "" {
		c.privateEpochLocked(ck, c.peerLocked(f), f.Epoch)
	}
	if ck != "" && f.Seq != nil && !c.seenLocked(ck).mark(*f.Seq) {
		return
	}
	m := c.messageLocked(f)
	c.emit(Event{Kind: EventMessage, Room: m.Room, With: m.With, Message: &m})
}

// privateEpochLocked applies the epoch carried by a private msg or by the
// ok of one's own private message to the private conversation ck with
// user with: an epoch not known yet is adopted; another one means the
// conversation started over on the server (a guest's is dropped when its
// session ends, and a new guest of the same name starts again at seq 1),
// so its seen state starts over and EventEpoch is emitted before the
// message is delivered, as for any conversation whose history was lost.
// c.mu is held.
func (c *Client) privateEpochLocked(ck, with, epoch string) {
	if epoch == "" || !strings.HasPrefix(ck, "p:") {
		return
	}
	sn := c.seenLocked(ck)
	switch {
	case sn.epoch == "":
		sn.epoch = epoch
	case sn.epoch != epoch:
		sn.reset(0, epoch)
		c.emit(Event{Kind: EventEpoch, With: with, Epoch: epoch})
	}
}

// convKeyLocked names the conversation of a message frame: "r:"+folded
// room, "p:"+folded other user, or "" for a broadcast.
func (c *Client) convKeyLocked(f *protocol.Frame) string {
	switch {
	case f.Broadcast:
		return ""
	case f.To != "":
		return "p:" + protocol.Fold(c.peerLocked(f))
	case f.Room != "":
		return "r:" + protocol.Fold(f.Room)
	}
	return ""
}

// peerLocked is the other user of a private message.
func (c *Client) peerLocked(f *protocol.Frame) string {
	if protocol.Fold(f.From) == protocol.Fold(c.name) {
		return f.To
	}
	return f.From
}

func (c *Client) seenLocked(ck string) *seen {
	sn := c.seen[ck]
	if sn == nil {
		sn = &seen{}
		c.seen[ck] = sn
	}
	return sn
}

func (c *Client) messageLocked(f *protocol.Frame) Message {
	m := Message{Room: f.Room, Seq: derefSeq(f.Seq), From: f.From, To: f.To, Text: f.Text, Image: f.Image.Meta, Broadcast: f.Broadcast}
	if t, err := protocol.ParseTime(f.TS); err == nil {
		m.TS = t
	}
	if f.To != "" {
		m.With = c.peerLocked(f)
	}
	return m
}

func (c *Client) messagesLocked(fs []*protocol.Frame) []Message {
	out := make([]Message, 0, len(fs))
	for _, f := range fs {
		out = append(out, c.messageLocked(f))
	}
	return out
}

func derefSeq(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

func trimSpace(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return unicode.Is(unicode.White_Space, r) })
}
