package server

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"parley/protocol"
)

// requestTimeout bounds the store calls of one request.
const requestTimeout = 10 * time.Second

// handle handles one control frame (its JSON text).
func (ss *session) handle(text []byte) {
	f, err := protocol.Decode(text)
	if f == nil {
		ss.protocolError(err)
		return
	}
	if f.Type == protocol.TypeTyping && err == nil {
		ss.typing(f)
		return
	}
	if !protocol.ValidID(f) {
		ss.fail(0, protocol.Errorf(protocol.CodeBadRequest, "a request needs an id from 1 to 2^53-1"))
		return
	}
	if err != nil { // well-formed, but a field of the wrong kind
		ss.fail(f.ID, err)
		return
	}
	if !ss.allow() {
		ss.fail(f.ID, protocol.Errorf(protocol.CodeRateLimited, "too many requests; slow down"))
		return
	}
	ss.nonceGiven = f.Nonce != "" || hasField(text, "nonce")
	ctx, cancel := context.WithTimeout(ss.ctx, requestTimeout)
	defer cancel()
	switch f.Type {
	case protocol.TypeHello:
		ss.hello(ctx, f)
		return
	case protocol.TypeAuth:
		ss.auth(ctx, f)
		return
	}
	if ss.state != stateReady {
		ss.fail(f.ID, protocol.Errorf(protocol.CodeHelloRequired, "say hello first"))
		return
	}
	switch f.Type {
	case protocol.TypeJoin:
		ss.join(ctx, f)
	case protocol.TypeLeave:
		ss.leave(f)
	case protocol.TypeUsers:
		ss.users(f)
	case protocol.TypeRooms:
		ss.reply(&protocol.Frame{Type: protocol.TypeOK, ID: f.ID, Rooms: fitRooms(ss.srv.hub.roomList())})
	case protocol.TypeSay:
		ss.say(ctx, f)
	case protocol.TypeHistory:
		ss.history(ctx, f)
	case protocol.TypeConversations:
		ss.conversations(ctx, f)
	case protocol.TypeFetch:
		ss.wsFetch(f)
	default:
		ss.fail(f.ID, protocol.Errorf(protocol.CodeBadRequest, "unknown request type %q", f.Type))
	}
}

// serverInfo is the server field of a hello answer.
func (ss *session) serverInfo() *protocol.ServerInfo {
	c := &ss.srv.cfg
	return &protocol.ServerInfo{Name: c.Name, Version: c.Version, Limits: c.Limits}
}

// decodeB64 accepts base64url with or without padding.
func decodeB64(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

func (ss *session) hello(ctx context.Context, f *protocol.Frame) {
	if ss.state == stateReady {
		ss.fail(f.ID, protocol.Errorf(protocol.CodeBadRequest, "hello was already said"))
		return
	}
	ss.state, ss.challenge, ss.pendPub = stateNew, nil, nil
	if f.V != protocol.Version {
		ss.fail(f.ID, protocol.Errorf(protocol.CodeUnsupportedVersion, "this server speaks protocol version %d", protocol.Version))
		ss.failed = true
		ss.closeGracefully(protocol.CloseProtocolError)
		return
	}
	name, err := protocol.CleanName(f.Name)
	if err != nil {
		ss.fail(f.ID, err)
		return
	}
	key := protocol.Fold(name)
	h := ss.srv.hub
	bound, err := ss.srv.store.Bound(ctx, key)
	if err != nil {
		ss.fail(f.ID, err)
		return
	}
	if f.Key == "" {
		if bound != nil {
			ss.fail(f.ID, protocol.Errorf(protocol.CodeNameTaken, "the name %s belongs to someone", name))
			return
		}
		u, err := h.addSession(ss, key, name, nil)
		if err != nil {
			ss.fail(f.ID, err)
			return
		}
		ss.ready(u, "g:"+strconv.FormatUint(ss.id, 10))
		ss.reply(&protocol.Frame{Type: protocol.TypeOK, ID: f.ID, Name: u.name, Server: ss.serverInfo()})
		return
	}
	pub, err := decodeB64(f.Key)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		ss.fail(f.ID, protocol.Errorf(protocol.CodeBadRequest, "key must be a base64url Ed25519 public key"))
		return
	}
	if bound != nil && !bound.Equal(ed25519.PublicKey(pub)) {
		ss.fail(f.ID, protocol.Errorf(protocol.CodeNameTaken, "the name %s belongs to someone else", name))
		return
	}
	if u := h.online(key); u != nil && (u.guest || !u.pub.Equal(ed25519.PublicKey(pub))) {
		ss.fail(f.ID, protocol.Errorf(protocol.CodeNameTaken, "the name %s is in use", u.name))
		return
	}
	ss.challenge = make([]byte, protocol.ChallengeSize)
	rand.Read(ss.challenge)
	ss.state, ss.pendName, ss.pendPub = stateChallenged, name, pub
	ss.reply(&protocol.Frame{Type: protocol.TypeOK, ID: f.ID, Challenge: base64.RawURLEncoding.EncodeToString(ss.challenge)})
}

