package bridge

import (
	"context"
	"sort"
	"strings"
	"time"

	"parley/client"
	"parley/protocol"
)

// pageSize is how many messages JoinRoom, OpenPrivate and LoadOlder ask for.
const pageSize = protocol.DefaultHistory

// pump turns the client's events into UI events until the client closes
// its channel. One per connection.
func (b *Bridge) pump(cl *client.Client, gen int64) {
	defer b.wg.Done()
	for ev := range cl.Events() {
		b.handle(ev, gen)
	}
}

func (b *Bridge) handle(ev client.Event, gen int64) {
	var out []Event
	// refill, when set, runs once out is pushed, so that its events come
	// after out's (a private chat's history after its reset). Spawning it
	// then is safe: this pump's own wg count keeps Close waiting.
	var refill func()
	b.mu.Lock()
	if gen != b.gen {
		b.mu.Unlock()
		return
	}
	me := ""
	if b.cl != nil {
		me = b.cl.Name()
	}
	switch ev.Kind {
	case client.EventMessage:
		if ev.Message != nil {
			out = b.messageLocked(ev.Message, me)
		}
	case client.EventJoined, client.EventLeft:
		c := b.convs[roomID(ev.Room)]
		if c == nil || ev.User == "" {
			break
		}
		kind := MsgJoined
		if ev.Kind == client.EventJoined {
			c.members = addMember(c.members, ev.User)
		} else {
			kind = MsgLeft
			c.members = removeName(c.members, ev.User)
		}
		v := c.view()
		out = append(out, Event{Kind: EvConversation, Conv: c.id, Conversation: &v},
			Event{Kind: EvMessage, Conv: c.id, Message: &Message{Conv: c.id, Kind: kind, From: ev.User, Room: c.name, TS: protocol.FormatTime(time.Now())}})
	case client.EventMembers:
		if c := b.convs[roomID(ev.Room)]; c != nil {
			c.members = sortedMembers(ev.Members)
			v := c.view()
			out = append(out, Event{Kind: EvConversation, Conv: c.id, Conversation: &v})
		}
	case client.EventTyping:
		if c := b.convs[roomID(ev.Room)]; c != nil && ev.User != "" && protocol.Fold(ev.User) != protocol.Fold(me) {
			out = append(out, Event{Kind: EvTyping, Conv: c.id, User: ev.User})
		}
	case client.EventState:
		b.state, b.transport, b.reason = string(ev.State), ev.Transport, ""
		if ev.State != client.StateConnected {
			b.transport = ""
		}
		if ev.State == client.StateReconnecting {
			b.reason = reasonOf(ev.Err)
		}
		b.mu.Unlock()
		b.pushState()
		return
	case client.EventEpoch:
		id := roomID(ev.Room)
		if ev.Room == "" {
			id = privateID(ev.With)
		}
		c := b.convs[id]
		if hc := b.cache.Load(); hc != nil {
			switch {
			case c == nil:
				hc.startOverClosed(id, ev.Epoch) // a closed private chat's cached past is the old chat's
			case ev.Epoch == "":
				defer hc.forgetEpoch(id) // the server no longer has it
			default:
				defer hc.setEpoch(id, ev.Epoch) // after the reset below is observed
			}
		}
		if c != nil {
			done := c.startedOverFor(ev.Epoch)
			switch {
			case done:
				// A check of the cached past started c over for this
				// epoch already (OpenPrivate, Connect): told once.
				c.restartEpoch = ev.Epoch
			case c.kind == KindPrivate:
				// No longer listed (Epoch empty), or restarted under a new
				// epoch: the server dropped the chat (a guest's, after the
				// guest's session; a new guest of that name writes now).
				out = append(out, b.goneLocked(c, ev.Epoch)...)
			default:
				out = append(out, b.resetLocked(c, ev.Epoch)...)
			}
			out = append(out, b.historyLocked(c, ev.History, me)...)
			v := c.view()
			out = append(out, Event{Kind: EvConversation, Conv: id, Conversation: &v})
			if !done && c.kind == KindPrivate && b.cl != nil {
				cl, cctx, name := b.cl, b.ctx, c.name
				refill = func() { b.refill(cl, cctx, gen, id, name) }
			}
		}
	case client.EventError:
		if ev.State == client.StateReconnecting {
			// A failed reconnection attempt: the status says why (a toast
			// per attempt would repeat itself for as long as it lasts).
			if b.state == string(client.StateReconnecting) {
				b.reason = reasonOf(ev.Err)
			}
			b.mu.Unlock()
			b.pushState()
			return
		}
		if ev.Err != nil {
			out = append(out, Event{Kind: EvNotice, Level: "warn", Text: messageOf(ev.Err)})
		}
	}
	b.mu.Unlock()
	b.em.push(out...)
	if refill != nil {
		b.spawn(refill)
	}
	b.unreadChanged()
	b.remember()
}

