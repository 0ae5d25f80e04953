package server_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"parley/protocol"
	"parley/server"
)

func TestHelloRequired(t *testing.T) {
	transports(t, func(t *testing.T, ts *testServer, dial func() *rawClient) {
		c := dial()
		c.fails(protocol.CodeHelloRequired, map[string]any{"type": "join", "room": "lobby"})
		c.fails(protocol.CodeHelloRequired, map[string]any{"type": "auth", "sig": "AAAA"})
		c.hello("Alice") // the session stayed open
	})
}

func TestUnknownTypeGoesOn(t *testing.T) {
	transports(t, func(t *testing.T, ts *testServer, dial func() *rawClient) {
		c := dial()
		c.hello("Alice")
		a := c.fails(protocol.CodeBadRequest, map[string]any{"type": "dance"})
		if a.ID == 0 {
			t.Fatal("unknown type answered without the request's id")
		}
		// Missing or invalid id: err without id, session goes on.
		c.sendRaw(`{"type":"rooms"}`)
		c.sendRaw(`{"type":"rooms","id":0}`)
		c.sendRaw(`{"type":"rooms","id":9007199254740992}`)
		for range 3 {
			f := c.next()
			if f.Type != protocol.TypeErr || f.Code != protocol.CodeBadRequest || f.ID != 0 {
				t.Fatalf("bad id answered %+v", f)
			}
		}
		c.ok(map[string]any{"type": "rooms", "id": int64(protocol.MaxID)})
		c.join("lobby")
	})
}

func TestMalformedJSONCloses4000(t *testing.T) {
	transports(t, func(t *testing.T, ts *testServer, dial func() *rawClient) {
		c := dial()
		c.hello("Alice")
		c.sendRaw(`{"type":"say","id":7,"text":`)
		f := c.next()
		if f.Type != protocol.TypeErr || f.Code != protocol.CodeBadRequest || f.ID != 7 {
			t.Fatalf("malformed answered %+v", f)
		}
		if code := c.closeCode(); code != 4000 {
			t.Fatalf("closed with %d, want 4000", code)
		}
	})
}

func TestNotAnObjectCloses4000(t *testing.T) {
	transports(t, func(t *testing.T, ts *testServer, dial func() *rawClient) {
		c := dial()
		c.sendRaw(`[1,2,3]`)
		if f := c.next(); f.Code != protocol.CodeBadRequest || f.ID != 0 {
			t.Fatalf("answered %+v", f)
		}
		if code := c.closeCode(); code != 4000 {
			t.Fatalf("closed with %d", code)
		}
	})
}

func TestUnsupportedVersion(t *testing.T) {
	transports(t, func(t *testing.T, ts *testServer, dial func() *rawClient) {
		c := dial()
		c.fails(protocol.CodeUnsupportedVersion, map[string]any{"type": "hello", "name": "Alice"})
		if code := c.closeCode(); code != 4000 {
			t.Fatalf("closed with %d", code)
		}
	})
}

func TestHelloTimeout(t *testing.T) {
	for _, kind := range []string{"webtransport", "websocket"} {
		t.Run(kind, func(t *testing.T) {
			// 1 s: a session must get its hello through within it even on
			// a loaded machine running the race detector.
			ts := startServer(t, server.Config{HelloTimeout: time.Second})
			// A session that says hello in time stays: d is opened first,
			// so its timer is due before c's.
			d := dialWT(t, ts)
			d.hello("Bob")
			var c *rawClient
			if kind == "websocket" {
				c = dialWS(t, ts)
			} else {
				c = dialWT(t, ts)
			}
			c.sendRaw(`{"type":"rooms","id":1}`) // opens the control stream; not a hello
			if f := c.next(); f.Code != protocol.CodeHelloRequired {
				t.Fatalf("%+v", f)
			}
			if code := c.closeCode(); code != 4003 {
				t.Fatalf("closed with %d, want 4003", code)
			}
			// c was closed when its timer fired, after d's: d is still there.
			d.join("lobby")
			d.quiet()
		})
	}
}

