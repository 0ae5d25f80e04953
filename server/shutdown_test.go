package server_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"parley/protocol"
	"parley/server"
)

// gatedStore holds every Append until release is called: the messages
// are stored (and their done called), in order, only then.
type gatedStore struct {
	server.Store
	appends atomic.Int64
	gate    chan struct{}
	once    sync.Once
	queue   chan func()
}

func newGatedStore(t *testing.T) *gatedStore {
	g := &gatedStore{Store: server.NewMemoryStore(), gate: make(chan struct{}), queue: make(chan func(), 1000)}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-g.gate
		for f := range g.queue {
			f()
		}
	}()
	t.Cleanup(func() {
		g.release()
		close(g.queue)
		<-stopped
	})
	return g
}

func (g *gatedStore) Append(m *server.Message, done func(error)) {
	g.appends.Add(1)
	g.queue <- func() { g.Store.Append(m, done) }
}

func (g *gatedStore) release() { g.once.Do(func() { close(g.gate) }) }

// waitFor polls cond until it holds, failing after waitTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(waitTimeout); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond) // polling with a deadline
	}
}

// TestShutdownAnswersRequestsInFlight: a guest pipelines says while the
// server shuts down with their store writes still pending. Every say the
// server stored is answered ok before the 4002 close (so the guest, whose
// nonces hold only within its session, never sends a stored say again),
// and after resending the unanswered ones to a new server over the same
// store every message is stored exactly once.
func TestShutdownAnswersRequestsInFlight(t *testing.T) {
	for _, kind := range []string{"webtransport", "websocket"} {
		t.Run(kind, func(t *testing.T) { testShutdownAnswers(t, kind) })
	}
}

func testShutdownAnswers(t *testing.T, kind string) {
	st := newGatedStore(t)
	ts := startServer(t, server.Config{Store: st})
	dial := func(ts *testServer) *rawClient {
		if kind == "websocket" {
			return dialWS(t, ts)
		}
		return dialWT(t, ts)
	}
	c := dial(ts)
	c.hello("Guest")
	c.join("lobby")

	const before, after = 10, 10
	texts := map[int64]string{} // request id -> text
	say := func(i int) {
		text := fmt.Sprint("message ", i)
		id := c.send(map[string]any{"type": "say", "room": "lobby", "text": text, "nonce": fmt.Sprint("n", i)})
		texts[id] = text
	}
	for i := range before {
		say(i)
	}
	// Those are read and their Appends are waiting in the store.
	waitFor(t, "the first says to reach the store", func() bool { return st.appends.Load() == before })
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		shut <- ts.srv.Shutdown(ctx)
	}()
	waitFor(t, "the shutdown to start", func() bool { return !ts.srv.Ready() })
	// More says while the server drains: each is either answered or not
	// read at all.
	for i := before; i < before+after; i++ {
		say(i)
	}
	st.release()
	if err := <-shut; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if code := c.closeCode(); code != uint32(protocol.CloseShutdown) {
		t.Fatalf("closed with %d, want %d", code, protocol.CloseShutdown)
	}
	<-c.gone
	okd := map[string]bool{}
	answered := map[int64]bool{}
	for len(c.in) > 0 {
		f := c.next()
		if f.Type != protocol.TypeOK && f.Type != protocol.TypeErr {
			continue
		}
		if answered[f.ID] {
			t.Fatalf("id %d answered twice", f.ID)
		}
		answered[f.ID] = true
		if f.Type == protocol.TypeOK {
			okd[texts[f.ID]] = true
		}
	}
	stored := storedTexts(t, st)
	if len(stored) < before {
		t.Fatalf("%d messages stored, want at least the %d read before the shutdown", len(stored), before)
	}
	for text, n := range stored {
		if !okd[text] {
			t.Errorf("%q was stored (%d times) but its ok never reached the client", text, n)
		}
	}
	if int64(len(stored)) != st.appends.Load() {
		t.Errorf("%d appends for %d stored messages", st.appends.Load(), len(stored))
	}

	// A new server over the same store; the guest (a new session, so
	// nonces from before mean nothing) sends again what was not answered.
	ts2 := startServer(t, server.Config{Store: st})
	c2 := dial(ts2)
	c2.hello("Guest")
	c2.join("lobby")
	resent := 0
	for id, text := range texts {
		if answered[id] && okd[text] {
			continue
		}
		c2.ok(map[string]any{"type": "say", "room": "lobby", "text": text, "nonce": "again " + text})
		resent++
	}
	t.Logf("%d stored before the shutdown, %d sent again", len(stored), resent)
	stored = storedTexts(t, st)
	if len(stored) != before+after {
		t.Errorf("%d distinct messages stored, want %d", len(stored), before+after)
	}
	for text, n := range stored {
		if n != 1 {
			t.Errorf("%q stored %d times", text, n)
		}
	}
}

// storedTexts counts the lobby's stored messages by text.
func storedTexts(t *testing.T, st server.Store) map[string]int {
	t.Helper()
	since := int64(0)
	msgs, err := st.History(context.Background(), server.RoomConv("lobby"), server.HistoryQuery{Since: &since, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, m := range msgs {
		out[m.Text]++
	}
	return out
}
