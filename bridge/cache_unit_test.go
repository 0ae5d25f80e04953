package bridge

import (
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"parley/client"
)

func textMsg(conv string, seq int64, text string) Message {
	return Message{Conv: conv, Kind: MsgText, Seq: seq, Text: text, From: "Bob"}
}

// A conversation keeps its latest CacheMessages messages, by seq, once
// each; a scope keeps CacheConversations conversations, the least recently
// changed dropped first; both survive a reopen.
func TestCacheBounds(t *testing.T) {
	store := NewFileCache(t.TempDir())
	h := openCache(store, "00aa", true)
	for seq := int64(CacheMessages + 1); seq >= 1; seq-- { // out of order, one past the limit
		h.add("r:lobby", textMsg("r:lobby", seq, fmt.Sprint(seq)))
	}
	h.add("r:lobby", textMsg("r:lobby", 5, "again")) // a duplicate seq
	h.add("r:lobby", Message{Conv: "r:lobby", Kind: MsgNotice, Text: "no seq"})
	for i := range CacheConversations { // with the lobby, one past the limit
		h.conversation(fmt.Sprintf("r:room%02d", i), KindRoom, fmt.Sprintf("room%02d", i), false)
		h.add(fmt.Sprintf("r:room%02d", i), textMsg("", 1, "x"))
	}
	h.close()

	h2 := openCache(store, "00aa", true)
	defer h2.close()
	if e := h2.load("r:lobby"); e != nil {
		t.Fatalf("lobby (the least recently changed) was kept over %d conversations", CacheConversations)
	}
	if e := h2.load("r:room00"); e == nil {
		t.Fatal("room00 was dropped")
	}
	if n := len(h2.index.Convs); n != CacheConversations {
		t.Fatalf("%d conversations indexed", n)
	}

	h3 := openCache(store, "00bb", true)
	for seq := int64(1); seq <= CacheMessages+1; seq++ {
		h3.add("r:lobby", textMsg("r:lobby", seq, fmt.Sprint(seq)))
	}
	h3.add("r:lobby", textMsg("r:lobby", 100, "duplicate"))
	h3.close()
	e := openCache(store, "00bb", true).load("r:lobby")
	if e == nil || len(e.Messages) != CacheMessages || e.Messages[0].Seq != 2 || e.Messages[CacheMessages-1].Seq != CacheMessages+1 {
		t.Fatalf("kept %d messages", len(e.Messages))
	}
	for i, m := range e.Messages {
		if m.Seq != int64(i+2) || m.Text == "duplicate" {
			t.Fatalf("message %d: %+v", i, m)
		}
	}
}

// An entry over MaxCacheEntry is written without its oldest messages; a
// file over it is not read back.
func TestCacheEntrySizeLimit(t *testing.T) {
	dir := t.TempDir()
	store := NewFileCache(dir)
	h := openCache(store, "00cc", true)
	big := strings.Repeat("😀", 4000) // 16,000 bytes of UTF-8: 200 of them are over the limit
	for seq := int64(1); seq <= CacheMessages; seq++ {
		h.add("r:big", textMsg("r:big", seq, big))
	}
	h.close()
	e := openCache(store, "00cc", true).load("r:big")
	if e == nil || len(e.Messages) == 0 || len(e.Messages) >= CacheMessages || e.Messages[len(e.Messages)-1].Seq != CacheMessages {
		if e == nil {
			t.Fatal("oversized entry not stored")
		}
		t.Fatalf("oversized entry stored with %d messages", len(e.Messages))
	}
	b, err := store.Get(h.key("r:big"))
	if err != nil || len(b) > MaxCacheEntry {
		t.Fatalf("stored %d bytes: %v", len(b), err)
	}
	// A file one byte over the limit is refused.
	p, _ := store.path(h.key("r:big"))
	if err := os.WriteFile(p, make([]byte, MaxCacheEntry+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Get(h.key("r:big")); err == nil {
		t.Fatal("an oversized file was read")
	}
	if e := openCache(store, "00cc", true).load("r:big"); e != nil {
		t.Fatal("an oversized entry was loaded")
	}
	if err := os.WriteFile(p, make([]byte, MaxCacheEntry), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := store.Get(h.key("r:big")); err != nil || len(b) != MaxCacheEntry {
		t.Fatalf("a file at the limit: %d bytes, %v", len(b), err)
	}
}

// Keys cannot leave the cache directory; missing keys read as nothing.
func TestFileCacheKeys(t *testing.T) {
	dir := t.TempDir()
	store := NewFileCache(filepath.Join(dir, "c"))
	for _, k := range []string{"", "../x", "a/../../b", "A", "a//b", "/a", "a.b", strings.Repeat("a", 201)} {
		if err := store.Put(k, []byte("x")); err == nil {
			t.Errorf("key %q accepted", k)
		}
	}
	if b, err := store.Get("ab/cd"); b != nil || err != nil {
		t.Fatalf("missing key: %q %v", b, err)
	}
	if err := store.Put("ab/cd", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if b, _ := store.Get("ab/cd"); string(b) != "v" {
		t.Fatalf("got %q", b)
	}
	if err := store.Delete("ab/cd"); err != nil {
		t.Fatal(err)
	}
	if err := store.Delete("ab/cd"); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "c", "ab")); len(entries) != 0 {
		t.Fatalf("left %v", entries)
	}
}

// The cache is per server (address and certificate) and per user.
func TestCacheScope(t *testing.T) {
	_, k1, _ := ed25519.GenerateKey(nil)
	_, k2, _ := ed25519.GenerateKey(nil)
	base := client.Config{Server: "h:1", CertHash: strings.Repeat("a", 64), Name: "Ann", Identity: k1}
	same := base
	same.Server, same.Name = "https://H:1", "ann" // same server, same key, another spelling
	if cacheScope(base) != cacheScope(same) {
		t.Fatal("same server and identity, different scopes")
	}
	for _, mod := range []func(*client.Config){
		func(c *client.Config) { c.Server = "h:2" },
		func(c *client.Config) { c.CertHash = strings.Repeat("b", 64) },
		func(c *client.Config) { c.Identity = k2 },
		func(c *client.Config) { c.Identity = nil },
	} {
		c := base
		mod(&c)
		if cacheScope(c) == cacheScope(base) {
			t.Errorf("%+v shares the scope of %+v", c, base)
		}
	}
	g1, g2 := base, base
	g1.Identity, g2.Identity, g2.Name = nil, nil, "Bob"
	if cacheScope(g1) == cacheScope(g2) {
		t.Error("two guests share a scope")
	}
}