// resetLocked starts conversation c over after its history was lost (the
// new one has epoch) and returns the UI events: reset, then a notice line
// in the conversation and a notice to show.
func (b *Bridge) resetLocked(c *conv, epoch string) []Event {
	return startOverLocked(c, epoch, HistoryLostNotice, "The server lost the history of "+c.name+"; older messages are gone.")
}

// startOverLocked forgets how far back c's history was read, records the
// restart (for epoch, "" when the server has no such conversation) and
// returns the UI events of a conversation started over: reset, then line
// as a notice line in the conversation and notice as a notice to show.
// The cached past is off the screen then: nothing is left to check.
func startOverLocked(c *conv, epoch, line, notice string) []Event {
	c.oldest = 0
	c.restored = false
	c.noteRestartLocked(epoch)
	now := protocol.FormatTime(time.Now())
	return []Event{
		{Kind: EvReset, Conv: c.id},
		{Kind: EvMessage, Conv: c.id, Message: &Message{Conv: c.id, Kind: MsgNotice, Text: line, TS: now}},
		{Kind: EvNotice, Conv: c.id, Level: "warn", Text: notice},
	}
}

// HistoryLostNotice is the notice line shown in a conversation whose
// history the server lost.
const HistoryLostNotice = "Older messages are gone: the server lost its history."

// PrivateGoneNotice is the notice line shown in a private chat the server
// no longer has: it keeps none of a guest's private chats after the
// guest's session (nor any chat after losing its data).
const PrivateGoneNotice = "Older messages are gone: the server no longer has this chat (it keeps no private chat of a guest after the guest leaves)."

// goneLocked starts private chat c over after the server stopped listing
// it (epoch "") or restarted it under epoch and returns the UI events, as
// resetLocked does, worded for that.
func (b *Bridge) goneLocked(c *conv, epoch string) []Event {
	return startOverLocked(c, epoch, PrivateGoneNotice, "The server no longer has your private chat with "+c.name+"; older messages are gone.")
}

// noteRestartLocked records that c was started over (or opened started
// over) for epoch.
func (c *conv) noteRestartLocked(epoch string) {
	c.restarts++
	c.restartEpoch = epoch
}

// startedOverFor reports whether the restart the client reports as epoch
// (EventEpoch) is the one c was last started over for: the same epoch, or
// the first epoch after a restart for a chat the server no longer had.
func (c *conv) startedOverFor(epoch string) bool {
	return c.restarts > 0 && (c.restartEpoch == epoch || (c.restartEpoch == "" && epoch != ""))
}

// historyLocked files messages of c's history (oldest first; not new, so
// no unread count) and returns their UI events.
func (b *Bridge) historyLocked(c *conv, ms []client.Message, me string) []Event {
	out := make([]Event, 0, len(ms))
	for i := range ms {
		m := &ms[i]
		if m.Seq > 0 && (c.oldest == 0 || m.Seq < c.oldest) {
			c.oldest = m.Seq
		}
		msg := toMessage(c.id, m, me != "" && protocol.Fold(m.From) == protocol.Fold(me))
		out = append(out, Event{Kind: EvMessage, Conv: c.id, Message: &msg})
	}
	return out
}

