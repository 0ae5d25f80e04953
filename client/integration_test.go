//go:build !js

package client_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"slices"
	"testing"

	"parley/client"
	"parley/protocol"
	"parley/server"
)

func TestSeedBehaviours(t *testing.T) {
	ts := startServer(t, "127.0.0.1:0", server.Config{})
	ctx := ctxT(t)
	alice := ts.dial(t, "Alice")
	if alice.Transport() != "webtransport" {
		t.Fatalf("transport %q, want webtransport", alice.Transport())
	}
	bob := ts.dial(t, "Bob")
	carol := ts.dial(t, "Carol")

	// Join notice to the room; the user list.
	if _, err := alice.Join(ctx, "Lobby"); err != nil {
		t.Fatal(err)
	}
	res, err := bob.Join(ctx, "lobby")
	if err != nil {
		t.Fatal(err)
	}
	if res.Room != "Lobby" || !slices.Contains(res.Members, "Alice") || !slices.Contains(res.Members, "Bob") {
		t.Fatalf("join answer %+v: want the first joiner's spelling and both members", res)
	}
	if ev := next(t, alice, client.EventJoined); ev.User != "Bob" || ev.Room != "Lobby" {
		t.Fatalf("join notice %+v", ev)
	}
	if _, err := carol.Join(ctx, "LOBBY"); err != nil {
		t.Fatal(err)
	}
	next(t, alice, client.EventJoined)
	next(t, bob, client.EventJoined)
	users, err := alice.Users(ctx, "lobby")
	if err != nil || len(users) != 3 {
		t.Fatalf("users %v, %v", users, err)
	}
	rooms, err := alice.Rooms(ctx)
	if err != nil || len(rooms) != 1 || rooms[0].Members != 3 {
		t.Fatalf("rooms %+v, %v", rooms, err)
	}

	// A room message reaches every member but the sender.
	sent, err := alice.Say(ctx, "lobby", "hello room")
	if err != nil || sent.Seq != 1 {
		t.Fatalf("say: %+v %v", sent, err)
	}
	for _, c := range []*client.Client{bob, carol} {
		if ev := next(t, c, client.EventMessage); ev.Message.Text != "hello room" || ev.Message.From != "Alice" || ev.Message.Seq != 1 {
			t.Fatalf("%s got %+v", c.Name(), ev.Message)
		}
	}

	// A private message reaches only its recipient; names compare
	// case-insensitively.
	if _, err := alice.SayTo(ctx, "lobby", "bOB", "psst"); err != nil {
		t.Fatalf("private say: %v", err)
	}
	ev := next(t, bob, client.EventMessage)
	if m := ev.Message; m.Text != "psst" || !m.Private() || m.With != "Alice" {
		t.Fatalf("Bob got %+v", m)
	}
	if _, err := alice.Say(ctx, "lobby", "marker"); err != nil {
		t.Fatal(err)
	}
	noMessageBefore(t, carol, "marker")
	next(t, bob, client.EventMessage)

	// A message without a room is a broadcast to everyone.
	dave := ts.dial(t, "Dave") // in no room
	if _, err := carol.Broadcast(ctx, "to everyone"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client.Client{alice, bob, dave} {
		if ev := next(t, c, client.EventMessage); !ev.Message.Broadcast || ev.Message.Text != "to everyone" || ev.Message.From != "Carol" {
			t.Fatalf("%s got %+v", c.Name(), ev.Message)
		}
	}

	// An image reaches the room, and members fetch it.
	img, err := bob.SendImage(ctx, "lobby", "", "dot.png", bytes.NewReader(pngBytes), int64(len(pngBytes)))
	if err != nil {
		t.Fatalf("send image: %v", err)
	}
	if img.Image == nil || img.Image.Mime != "image/png" || img.Image.W != 1 {
		t.Fatalf("image ack %+v", img)
	}
	ev = next(t, alice, client.EventMessage)
	if ev.Message.Image == nil || ev.Message.Image.ID != img.Image.ID {
		t.Fatalf("Alice got %+v", ev.Message)
	}
	mime, data, err := alice.Fetch(ctx, ev.Message.Image.ID)
	if err != nil || mime != "image/png" || !bytes.Equal(data, pngBytes) {
		t.Fatalf("fetch: %q, %d bytes, %v", mime, len(data), err)
	}
	if _, _, err := dave.Fetch(ctx, img.Image.ID); protocol.CodeOf(err) != protocol.CodeNotFound {
		t.Fatalf("fetch by a non-member: %v, want not_found", err)
	}
	if _, err := bob.SendImage(ctx, "lobby", "", "cat.png", bytes.NewReader([]byte("not an image")), 12); protocol.CodeOf(err) != protocol.CodeBadImage {
		t.Fatalf("text as image: %v, want bad_image", err)
	}

	// Leave notice.
	if err := carol.Leave(ctx, "lobby"); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, alice, client.EventLeft); ev.User != "Carol" {
		t.Fatalf("leave notice %+v", ev)
	}
	if err := carol.Leave(ctx, "lobby"); protocol.CodeOf(err) != protocol.CodeNotMember {
		t.Fatalf("second leave: %v, want not_member", err)
	}

	// History pages back.
	page, err := alice.History(ctx, client.HistoryQuery{Room: "lobby", Before: protocol.Int64(100), Limit: 10})
	if err != nil || len(page.Messages) < 2 {
		t.Fatalf("history: %+v, %v", page, err)
	}
}

