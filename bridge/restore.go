package bridge

import (
	"context"
	"time"

	"parley/client"
	"parley/protocol"
)

// How a cached past fits the server's history.
const (
	pastFits    = iota // nothing cached, or it joins the server's latest page
	pastDropped        // it could not be joined to the server's (too far behind): dropped quietly
	pastLost           // the server lost that history (another epoch): dropped, and the user is told
	pastGone           // the server no longer has that private chat (a guest's ended): dropped, and the user is told
	pastEmpty          // a private chat with nothing cached: filled from the server's latest page
)

// judgePrivate says how the cached past of a private chat (newest seq and
// its epoch) fits what the server lists of it (in; listed false when the
// server does not list it).
func judgePrivate(seq int64, epoch string, in protocol.ConversationInfo, listed bool) int {
	switch {
	case seq == 0:
		return pastEmpty
	case !listed:
		return pastGone
	case (epoch != "" && in.Epoch != "" && in.Epoch != epoch) || in.Seq < seq:
		return pastLost
	}
	return pastFits
}

// restore opens the history cache of cfg's server and user and shows the
// cached past at once, before the server answers: the rooms about to be
// joined, the private chats that were open and those named in privates.
// It returns those conversations, marked restored, for Connect to keep.
func (b *Bridge) restore(cfg client.Config, rooms, privates []string) []*conv {
	if b.opts.Cache == nil {
		return nil
	}
	hc := openCache(b.opts.Cache, cacheScope(cfg), cfg.Identity != nil)
	b.cache.Store(hc)
	var entries []*cacheEntry
	for _, room := range rooms {
		if e := hc.load(roomID(room)); e != nil && len(e.Messages) > 0 {
			entries = append(entries, e)
		}
	}
	seen := map[string]bool{}
	for _, e := range hc.openPrivates() {
		seen[e.Conv] = true
		entries = append(entries, e)
	}
	for _, name := range privates {
		id := privateID(name)
		if seen[id] {
			continue
		}
		seen[id] = true
		if e := hc.load(id); e != nil {
			entries = append(entries, e)
		}
	}
	var out []*conv
	var evs []Event
	for _, e := range entries {
		c := &conv{id: e.Conv, kind: e.Kind, name: e.Name, restored: true, cachedEpoch: e.Epoch}
		if c.kind != KindRoom && c.kind != KindPrivate {
			continue
		}
		for _, m := range e.Messages {
			if c.oldest == 0 || m.Seq < c.oldest {
				c.oldest = m.Seq
			}
			c.cachedSeq = max(c.cachedSeq, m.Seq)
		}
		v := c.view()
		evs = append(evs, Event{Kind: EvConversation, Conv: c.id, Conversation: &v})
		for i := range e.Messages {
			m := e.Messages[i]
			m.Conv = c.id
			evs = append(evs, Event{Kind: EvMessage, Conv: c.id, Message: &m})
		}
		out = append(out, c)
	}
	b.em.push(evs...)
	return out
}

// unrestore takes the restored conversations off the screen again (the
// connection failed) and closes the cache.
func (b *Bridge) unrestore(restored []*conv) {
	if hc := b.cache.Swap(nil); hc != nil {
		hc.close()
	}
	evs := make([]Event, 0, len(restored))
	for _, c := range restored {
		evs = append(evs, Event{Kind: EvClosed, Conv: c.id})
	}
	b.em.push(evs...)
}

