package server_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"testing"
	"time"

	"parley/protocol"
	"parley/server"
)

// login says hello with a key and answers the challenge.
func (c *rawClient) login(name string, priv ed25519.PrivateKey, padded bool) *protocol.Frame {
	c.t.Helper()
	c.name = name
	enc := base64.RawURLEncoding
	if padded {
		enc = base64.URLEncoding
	}
	ch := c.ok(map[string]any{"type": "hello", "v": 1, "name": name, "key": enc.EncodeToString(priv.Public().(ed25519.PublicKey))})
	raw, err := base64.RawURLEncoding.DecodeString(ch.Challenge)
	if err != nil || len(raw) != 32 {
		c.t.Fatalf("challenge %q", ch.Challenge)
	}
	return c.req(map[string]any{"type": "auth", "sig": enc.EncodeToString(ed25519.Sign(priv, raw))})
}

func TestIdentityBinding(t *testing.T) {
	ts := startServer(t, server.Config{})
	_, alice, _ := ed25519.GenerateKey(rand.Reader)
	_, mallory, _ := ed25519.GenerateKey(rand.Reader)

	a := dialWT(t, ts)
	if ok := a.login("Alice", alice, false); ok.Type != "ok" || ok.Name != "Alice" || ok.Server == nil {
		t.Fatalf("auth: %+v", ok)
	}
	// A second session of the same identity (another device), padded base64.
	a2 := dialWS(t, ts)
	if ok := a2.login("alice", alice, true); ok.Type != "ok" {
		t.Fatalf("second device: %+v", ok)
	}
	// Another key, or none, cannot take the name, online or not.
	m := dialWT(t, ts)
	malloryKey := base64.RawURLEncoding.EncodeToString(mallory.Public().(ed25519.PublicKey))
	takeover := func() {
		t.Helper()
		ch := m.req(map[string]any{"type": "hello", "v": 1, "name": "ALICE", "key": malloryKey})
		if ch.Type == "ok" { // name_taken may come at hello or at auth
			raw, _ := base64.RawURLEncoding.DecodeString(ch.Challenge)
			m.fails(protocol.CodeNameTaken, map[string]any{"type": "auth", "sig": base64.RawURLEncoding.EncodeToString(ed25519.Sign(mallory, raw))})
		} else if ch.Code != protocol.CodeNameTaken {
			t.Fatalf("takeover answered %+v", ch)
		}
	}
	takeover()
	m.fails(protocol.CodeNameTaken, map[string]any{"type": "hello", "v": 1, "name": "Alice"})
	a.close()
	a2.close()
	takeover()
	m.fails(protocol.CodeNameTaken, map[string]any{"type": "hello", "v": 1, "name": "alice"})
	// The owner comes back.
	b := dialWT(t, ts)
	if ok := b.login("Alice", alice, false); ok.Type != "ok" {
		t.Fatalf("owner back: %+v", ok)
	}
}

func TestAuthWrongSignature(t *testing.T) {
	ts := startServer(t, server.Config{})
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	c := dialWT(t, ts)
	pub := base64.RawURLEncoding.EncodeToString(priv.Public().(ed25519.PublicKey))
	c.ok(map[string]any{"type": "hello", "v": 1, "name": "Alice", "key": pub})
	c.fails(protocol.CodeUnauthorized, map[string]any{"type": "auth", "sig": base64.RawURLEncoding.EncodeToString(make([]byte, 64))})
	// The challenge is spent: auth again needs a new hello.
	c.fails(protocol.CodeHelloRequired, map[string]any{"type": "auth", "sig": "AA"})
	// Between hello and auth, other requests get hello_required.
	ch := c.ok(map[string]any{"type": "hello", "v": 1, "name": "Alice", "key": pub})
	c.fails(protocol.CodeHelloRequired, map[string]any{"type": "join", "room": "lobby"})
	c.fails(protocol.CodeUnauthorized, map[string]any{"type": "auth", "sig": "!!not base64"})
	// A malformed key is a bad request.
	c.fails(protocol.CodeBadRequest, map[string]any{"type": "hello", "v": 1, "name": "Alice", "key": "abc"})
	_ = ch
	if ok := c.login("Alice", priv, false); ok.Type != "ok" {
		t.Fatalf("%+v", ok)
	}
	c.join("lobby")
}

func TestGuestPrivateConversationDropped(t *testing.T) {
	ts := startServer(t, server.Config{})
	a, g := aliceAndGuest(t, func() *rawClient { return dialWT(t, ts) })
	g.ok(map[string]any{"type": "say", "room": "lobby", "to": "Alice", "text": "hi"})
	a.eventOf(protocol.TypeMsg)
	if conv := a.ok(map[string]any{"type": "conversations"}); len(conv.Private) != 1 {
		t.Fatalf("%+v", conv)
	}
	g.close()
	a.eventOf(protocol.TypeLeft)
	// The drop follows the left event (it waits for the guest's posts
	// still being stored): poll for it.
	for deadline := time.Now().Add(waitTimeout); ; {
		conv := a.ok(map[string]any{"type": "conversations"})
		if len(conv.Private) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("guest conversation kept: %+v", conv)
		}
		time.Sleep(5 * time.Millisecond) // poll interval
	}
	// The name is free again, and its history is gone.
	g2 := dialWT(t, ts)
	g2.hello("guest")
	g2.join("lobby")
	if h := g2.ok(map[string]any{"type": "history", "with": "Alice", "since": 0}); len(h.History) != 0 {
		t.Fatalf("%+v", h)
	}
}