func TestFrameLimit(t *testing.T) {
	transports(t, func(t *testing.T, ts *testServer, dial func() *rawClient) {
		c := dial()
		c.hello("Alice")
		c.join("lobby")
		// A frame of exactly 65535 bytes of JSON is accepted (the unknown
		// field pads it; the text itself is within its limit).
		frame := func(n int) string {
			head := `{"type":"say","id":%d,"room":"lobby","text":"hi","pad":"`
			s := fmt.Sprintf(head, c.nextID+1)
			return s + strings.Repeat("x", n-len(s)-2) + `"}`
		}
		at := frame(protocol.MaxFrameJSON)
		if len(at) != 65535 {
			t.Fatalf("built %d bytes", len(at))
		}
		c.nextID++
		c.sendRaw(at)
		if a := c.answer(c.nextID); a.Type != protocol.TypeOK {
			t.Fatalf("65535-byte frame answered %+v", a)
		}
		over := frame(protocol.MaxFrameJSON + 1)
		c.nextID++
		c.sendRaw(over)
		a := c.answer(c.nextID)
		if a.Code != protocol.CodeTooLarge {
			t.Fatalf("65536-byte frame answered %+v", a)
		}
		if code := c.closeCode(); code != 4000 {
			t.Fatalf("closed with %d", code)
		}
	})
}

func TestNameAndRoomLimits(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := dialWT(t, ts)
	c.fails(protocol.CodeBadName, map[string]any{"type": "hello", "v": 1, "name": strings.Repeat("é", 33)})
	c.fails(protocol.CodeBadName, map[string]any{"type": "hello", "v": 1, "name": ""})
	c.fails(protocol.CodeBadName, map[string]any{"type": "hello", "v": 1, "name": " Alice"})
	c.fails(protocol.CodeBadName, map[string]any{"type": "hello", "v": 1, "name": "Al\u200bice"})
	c.hello(strings.Repeat("é", 32))
	c.fails(protocol.CodeBadRoom, map[string]any{"type": "join", "room": strings.Repeat("r", 65)})
	c.fails(protocol.CodeBadRoom, map[string]any{"type": "join", "room": "lobby\n"})
	if ok := c.join(strings.Repeat("r", 64)); len([]rune(ok.Room)) != 64 {
		t.Fatalf("%+v", ok)
	}
}

func TestTextLimits(t *testing.T) {
	for _, max := range []int{0, 10} {
		t.Run(fmt.Sprint("max", max), func(t *testing.T) {
			ts := startServer(t, server.Config{Limits: protocol.Limits{Text: max}})
			limit := max
			if limit == 0 {
				limit = protocol.DefaultMaxText
			}
			c := dialWT(t, ts)
			if ok := c.hello("Alice"); ok.Server.Limits.Text != limit {
				t.Fatalf("announced %+v", ok.Server.Limits)
			}
			c.join("lobby")
			c.ok(map[string]any{"type": "say", "room": "lobby", "text": strings.Repeat("ü", limit)})
			c.fails(protocol.CodeTooLarge, map[string]any{"type": "say", "room": "lobby", "text": strings.Repeat("ü", limit+1)})
			c.fails(protocol.CodeBadRequest, map[string]any{"type": "say", "room": "lobby", "text": " \t\u00a0"})
			c.fails(protocol.CodeBadRequest, map[string]any{"type": "say", "room": "lobby"})
		})
	}
}

