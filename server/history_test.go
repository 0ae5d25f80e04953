package server_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"parley/protocol"
	"parley/server"
)

func TestJoinSinceAndHistory(t *testing.T) {
	ts := startServer(t, server.Config{Rate: -1})
	a := dialWT(t, ts)
	a.hello("Alice")
	a.join("lobby")
	for i := 1; i <= 120; i++ {
		a.ok(map[string]any{"type": "say", "room": "lobby", "text": fmt.Sprint("m", i)})
	}
	b := dialWT(t, ts)
	b.hello("Bob")
	ok := b.join("lobby")
	if *ok.Seq != 120 || len(ok.History) != 50 || *ok.History[0].Seq != 71 || *ok.History[49].Seq != 120 || ok.Truncated {
		t.Fatalf("join: seq %d, %d messages from %d", *ok.Seq, len(ok.History), *ok.History[0].Seq)
	}
	ok = b.ok(map[string]any{"type": "join", "room": "lobby", "since": 100})
	if len(ok.History) != 20 || *ok.History[0].Seq != 101 || ok.Truncated {
		t.Fatalf("join since 100: %d from %d", len(ok.History), *ok.History[0].Seq)
	}
	ok = b.ok(map[string]any{"type": "join", "room": "lobby", "since": 5})
	if len(ok.History) != 100 || *ok.History[0].Seq != 21 || !ok.Truncated {
		t.Fatalf("join since 5: %d from %d truncated %v", len(ok.History), *ok.History[0].Seq, ok.Truncated)
	}
	h := b.ok(map[string]any{"type": "history", "room": "lobby", "before": 71, "limit": 30})
	if len(h.History) != 30 || *h.History[0].Seq != 41 || *h.History[29].Seq != 70 {
		t.Fatalf("before 71: %d from %d", len(h.History), *h.History[0].Seq)
	}
	h = b.ok(map[string]any{"type": "history", "room": "lobby", "since": 0, "limit": 500})
	if len(h.History) != 100 || *h.History[0].Seq != 1 {
		t.Fatalf("since 0 limit 500: %d", len(h.History))
	}
	b.fails(protocol.CodeBadRequest, map[string]any{"type": "history", "room": "lobby", "since": 1, "before": 5})
	b.fails(protocol.CodeBadRequest, map[string]any{"type": "history", "room": "lobby"})
	b.fails(protocol.CodeNotMember, map[string]any{"type": "history", "room": "kitchen", "since": 0})
}

func TestHistoryTruncatedToFrame(t *testing.T) {
	ts := startServer(t, server.Config{Rate: -1})
	a := dialWT(t, ts)
	a.hello("Alice")
	a.join("lobby")
	text := strings.Repeat("ж", 2000) // 4000 bytes of UTF-8
	for i := 1; i <= 40; i++ {
		a.ok(map[string]any{"type": "say", "room": "lobby", "text": text})
	}
	ok := a.join("lobby")
	n := len(ok.History)
	if !ok.Truncated || n == 0 || n >= 40 || *ok.History[n-1].Seq != 40 {
		t.Fatalf("join keeps the newest: %d messages, truncated %v", n, ok.Truncated)
	}
	h := a.ok(map[string]any{"type": "history", "room": "lobby", "since": 0})
	if !h.Truncated || *h.History[0].Seq != 1 {
		t.Fatalf("since keeps the oldest: truncated %v from %d", h.Truncated, *h.History[0].Seq)
	}
	h = a.ok(map[string]any{"type": "history", "room": "lobby", "before": 41})
	if !h.Truncated || *h.History[len(h.History)-1].Seq != 40 {
		t.Fatalf("before keeps the newest: truncated %v", h.Truncated)
	}
}

// asyncStore makes a MemoryStore answer Append later, from another
// goroutine (as a group-committing store does), and fail on demand.
type asyncStore struct {
	*server.MemoryStore
	mu   sync.Mutex
	q    chan func()
	fail atomic.Bool
	wg   sync.WaitGroup
}

func newAsyncStore() *asyncStore {
	s := &asyncStore{MemoryStore: server.NewMemoryStore(), q: make(chan func(), 1024)}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for f := range s.q {
			f()
		}
	}()
	return s
}

func (s *asyncStore) Append(m *server.Message, done func(error)) {
	fail := s.fail.Load()
	s.q <- func() {
		if fail {
			done(errors.New("disk on fire"))
			return
		}
		s.MemoryStore.Append(m, done)
	}
}

func (s *asyncStore) Close() error {
	close(s.q)
	s.wg.Wait()
	return s.MemoryStore.Close()
}

func TestAsyncStoreOrderAndFailure(t *testing.T) {
	st := newAsyncStore()
	t.Cleanup(func() { st.Close() }) // after the server's shutdown (cleanups run last-in first-out)
	ts := startServer(t, server.Config{Store: st, Rate: -1})
	a, b := dialWT(t, ts), dialWT(t, ts)
	a.hello("Alice")
	b.hello("Bob")
	a.join("lobby")
	b.join("lobby")
	a.eventOf(protocol.TypeJoined)
	// Pipelined says and a users request: answered in the order sent.
	var ids []int64
	for i := range 50 {
		ids = append(ids, a.send(map[string]any{"type": "say", "room": "lobby", "text": fmt.Sprint(i)}))
	}
	ids = append(ids, a.send(map[string]any{"type": "users", "room": "lobby"}))
	for i, id := range ids {
		f := a.next()
		if f.ID != id || f.Type != "ok" {
			t.Fatalf("answer %d: %+v, want ok for %d", i, f, id)
		}
		if i < 50 && *f.Seq != int64(i+1) {
			t.Fatalf("seq %d for say %d", *f.Seq, i)
		}
	}
	for i := range 50 {
		if ev := b.eventOf(protocol.TypeMsg); *ev.Seq != int64(i+1) {
			t.Fatalf("Bob: %+v", ev)
		}
	}
	// A failing store: internal, nothing delivered; then the sequence goes on.
	st.fail.Store(true)
	a.fails(protocol.CodeInternal, map[string]any{"type": "say", "room": "lobby", "text": "lost"})
	st.fail.Store(false)
	if ok := a.ok(map[string]any{"type": "say", "room": "lobby", "text": "kept"}); *ok.Seq != 51 {
		t.Fatalf("after a failure: seq %d, want 51", *ok.Seq)
	}
	if ev := b.eventOf(protocol.TypeMsg); ev.Text != "kept" || *ev.Seq != 51 {
		t.Fatalf("Bob after failure: %+v", ev)
	}
	// A join while messages are in flight sees each message once: in its
	// history or as an event after its ok.
	c := dialWT(t, ts)
	c.hello("Carol")
	for i := range 30 {
		a.send(map[string]any{"type": "say", "room": "lobby", "text": fmt.Sprint("x", i)})
	}
	ok := c.ok(map[string]any{"type": "join", "room": "lobby", "since": 51})
	seen := map[int64]bool{}
	last := int64(51)
	for _, m := range ok.History {
		seen[*m.Seq] = true
		last = *m.Seq
	}
	for last < 81 {
		ev := c.eventOf(protocol.TypeMsg)
		if seen[*ev.Seq] || *ev.Seq != last+1 {
			t.Fatalf("Carol: seq %d after %d (history %d)", *ev.Seq, last, len(ok.History))
		}
		last = *ev.Seq
	}
}
