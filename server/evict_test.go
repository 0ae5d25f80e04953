package server_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"parley/internal/sqlitestore"
	"parley/protocol"
	"parley/server"
)

// evictStores runs f with each kind of store the hub forgets rooms over:
// the memory store, a memory store that completes appends later (on
// another goroutine, in order: appends in flight while a room empties)
// unless skipLagging, and the durable SQLite store.
func evictStores(t *testing.T, skipLagging bool, f func(t *testing.T, st server.Store)) {
	t.Run("memory", func(t *testing.T) { f(t, server.NewMemoryStore()) })
	if !skipLagging {
		t.Run("lagging", func(t *testing.T) { f(t, newLaggingStore(t)) })
	}
	t.Run("sqlite", func(t *testing.T) {
		st, err := sqlitestore.Open(memDir(t), sqlitestore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		f(t, st)
	})
}

// memDir returns a fresh directory in /dev/shm when there is one, else in
// the temporary directory: these tests are about the hub, not durability,
// and a thousand fsyncs on a VM's disk would take most of their time.
func memDir(t *testing.T) string {
	dir, err := os.MkdirTemp("/dev/shm", "parley-evict-")
	if err != nil {
		return t.TempDir()
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// laggingStore is a MemoryStore whose appends complete on a goroutine of
// their own, in Append order, after Append returned.
type laggingStore struct {
	*server.MemoryStore
	queue chan func()
}

func newLaggingStore(t *testing.T) *laggingStore {
	s := &laggingStore{MemoryStore: server.NewMemoryStore(), queue: make(chan func(), 1024)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for f := range s.queue {
			runtime.Gosched() // let the session go on (to its leave, say) first
			f()
		}
	}()
	t.Cleanup(func() { close(s.queue); <-done })
	return s
}

func (s *laggingStore) Append(m *server.Message, done func(error)) {
	s.queue <- func() { s.MemoryStore.Append(m, done) }
}

// waitHeld polls (with a deadline) until the hub holds rooms rooms and
// pairs private conversations, and the rooms gauge is zero when rooms is.
func waitHeld(t *testing.T, ts *testServer, rooms, pairs int) {
	t.Helper()
	for deadline := time.Now().Add(waitTimeout); ; {
		r, p := ts.srv.HubHeld()
		m := ts.srv.Metrics()
		if r == rooms && p == pairs && m.Conversations == int64(rooms+pairs) && (rooms > 0 || m.Rooms == 0) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the hub holds %d rooms and %d private conversations (gauges: %d held, %d rooms with members); want %d and %d",
				r, p, m.Conversations, m.Rooms, rooms, pairs)
		}
		time.Sleep(time.Millisecond) // polling with a deadline
	}
}

// TestRoomsForgottenWhenLeft: one session joins, talks in and leaves 1,000
// rooms; afterwards the hub holds none of them, and joining them again
// continues their seq under the same epoch, with their history. (Over
// SQLite 300 rooms: with the race detector each SQLite query costs a few
// milliseconds, and 1,000 rooms took 10 to 12 s here.)
func TestRoomsForgottenWhenLeft(t *testing.T) {
	evictStores(t, true, func(t *testing.T, st server.Store) {
		n := 1000
		if _, durable := st.(*sqlitestore.Store); durable {
			n = 300
		}
		ts := startServer(t, server.Config{Store: st, Rate: -1})
		c := dialWT(t, ts)
		c.hello("Walker")
		room := func(i int) string { return fmt.Sprintf("room-%d", i) }

		passNo := 1 // says write "room number/pass number"

		// Each pass is pipelined: every request sent, then every answer
		// read in order.
		pass := func(rooms []int, reqs ...string) [][]*protocol.Frame {
			t.Helper()
			ids := make([][]int64, len(rooms))
			for k, i := range rooms {
				for _, typ := range reqs {
					var id int64
					switch {
					case typ == "history":
						id = c.send(map[string]any{"type": typ, "room": room(i), "since": 0})
					case typ == "say":
						id = c.send(map[string]any{"type": typ, "room": room(i), "text": fmt.Sprintf("%d/%d", i, passNo)})
					default:
						id = c.send(map[string]any{"type": typ, "room": room(i)})
					}
					ids[k] = append(ids[k], id)
				}
			}
			out := make([][]*protocol.Frame, len(rooms))
			for k, i := range rooms {
				for r, id := range ids[k] {
					a := c.answer(id)
					if a.Type != protocol.TypeOK {
						t.Fatalf("%s in %s: %+v", reqs[r], room(i), a)
					}
					out[k] = append(out[k], a)
				}
			}
			return out
		}
		all := make([]int, n)
		for i := range all {
			all[i] = i
		}
		epochs := make([]string, n)
		for i, a := range pass(all, "join", "say", "leave") {
			if *a[0].Seq != 0 || a[0].Epoch == "" || *a[1].Seq != 1 {
				t.Fatalf("%s: join %+v, say %+v", room(i), a[0], a[1])
			}
			epochs[i] = a[0].Epoch
		}
		waitHeld(t, ts, 0, 0)

		passNo = 2
		for i, a := range pass(all, "join", "say", "leave") {
			if *a[0].Seq != 1 || a[0].Epoch != epochs[i] {
				t.Fatalf("join %s again: %+v, want seq 1 under epoch %s", room(i), a[0], epochs[i])
			}
			if len(a[0].History) != 1 || a[0].History[0].Text != fmt.Sprintf("%d/1", i) || *a[1].Seq != 2 {
				t.Fatalf("%s again: join's history %s, say %+v (want seq 2)", room(i), describe(a[0].History), a[1])
			}
		}
		waitHeld(t, ts, 0, 0)

		// A third time (every tenth room): the second message is in the
		// history too (the leave was answered after the say was durable).
		var tenth []int
		for i := 0; i < n; i += 10 {
			tenth = append(tenth, i)
		}
		for k, a := range pass(tenth, "join", "history", "leave") {
			i := tenth[k]
			h := a[1].History
			if *a[0].Seq != 2 || a[0].Epoch != epochs[i] || len(h) != 2 || *h[0].Seq != 1 || *h[1].Seq != 2 ||
				h[0].Text != fmt.Sprintf("%d/1", i) || h[1].Text != fmt.Sprintf("%d/2", i) {
				t.Fatalf("%s a third time: join %+v (want seq 2 under epoch %s), history %s", room(i), a[0], epochs[i], describe(h))
			}
		}
		waitHeld(t, ts, 0, 0)
		if len(c.events) > 0 {
			t.Fatalf("events in rooms nobody else was in: %s", describe(c.events))
		}
	})
}

// TestUsersOfForgottenRoom: a room nobody is in answers users with no
// members, whether the hub still holds it or not; parley_hub_conversations
// counts the rooms held.
func TestUsersOfForgottenRoom(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := dialWT(t, ts)
	c.hello("Walker")
	c.join("Quiet")
	c.ok(map[string]any{"type": "leave", "room": "quiet"})
	waitHeld(t, ts, 0, 0)
	if u := c.ok(map[string]any{"type": "users", "room": "quiet"}); len(u.Members) != 0 {
		t.Fatalf("users of a forgotten room: %+v", u)
	}
	c.fails(protocol.CodeNotMember, map[string]any{"type": "say", "room": "quiet", "text": "anyone?"})
	c.fails(protocol.CodeNotMember, map[string]any{"type": "leave", "room": "quiet"})
	waitHeld(t, ts, 0, 0)

	c.join("Busy")
	rec := httptest.NewRecorder()
	ts.srv.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{"# TYPE parley_hub_conversations gauge\nparley_hub_conversations 1\n", "parley_rooms 1\n"} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("metrics lack %q:\n%s", want, rec.Body.String())
		}
	}
}