// joinPast checks the cached past of room conversation id against the
// join answer res and returns the history to show: the answer's, preceded
// by the pages between the cached past and it when there is a gap.
func (b *Bridge) joinPast(ctx context.Context, cl *client.Client, id string, res client.JoinResult) ([]client.Message, int) {
	b.mu.Lock()
	c := b.convs[id]
	var seq int64
	var epoch string
	restored := c != nil && c.restored
	if restored {
		seq, epoch = c.cachedSeq, c.cachedEpoch
	}
	b.mu.Unlock()
	if !restored || seq == 0 {
		return res.History, pastFits
	}
	if (epoch != "" && res.Epoch != "" && epoch != res.Epoch) || seq > res.Seq {
		return res.History, pastLost
	}
	gap, ok := b.fillGap(ctx, cl, client.HistoryQuery{Room: res.Room}, seq, firstSeq(res.History, res.Seq+1))
	if !ok {
		return res.History, pastDropped
	}
	// What is shown already is not sent again.
	out := gap
	for _, m := range res.History {
		if m.Seq > seq {
			out = append(out, m)
		}
	}
	return out, pastFits
}

// fillGap pages a conversation forward from seq (exclusive) to until
// (exclusive), at most cacheGapPages pages; ok is false when that was not
// enough, or a page failed.
func (b *Bridge) fillGap(ctx context.Context, cl *client.Client, q client.HistoryQuery, seq, until int64) ([]client.Message, bool) {
	var out []client.Message
	for page := 0; seq+1 < until; page++ {
		if page == cacheGapPages {
			return nil, false
		}
		q.Since, q.Before, q.Limit = protocol.Int64(seq), nil, protocol.MaxHistory
		hp, err := cl.History(ctx, q)
		if err != nil || len(hp.Messages) == 0 {
			return nil, false
		}
		for _, m := range hp.Messages {
			if m.Seq > seq && m.Seq < until {
				out = append(out, m)
				seq = m.Seq
			}
		}
		if hp.Messages[len(hp.Messages)-1].Seq >= until-1 {
			break
		}
	}
	return out, true
}

func firstSeq(ms []client.Message, none int64) int64 {
	if len(ms) > 0 && ms[0].Seq > 0 {
		return ms[0].Seq
	}
	return none
}

// checkRestoredPrivates checks the private chats shown from the cache
// against the server's conversations, in the background: those that
// moved are brought up to date, those whose history the server lost start
// over and say so.
func (b *Bridge) checkRestoredPrivates(restored []*conv) {
	var ids []string
	for _, c := range restored {
		if c.kind == KindPrivate {
			ids = append(ids, c.id)
		}
	}
	if len(ids) == 0 {
		return
	}
	cl, cctx, gen, err := b.live()
	if err != nil {
		return
	}
	b.spawn(func() {
		ctx, cancel := requestCtx(cctx)
		defer cancel()
		infos, err := cl.Conversations(ctx)
		if err != nil {
			return // shown as cached; live messages still arrive
		}
		byName := map[string]protocol.ConversationInfo{}
		for _, in := range infos {
			byName[privateID(in.With)] = in
		}
		for _, id := range ids {
			b.checkPrivate(ctx, cl, gen, id, byName)
		}
	})
}

func (b *Bridge) checkPrivate(ctx context.Context, cl *client.Client, gen int64, id string, infos map[string]protocol.ConversationInfo) {
	b.mu.Lock()
	c := b.convs[id]
	if gen != b.gen || c == nil || !c.restored {
		b.mu.Unlock()
		return
	}
	c.restored = false
	name, seq, epoch, restarts := c.name, c.cachedSeq, c.cachedEpoch, c.restarts
	b.mu.Unlock()
	in, listed := infos[id]
	verdict := judgePrivate(seq, epoch, in, listed)
	var gap []client.Message
	if verdict == pastFits {
		var ok bool
		if gap, ok = b.fillGap(ctx, cl, client.HistoryQuery{With: name}, seq, in.Seq+1); !ok {
			verdict = pastDropped
		}
	}
	hc := b.cache.Load()
	b.mu.Lock()
	c = b.convs[id]
	if gen != b.gen || c == nil || c.restarts != restarts {
		// Closed, or started over meanwhile by the client's report of a
		// new epoch (EventEpoch), which took the cached past off the
		// screen, told the user and refilled: this verdict is stale.
		b.mu.Unlock()
		return
	}
	newEpoch := ""
	if listed {
		newEpoch = in.Epoch
	}
	evs := b.verdictLocked(c, verdict, newEpoch)
	evs = append(evs, b.historyLocked(c, gap, cl.Name())...)
	v := c.view()
	b.mu.Unlock()
	b.em.push(append(evs, Event{Kind: EvConversation, Conv: id, Conversation: &v})...)
	if hc != nil {
		if listed {
			hc.setEpoch(id, in.Epoch)
		} else {
			hc.forgetEpoch(id)
		}
	}
	if verdict != pastFits {
		b.refill(cl, ctx, gen, id, name)
	}
}

