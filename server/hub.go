package server

import (
	"context"
	"crypto/ed25519"
	"sort"
	"sync"
	"sync/atomic"

	"golang.org/x/time/rate"

	"parley/protocol"
)

// hub holds the server's shared state: the users online, the rooms and the
// private conversations in use.
//
// Lock order (never take an earlier lock while holding a later one):
//
//	conv.mu  →  room.fanMu  →  hub.mu  →  hub.nonceMu
//
// conv.mu serialises a conversation's seq assignment and Store.Append (the
// store may call done inside Append, so done callbacks never take conv.mu);
// room.fanMu guards a room's members and its durable seq, and is held
// while a room message fans out; hub.mu guards the maps below and each
// user's session set.
//
// Rooms and private conversations are live state only (the store keeps
// their history, seq and epoch), so the hub forgets them when unused (see
// refs): a room with no member and no operation in flight, an identity's
// private conversation with neither user online and no post in flight. A
// reference is taken under hub.mu (a read lock is enough: refs is atomic)
// when the object is looked up in the map, and the object leaves the map
// only under hub.mu's write lock with refs at zero; so a lookup racing a
// drop either holds the old object (which then stays) or makes a new one,
// which loads from the store after every Append of the old one completed.
type hub struct {
	s *Server

	mu    sync.RWMutex
	users map[string]*user  // online users by folded name
	rooms map[string]*room  // by folded name; while members or operations hold them
	pairs map[ConvID]*pconv // private conversations in use (see settlePair)
	// dropping: a guest's private conversations whose Store.DropConv has
	// not finished; the channel is closed when it has. A conversation
	// of the same pair made meanwhile waits for it before loading.
	dropping map[ConvID]chan struct{}

	nonceMu  sync.Mutex
	inflight map[string]*inflight // owner + "\x00" + nonce of say/image not yet durable
}

func newHub(s *Server) *hub {
	return &hub{
		s:        s,
		users:    make(map[string]*user),
		rooms:    make(map[string]*room),
		pairs:    make(map[ConvID]*pconv),
		dropping: make(map[ConvID]chan struct{}),
		inflight: make(map[string]*inflight),
	}
}

// user is a user online: one or more sessions (several only for an identity).
type user struct {
	key   string // folded name
	name  string // display name
	pub   ed25519.PublicKey
	guest bool
	bcast *rate.Limiter // broadcasts, per user

	// under hub.mu:
	sessions map[*session]struct{}
	// pairs are the private conversations of h.pairs this user is in: a
	// guest's are dropped (from the store too) when it leaves; an
	// identity's are forgotten from memory when the other user is gone too.
	pairs map[ConvID]struct{}
}

// seqConv is a conversation's sequence: the seq last assigned and the
// store state it comes from.
type seqConv struct {
	id     ConvID
	mu     sync.Mutex
	loaded bool
	seq    int64 // last assigned
	epoch  string
	name   string
	reload atomic.Bool     // a store failure: reload before assigning again
	after  <-chan struct{} // nil, or closed when the previous conversation's drop finished

	// refs counts what holds the object in the hub's map: a room's
	// members, and every operation between its lookup and its end (a
	// post until its Append completed and fanned out, a join until its
	// member is added). It is raised only under hub.mu (read or write
	// lock) by a map lookup, and the object leaves the map only under
	// hub.mu's write lock when refs is zero.
	refs atomic.Int64
}

// load reads the conversation's state from the store if needed. Called with c.mu held.
func (c *seqConv) load(ctx context.Context, st Store, name string) (ConvState, error) {
	if c.loaded && !c.reload.Load() {
		return ConvState{Conv: c.id, Name: c.name, Seq: c.seq, Epoch: c.epoch}, nil
	}
	if c.after != nil {
		select {
		case <-c.after:
		case <-ctx.Done():
			return ConvState{}, ctx.Err()
		}
	}
	state, err := st.Conv(ctx, c.id, name)
	if err != nil {
		return ConvState{}, err
	}
	c.loaded = true
	c.reload.Store(false)
	c.seq, c.epoch, c.name = state.Seq, state.Epoch, state.Name
	if c.name == "" {
		c.name = name
	}
	return state, nil
}

// room is a room: its sequence, members and fan-out.
type room struct {
	seqConv
	key string

	fanMu     sync.Mutex
	durable   int64 // latest seq whose Append succeeded
	members   map[*session]*member
	userCount map[string]int    // sessions in the room per folded user name
	userName  map[string]string // display name per folded user name
}

// member is a session in a room. While held is non-nil the session is
// joining: events are kept back until its join answer is queued.
type member struct {
	ss   *session
	held [][]byte
}

// pconv is a private conversation between two users.
type pconv struct {
	seqConv
	a, b string // folded names

	// under hub.mu:
	dead bool          // a guest's conversation taken out of the map to be dropped
	idle chan struct{} // nil, or closed when a dead conversation's last post ended
}

