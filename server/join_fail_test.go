package server_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"parley/protocol"
	"parley/server"
)

// historyFailStore is a MemoryStore whose History fails on demand, after
// optionally stopping until the test lets it go on.
type historyFailStore struct {
	*server.MemoryStore
	fail    atomic.Bool
	block   atomic.Bool
	entered chan struct{} // History reports each blocked call here
	release chan struct{} // and waits for this
}

func newHistoryFailStore() *historyFailStore {
	return &historyFailStore{MemoryStore: server.NewMemoryStore(),
		entered: make(chan struct{}, 1), release: make(chan struct{})}
}

func (s *historyFailStore) History(ctx context.Context, id server.ConvID, q server.HistoryQuery) ([]*server.Message, error) {
	if s.block.Load() {
		s.entered <- struct{}{}
		<-s.release
	}
	if s.fail.Load() {
		return nil, errors.New("disk on fire")
	}
	return s.MemoryStore.History(ctx, id, q)
}

// A join whose history read fails leaves the session out of the room: the
// others see its joined followed by a left, what was said while the store
// was being read is not delivered to it, nor anything said afterwards, and
// the room's history and say refuse it as a non-member. A later join works.
func TestJoinFailedHistoryUndoesMembership(t *testing.T) {
	st := newHistoryFailStore()
	t.Cleanup(func() { st.Close() }) // after the server's shutdown
	ts := startServer(t, server.Config{Store: st, Rate: -1})
	a, b := dialWT(t, ts), dialWT(t, ts)
	a.hello("Alice")
	b.hello("Bob")
	b.join("lobby")
	b.ok(map[string]any{"type": "say", "room": "lobby", "text": "before"})

	st.fail.Store(true)
	st.block.Store(true)
	id := a.send(map[string]any{"type": "join", "room": "lobby"})
	<-st.entered // Alice is a member now, her join waiting on the store
	st.block.Store(false)
	if j := b.eventOf(protocol.TypeJoined); j.User != "Alice" {
		t.Fatalf("joined %+v", j)
	}
	b.ok(map[string]any{"type": "say", "room": "lobby", "text": "during"}) // held for Alice
	close(st.release)
	if ans := a.answer(id); ans.Type != protocol.TypeErr || ans.Code != protocol.CodeInternal {
		t.Fatalf("failed join answered %+v", ans)
	}
	if l := b.eventOf(protocol.TypeLeft); l.User != "Alice" || l.Room != "lobby" {
		t.Fatalf("left %+v", l)
	}
	st.fail.Store(false)
	b.ok(map[string]any{"type": "say", "room": "lobby", "text": "after"})
	a.quiet() // neither "during" nor "after" reached Alice
	a.fails(protocol.CodeNotMember, map[string]any{"type": "history", "room": "lobby", "since": 0})
	a.fails(protocol.CodeNotMember, map[string]any{"type": "say", "room": "lobby", "text": "hi"})
	if u := b.ok(map[string]any{"type": "users", "room": "lobby"}); len(u.Members) != 1 || u.Members[0] != "Bob" {
		t.Fatalf("users after the failed join: %v", u.Members)
	}
	b.quiet()

	j := a.join("lobby")
	if len(j.History) != 3 || j.History[2].Text != "after" {
		t.Fatalf("join after the store recovered: %s", describe(j.History))
	}
	b.eventOf(protocol.TypeJoined)
}

// A repeated join by a member that fails keeps the membership it had: the
// session still receives the room's messages and the others see nothing.
func TestRepeatedJoinFailureKeepsMembership(t *testing.T) {
	st := newHistoryFailStore()
	t.Cleanup(func() { st.Close() })
	ts := startServer(t, server.Config{Store: st, Rate: -1})
	a, b := dialWT(t, ts), dialWT(t, ts)
	a.hello("Alice")
	b.hello("Bob")
	b.join("lobby")
	a.join("lobby")
	b.eventOf(protocol.TypeJoined)

	st.fail.Store(true)
	a.fails(protocol.CodeInternal, map[string]any{"type": "join", "room": "lobby"})
	st.fail.Store(false)
	b.ok(map[string]any{"type": "say", "room": "lobby", "text": "still here?"})
	if m := a.eventOf(protocol.TypeMsg); m.Text != "still here?" {
		t.Fatalf("msg %+v", m)
	}
	b.quiet()
}
