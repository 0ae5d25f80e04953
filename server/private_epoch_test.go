package server_test

import (
	"testing"
	"time"

	"parley/protocol"
	"parley/server"
)

// nextMsgEvent returns c's next msg event, skipping joined/left and typing.
func (c *rawClient) nextMsgEvent() *protocol.Frame {
	c.t.Helper()
	for {
		ev := c.event()
		if ev.Type == protocol.TypeMsg {
			return ev
		}
	}
}

// TestPrivateMsgCarriesEpoch: a private msg (text and image) and the
// sender's ok carry the private conversation's epoch (the one the
// conversations answer lists); a room msg and its ok carry none. When a
// guest's session ends its conversation is dropped, and a new guest with
// the same name starts a new one: seq 1 again under another epoch, so the
// other user can tell it from the old one.
func TestPrivateMsgCarriesEpoch(t *testing.T) {
	imageTransports(t, server.Config{}, func(t *testing.T, ts *testServer, dial func() *rawClient) {
		a, g := aliceAndGuest(t, dial)

		room := g.ok(map[string]any{"type": "say", "room": "lobby", "text": "to all"})
		if room.Epoch != "" {
			t.Fatalf("a room say's ok carries epoch %q", room.Epoch)
		}
		if ev := a.nextMsgEvent(); ev.To != "" || ev.Epoch != "" {
			t.Fatalf("room msg: %+v, want no epoch", ev)
		}

		ok := g.ok(map[string]any{"type": "say", "room": "lobby", "to": "Alice", "text": "hi"})
		ev := a.nextMsgEvent()
		if ok.Epoch == "" || ev.Epoch != ok.Epoch || *ev.Seq != 1 || *ok.Seq != 1 {
			t.Fatalf("private ok %+v and msg %+v: want seq 1 and the same non-empty epoch", ok, ev)
		}
		conv := a.ok(map[string]any{"type": "conversations"})
		if len(conv.Private) != 1 || conv.Private[0].Epoch != ev.Epoch {
			t.Fatalf("conversations %+v, want the msg's epoch %q", conv.Private, ev.Epoch)
		}
		body := pngOf(t, 2, 2)
		iok := g.answer(g.upload(map[string]any{"type": "image", "room": "lobby", "to": "Alice", "name": "p.png", "size": len(body)}, body))
		iev := a.nextMsgEvent()
		if iok.Type != protocol.TypeOK || iok.Epoch != ev.Epoch || iev.Image.Meta == nil || iev.Epoch != ev.Epoch || *iev.Seq != 2 {
			t.Fatalf("private image ok %+v, msg %+v: want seq 2 under epoch %q", iok, iev, ev.Epoch)
		}
		// Alice answers: her ok carries the epoch too.
		if aok := a.ok(map[string]any{"type": "say", "room": "lobby", "to": "Guest", "text": "yes?"}); aok.Epoch != ev.Epoch || *aok.Seq != 3 {
			t.Fatalf("Alice's private ok %+v, want seq 3 under epoch %q", aok, ev.Epoch)
		}
		if gev := g.nextMsgEvent(); gev.Epoch != ev.Epoch {
			t.Fatalf("Guest got %+v, want epoch %q", gev, ev.Epoch)
		}

		g.close()
		a.eventOf(protocol.TypeLeft)
		// The left comes before the server frees the name and drops the
		// guest's conversation: wait for the drop, which comes last.
		for deadline := time.Now().Add(waitTimeout); len(a.ok(map[string]any{"type": "conversations"}).Private) != 0; {
			if time.Now().After(deadline) {
				t.Fatal("the guest's conversation was not dropped")
			}
			time.Sleep(5 * time.Millisecond) // polling with a deadline
		}
		g2 := dial()
		g2.hello("guest")
		g2.join("lobby")
		a.eventOf(protocol.TypeJoined)
		ok2 := g2.ok(map[string]any{"type": "say", "room": "lobby", "to": "Alice", "text": "new here"})
		ev2 := a.nextMsgEvent()
		if *ev2.Seq != 1 || ev2.Epoch == "" || ev2.Epoch == ev.Epoch || ok2.Epoch != ev2.Epoch {
			t.Fatalf("the new guest's private msg %+v (ok %+v): want seq 1 under a new epoch (the old one was %q)", ev2, ok2, ev.Epoch)
		}
	})
}