// refill loads the latest page of private conversation id after a reset.
func (b *Bridge) refill(cl *client.Client, cctx context.Context, gen int64, id, with string) {
	ctx, cancel := requestCtx(cctx)
	defer cancel()
	hp, err := cl.History(ctx, client.HistoryQuery{With: with, Before: protocol.Int64(protocol.MaxID), Limit: pageSize})
	if err != nil {
		return // the conversation stays empty until new messages come
	}
	b.mu.Lock()
	c := b.convs[id]
	if gen != b.gen || c == nil {
		b.mu.Unlock()
		return
	}
	out := b.historyLocked(c, hp.Messages, cl.Name())
	v := c.view()
	b.mu.Unlock()
	b.em.push(append(out, Event{Kind: EvConversation, Conv: id, Conversation: &v})...)
}

// messageLocked files an arriving message and returns the UI events.
func (b *Bridge) messageLocked(m *client.Message, me string) []Event {
	mine := me != "" && protocol.Fold(m.From) == protocol.Fold(me)
	if m.Broadcast {
		var out []Event
		for _, c := range b.convs {
			if c.kind != KindRoom {
				continue
			}
			msg := toMessage(c.id, m, mine)
			msg.Kind = MsgBroadcast
			out = append(out, Event{Kind: EvMessage, Conv: c.id, Message: &msg})
		}
		return out
	}
	var c *conv
	var out []Event
	if m.Private() {
		other := m.With
		if other == "" {
			other = m.From
			if mine {
				other = m.To
			}
		}
		id := privateID(other)
		c = b.convs[id]
		if c == nil {
			c = &conv{id: id, kind: KindPrivate, name: other}
			b.convs[id] = c
			b.notePrivateLocked(other, true) // remembered by handle
		}
		if m.Room != "" {
			c.via = m.Room
		}
	} else {
		c = b.convs[roomID(m.Room)]
		if c == nil {
			return nil // a room left meanwhile
		}
	}
	if m.Seq > 0 && (c.oldest == 0 || m.Seq < c.oldest) {
		c.oldest = m.Seq
	}
	if !mine && !(b.active == c.id && b.focused) {
		c.unread++
	}
	msg := toMessage(c.id, m, mine)
	v := c.view()
	out = append(out, Event{Kind: EvConversation, Conv: c.id, Conversation: &v}, Event{Kind: EvMessage, Conv: c.id, Message: &msg})
	return out
}

func toMessage(id string, m *client.Message, mine bool) Message {
	out := Message{Conv: id, Kind: MsgText, Seq: m.Seq, From: m.From, To: m.To, Room: m.Room, Text: m.Text, Mine: mine}
	if !m.TS.IsZero() {
		out.TS = protocol.FormatTime(m.TS)
	}
	if m.Image != nil {
		out.Kind = MsgImage
		out.Image = imageOf(m.Image)
	}
	return out
}

func imageOf(im *protocol.ImageMeta) *Image {
	if im == nil {
		return nil
	}
	return &Image{ID: im.ID, Mime: im.Mime, W: im.W, H: im.H, Size: im.Size, Name: im.Name}
}

// addMember adds u to the sorted member list ms unless a folded repeat is
// there.
func addMember(ms []string, u string) []string {
	if hasName(ms, u) {
		return ms
	}
	return sortedMembers(append(ms, u))
}

func sortedMembers(ms []string) []string {
	out := append([]string{}, ms...)
	sort.Slice(out, func(i, j int) bool { return protocol.Fold(out[i]) < protocol.Fold(out[j]) })
	return out
}

func requestCtx(parent context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(parent, RequestTimeout)
}