func (ss *session) auth(ctx context.Context, f *protocol.Frame) {
	if ss.state != stateChallenged {
		ss.fail(f.ID, protocol.Errorf(protocol.CodeHelloRequired, "no challenge is waiting; say hello with a key first"))
		return
	}
	challenge, name, pub := ss.challenge, ss.pendName, ed25519.PublicKey(ss.pendPub)
	ss.state, ss.challenge, ss.pendPub = stateNew, nil, nil // a challenge is good for one auth
	sig, err := decodeB64(f.Sig)
	if err != nil || len(sig) != ed25519.SignatureSize || !ed25519.Verify(pub, challenge, sig) {
		ss.fail(f.ID, protocol.Errorf(protocol.CodeUnauthorized, "the signature does not match the key"))
		return
	}
	key := protocol.Fold(name)
	bound, err := ss.srv.store.Bind(ctx, key, name, pub)
	if err != nil {
		ss.fail(f.ID, err)
		return
	}
	if !bound.Equal(pub) {
		ss.fail(f.ID, protocol.Errorf(protocol.CodeNameTaken, "the name %s belongs to someone else", name))
		return
	}
	u, err := ss.srv.hub.addSession(ss, key, name, pub)
	if err != nil {
		ss.fail(f.ID, err)
		return
	}
	ss.ready(u, "k:"+base64.RawURLEncoding.EncodeToString(pub))
	ss.reply(&protocol.Frame{Type: protocol.TypeOK, ID: f.ID, Name: u.name, Server: ss.serverInfo()})
}

func (ss *session) ready(u *user, owner string) {
	ss.state = stateReady
	ss.owner = owner
	ss.user.Store(u)
}

// roomArg checks a request's room name and returns it cleaned, with its key.
func roomArg(s string) (name, key string, err error) {
	name, err = protocol.CleanRoom(s)
	if err != nil {
		return "", "", err
	}
	return name, protocol.Fold(name), nil
}

// limitArg returns a request's history limit: default 50, at most 100.
func limitArg(n int) (int, error) {
	switch {
	case n == 0:
		return protocol.DefaultHistory, nil
	case n < 0:
		return 0, protocol.Errorf(protocol.CodeBadRequest, "limit must be positive")
	case n > protocol.MaxHistory:
		return protocol.MaxHistory, nil
	}
	return n, nil
}

