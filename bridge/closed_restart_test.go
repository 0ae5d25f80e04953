package bridge

import (
	"fmt"
	"testing"
)

// A private chat with a guest is cached, its tab closed; the guest leaves
// (the server drops the chat) and a new guest of that name writes. The new
// chat's seq starts at 1 again, so the old chat's cached messages must go
// when the client reports the restart: kept, they were taken for the new
// chat's (the cache keeps the first message of a seq) and shown after the
// next start instead of what the new guest wrote.
func TestClosedPrivateStartedOverDropsCachedPast(t *testing.T) {
	g := newGuestChat(t, "old 1", "old 2", "old 3")
	ts, dir, ann, req, b1, rec1, gus := g.ts, g.dir, g.ann, g.req, g.b, g.rec, g.gus
	if _, err := b1.ClosePrivate("p:gus"); err != nil {
		t.Fatal(err)
	}
	gus.Close()
	rec1.waitFor(t, "gus left", gusLeft)
	guestGone(t, ts, "Ann", "Gus")

	gus = goClient(t, ts, "Gus", "lobby") // waits for the old chat's drop
	if _, err := gus.SayTo(t.Context(), "lobby", "Ann", "new 1"); err != nil {
		t.Fatal(err)
	}
	rec1.waitFor(t, "new 1", isMsg("p:gus", "new 1"))
	b1.Close() // the cache files what was shown before the shell sees it; Close writes it
	if got := cachedTexts(t, dir, "p:gus"); fmt.Sprint(got) != "[new 1]" {
		t.Fatalf("the cache holds %q for the new chat, want [new 1]", got)
	}

	// The next start shows the new chat from the cache, nothing of the old.
	release := make(chan struct{})
	b2, rec2 := cachedBridge(t, dir, ann, release)
	done := make(chan error, 1)
	go func() { _, err := b2.Connect(req); done <- err }()
	rec2.waitFor(t, "new 1 restored", isMsg("p:gus", "new 1"))
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := rec2.count(func(ev Event) bool {
		return ev.Kind == EvMessage && ev.Conv == "p:gus" && len(ev.Message.Text) > 3 && ev.Message.Text[:3] == "old"
	}); n != 0 {
		t.Fatalf("the old chat's messages were shown %d times after the restart", n)
	}
}

// A chat started over while its tab was closed tells the user when it is
// opened again, once; opening it from a message of the new chat does not.
func TestStartOverClosedCacheEntry(t *testing.T) {
	h := openCache(NewFileCache(t.TempDir()), "00aa", true)
	defer h.close()
	id := "p:gus"
	h.conversation(id, KindPrivate, "Gus", true)
	h.setEpoch(id, "e1")
	h.add(id, Message{Seq: 1, Kind: MsgText, Text: "old"})
	h.setOpen(id, false)

	h.startOverClosed(id, "e1") // the same chat: kept
	if e := h.load(id); len(e.Messages) != 1 || e.Restarted {
		t.Fatalf("same epoch: entry %+v, want its message kept", e)
	}
	h.startOverClosed(id, "e2")
	e := h.load(id)
	if len(e.Messages) != 0 || !e.Restarted || e.Epoch != "e2" {
		t.Fatalf("new epoch: entry %+v, want no messages, restarted, epoch e2", e)
	}
	h.reset(id) // OpenPrivate's check tells the user, then resets
	if e := h.load(id); e.Restarted {
		t.Fatal("reset kept the restarted mark")
	}

	h.add(id, Message{Seq: 1, Kind: MsgText, Text: "new"})
	h.startOverClosed(id, "") // no longer listed
	if e := h.load(id); len(e.Messages) != 0 || !e.Restarted || e.Epoch != "" {
		t.Fatalf("gone: entry %+v", e)
	}
	h.conversation(id, KindPrivate, "Gus", true) // opened by a new chat's message
	if e := h.load(id); e.Restarted {
		t.Fatal("a chat opened from its new start kept the restarted mark")
	}
}