// room returns the room with folded name key, creating and loading it,
// with a reference the caller gives back with releaseRoom (or hands to the
// membership it makes).
func (h *hub) room(ctx context.Context, key, name string) (*room, error) {
	h.mu.RLock()
	r := h.rooms[key]
	if r != nil {
		r.refs.Add(1)
	}
	h.mu.RUnlock()
	if r == nil {
		h.mu.Lock()
		r = h.rooms[key]
		if r == nil {
			r = &room{
				seqConv:   seqConv{id: RoomConv(key)},
				key:       key,
				members:   make(map[*session]*member),
				userCount: make(map[string]int),
				userName:  make(map[string]string),
			}
			h.rooms[key] = r
		}
		r.refs.Add(1)
		h.mu.Unlock()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.loaded {
		st, err := r.load(ctx, h.s.store, name)
		if err != nil {
			h.releaseRoom(r)
			return nil, err
		}
		r.fanMu.Lock()
		r.durable = st.Seq
		r.fanMu.Unlock()
	}
	return r, nil
}

// findRoom returns the room with folded name key if it exists, without a
// reference: only for reading what a room's members keep alive (a room
// that is dropped has none).
func (h *hub) findRoom(key string) *room {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.rooms[key]
}

// acquireRoom returns the room with folded name key with a reference, or
// nil if the hub holds no such room.
func (h *hub) acquireRoom(key string) *room {
	h.mu.RLock()
	defer h.mu.RUnlock()
	r := h.rooms[key]
	if r != nil {
		r.refs.Add(1)
	}
	return r
}

// releaseRoom gives back a reference to r; the last one drops r from the
// map (its members hold references, so only a room nobody is in goes).
// Never called with hub.mu held; may be called with r.mu or r.fanMu held.
func (h *hub) releaseRoom(r *room) {
	if r.refs.Add(-1) > 0 {
		return
	}
	h.mu.Lock()
	// refs is raised only under hub.mu: zero now, it stays zero until Unlock.
	if r.refs.Load() == 0 && h.rooms[r.key] == r {
		delete(h.rooms, r.key)
	}
	h.mu.Unlock()
}

// pair returns the private conversation of the users a and b (folded),
// with a reference the caller gives back with releasePair, or nil when
// peer (the user b as the caller found it online) is no longer online: a
// guest who left meanwhile had its conversations dropped already, and one
// made now would outlive it in the store.
func (h *hub) pair(a, b string, peer *user) *pconv {
	id := PairConv(a, b)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.users[b] != peer {
		return nil
	}
	p := h.pairs[id]
	if p == nil {
		p = &pconv{seqConv: seqConv{id: id, after: h.dropping[id]}, a: a, b: b}
		h.pairs[id] = p
	}
	p.refs.Add(1)
	// The users online keep the conversation in memory (a guest's ends
	// with its session).
	for _, k := range []string{a, b} {
		if u := h.users[k]; u != nil {
			u.pairs[id] = struct{}{}
		}
	}
	return p
}

// releasePair gives back a reference to p. The last one lets a guest's
// drop go on (p.idle), or forgets an identities' conversation nobody
// online is in. Never called with hub.mu held.
func (h *hub) releasePair(p *pconv) {
	if p.refs.Add(-1) > 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if p.refs.Load() > 0 {
		return
	}
	if p.dead {
		if p.idle != nil {
			close(p.idle)
			p.idle = nil
		}
		return
	}
	h.settlePair(p)
}

// settlePair keeps p in the map while one of its users is online (and
// records it with them, so that the last of them to leave settles it
// again), or forgets it when neither is and nothing holds it. Called with
// hub.mu held.
func (h *hub) settlePair(p *pconv) {
	if h.pairs[p.id] != p || p.refs.Load() > 0 {
		return
	}
	kept := false
	for _, k := range []string{p.a, p.b} {
		if u := h.users[k]; u != nil {
			u.pairs[p.id] = struct{}{}
			kept = true
		}
	}
	if !kept {
		delete(h.pairs, p.id)
	}
}

// held returns how many rooms and private conversations the hub holds.
func (h *hub) held() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.rooms) + len(h.pairs)
}

// online returns the user with folded name key, or nil.
func (h *hub) online(key string) *user {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.users[key]
}

// addSession makes ss a session of the user named name (folded key), or
// fails with name_taken when the name is held by someone else, or with
// too_many when the user holds Config.MaxUserSessions sessions already.
func (h *hub) addSession(ss *session, key, name string, pub ed25519.PublicKey) (*user, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	u := h.users[key]
	if u != nil {
		if pub == nil || u.guest || !u.pub.Equal(pub) {
			return nil, protocol.Errorf(protocol.CodeNameTaken, "the name %s is in use", u.name)
		}
		if n := len(u.sessions); n >= h.s.cfg.MaxUserSessions {
			return nil, protocol.Errorf(protocol.CodeTooMany, "%s already has %d %s open", u.name, n, plural(n, "session", "sessions"))
		}
	} else {
		u = &user{
			key: key, name: name, pub: pub, guest: pub == nil,
			sessions: make(map[*session]struct{}),
			pairs:    make(map[ConvID]struct{}),
			bcast:    newLimiter(h.s.cfg.BroadcastRate, h.s.cfg.BroadcastBurst),
		}
		h.users[key] = u
	}
	u.sessions[ss] = struct{}{}
	return u, nil
}

