package server_test

import (
	"testing"

	"parley/protocol"
	"parley/server"
)

// transports runs a test over WebTransport, WebSocket and in-process.
func transports(t *testing.T, f func(t *testing.T, ts *testServer, dial func() *rawClient)) {
	for _, kind := range []string{"webtransport", "websocket", "inprocess"} {
		t.Run(kind, func(t *testing.T) {
			ts := startServer(t, server.Config{})
			dial := func() *rawClient {
				switch kind {
				case "websocket":
					return dialWS(t, ts)
				case "inprocess":
					return dialInProcess(t, ts.srv)
				}
				return dialWT(t, ts)
			}
			f(t, ts, dial)
		})
	}
}

func TestSeedJoinNoticeAndUserList(t *testing.T) {
	transports(t, func(t *testing.T, ts *testServer, dial func() *rawClient) {
		a, b := dial(), dial()
		a.hello("Alice")
		b.hello("Bob")
		ok := a.join("lobby")
		if ok.Room != "lobby" || len(ok.Members) != 1 || ok.Members[0] != "Alice" || ok.Seq == nil || *ok.Seq != 0 || ok.Epoch == "" {
			t.Fatalf("first join: %+v", ok)
		}
		ok = b.join("LOBBY")
		if ok.Room != "lobby" || len(ok.Members) != 2 {
			t.Fatalf("second join: %+v", ok)
		}
		ev := a.eventOf(protocol.TypeJoined)
		if ev.Room != "lobby" || ev.User != "Bob" {
			t.Fatalf("joined: %+v", ev)
		}
		users := a.ok(map[string]any{"type": "users", "room": "Lobby"})
		if len(users.Members) != 2 || users.Members[0] != "Alice" || users.Members[1] != "Bob" {
			t.Fatalf("users: %+v", users)
		}
		rooms := b.ok(map[string]any{"type": "rooms"})
		if len(rooms.Rooms) != 1 || rooms.Rooms[0].Room != "lobby" || rooms.Rooms[0].Members != 2 {
			t.Fatalf("rooms: %+v", rooms)
		}
		b.quiet() // the joining session gets only its ok
	})
}

func TestSeedLeaveNotice(t *testing.T) {
	transports(t, func(t *testing.T, ts *testServer, dial func() *rawClient) {
		a, b := dial(), dial()
		a.hello("Alice")
		b.hello("Bob")
		a.join("lobby")
		b.join("lobby")
		a.eventOf(protocol.TypeJoined)
		b.ok(map[string]any{"type": "leave", "room": "lobby"})
		ev := a.eventOf(protocol.TypeLeft)
		if ev.User != "Bob" || ev.Room != "lobby" {
			t.Fatalf("left: %+v", ev)
		}
		b.fails(protocol.CodeNotMember, map[string]any{"type": "leave", "room": "lobby"})
		// Closing a session is leaving every room.
		b.join("lobby")
		a.eventOf(protocol.TypeJoined)
		b.close()
		if ev := a.eventOf(protocol.TypeLeft); ev.User != "Bob" {
			t.Fatalf("left on close: %+v", ev)
		}
	})
}

func TestSeedRoomMessageToAllButSender(t *testing.T) {
	transports(t, func(t *testing.T, ts *testServer, dial func() *rawClient) {
		a, b, c, d := dial(), dial(), dial(), dial()
		for i, cl := range []*rawClient{a, b, c, d} {
			cl.hello([]string{"Alice", "Bob", "Carol", "Dave"}[i])
		}
		a.join("lobby")
		b.join("lobby")
		c.join("lobby")
		d.join("kitchen")
		ok := a.ok(map[string]any{"type": "say", "room": "lobby", "text": "hi all", "from": "Mallory"})
		if ok.Seq == nil || *ok.Seq != 1 || ok.TS == "" {
			t.Fatalf("say ok: %+v", ok)
		}
		for _, cl := range []*rawClient{b, c} {
			var ev *protocol.Frame
			for ev = cl.event(); ev.Type != protocol.TypeMsg; ev = cl.event() {
			}
			if ev.From != "Alice" || ev.Text != "hi all" || ev.Room != "lobby" || *ev.Seq != 1 || ev.TS != ok.TS || ev.To != "" || ev.Broadcast {
				t.Fatalf("%s got %+v", cl.name, ev)
			}
		}
		a.eventOf(protocol.TypeJoined)
		a.eventOf(protocol.TypeJoined)
		a.quiet()
		d.quiet()
	})
}