func (ss *session) join(ctx context.Context, f *protocol.Frame) {
	name, key, err := roomArg(f.Room)
	if err != nil {
		ss.fail(f.ID, err)
		return
	}
	limit, err := limitArg(f.Limit)
	if err != nil {
		ss.fail(f.ID, err)
		return
	}
	if f.Since != nil && *f.Since < 0 {
		ss.fail(f.ID, protocol.Errorf(protocol.CodeBadRequest, "since must not be negative"))
		return
	}
	if f.Since != nil && f.Limit == 0 {
		limit = protocol.MaxHistory
	}
	h := ss.srv.hub
	if maxRooms := ss.srv.cfg.MaxRooms; len(ss.rooms) >= maxRooms {
		// Past the limit only a repeated join (of a room ss is in) works;
		// checked before h.room, which would create the room.
		if r := h.findRoom(key); r == nil || !ss.inRoom(r) {
			ss.fail(f.ID, protocol.Errorf(protocol.CodeTooMany, "a session can be in at most %d %s; leave one first", maxRooms, plural(maxRooms, "room", "rooms")))
			return
		}
	}
	// h.room's reference keeps r in the hub until ss is a member, whose
	// membership then holds it (until h.leave); a repeated join gives it back.
	r, err := h.room(ctx, key, name)
	if err != nil {
		ss.fail(f.ID, err)
		return
	}
	u := ss.user.Load()
	r.fanMu.Lock()
	m := r.members[ss]
	fresh := m == nil // this join makes ss a member (not a repeated join)
	if !fresh {
		defer h.releaseRoom(r)
	}
	if fresh {
		m = &member{ss: ss}
		r.members[ss] = m
		if len(r.userCount) == 0 {
			ss.srv.metrics.rooms.Add(1)
		}
		r.userCount[u.key]++
		if r.userCount[u.key] == 1 {
			r.userName[u.key] = u.name
			ev, _ := protocol.Encode(&protocol.Frame{Type: protocol.TypeJoined, Room: r.name, User: u.name})
			for o, om := range r.members {
				if o != ss {
					r.deliver(om, ev, ss.srv.cfg.QueueSize)
				}
			}
		}
	}
	m.held = make([][]byte, 0, 4)
	members := r.memberNames()
	durable := r.durable
	r.fanMu.Unlock()
	ss.rooms[r] = struct{}{}

	ok := &protocol.Frame{Type: protocol.TypeOK, ID: f.ID, Room: r.name, Members: members, Seq: protocol.Int64(durable), Epoch: r.epoch}
	hist, truncated, err := ss.joinHistory(ctx, r.id, durable, f.Since, limit)
	if err != nil {
		// Membership (and the joined event) had to come first, so that
		// nothing said after durable is missed; a failed join undoes it:
		// the session stops being a member before it hears of the
		// failure, its held events are dropped with it, and the others
		// get a left after their joined (none if the user is still in
		// the room from another session). A repeated join keeps the
		// membership it had.
		if fresh {
			delete(ss.rooms, r)
			h.leave(ss, r)
		} else {
			ss.releaseHeld(r, m)
		}
		ss.fail(f.ID, err)
		return
	}
	ok.History, ok.Truncated = hist, truncated
	ss.reply(fitHistory(ok, false))
	ss.releaseHeld(r, m)
}

// releaseHeld queues the events kept back while ss was joining r.
func (ss *session) releaseHeld(r *room, m *member) {
	r.fanMu.Lock()
	defer r.fanMu.Unlock()
	for _, ev := range m.held {
		ss.send(ev)
	}
	m.held = nil
}

// joinHistory returns the history of a join answer: the newest limit
// messages up to durable, or with since those after it (the newest, and
// truncated when more were missed). A store is never asked for more than
// protocol.MaxHistory messages (the Store contract): whether older missed
// messages exist is a second, one-message query, made only when the page
// is full.
func (ss *session) joinHistory(ctx context.Context, id ConvID, durable int64, since *int64, limit int) ([]*protocol.Frame, bool, error) {
	before := durable + 1
	msgs, err := ss.srv.store.History(ctx, id, HistoryQuery{Before: &before, Limit: limit})
	if err != nil {
		return nil, false, err
	}
	truncated := false
	if since != nil {
		i := 0
		for i < len(msgs) && msgs[i].Seq <= *since {
			i++
		}
		msgs = msgs[i:]
		if len(msgs) == limit && msgs[0].Seq > *since+1 {
			older, err := ss.srv.store.History(ctx, id, HistoryQuery{Since: since, Limit: 1})
			if err != nil {
				return nil, false, err
			}
			truncated = len(older) > 0 && older[0].Seq < msgs[0].Seq
		}
	}
	return msgFrames(msgs), truncated, nil
}

// msgFrames converts stored messages into msg events.
func msgFrames(msgs []*Message) []*protocol.Frame {
	out := make([]*protocol.Frame, len(msgs))
	for i, m := range msgs {
		out[i] = msgFrame(m)
	}
	return out
}

// msgFrame is the msg event of a stored message.
func msgFrame(m *Message) *protocol.Frame {
	f := &protocol.Frame{Type: protocol.TypeMsg, Room: m.Room, Seq: protocol.Int64(m.Seq), TS: protocol.FormatTime(m.TS), From: m.From, To: m.To, Text: m.Text}
	if m.Image != nil {
		f.Image.Meta = m.Image
	}
	return f
}

// fitHistory shortens f.History until f fits in a frame, marking it
// truncated. It keeps the newest messages, or the oldest when keepOldest
// (a history page with since keeps the end nearest the cursor).
func fitHistory(f *protocol.Frame, keepOldest bool) *protocol.Frame {
	b, err := protocol.Encode(f)
	if err == nil || len(f.History) == 0 {
		_ = b
		return f
	}
	all := f.History
	lo, hi := 0, len(all) // number of messages kept: lo fits, hi does not
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		f.History = keep(all, mid, keepOldest)
		if _, err := protocol.Encode(f); err == nil {
			lo = mid
		} else {
			hi = mid
		}
	}
	f.History = keep(all, lo, keepOldest)
	f.Truncated = true
	return f
}