// JoinRoom joins (or creates) a room and returns its recent messages.
func (b *Bridge) JoinRoom(room string) (Page, error) {
	return b.joinRoom(room, false)
}

// joinRoom joins a room. atConnect: the room joined by Connect, whose
// messages go to the UI as events (Connect returns no page), after the
// past shown from the cache was checked against the server's.
func (b *Bridge) joinRoom(room string, atConnect bool) (Page, error) {
	room, err := protocol.CleanRoom(strings.TrimSpace(room))
	if err != nil {
		return Page{}, err
	}
	cl, cctx, gen, err := b.live()
	if err != nil {
		return Page{}, err
	}
	ctx, cancel := requestCtx(cctx)
	defer cancel()
	res, err := cl.Join(ctx, room)
	if err != nil {
		return Page{}, uiErr(err)
	}
	id := roomID(res.Room)
	hist, verdict := res.History, pastFits
	if atConnect {
		hist, verdict = b.joinPast(ctx, cl, id, res)
	}
	me := cl.Name()
	b.mu.Lock()
	if gen != b.gen {
		b.mu.Unlock()
		return Page{}, &protocol.Error{Code: CodeNotConnected, Message: "the connection was closed"}
	}
	c := b.convs[id]
	if c == nil {
		c = &conv{id: id, kind: KindRoom, name: res.Room}
		b.convs[id] = c
	}
	c.name, c.restored = res.Room, false
	c.members = sortedMembers(res.Members)
	b.noteRoomLocked(res.Room, true)
	var evs []Event
	switch verdict {
	case pastLost:
		evs = b.resetLocked(c, res.Epoch)
	case pastDropped:
		c.oldest = 0
		evs = []Event{{Kind: EvReset, Conv: id}}
	}
	page := Page{Messages: make([]Message, 0, len(hist))}
	for i := range hist {
		m := &hist[i]
		page.Messages = append(page.Messages, toMessage(id, m, protocol.Fold(m.From) == protocol.Fold(me)))
		if m.Seq > 0 && (c.oldest == 0 || m.Seq < c.oldest) {
			c.oldest = m.Seq
		}
	}
	page.Conversation = c.view()
	page.HasOlder = page.Conversation.HasOlder
	v := page.Conversation
	b.mu.Unlock()
	if hc := b.cache.Load(); hc != nil {
		hc.conversation(id, KindRoom, res.Room, false)
		hc.setEpoch(id, res.Epoch)
		hc.add(id, page.Messages...)
	}
	if atConnect {
		for i := range page.Messages {
			evs = append(evs, Event{Kind: EvMessage, Conv: id, Message: &page.Messages[i]})
		}
	}
	b.em.push(append(evs, Event{Kind: EvConversation, Conv: id, Conversation: &v})...)
	if !atConnect {
		b.remember() // Connect remembers once everything is open
	}
	return page, nil
}

// LeaveRoom leaves a room conversation and forgets it.
func (b *Bridge) LeaveRoom(id string) (Status, error) {
	cl, cctx, _, err := b.live()
	if err != nil {
		return Status{}, err
	}
	c, err := b.lookup(id, KindRoom)
	if err != nil {
		return Status{}, err
	}
	ctx, cancel := requestCtx(cctx)
	defer cancel()
	if err := cl.Leave(ctx, c.name); err != nil && protocol.CodeOf(err) != protocol.CodeNotMember {
		return Status{}, uiErr(err)
	}
	b.forget(id)
	b.mu.Lock()
	b.noteRoomLocked(c.name, false)
	b.mu.Unlock()
	b.remember()
	return b.Status()
}

// ClosePrivate closes a private chat's tab. It opens again when a new
// message arrives.
func (b *Bridge) ClosePrivate(id string) (Status, error) {
	c, err := b.lookup(id, KindPrivate)
	if err != nil {
		return Status{}, err
	}
	b.forget(id)
	b.mu.Lock()
	b.notePrivateLocked(c.name, false)
	b.mu.Unlock()
	b.remember()
	return b.Status()
}