func TestNonceLimitsAndDedup(t *testing.T) {
	transports(t, func(t *testing.T, ts *testServer, dial func() *rawClient) {
		a, b := dial(), dial()
		a.hello("Alice")
		b.hello("Bob")
		a.join("lobby")
		b.join("lobby")
		a.eventOf(protocol.TypeJoined)
		a.fails(protocol.CodeBadRequest, map[string]any{"type": "say", "room": "lobby", "text": "x", "nonce": ""})
		a.fails(protocol.CodeBadRequest, map[string]any{"type": "say", "room": "lobby", "text": "x", "nonce": strings.Repeat("n", 65)})
		n64 := strings.Repeat("ñ", 64)
		first := a.ok(map[string]any{"type": "say", "room": "lobby", "text": "once", "nonce": n64})
		again := a.ok(map[string]any{"type": "say", "room": "kitchen", "text": "different", "nonce": n64})
		if *again.Seq != *first.Seq || again.TS != first.TS || again.ID == first.ID {
			t.Fatalf("repeat answered %+v, first %+v", again, first)
		}
		// Pipelined repeats in flight: both answered, one delivery.
		id1 := a.send(map[string]any{"type": "say", "room": "lobby", "text": "p", "nonce": "pipe"})
		id2 := a.send(map[string]any{"type": "say", "room": "lobby", "text": "p", "nonce": "pipe"})
		r1, r2 := a.answer(id1), a.answer(id2)
		if r1.Type != "ok" || r2.Type != "ok" || *r1.Seq != *r2.Seq {
			t.Fatalf("pipelined: %+v %+v", r1, r2)
		}
		got := 0
		for _, want := range []string{"once", "p"} {
			ev := b.eventOf(protocol.TypeMsg)
			if ev.Text != want {
				t.Fatalf("Bob got %+v, want %q", ev, want)
			}
			got++
		}
		b.quiet()
		// Another user's nonce space is separate.
		if ok := b.ok(map[string]any{"type": "say", "room": "lobby", "text": "mine", "nonce": "pipe"}); *ok.Seq == *r1.Seq {
			t.Fatalf("nonce spaces shared: %+v", ok)
		}
	})
}

func TestClientFromIgnored(t *testing.T) {
	ts := startServer(t, server.Config{})
	a, b := dialWT(t, ts), dialWT(t, ts)
	a.hello("Alice")
	b.hello("Bob")
	a.join("lobby")
	b.join("lobby")
	a.ok(map[string]any{"type": "say", "room": "lobby", "text": "hi", "from": "Bob", "broadcast": true, "seq": 99})
	ev := b.eventOf(protocol.TypeMsg)
	if ev.From != "Alice" || ev.Broadcast || *ev.Seq != 1 {
		t.Fatalf("%+v", ev)
	}
}

func TestRateLimited(t *testing.T) {
	ts := startServer(t, server.Config{Rate: 1, Burst: 5, AbuseLimit: 10})
	c := dialWT(t, ts)
	c.hello("Alice") // 1 of the burst
	for range 4 {
		c.ok(map[string]any{"type": "rooms"})
	}
	c.fails(protocol.CodeRateLimited, map[string]any{"type": "rooms"})
	for range 8 {
		c.fails(protocol.CodeRateLimited, map[string]any{"type": "rooms"})
	}
	// The tenth in a row closes the session: persistent abuse.
	c.send(map[string]any{"type": "rooms"})
	if code := c.closeCode(); code != 4005 {
		t.Fatalf("closed with %d, want 4005", code)
	}
}

func TestBroadcastRateLimited(t *testing.T) {
	ts := startServer(t, server.Config{BroadcastRate: 0.001, BroadcastBurst: 2})
	c := dialWT(t, ts)
	c.hello("Alice")
	c.ok(map[string]any{"type": "say", "text": "1"})
	c.ok(map[string]any{"type": "say", "text": "2"})
	c.fails(protocol.CodeRateLimited, map[string]any{"type": "say", "text": "3"})
	c.join("lobby")
	c.ok(map[string]any{"type": "say", "room": "lobby", "text": "room messages are limited less"})
}

func TestOriginCheck(t *testing.T) {
	ts := startServer(t, server.Config{AllowedOrigins: []string{"https://chat.example.org"}})
	for _, tc := range []struct {
		origin string
		ok     bool
	}{
		{"", true},
		{"https://" + ts.addr, true},
		{"https://chat.example.org", true},
		{"https://evil.example.org", false},
		{"http://" + ts.addr, false},
	} {
		hdr := map[string][]string{}
		if tc.origin != "" {
			hdr["Origin"] = []string{tc.origin}
		}
		for kind, dial := range map[string]func(string, string, map[string][]string) (*rawClient, error){
			"webtransport": func(a, h string, hd map[string][]string) (*rawClient, error) { return tryDialWT(a, h, hd) },
			"websocket":    func(a, h string, hd map[string][]string) (*rawClient, error) { return tryDialWS(a, h, hd) },
		} {
			c, err := dial(ts.addr, ts.hash, hdr)
			if (err == nil) != tc.ok {
				t.Errorf("%s origin %q: err %v, want ok=%v", kind, tc.origin, err, tc.ok)
			}
			if c != nil {
				c.t = t
				c.close()
			}
		}
	}
}