func keep(all []*protocol.Frame, n int, oldest bool) []*protocol.Frame {
	if oldest {
		return all[:n]
	}
	return all[len(all)-n:]
}

// fitRooms shortens a rooms list to fit in a frame.
func fitRooms(rooms []protocol.RoomInfo) []protocol.RoomInfo {
	for {
		if _, err := protocol.Encode(&protocol.Frame{Type: protocol.TypeOK, ID: protocol.MaxID, Rooms: rooms}); err == nil {
			return rooms
		}
		rooms = rooms[:len(rooms)*9/10]
	}
}

func (ss *session) leave(f *protocol.Frame) {
	_, key, err := roomArg(f.Room)
	if err != nil {
		ss.fail(f.ID, err)
		return
	}
	r := ss.srv.hub.findRoom(key)
	if r == nil {
		ss.fail(f.ID, protocol.Errorf(protocol.CodeNotMember, "you are not in %s", f.Room))
		return
	}
	if !ss.inRoom(r) {
		ss.fail(f.ID, protocol.Errorf(protocol.CodeNotMember, "you are not in %s", r.name))
		return
	}
	delete(ss.rooms, r)
	ss.srv.hub.leave(ss, r)
	ss.reply(&protocol.Frame{Type: protocol.TypeOK, ID: f.ID, Room: r.name})
}

// leave takes ss out of r, telling the others when its user's last session
// left, and gives back the reference the membership held (the last one
// lets the hub forget r).
func (h *hub) leave(ss *session, r *room) {
	if h.unmember(ss, r) {
		h.releaseRoom(r)
	}
}

// unmember is leave under r.fanMu: it reports whether ss was a member.
func (h *hub) unmember(ss *session, r *room) bool {
	u := ss.user.Load()
	r.fanMu.Lock()
	defer r.fanMu.Unlock()
	if r.members[ss] == nil {
		return false
	}
	delete(r.members, ss)
	r.userCount[u.key]--
	if r.userCount[u.key] > 0 {
		return true
	}
	delete(r.userCount, u.key)
	delete(r.userName, u.key)
	if len(r.userCount) == 0 {
		h.s.metrics.rooms.Add(-1)
	}
	ev, _ := protocol.Encode(&protocol.Frame{Type: protocol.TypeLeft, Room: r.name, User: u.name})
	for _, m := range r.members {
		r.deliver(m, ev, h.s.cfg.QueueSize)
	}
	return true
}

func (ss *session) users(f *protocol.Frame) {
	name, key, err := roomArg(f.Room)
	if err != nil {
		ss.fail(f.ID, err)
		return
	}
	ok := &protocol.Frame{Type: protocol.TypeOK, ID: f.ID, Room: name}
	if r := ss.srv.hub.findRoom(key); r != nil {
		r.fanMu.Lock()
		ok.Room, ok.Members = r.name, r.memberNames()
		r.fanMu.Unlock()
	}
	ss.reply(ok)
}

func (ss *session) history(ctx context.Context, f *protocol.Frame) {
	if (f.Before == nil) == (f.Since == nil) {
		ss.fail(f.ID, protocol.Errorf(protocol.CodeBadRequest, "give exactly one of before and since"))
		return
	}
	limit, err := limitArg(f.Limit)
	if err != nil {
		ss.fail(f.ID, err)
		return
	}
	u := ss.user.Load()
	var id ConvID
	ok := &protocol.Frame{Type: protocol.TypeOK, ID: f.ID}
	switch {
	case f.Room != "" && f.With != "":
		ss.fail(f.ID, protocol.Errorf(protocol.CodeBadRequest, "give room or with, not both"))
		return
	case f.Room != "":
		_, key, err := roomArg(f.Room)
		if err != nil {
			ss.fail(f.ID, err)
			return
		}
		r := ss.srv.hub.findRoom(key)
		if r == nil || !r.isMember(ss) {
			ss.fail(f.ID, protocol.Errorf(protocol.CodeNotMember, "join %s to read its history", f.Room))
			return
		}
		id, ok.Room = r.id, r.name
	case f.With != "":
		with, err := protocol.CleanName(f.With)
		if err != nil {
			ss.fail(f.ID, err)
			return
		}
		id, ok.With = PairConv(u.key, protocol.Fold(with)), with
	default:
		ss.fail(f.ID, protocol.Errorf(protocol.CodeBadRequest, "give room or with"))
		return
	}
	if err := ss.srv.hub.awaitDrop(ctx, id); err != nil { // a guest's old conversation going away
		ss.fail(f.ID, err)
		return
	}
	msgs, err := ss.srv.store.History(ctx, id, HistoryQuery{Before: f.Before, Since: f.Since, Limit: limit})
	if err != nil {
		ss.fail(f.ID, err)
		return
	}
	ok.History = msgFrames(msgs)
	ss.reply(fitHistory(ok, f.Since != nil))
}