func TestNameRules(t *testing.T) {
	ts := startServer(t, "127.0.0.1:0", server.Config{})
	ts.dial(t, "Zoë")
	_, err := client.Dial(ctxT(t), client.Config{Server: ts.addr, CertHash: ts.hash, Name: "ZOË", Logger: quietLogger()})
	if protocol.CodeOf(err) != protocol.CodeNameTaken {
		t.Fatalf("same name in another case: %v, want name_taken", err)
	}
	_, err = client.Dial(ctxT(t), client.Config{Server: ts.addr, CertHash: ts.hash, Name: string(make([]rune, 33)), Logger: quietLogger()})
	if protocol.CodeOf(err) != protocol.CodeBadName {
		t.Fatalf("bad name: %v, want bad_name", err)
	}
}

func TestWrongCertHashIsRefused(t *testing.T) {
	ts := startServer(t, "127.0.0.1:0", server.Config{})
	wrong := "00" + ts.hash[2:]
	if ts.hash[:2] == "00" {
		wrong = "11" + ts.hash[2:]
	}
	_, err := client.Dial(ctxT(t), client.Config{Server: ts.addr, CertHash: wrong, Name: "Eve", Logger: quietLogger(), FallbackAfter: 2e9})
	if err == nil {
		t.Fatal("a client pinning another certificate connected")
	}
}

func TestIdentityBindsName(t *testing.T) {
	ts := startServer(t, "127.0.0.1:0", server.Config{})
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	withKey := func(c *client.Config) { c.Identity = priv }
	a := ts.dial(t, "Ident", withKey)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	// Bound now: the same key may come back, nobody else may take it.
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	_, err := client.Dial(ctxT(t), client.Config{Server: ts.addr, CertHash: ts.hash, Name: "Ident", Identity: other, Logger: quietLogger()})
	if protocol.CodeOf(err) != protocol.CodeNameTaken {
		t.Fatalf("another key: %v, want name_taken", err)
	}
	b := ts.dial(t, "Ident", withKey)
	if _, err := b.Conversations(ctxT(t)); err != nil {
		t.Fatalf("conversations: %v", err)
	}
}

func TestNonceResentIsNotDeliveredTwice(t *testing.T) {
	ts := startServer(t, "127.0.0.1:0", server.Config{})
	ctx := ctxT(t)
	a, b := ts.dial(t, "A"), ts.dial(t, "B")
	for _, c := range []*client.Client{a, b} {
		if _, err := c.Join(ctx, "r"); err != nil {
			t.Fatal(err)
		}
	}
	first, err := client.SayWithNonce(ctx, a, "r", "once", "fixed-nonce")
	if err != nil {
		t.Fatal(err)
	}
	again, err := client.SayWithNonce(ctx, a, "r", "once (repeat)", "fixed-nonce")
	if err != nil || again.Seq != first.Seq {
		t.Fatalf("repeat: %+v %v; want the first ok (seq %d)", again, err, first.Seq)
	}
	if _, err := a.Say(ctx, "r", "marker"); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, b, client.EventMessage); ev.Message.Text != "once" {
		t.Fatalf("B got %+v first", ev.Message)
	}
	noMessageBefore(t, b, "marker")
}

var _ = errors.New
