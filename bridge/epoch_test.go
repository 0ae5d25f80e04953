package bridge

import (
	"context"
	"crypto/ed25519"
	"testing"
	"time"

	"parley/client"
	"parley/protocol"
	"parley/server"
)

// The server comes back with its store wiped (a new in-memory store: a new
// epoch for every room). The bridge tells the UI to start the room over —
// reset, a visible notice line, a warning — and the room goes on from the
// new history: the next message (seq 1 again) is shown, nothing older is
// offered by "load older".
func TestEpochChangeStartsOver(t *testing.T) {
	ts := runServer(t, protocol.Limits{})
	b, rec := newBridge(t)
	connect(t, b, ts, "Alice", "lobby")
	bob := goClient(t, ts, "Bob", "lobby")
	for _, text := range []string{"one", "two", "three"} {
		if _, err := bob.Say(t.Context(), "lobby", text); err != nil {
			t.Fatal(err)
		}
	}
	rec.waitFor(t, "three", isMsg("r:lobby", "three"))

	ts.stop()
	ts.cfg.Store = server.NewMemoryStore() // the data directory was wiped
	ts.start(ts.addr)

	rec.waitFor(t, "reset", func(ev Event) bool { return ev.Kind == EvReset && ev.Conv == "r:lobby" })
	rec.waitFor(t, "notice line", func(ev Event) bool {
		return ev.Kind == EvMessage && ev.Conv == "r:lobby" && ev.Message.Kind == MsgNotice && ev.Message.Text == HistoryLostNotice
	})
	rec.waitFor(t, "warning", func(ev Event) bool { return ev.Kind == EvNotice && ev.Level == "warn" && ev.Conv == "r:lobby" })
	rec.waitFor(t, "connected again", func(ev Event) bool { return ev.Kind == EvState && ev.Status.State == StateConnected })

	// Bob's client resumes too (it re-joins before it sends); his next
	// message is the new history's first.
	if _, err := bob.Say(t.Context(), "lobby", "after"); err != nil {
		t.Fatal(err)
	}
	after := rec.waitFor(t, "after", isMsg("r:lobby", "after"))
	if after.Message.Seq != 1 {
		t.Fatalf("first message after the wipe has seq %d", after.Message.Seq)
	}
	page, err := b.LoadOlder("r:lobby")
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Messages) != 0 || page.HasOlder {
		t.Fatalf("load older after the wipe: %+v", page)
	}
	// The reset came before any message of the new epoch.
	rec.mu.Lock()
	defer rec.mu.Unlock()
	sawReset := false
	for _, ev := range rec.events {
		if ev.Kind == EvReset && ev.Conv == "r:lobby" {
			sawReset = true
		}
		if ev.Kind == EvMessage && ev.Message.Text == "after" && !sawReset {
			t.Fatal("a message of the new epoch came before the reset")
		}
	}
	if n := countKind(rec.events, EvReset); n != 1 {
		t.Fatalf("%d resets", n)
	}
}

func countKind(evs []Event, kind string) int {
	n := 0
	for _, ev := range evs {
		if ev.Kind == kind {
			n++
		}
	}
	return n
}

// A private conversation between two identities is lost with the store:
// the bridge resets it and tells the user, and the next private message
// (seq 1 of the new store) is shown instead of being taken for one seen.
func TestEpochChangePrivate(t *testing.T) {
	ts := runServer(t, protocol.Limits{})
	_, alice, _ := ed25519.GenerateKey(nil)
	_, bobKey, _ := ed25519.GenerateKey(nil)
	rec := newRecorder()
	b := New(Options{Emit: rec.emit, Identity: alice, ClientName: "parley-bridge-test/1"})
	t.Cleanup(func() { b.Close() })
	connect(t, b, ts, "Alice", "lobby")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	bob, err := client.Dial(ctx, client.Config{Server: ts.addr, CertHash: ts.hash, Name: "Bob", Identity: bobKey,
		Backoff: client.Backoff{Min: 20 * time.Millisecond, Max: 200 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()
	if _, err := bob.Join(ctx, "lobby"); err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"p-old-1", "p-old-2"} {
		if _, err := bob.SayTo(ctx, "lobby", "Alice", text); err != nil {
			t.Fatal(err)
		}
	}
	rec.waitFor(t, "old private", isMsg("p:bob", "p-old-2"))

	ts.stop()
	ts.cfg.Store = server.NewMemoryStore()
	ts.start(ts.addr)

	rec.waitFor(t, "private reset", func(ev Event) bool { return ev.Kind == EvReset && ev.Conv == "p:bob" })
	rec.waitFor(t, "private notice line", func(ev Event) bool {
		return ev.Kind == EvMessage && ev.Conv == "p:bob" && ev.Message.Kind == MsgNotice
	})
	sent, err := bob.SayTo(ctx, "lobby", "Alice", "p-new")
	if err != nil {
		t.Fatal(err)
	}
	got := rec.waitFor(t, "new private", isMsg("p:bob", "p-new"))
	if got.Message.Seq != sent.Seq || sent.Seq != 1 {
		t.Fatalf("new private message seq %d (sent as %d)", got.Message.Seq, sent.Seq)
	}
}