func (ss *session) conversations(ctx context.Context, f *protocol.Frame) {
	u := ss.user.Load()
	convs, err := ss.srv.store.Conversations(ctx, u.key)
	if err != nil {
		ss.fail(f.ID, err)
		return
	}
	ok := &protocol.Frame{Type: protocol.TypeOK, ID: f.ID, Private: make([]protocol.ConversationInfo, 0, len(convs))}
	for _, c := range convs {
		ok.Private = append(ok.Private, protocol.ConversationInfo{With: c.Name, Seq: c.Seq, Epoch: c.Epoch})
	}
	for {
		if _, err := protocol.Encode(ok); err == nil || len(ok.Private) == 0 {
			break
		}
		ok.Private = ok.Private[:len(ok.Private)*9/10]
		ok.Truncated = true
	}
	ss.reply(ok)
}

// typing fans a typing notice out to the room's other users, best effort.
func (ss *session) typing(f *protocol.Frame) {
	u := ss.user.Load()
	if u == nil || !ss.limiter.Allow() {
		ss.srv.metrics.drop("typing")
		return
	}
	_, key, err := roomArg(f.Room)
	if err != nil {
		return
	}
	r := ss.srv.hub.findRoom(key)
	if r == nil {
		return
	}
	r.fanMu.Lock()
	defer r.fanMu.Unlock()
	if r.members[ss] == nil {
		return
	}
	ev, _ := protocol.Encode(&protocol.Frame{Type: protocol.TypeTyping, Room: r.name, User: u.name})
	for o := range r.members {
		if ou := o.user.Load(); ou == nil || ou.key == u.key {
			continue
		}
		o.typingTo(ev)
	}
}

// typingTo sends a typing event: a datagram over WebTransport, else a
// frame, dropped rather than queued when the queue is busy.
func (ss *session) typingTo(ev []byte) {
	if ss.c.Datagrams() {
		if err := ss.c.SendDatagram(ev[:len(ev)-1]); err != nil {
			ss.srv.metrics.drop("typing")
		}
		return
	}
	if ss.queue.len() > ss.srv.cfg.QueueSize/2 {
		ss.srv.metrics.drop("typing")
		return
	}
	ss.send(ev)
}

// pingPrefix starts every ping datagram a Parley client sends.
var pingPrefix = []byte(`{"type":"` + protocol.TypePing + `"`)

// readDatagrams handles typing datagrams. A ping (a client's padded
// keep-alive, there only to draw a stateless reset from a restarted
// server) is ignored without a word: not decoded when it starts as
// clients write it, never answered, not counted as a drop.
func (ss *session) readDatagrams() {
	for {
		b, err := ss.c.ReceiveDatagram(ss.ctx)
		if err != nil {
			return
		}
		if bytes.HasPrefix(b, pingPrefix) {
			continue
		}
		f, err := protocol.Decode(b)
		if err == nil && f.Type == protocol.TypePing {
			continue
		}
		if err != nil || f.Type != protocol.TypeTyping {
			ss.srv.metrics.drop("bad_datagram")
			continue
		}
		ss.typing(f)
	}
}

// hasField reports whether a frame's JSON object has the member name (for
// fields whose empty value must be told from their absence).
func hasField(text []byte, name string) bool {
	if !bytes.Contains(text, []byte(`"`+name+`"`)) {
		return false
	}
	var raw map[string]json.RawMessage
	if json.Unmarshal(text, &raw) != nil {
		return false
	}
	_, ok := raw[name]
	return ok
}

// inRoom reports whether ss is in r (joined, or joining). Reader only.
func (ss *session) inRoom(r *room) bool {
	_, in := ss.rooms[r]
	return in
}