func (b *Bridge) forget(id string) {
	b.mu.Lock()
	delete(b.convs, id)
	if b.active == id {
		b.active = ""
	}
	b.mu.Unlock()
	b.em.push(Event{Kind: EvClosed, Conv: id})
	b.unreadChanged()
}

// lookup returns a copy of an open conversation, checking its kind (""
// for either).
func (b *Bridge) lookup(id, kind string) (conv, error) {
	if len(id) > 2+4*protocol.MaxRoomLen*3 {
		return conv{}, protocol.Errorf(protocol.CodeBadRequest, "no such conversation")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.convs[id]
	if c == nil || (kind != "" && c.kind != kind) {
		return conv{}, protocol.Errorf(protocol.CodeBadRequest, "no such conversation")
	}
	cp := *c
	cp.members = append([]string{}, c.members...)
	return cp, nil
}

// OpenPrivate opens (or shows) the private chat with a user and returns
// its recent messages.
func (b *Bridge) OpenPrivate(name string) (Page, error) {
	name, err := protocol.CleanName(strings.TrimSpace(name))
	if err != nil {
		return Page{}, err
	}
	cl, cctx, gen, err := b.live()
	if err != nil {
		return Page{}, err
	}
	me := cl.Name()
	if protocol.Fold(name) == protocol.Fold(me) {
		return Page{}, protocol.Errorf(protocol.CodeBadRequest, "that is you")
	}
	ctx, cancel := requestCtx(cctx)
	defer cancel()
	id := privateID(name)
	// The past this chat may show (on screen from the cache, or cached
	// while its tab was closed) is checked first, as at Connect.
	lines, restartEpoch := b.checkOpening(ctx, cl, gen, id)
	hp, herr := cl.History(ctx, client.HistoryQuery{With: name, Before: protocol.Int64(protocol.MaxID), Limit: pageSize})
	b.mu.Lock()
	if gen != b.gen {
		b.mu.Unlock()
		return Page{}, &protocol.Error{Code: CodeNotConnected, Message: "the connection was closed"}
	}
	c := b.convs[id]
	if c == nil {
		c = &conv{id: id, kind: KindPrivate, name: name}
		b.convs[id] = c
	}
	if lines != nil {
		c.noteRestartLocked(restartEpoch) // the chat starts over on this page
	}
	page := Page{Messages: lines}
	if herr == nil {
		for i := range hp.Messages {
			m := &hp.Messages[i]
			if i == 0 && m.From != "" && protocol.Fold(m.From) != protocol.Fold(me) {
				c.name = m.From // as the other user spells it
			}
			page.Messages = append(page.Messages, toMessage(id, m, protocol.Fold(m.From) == protocol.Fold(me)))
			if m.Seq > 0 && (c.oldest == 0 || m.Seq < c.oldest) {
				c.oldest = m.Seq
			}
			if m.Room != "" && c.via == "" {
				c.via = m.Room
			}
		}
	}
	page.Conversation = c.view()
	page.HasOlder = page.Conversation.HasOlder
	v := page.Conversation
	b.notePrivateLocked(c.name, true)
	b.mu.Unlock()
	if page.Messages == nil {
		page.Messages = []Message{}
	}
	if hc := b.cache.Load(); hc != nil {
		hc.conversation(id, KindPrivate, v.Name, true)
		hc.add(id, page.Messages...)
	}
	b.em.push(Event{Kind: EvConversation, Conv: id, Conversation: &v})
	b.remember()
	return page, nil
}

// LoadOlder returns the page of messages before the oldest one shown.
func (b *Bridge) LoadOlder(id string) (Page, error) {
	cl, cctx, _, err := b.live()
	if err != nil {
		return Page{}, err
	}
	c, err := b.lookup(id, "")
	if err != nil {
		return Page{}, err
	}
	if c.oldest <= 1 {
		return Page{Conversation: c.view(), Messages: []Message{}}, nil
	}
	q := client.HistoryQuery{Before: protocol.Int64(c.oldest), Limit: pageSize}
	if c.kind == KindRoom {
		q.Room = c.name
	} else {
		q.With = c.name
	}
	ctx, cancel := requestCtx(cctx)
	defer cancel()
	hp, err := cl.History(ctx, q)
	if err != nil {
		return Page{}, uiErr(err)
	}
	me := cl.Name()
	page := Page{Messages: make([]Message, 0, len(hp.Messages))}
	b.mu.Lock()
	cur := b.convs[id]
	for i := range hp.Messages {
		m := &hp.Messages[i]
		page.Messages = append(page.Messages, toMessage(id, m, protocol.Fold(m.From) == protocol.Fold(me)))
		if cur != nil && m.Seq > 0 && m.Seq < cur.oldest {
			cur.oldest = m.Seq
		}
	}
	if cur != nil {
		if len(hp.Messages) == 0 {
			cur.oldest = 1 // nothing older is kept
		}
		page.Conversation = cur.view()
	} else {
		page.Conversation = c.view()
	}
	b.mu.Unlock()
	page.HasOlder = page.Conversation.HasOlder
	return page, nil
}

// Members asks the server for a room's members and updates the conversation.
func (b *Bridge) Members(id string) ([]string, error) {
	cl, cctx, _, err := b.live()
	if err != nil {
		return nil, err
	}
	c, err := b.lookup(id, KindRoom)
	if err != nil {
		return nil, err
	}
	ctx, cancel := requestCtx(cctx)
	defer cancel()
	ms, err := cl.Users(ctx, c.name)
	if err != nil {
		return nil, uiErr(err)
	}
	ms = sortedMembers(ms)
	b.mu.Lock()
	var v Conversation
	cur := b.convs[id]
	if cur != nil {
		cur.members = ms
		v = cur.view()
	}
	b.mu.Unlock()
	if cur != nil {
		b.em.push(Event{Kind: EvConversation, Conv: id, Conversation: &v})
	}
	return ms, nil
}

// ServerRooms lists the rooms of the server that have members.
func (b *Bridge) ServerRooms() ([]RoomEntry, error) {
	cl, cctx, _, err := b.live()
	if err != nil {
		return nil, err
	}
	ctx, cancel := requestCtx(cctx)
	defer cancel()
	rs, err := cl.Rooms(ctx)
	if err != nil {
		return nil, uiErr(err)
	}
	out := make([]RoomEntry, 0, len(rs))
	b.mu.Lock()
	for _, r := range rs {
		_, joined := b.convs[roomID(r.Room)]
		out = append(out, RoomEntry{Room: r.Room, Members: r.Members, Joined: joined})
	}
	b.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return protocol.Fold(out[i].Room) < protocol.Fold(out[j].Room) })
	return out, nil
}

// isRestoringLocked says whether id is shown from the cache while Connect
// dials (b.restoring). Called with b.mu held.
func (b *Bridge) isRestoringLocked(id string) bool {
	for _, c := range b.restoring {
		if c.id == id {
			return true
		}
	}
	return false
}

// SetActive says which conversation is on screen and whether the window
// has the focus; the active conversation of a focused window has no
// unread messages.
func (b *Bridge) SetActive(id string, focused bool) (Status, error) {
	var ev []Event
	b.mu.Lock()
	if c := b.convs[id]; c != nil {
		b.active = id
		if focused && c.unread != 0 {
			c.unread = 0
			v := c.view()
			ev = append(ev, Event{Kind: EvConversation, Conv: id, Conversation: &v})
		}
	} else if id == "" || b.isRestoringLocked(id) {
		b.active = id // a conversation shown from the cache while Connect dials
	}
	b.focused = focused
	b.mu.Unlock()
	b.em.push(ev...)
	b.unreadChanged()
	return b.Status()
}