// TestIdentityPairForgotten: identities' private conversation stays in
// memory while one of them is online (whoever of them came and went) and
// is forgotten when neither is; talking again continues its seq under the
// same epoch, and conversations lists it so. A guest's goes with the guest.
func TestIdentityPairForgotten(t *testing.T) {
	evictStores(t, false, func(t *testing.T, st server.Store) {
		ts := startServer(t, server.Config{Store: st})
		_, alice, _ := ed25519.GenerateKey(rand.Reader)
		_, bob, _ := ed25519.GenerateKey(rand.Reader)
		login := func(name string, key ed25519.PrivateKey) *rawClient {
			c := dialWT(t, ts)
			if ok := c.login(name, key, false); ok.Type != protocol.TypeOK {
				t.Fatalf("%s: auth %+v", name, ok)
			}
			c.join("lobby")
			return c
		}
		a := login("Alice", alice)
		b := login("Bob", bob)
		a.eventOf(protocol.TypeJoined)
		first := a.ok(map[string]any{"type": "say", "room": "lobby", "to": "Bob", "text": "hi Bob"})
		b.ok(map[string]any{"type": "say", "room": "lobby", "to": "Alice", "text": "hi Alice"})
		if *first.Seq != 1 || first.Epoch == "" {
			t.Fatalf("first private ok %+v", first)
		}
		epoch := first.Epoch
		waitHeld(t, ts, 1, 1)

		// Alice goes and comes back, then Bob goes: one of them is online
		// throughout, so the conversation stays.
		a.close()
		waitHeld(t, ts, 1, 1)
		a = login("Alice", alice)
		b.close()
		waitHeld(t, ts, 1, 1)
		a.close()
		waitHeld(t, ts, 0, 0)

		a = login("Alice", alice)
		b = login("Bob", bob)
		a.eventOf(protocol.TypeJoined)
		again := a.ok(map[string]any{"type": "say", "room": "lobby", "to": "Bob", "text": "back"})
		if *again.Seq != 3 || again.Epoch != epoch {
			t.Fatalf("private ok after the conversation was forgotten: %+v, want seq 3 under epoch %s", again, epoch)
		}
		if ev := b.nextMsgEvent(); *ev.Seq != 3 || ev.Epoch != epoch || ev.Text != "back" {
			t.Fatalf("Bob got %+v", ev)
		}
		conv := b.ok(map[string]any{"type": "conversations"})
		if len(conv.Private) != 1 || conv.Private[0].With != "Alice" || conv.Private[0].Seq != 3 || conv.Private[0].Epoch != epoch {
			t.Fatalf("Bob's conversations: %+v", conv.Private)
		}
		since := int64(0)
		h := b.ok(map[string]any{"type": "history", "with": "Alice", "since": since})
		if len(h.History) != 3 || h.History[0].Text != "hi Bob" || h.History[2].Text != "back" {
			t.Fatalf("history with Alice: %s", describe(h.History))
		}

		// A guest's private conversation goes with the guest (from the
		// store too), Alice and Bob's stays while they are online.
		g := dialWT(t, ts)
		g.hello("Guest")
		g.join("lobby")
		g.ok(map[string]any{"type": "say", "room": "lobby", "to": "Alice", "text": "psst"})
		waitHeld(t, ts, 1, 2)
		g.close()
		waitHeld(t, ts, 1, 1)
		a.close()
		b.close()
		waitHeld(t, ts, 0, 0)
	})
}

