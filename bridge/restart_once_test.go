package bridge

import (
	"context"
	"testing"
	"time"

	"parley/client"
)

// One restart of a private chat is reported once. The desktop smoke
// test's path: a guest's chat is cached with its tab closed, the guest's
// session ends (the server drops the chat), a new guest of that name
// comes, and the user reopens the chat and writes. OpenPrivate's check of
// the cached past starts the chat over (reset, notice line, warning);
// the ok of the user's message then carries the new chat's epoch, and the
// client, which still knew the old one, reports the same restart as
// EventEpoch — which must not start the chat over a second time.
func TestPrivateRestartReportedOnce(t *testing.T) {
	g := newGuestChat(t, "old chat")
	ts, b, rec, gus := g.ts, g.b, g.rec, g.gus
	if _, err := b.ClosePrivate("p:gus"); err != nil {
		t.Fatal(err)
	}
	gus.Close()
	rec.waitFor(t, "gus left", gusLeft)
	guestGone(t, ts, "Ann", "Gus")
	gus = goClient(t, ts, "Gus", "lobby")

	page, err := b.OpenPrivate("Gus")
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Messages) != 1 || page.Messages[0].Text != PrivateGoneNotice {
		t.Fatalf("page %+v, want only the gone notice line", page.Messages)
	}
	m, err := b.Send(SendRequest{Conv: "p:gus", Text: "welcome back"})
	if err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "welcome back acknowledged", func(ev Event) bool { return ev.Kind == EvAck && ev.Local == m.Local })
	waitClient(t, gus, "ann's message", func(e client.Event) bool {
		return e.Kind == client.EventMessage && e.Message.Text == "welcome back"
	})
	// Gus's answer comes after the epoch the ok carried on the client's
	// event stream: once it is shown, that epoch was handled.
	if _, err := gus.SayTo(t.Context(), "lobby", "Ann", "thanks"); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "thanks", isMsg("p:gus", "thanks"))

	resets := rec.count(func(ev Event) bool { return ev.Kind == EvReset && ev.Conv == "p:gus" })
	warnings := rec.count(func(ev Event) bool { return ev.Kind == EvNotice && ev.Level == "warn" && ev.Conv == "p:gus" })
	lines := rec.count(func(ev Event) bool {
		return ev.Kind == EvMessage && ev.Conv == "p:gus" && ev.Message.Kind == MsgNotice
	})
	// OpenPrivate's notice line is in its page, not an event.
	if resets > 1 || warnings != 1 || lines != 0 {
		t.Fatalf("one restart reported as %d resets, %d warnings, %d notice-line events; want at most 1, 1, 0", resets, warnings, lines)
	}
}

// The same with the chat on screen from the cache at Connect: the
// client's first session still sees the old guest's chat (its epoch is
// known), the guest leaves before the bridge checks the cached past, so
// the check starts the chat over; the user's next message meets the new
// epoch and the client reports it. Exactly one reset, one notice line and
// one warning.
func TestRestoredPrivateRestartReportedOnce(t *testing.T) {
	g := newGuestChat(t, "old chat")
	ts, dir, ann, req, b1, gus := g.ts, g.dir, g.ann, g.req, g.b, g.gus
	b1.Close()

	b2, rec := cachedBridge(t, dir, ann, nil)
	// Once Ann's client is in (knowing the old chat's epoch), Gus's
	// session ends and the server drops the chat; a new Gus comes.
	b2.opts.Dial = func(ctx context.Context, cfg client.Config) (*client.Client, error) {
		cl, err := client.Dial(ctx, cfg)
		if err != nil {
			return nil, err
		}
		gus.Close()
		deadline := time.Now().Add(15 * time.Second)
		for {
			infos, err := cl.Conversations(ctx)
			if err != nil {
				return nil, err
			}
			if len(infos) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Error("the guest's chat was never dropped")
				break
			}
			time.Sleep(5 * time.Millisecond) // polling; a busy loop spends the session's request budget
		}
		gus = goClient(t, ts, "Gus", "lobby")
		return cl, nil
	}
	if _, err := b2.Connect(req); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "reset by the check", func(ev Event) bool { return ev.Kind == EvReset && ev.Conv == "p:gus" })
	m, err := b2.Send(SendRequest{Conv: "p:gus", Text: "welcome back"})
	if err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "welcome back acknowledged", func(ev Event) bool { return ev.Kind == EvAck && ev.Local == m.Local })
	waitClient(t, gus, "ann's message", func(e client.Event) bool {
		return e.Kind == client.EventMessage && e.Message.Text == "welcome back"
	})
	if _, err := gus.SayTo(t.Context(), "lobby", "Ann", "thanks"); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "thanks", isMsg("p:gus", "thanks"))

	resets := rec.count(func(ev Event) bool { return ev.Kind == EvReset && ev.Conv == "p:gus" })
	warnings := rec.count(func(ev Event) bool { return ev.Kind == EvNotice && ev.Level == "warn" && ev.Conv == "p:gus" })
	lines := rec.count(func(ev Event) bool {
		return ev.Kind == EvMessage && ev.Conv == "p:gus" && ev.Message.Kind == MsgNotice && ev.Message.Text == PrivateGoneNotice
	})
	if resets != 1 || warnings != 1 || lines != 1 {
		t.Fatalf("one restart reported as %d resets, %d warnings, %d notice lines; want 1 each", resets, warnings, lines)
	}
}
