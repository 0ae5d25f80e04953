//go:build !js

package client_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"parley/client"
	"parley/protocol"
	"parley/server"
)

// TestGuestNameReusedStartsPrivateChatOver: Alice stays connected while
// the guest Bob sends her private messages, leaves (the server drops the
// guest's conversation) and a new guest called Bob writes to her: his
// messages start at seq 1 again, under a new epoch. Alice's client starts
// the conversation over (EventEpoch, then the messages) instead of
// dropping them as already seen. Then that Bob leaves too and Alice writes
// first to the next Bob: her own ok carries the new epoch and starts the
// conversation over once; the new Bob's answer is delivered. For Alice as
// a guest and as an identity.
func TestGuestNameReusedStartsPrivateChatOver(t *testing.T) {
	for _, ident := range []bool{false, true} {
		t.Run(map[bool]string{false: "guest", true: "identity"}[ident], func(t *testing.T) {
			store := server.NewMemoryStore()
			ts := startServer(t, "127.0.0.1:0", server.Config{Store: store})
			ctx := ctxT(t)
			var mods []func(*client.Config)
			if ident {
				_, priv, _ := ed25519.GenerateKey(rand.Reader)
				mods = append(mods, func(c *client.Config) { c.Identity = priv })
			}
			alice := ts.dial(t, "Alice", mods...)
			if _, err := alice.Join(ctx, "lobby"); err != nil {
				t.Fatal(err)
			}

			// The first Bob: three private messages, seq 1 to 3.
			bob := joinedGuest(t, ts, alice, "Bob")
			for i := 1; i <= 3; i++ {
				if _, err := bob.SayTo(ctx, "lobby", "Alice", fmt.Sprint("old ", i)); err != nil {
					t.Fatal(err)
				}
			}
			first := nextPrivate(t, alice, "Bob", 3)
			if first[2].Message.Seq != 3 {
				t.Fatalf("Alice got %+v, want seq 3 last", first[2].Message)
			}
			leaveGuest(t, ctx, store, alice, bob, "Bob")

			// The second Bob writes first: seq 1 and 2 again, a new epoch.
			bob = joinedGuest(t, ts, alice, "Bob")
			for i := 1; i <= 2; i++ {
				if _, err := bob.SayTo(ctx, "lobby", "Alice", fmt.Sprint("new ", i)); err != nil {
					t.Fatal(err)
				}
			}
			evs := nextPrivate(t, alice, "Bob", 3)
			if evs[0].Kind != client.EventEpoch || evs[0].Epoch == "" || protocol.Fold(evs[0].With) != "bob" {
				t.Fatalf("Alice's first event about the new Bob: %+v, want EventEpoch with Bob and the new epoch", evs[0])
			}
			second := evs[0].Epoch
			for i, ev := range evs[1:] {
				if ev.Kind != client.EventMessage || ev.Message.Seq != int64(i+1) || ev.Message.Text != fmt.Sprint("new ", i+1) {
					t.Fatalf("Alice's event %d about the new Bob: %+v (%+v), want message seq %d", i+1, ev, ev.Message, i+1)
				}
			}
			// Alice answers within the new conversation: no new epoch.
			if s, err := alice.SayTo(ctx, "lobby", "Bob", "hello new Bob"); err != nil || s.Seq != 3 {
				t.Fatalf("Alice's answer: %+v, %v; want seq 3", s, err)
			}
			if ev := nextPrivate(t, bob, "Alice", 1)[0]; ev.Kind != client.EventMessage || ev.Message.Seq != 3 {
				t.Fatalf("the new Bob got %+v", ev)
			}
			leaveGuest(t, ctx, store, alice, bob, "Bob")

			// The third Bob: Alice writes first; her ok starts the
			// conversation over; his answer is delivered.
			bob = joinedGuest(t, ts, alice, "Bob")
			if s, err := alice.SayTo(ctx, "lobby", "Bob", "are you new?"); err != nil || s.Seq != 1 {
				t.Fatalf("Alice to the third Bob: %+v, %v; want seq 1", s, err)
			}
			if _, err := bob.SayTo(ctx, "lobby", "Alice", "yes"); err != nil {
				t.Fatal(err)
			}
			evs = nextPrivate(t, alice, "Bob", 2)
			if evs[0].Kind != client.EventEpoch || evs[0].Epoch == "" || evs[0].Epoch == second {
				t.Fatalf("Alice's first event after writing to the third Bob: %+v, want EventEpoch", evs[0])
			}
			if ev := evs[1]; ev.Kind != client.EventMessage || ev.Message.Seq != 2 || ev.Message.Text != "yes" {
				t.Fatalf("the third Bob's answer reached Alice as %+v (%+v), want seq 2 \"yes\"", ev, ev.Message)
			}
		})
	}
}

// joinedGuest dials a guest called name that joins lobby, and waits until
// watcher sees it join.
func joinedGuest(t *testing.T, ts *testServer, watcher *client.Client, name string) *client.Client {
	t.Helper()
	g := ts.dial(t, name)
	if _, err := g.Join(ctxT(t), "lobby"); err != nil {
		t.Fatal(err)
	}
	for {
		if ev := next(t, watcher, client.EventJoined); ev.User == name {
			return g
		}
	}
}

// leaveGuest closes the guest g and waits until watcher saw it leave and
// the server dropped its private conversation with watcher.
func leaveGuest(t *testing.T, ctx context.Context, store *server.MemoryStore, watcher, g *client.Client, name string) {
	t.Helper()
	g.Close()
	for {
		if ev := next(t, watcher, client.EventLeft); ev.User == name {
			break
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		convs, err := store.Conversations(ctx, protocol.Fold(watcher.Name()))
		if err != nil {
			t.Fatal(err)
		}
		kept := false
		for _, cv := range convs {
			kept = kept || protocol.Fold(cv.Name) == protocol.Fold(name)
		}
		if !kept {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server kept the private conversation of the guest %s", name)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// nextPrivate returns the next n events of c about its private
// conversation with user (messages and epoch changes), skipping others.
func nextPrivate(t *testing.T, c *client.Client, user string, n int) []client.Event {
	t.Helper()
	var out []client.Event
	for len(out) < n {
		ev := next(t, c, client.EventMessage, client.EventEpoch)
		switch {
		case ev.Kind == client.EventEpoch && protocol.Fold(ev.With) == protocol.Fold(user):
			out = append(out, ev)
		case ev.Kind == client.EventMessage && ev.Message.Private() && protocol.Fold(ev.Message.With) == protocol.Fold(user):
			out = append(out, ev)
		}
	}
	return out
}