// TestRoomDropRacesJoinAndSay: sessions join, talk in and leave the same
// few rooms at once, so that rooms empty (and are forgotten) while others
// join them and while a session's image upload races its own leave. Every
// acknowledged message is in the room's history exactly once, seq gapless;
// every membership got every message said while it lasted, in order, once.
func TestRoomDropRacesJoinAndSay(t *testing.T) {
	const sessions, iterations, says = 4, 30, 2
	rooms := []string{"alpha", "beta", "gamma"}
	body := pngOf(t, 2, 2)
	evictStores(t, false, func(t *testing.T, st server.Store) {
		ts := startServer(t, server.Config{Store: st, Rate: -1})
		var (
			mu    sync.Mutex
			acked = map[string]map[int64]string{} // room → seq → text ("" for an image)
		)
		ack := func(room string, seq int64, text string) {
			mu.Lock()
			defer mu.Unlock()
			if acked[room] == nil {
				acked[room] = map[int64]string{}
			}
			if old, dup := acked[room][seq]; dup {
				t.Errorf("%s: seq %d acknowledged twice (%q and %q)", room, seq, old, text)
			}
			acked[room][seq] = text
		}
		var wg sync.WaitGroup
		for k := range sessions {
			wg.Go(func() {
				c := dialWT(t, ts)
				c.hello(fmt.Sprintf("racer%d", k))
				for it := range iterations {
					room := rooms[(k+it)%len(rooms)]
					j := c.join(room)
					joined := *j.Seq
					// Pipelined: the leave is handled while the says'
					// appends (and the upload, on its own goroutine) may
					// still be in flight.
					texts := map[int64]string{}
					for q := range says {
						texts[c.send(map[string]any{"type": "say", "room": room, "text": fmt.Sprintf("%s/%d/%d", c.name, it, q)})] = fmt.Sprintf("%s/%d/%d", c.name, it, q)
					}
					uid := int64(-1)
					if it%2 == 0 {
						uid = c.upload(map[string]any{"type": "image", "room": room, "name": "r.png", "size": len(body)}, body)
					}
					lid := c.send(map[string]any{"type": "leave", "room": room})
					own := map[int64]bool{}
					for left := len(texts) + 1 + min(int(uid+1), 1); left > 0; {
						f := c.next()
						if f.ID == 0 {
							c.events = append(c.events, f)
							continue
						}
						left--
						text, say := texts[f.ID]
						switch {
						case say && f.Type == protocol.TypeOK:
							ack(room, *f.Seq, text)
							own[*f.Seq] = true
						case f.ID == uid && f.Type == protocol.TypeOK:
							ack(room, *f.Seq, "")
							own[*f.Seq] = true
						case f.ID == uid && f.Code == protocol.CodeNotMember:
							// The leave came first.
						case f.ID == lid && f.Type == protocol.TypeOK:
						default:
							t.Errorf("%s: unexpected answer %+v", c.name, f)
						}
					}
					checkMembership(t, c, room, joined, own)
				}
				c.close()
			})
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		waitHeld(t, ts, 0, 0)

		r := dialWT(t, ts)
		r.hello("Reader")
		for _, room := range rooms {
			r.join(room)
			var all []*protocol.Frame
			for since := int64(0); ; {
				h := r.ok(map[string]any{"type": "history", "room": room, "since": since, "limit": protocol.MaxHistory})
				if len(h.History) == 0 {
					break
				}
				all = append(all, h.History...)
				since = *h.History[len(h.History)-1].Seq
			}
			want := acked[room]
			if len(all) != len(want) {
				t.Errorf("%s: %d messages in the history, %d acknowledged", room, len(all), len(want))
			}
			for i, m := range all {
				text, ok := want[*m.Seq]
				switch {
				case *m.Seq != int64(i+1):
					t.Fatalf("%s: history message %d has seq %d (gap or repeat)", room, i, *m.Seq)
				case !ok:
					t.Errorf("%s: seq %d in the history was never acknowledged", room, *m.Seq)
				case text == "" && m.Image.Meta == nil, text != "" && m.Text != text:
					t.Errorf("%s: seq %d is %+v, acknowledged as %q", room, *m.Seq, m, text)
				}
			}
			r.ok(map[string]any{"type": "leave", "room": room})
		}
	})
}

// checkMembership checks the msg events c got while a member of room (kept
// in c.events, which it empties): all of room, none twice, in seq order,
// none of c's own (own: their seqs), and with c's own every seq from
// joined+1 up to the last event. (c's messages may outlive its membership:
// its leave can be handled while they are in flight.)
func checkMembership(t *testing.T, c *rawClient, room string, joined int64, own map[int64]bool) {
	t.Helper()
	seen := map[int64]bool{}
	last := joined
	for _, ev := range c.events {
		if ev.Type != protocol.TypeMsg {
			continue
		}
		if ev.Room != room || *ev.Seq <= last || own[*ev.Seq] {
			t.Errorf("%s: msg event %s seq %d after seq %d (joined at %d; own %v): out of order, repeated, its own or of another room",
				c.name, ev.Room, *ev.Seq, last, joined, own)
		}
		last = *ev.Seq
		seen[*ev.Seq] = true
	}
	c.events = nil
	for s := joined + 1; s <= last; s++ {
		if !seen[s] && !own[s] {
			t.Errorf("%s: in %s from seq %d to %d, seq %d was neither received nor its own", c.name, room, joined+1, last, s)
		}
	}
}

// heldAppendStore holds private messages' appends until hold is closed
// (signalling held for each) and reports, for each DropConv, whether every
// held append had completed by then.
type heldAppendStore struct {
	*server.MemoryStore
	hold, held chan struct{}
	appended   atomic.Bool
	dropped    chan bool
}

func (s *heldAppendStore) Append(m *server.Message, done func(error)) {
	if m.Conv.IsRoom() {
		s.MemoryStore.Append(m, done)
		return
	}
	s.held <- struct{}{}
	go func() {
		<-s.hold
		s.MemoryStore.Append(m, func(err error) {
			s.appended.Store(true)
			done(err)
		})
	}()
}

func (s *heldAppendStore) DropConv(ctx context.Context, id server.ConvID) error {
	s.dropped <- s.appended.Load()
	return s.MemoryStore.DropConv(ctx, id)
}

// TestGuestDropWaitsForPost: a guest whose private message is not yet
// durable when its session ends has the conversation dropped from the
// store only after that message's append completed (else the append could
// bring the dropped conversation back, or a new guest of the same name
// could load it).
func TestGuestDropWaitsForPost(t *testing.T) {
	st := &heldAppendStore{MemoryStore: server.NewMemoryStore(), hold: make(chan struct{}), held: make(chan struct{}, 1), dropped: make(chan bool, 1)}
	ts := startServer(t, server.Config{Store: st})
	_, g := aliceAndGuest(t, func() *rawClient { return dialWT(t, ts) })
	g.send(map[string]any{"type": "say", "room": "lobby", "to": "Alice", "text": "bye"})
	<-st.held
	g.close()
	waitHeld(t, ts, 1, 0) // the guest's conversation is out of the hub, its drop waits
	close(st.hold)
	select {
	case after := <-st.dropped:
		if !after {
			t.Fatal("the guest's conversation was dropped from the store before its last message's append completed")
		}
	case <-time.After(waitTimeout):
		t.Fatal("the guest's conversation was not dropped")
	}
	g2 := dialWT(t, ts)
	g2.hello("Guest")
	g2.join("lobby")
	if ok := g2.ok(map[string]any{"type": "say", "room": "lobby", "to": "Alice", "text": "hello"}); *ok.Seq != 1 {
		t.Fatalf("a new guest of the name: %+v, want seq 1", ok)
	}
}