// convDrop is a guest's private conversation to drop: wait for prev (an
// earlier drop of the same pair) and idle (the posts still using the
// conversation), drop, then finish.
type convDrop struct {
	id   ConvID
	prev chan struct{}
	idle chan struct{} // nil when no post held the conversation
	done chan struct{}
}

// removeSession forgets ss; it returns the guest's private conversations
// to drop when ss was a guest's session, each marked dropping (so a new
// conversation of the pair waits for the drop) until finishDrop. The last
// session of an identity lets its private conversations go from memory
// where the other user is not online either.
func (h *hub) removeSession(ss *session, u *user) []convDrop {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(u.sessions, ss)
	if len(u.sessions) > 0 {
		return nil
	}
	if h.users[u.key] == u {
		delete(h.users, u.key)
	}
	if !u.guest {
		for id := range u.pairs {
			if p := h.pairs[id]; p != nil {
				h.settlePair(p)
			}
		}
		clear(u.pairs)
		return nil
	}
	var drop []convDrop
	for id := range u.pairs {
		d := convDrop{id: id, prev: h.dropping[id], done: make(chan struct{})}
		if p := h.pairs[id]; p != nil {
			p.dead = true
			if p.refs.Load() > 0 {
				p.idle = make(chan struct{})
				d.idle = p.idle
			}
			delete(h.pairs, id)
		}
		for _, k := range pairKeys(id) {
			if o := h.users[k]; o != nil {
				delete(o.pairs, id)
			}
		}
		h.dropping[id] = d.done
		drop = append(drop, d)
	}
	clear(u.pairs)
	return drop
}

// finishDrop marks a drop returned by removeSession finished.
func (h *hub) finishDrop(d convDrop) {
	h.mu.Lock()
	if h.dropping[d.id] == d.done {
		delete(h.dropping, d.id)
	}
	h.mu.Unlock()
	close(d.done)
}

// awaitDrop waits until no drop of conversation id is in progress.
func (h *hub) awaitDrop(ctx context.Context, id ConvID) error {
	h.mu.RLock()
	ch := h.dropping[id]
	h.mu.RUnlock()
	if ch == nil {
		return nil
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sessionsOf returns the sessions of the users with the given folded names.
func (h *hub) sessionsOf(keys ...string) []*session {
	h.mu.RLock()
	defer h.mu.RUnlock()
	var out []*session
	for _, k := range keys {
		if u := h.users[k]; u != nil {
			for ss := range u.sessions {
				out = append(out, ss)
			}
		}
	}
	return out
}

// allSessions returns every session that completed hello.
func (h *hub) allSessions() []*session {
	h.mu.RLock()
	defer h.mu.RUnlock()
	var out []*session
	for _, u := range h.users {
		for ss := range u.sessions {
			out = append(out, ss)
		}
	}
	return out
}

// roomList returns every room that has members, sorted by name.
func (h *hub) roomList() []protocol.RoomInfo {
	h.mu.RLock()
	rooms := make([]*room, 0, len(h.rooms))
	for _, r := range h.rooms {
		rooms = append(rooms, r)
	}
	h.mu.RUnlock()
	var out []protocol.RoomInfo
	for _, r := range rooms {
		r.fanMu.Lock()
		n := len(r.userCount)
		r.fanMu.Unlock()
		if n > 0 {
			out = append(out, protocol.RoomInfo{Room: r.name, Members: n})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Room < out[j].Room })
	return out
}

// memberNames returns the display names of a room's users. Called with r.fanMu held.
func (r *room) memberNames() []string {
	names := make([]string, 0, len(r.userName))
	for _, n := range r.userName {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// hasUser reports whether the user (folded name) is in the room through any session.
func (r *room) hasUser(key string) bool {
	r.fanMu.Lock()
	defer r.fanMu.Unlock()
	return r.userCount[key] > 0
}

// isMember reports whether ss is in the room.
func (r *room) isMember(ss *session) bool {
	r.fanMu.Lock()
	defer r.fanMu.Unlock()
	return r.members[ss] != nil
}

// deliver queues an encoded event to a member, or keeps it back while the
// member is joining. Called with r.fanMu held.
func (r *room) deliver(m *member, frame []byte, limit int) {
	if m.held != nil {
		if len(m.held) >= limit {
			m.ss.srv.metrics.drop("queue_full")
			m.ss.close(protocol.CloseTooSlow, "outbound queue full")
			return
		}
		m.held = append(m.held, frame)
		return
	}
	m.ss.send(frame)
}

func newLimiter(r float64, burst int) *rate.Limiter {
	if r < 0 {
		return rate.NewLimiter(rate.Inf, 0)
	}
	return rate.NewLimiter(rate.Limit(r), burst)
}

// plural returns one when n is 1, else many.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// foldEq reports whether two names are the same after case folding.
func foldEq(a, b string) bool { return a != "" && b != "" && protocol.Fold(a) == protocol.Fold(b) }