// verdictLocked starts conversation c over as verdict says (the server's
// conversation has epoch, "" when it has none) and returns the UI events
// (none when the past fits or nothing was shown).
func (b *Bridge) verdictLocked(c *conv, verdict int, epoch string) []Event {
	switch verdict {
	case pastLost:
		return b.resetLocked(c, epoch)
	case pastGone:
		return b.goneLocked(c, "")
	case pastDropped:
		c.oldest = 0
		return []Event{{Kind: EvReset, Conv: c.id}}
	}
	return nil
}

// checkOpening checks the past of private chat id before OpenPrivate
// shows it, as Connect checks the chats it opens: one on screen from the
// cache is checked (and fixed) by checkPrivate; one whose tab was closed
// but whose past is cached is judged against the server's conversations,
// and a past the server lost (or no longer has) is dropped from the cache.
// It returns the notice line to show first in the page, if any; a toast
// says it too. Then the chat starts over, for the returned epoch of the
// server's conversation ("" when it has none), which OpenPrivate records
// (noteRestartLocked) so that the client's report of it is not told again.
func (b *Bridge) checkOpening(ctx context.Context, cl *client.Client, gen int64, id string) ([]Message, string) {
	hc := b.cache.Load()
	if hc == nil {
		return nil, ""
	}
	b.mu.Lock()
	c := b.convs[id]
	stale := gen != b.gen || (c != nil && !c.restored) // a live chat: the client keeps it in step
	b.mu.Unlock()
	if stale {
		return nil, ""
	}
	var cached *cacheEntry
	if c == nil {
		if cached = hc.load(id); cached == nil {
			return nil, ""
		}
	}
	infos, err := cl.Conversations(ctx)
	if err != nil {
		return nil, "" // the page is shown; live messages still arrive
	}
	byName := map[string]protocol.ConversationInfo{}
	for _, in := range infos {
		byName[privateID(in.With)] = in
	}
	if c != nil {
		b.checkPrivate(ctx, cl, gen, id, byName)
		return nil, ""
	}
	var seq int64
	for _, m := range cached.Messages {
		seq = max(seq, m.Seq)
	}
	in, listed := byName[id]
	verdict := judgePrivate(seq, cached.Epoch, in, listed)
	switch {
	case cached.Restarted:
		verdict = pastGone // started over while closed: its past was dropped then
	case verdict == pastFits && in.Seq-seq >= pageSize:
		verdict = pastDropped // the latest page would not join it: drop it quietly
	}
	if verdict != pastFits && verdict != pastEmpty {
		hc.reset(id)
	}
	if listed {
		hc.setEpoch(id, in.Epoch)
	} else {
		hc.forgetEpoch(id)
	}
	if verdict != pastLost && verdict != pastGone {
		return nil, ""
	}
	name := cached.Name
	if listed {
		name = in.With
	}
	text, toast := HistoryLostNotice, "The server lost the history of your private chat with "+name+"; older messages are gone."
	if verdict == pastGone {
		text, toast = PrivateGoneNotice, "The server no longer has your private chat with "+name+"; older messages are gone."
	}
	b.em.push(Event{Kind: EvNotice, Conv: id, Level: "warn", Text: toast})
	epoch := ""
	if listed {
		epoch = in.Epoch
	}
	return []Message{{Conv: id, Kind: MsgNotice, Text: text, TS: protocol.FormatTime(time.Now())}}, epoch
}