func TestSeedPrivateMessage(t *testing.T) {
	transports(t, func(t *testing.T, ts *testServer, dial func() *rawClient) {
		a, b, c := dial(), dial(), dial()
		a.hello("Alice")
		b.hello("Bob")
		c.hello("Carol")
		for _, cl := range []*rawClient{a, b, c} {
			cl.join("lobby")
		}
		ok := a.ok(map[string]any{"type": "say", "room": "lobby", "to": "bob", "text": "psst"})
		if *ok.Seq != 1 {
			t.Fatalf("private ok: %+v", ok)
		}
		var ev *protocol.Frame
		for ev = b.event(); ev.Type != protocol.TypeMsg; ev = b.event() {
		}
		if ev.From != "Alice" || ev.To != "Bob" || ev.Text != "psst" || *ev.Seq != 1 || ev.Room != "lobby" {
			t.Fatalf("Bob got %+v", ev)
		}
		// A third member never receives it.
		for _, e := range c.events {
			if e.Type == protocol.TypeMsg {
				t.Fatalf("Carol got %+v", e)
			}
		}
		c.quiet2(protocol.TypeJoined)
		// Both directions share one sequence.
		if ok := b.ok(map[string]any{"type": "say", "room": "lobby", "to": "Alice", "text": "ok"}); *ok.Seq != 2 {
			t.Fatalf("reply seq: %+v", ok)
		}
		a.fails(protocol.CodeBadRequest, map[string]any{"type": "say", "room": "lobby", "to": "alice", "text": "me"})
		a.fails(protocol.CodeBadRequest, map[string]any{"type": "say", "to": "Bob", "text": "no room"})
		a.fails(protocol.CodeNoSuchUser, map[string]any{"type": "say", "room": "lobby", "to": "Zed", "text": "x"})
		a.fails(protocol.CodeNotMember, map[string]any{"type": "say", "room": "kitchen", "to": "Bob", "text": "x"})
		conv := a.ok(map[string]any{"type": "conversations"})
		if len(conv.Private) != 1 || conv.Private[0].With != "Bob" || conv.Private[0].Seq != 2 {
			t.Fatalf("conversations: %+v", conv)
		}
		hist := a.ok(map[string]any{"type": "history", "with": "bob", "since": 0})
		if len(hist.History) != 2 || hist.History[1].Text != "ok" {
			t.Fatalf("private history: %+v", hist)
		}
	})
}

// quiet2 is quiet, ignoring events of the given types.
func (c *rawClient) quiet2(ignore ...string) {
	c.t.Helper()
	id := c.send(map[string]any{"type": "rooms"})
	c.answer(id)
	for _, e := range c.events {
		skip := false
		for _, t := range ignore {
			skip = skip || e.Type == t
		}
		if !skip {
			c.t.Fatalf("%s: unexpected event %s", c.name, describe([]*protocol.Frame{e}))
		}
	}
	c.events = nil
}

func TestSeedBroadcast(t *testing.T) {
	transports(t, func(t *testing.T, ts *testServer, dial func() *rawClient) {
		a, b, c := dial(), dial(), dial()
		a.hello("Alice")
		b.hello("Bob")
		c.hello("Carol")
		b.join("kitchen")
		ok := a.ok(map[string]any{"type": "say", "text": "server restarts at noon"})
		if ok.TS == "" || ok.Seq != nil {
			t.Fatalf("broadcast ok: %+v", ok)
		}
		for _, cl := range []*rawClient{b, c} {
			ev := cl.eventOf(protocol.TypeMsg)
			if !ev.Broadcast || ev.From != "Alice" || ev.Seq != nil || ev.Room != "" || ev.TS != ok.TS {
				t.Fatalf("%s got %+v", cl.name, ev)
			}
		}
		a.quiet()
	})
}

func TestSeedNamesCaseInsensitive(t *testing.T) {
	transports(t, func(t *testing.T, ts *testServer, dial func() *rawClient) {
		a, b := dial(), dial()
		if ok := a.hello("Alice"); ok.Name != "Alice" || ok.Server == nil || ok.Server.Limits.Frame != 65536 {
			t.Fatalf("hello: %+v", ok)
		}
		b.fails(protocol.CodeNameTaken, map[string]any{"type": "hello", "v": 1, "name": "ALICE"})
		b.fails(protocol.CodeNameTaken, map[string]any{"type": "hello", "v": 1, "name": "alice"})
		b.hello("Bob")
		a.join("Lobby")
		if ok := b.join("LOBBY"); ok.Room != "Lobby" {
			t.Fatalf("room spelled as the first joiner did: %+v", ok)
		}
		ok := b.ok(map[string]any{"type": "say", "room": "lobby", "to": "ALICE", "text": "hi"})
		if ok.Seq == nil {
			t.Fatalf("%+v", ok)
		}
	})
}
