package bridge

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"parley/client"
	"parley/protocol"
	"parley/server"
)

// cachedBridge is a bridge with a file cache in dir whose dial waits until
// release is closed (so the test sees what is shown before the server
// answers). key nil: a guest.
func cachedBridge(t *testing.T, dir string, key ed25519.PrivateKey, release chan struct{}) (*Bridge, *recorder) {
	t.Helper()
	rec := newRecorder()
	opts := Options{Emit: rec.emit, ClientName: "parley-bridge-test/1", Cache: NewFileCache(dir),
		Dial: func(ctx context.Context, cfg client.Config) (*client.Client, error) {
			if release != nil {
				select {
				case <-release:
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}
			return client.Dial(ctx, cfg)
		}}
	if key != nil {
		opts.Identity = key
	}
	b := New(opts)
	t.Cleanup(func() { b.Close() })
	return b, rec
}

// guestChat is the start of the private-chat restart tests: a server, the
// identity Ann on a bridge with a file cache in dir, connected to the
// lobby, and a guest Gus in the lobby who wrote to Ann privately.
type guestChat struct {
	ts  *testServer
	dir string
	ann ed25519.PrivateKey
	req ConnectRequest
	b   *Bridge
	rec *recorder
	gus *client.Client
}

// newGuestChat sets a guestChat up; Gus writes texts to Ann, and it
// returns once Ann's bridge shows the last one.
func newGuestChat(t *testing.T, texts ...string) *guestChat {
	t.Helper()
	g := &guestChat{ts: runServer(t, protocol.Limits{}), dir: filepath.Join(t.TempDir(), "cache")}
	_, g.ann, _ = ed25519.GenerateKey(nil)
	g.req = ConnectRequest{Server: g.ts.addr, CertHash: g.ts.hash, Name: "Ann", Room: "lobby"}
	g.b, g.rec = cachedBridge(t, g.dir, g.ann, nil)
	if _, err := g.b.Connect(g.req); err != nil {
		t.Fatal(err)
	}
	g.gus = goClient(t, g.ts, "Gus", "lobby")
	for _, text := range texts {
		if _, err := g.gus.SayTo(t.Context(), "lobby", "Ann", text); err != nil {
			t.Fatal(err)
		}
	}
	g.rec.waitFor(t, texts[len(texts)-1], isMsg("p:gus", texts[len(texts)-1]))
	return g
}

// gusLeft matches the notice that Gus left the lobby.
func gusLeft(ev Event) bool {
	return ev.Kind == EvMessage && ev.Message.Kind == MsgLeft && ev.Message.From == "Gus"
}

func identityClient(t *testing.T, ts *testServer, name string) *client.Client {
	t.Helper()
	_, key, _ := ed25519.GenerateKey(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Config{Server: ts.addr, CertHash: ts.hash, Name: name, Identity: key,
		Backoff: client.Backoff{Min: 20 * time.Millisecond, Max: 200 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Join(ctx, "lobby"); err != nil {
		t.Fatal(err)
	}
	return c
}

// msgSeqs returns the seqs of the text messages of conv among evs, in order.
func msgSeqs(r *recorder, conv string) []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []int64
	for _, ev := range r.events {
		if ev.Kind == EvMessage && ev.Conv == conv && ev.Message.Kind == MsgText {
			out = append(out, ev.Message.Seq)
		}
	}
	return out
}

// connectAsync connects in the background and returns the result channel.
func connectAsync(b *Bridge, req ConnectRequest) chan error {
	done := make(chan error, 1)
	go func() {
		_, err := b.Connect(req)
		done <- err
	}()
	return done
}

// The cache at work across two runs of the app: the second run shows the
// room's and the open private chat's past before the server answers, then
// adds what was said meanwhile, each seq once; the files are private.
func TestCacheShowsPastBeforeTheServerAnswers(t *testing.T) {
	ts := runServer(t, protocol.Limits{})
	dir := filepath.Join(t.TempDir(), "cache")
	_, alice, _ := ed25519.GenerateKey(nil)
	bob := identityClient(t, ts, "Bob")
	req := ConnectRequest{Server: ts.addr, CertHash: ts.hash, Name: "Alice", Room: "lobby"}

	// Run 1.
	b1, rec1 := cachedBridge(t, dir, alice, nil)
	if _, err := b1.Connect(req); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		if _, err := bob.Say(t.Context(), "lobby", fmt.Sprintf("m%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := bob.SayTo(t.Context(), "lobby", "Alice", "psst"); err != nil {
		t.Fatal(err)
	}
	mine, err := b1.Send(SendRequest{Conv: "r:lobby", Text: "mine"})
	if err != nil {
		t.Fatal(err)
	}
	rec1.waitFor(t, "ack", func(ev Event) bool { return ev.Kind == EvAck && ev.Local == mine.Local })
	rec1.waitFor(t, "m5", isMsg("r:lobby", "m5"))
	rec1.waitFor(t, "psst", isMsg("p:bob", "psst"))
	b1.Close() // writes the cache

	// Files and directories are private.
	files := 0
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		st, _ := d.Info()
		if d.IsDir() && st.Mode().Perm() != 0o700 || !d.IsDir() && st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v", p, st.Mode().Perm())
		}
		if !d.IsDir() {
			files++
		}
		return nil
	})
	if files != 3 { // index, lobby, the private chat
		t.Fatalf("%d cache files", files)
	}

	// Said while Alice is away.
	for i := 6; i <= 8; i++ {
		if _, err := bob.Say(t.Context(), "lobby", fmt.Sprintf("m%d", i)); err != nil {
			t.Fatal(err)
		}
	}

	// Run 2: the past shows while the dial is held.
	release := make(chan struct{})
	b2, rec2 := cachedBridge(t, dir, alice, release)
	done := connectAsync(b2, req)
	rec2.waitFor(t, "cached m5", isMsg("r:lobby", "m5"))
	rec2.waitFor(t, "cached own message", func(ev Event) bool {
		return ev.Kind == EvMessage && ev.Message.Text == "mine" && ev.Message.Mine && ev.Message.Seq > 0
	})
	rec2.waitFor(t, "cached private", isMsg("p:bob", "psst"))
	if st, _ := b2.Status(); st.State != StateConnecting {
		t.Fatalf("state %q while the dial is held", st.State)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	rec2.waitFor(t, "m8", isMsg("r:lobby", "m8"))
	seqs := msgSeqs(rec2, "r:lobby")
	seen := map[int64]bool{}
	for _, s := range seqs {
		if seen[s] {
			t.Fatalf("seq %d shown twice: %v", s, seqs)
		}
		seen[s] = true
	}
	if len(seqs) != 9 { // m1..m5, mine, m6..m8
		t.Fatalf("room seqs shown: %v", seqs)
	}
	if n := rec2.count(func(ev Event) bool { return ev.Kind == EvReset }); n != 0 {
		t.Fatalf("%d resets for a cache that fits", n)
	}
	// "Load older" goes on from the oldest cached message.
	if page, err := b2.LoadOlder("r:lobby"); err != nil || len(page.Messages) != 0 || page.HasOlder {
		t.Fatalf("load older: %+v %v", page, err)
	}
	// The private chat is current and usable.
	if _, err := bob.SayTo(t.Context(), "lobby", "Alice", "again"); err != nil {
		t.Fatal(err)
	}
	rec2.waitFor(t, "live private", isMsg("p:bob", "again"))
}

// Between two runs the server lost its history (a new store: a new
// epoch). The second run shows the cached past, then starts the room over
// and says so; the cache then holds only the new epoch's messages.
func TestCacheDiscardedWhenTheEpochChanges(t *testing.T) {
	ts := runServer(t, protocol.Limits{})
	dir := filepath.Join(t.TempDir(), "cache")
	req := ConnectRequest{Server: ts.addr, CertHash: ts.hash, Name: "Alice", Room: "lobby"}
	b1, rec1 := cachedBridge(t, dir, nil, nil)
	if _, err := b1.Connect(req); err != nil {
		t.Fatal(err)
	}
	bob := goClient(t, ts, "Bob", "lobby")
	if _, err := bob.Say(t.Context(), "lobby", "before the wipe"); err != nil {
		t.Fatal(err)
	}
	rec1.waitFor(t, "before", isMsg("r:lobby", "before the wipe"))
	b1.Close()
	bob.Close()

	ts.stop()
	ts.cfg.Store = server.NewMemoryStore()
	ts.start(ts.addr)
	bob = goClient(t, ts, "Bob", "lobby")
	if _, err := bob.Say(t.Context(), "lobby", "new epoch"); err != nil {
		t.Fatal(err)
	}

	b2, rec2 := cachedBridge(t, dir, nil, nil)
	if _, err := b2.Connect(req); err != nil {
		t.Fatal(err)
	}
	rec2.waitFor(t, "cached before", isMsg("r:lobby", "before the wipe"))
	rec2.waitFor(t, "reset", func(ev Event) bool { return ev.Kind == EvReset && ev.Conv == "r:lobby" })
	rec2.waitFor(t, "notice line", func(ev Event) bool {
		return ev.Kind == EvMessage && ev.Message.Kind == MsgNotice && ev.Message.Text == HistoryLostNotice
	})
	got := rec2.waitFor(t, "new epoch message", isMsg("r:lobby", "new epoch"))
	if got.Message.Seq != 1 {
		t.Fatalf("seq %d", got.Message.Seq)
	}
	b2.Close()
	texts := cachedTexts(t, dir, "r:lobby")
	if strings.Join(texts, ",") != "new epoch" {
		t.Fatalf("cache after the epoch change holds %v", texts)
	}
}

// cachedTexts reads the texts cached for conv from the files in dir.
func cachedTexts(t *testing.T, dir, conv string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, "index.json") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var e cacheEntry
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if e.Conv == conv {
			for _, m := range e.Messages {
				out = append(out, m.Text)
			}
		}
		return nil
	})
	return out
}

// cachedConvs lists the conversations with a cache file in dir.
func cachedConvs(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, "index.json") {
			return err
		}
		b, _ := os.ReadFile(p)
		var e cacheEntry
		json.Unmarshal(b, &e)
		out = append(out, e.Conv)
		return nil
	})
	return out
}

// Too much was said while away to join the cached past to the server's
// (more than cacheGapPages pages): the cached past is dropped quietly
// (a reset, no "lost" notice) and the room shows the server's latest page.
func TestCacheTooFarBehindIsDropped(t *testing.T) {
	ts := runServer(t, protocol.Limits{})
	ts.cfg.Rate = -1 // Bob says hundreds of messages at once
	ts.restart()
	dir := filepath.Join(t.TempDir(), "cache")
	req := ConnectRequest{Server: ts.addr, CertHash: ts.hash, Name: "Alice", Room: "lobby"}
	b1, rec1 := cachedBridge(t, dir, nil, nil)
	if _, err := b1.Connect(req); err != nil {
		t.Fatal(err)
	}
	bob := goClient(t, ts, "Bob", "lobby")
	if _, err := bob.Say(t.Context(), "lobby", "old"); err != nil {
		t.Fatal(err)
	}
	rec1.waitFor(t, "old", isMsg("r:lobby", "old"))
	b1.Close()
	const away = cacheGapPages*protocol.MaxHistory + protocol.DefaultHistory + 1
	for i := range away {
		if _, err := bob.Say(t.Context(), "lobby", fmt.Sprintf("a%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	b2, rec2 := cachedBridge(t, dir, nil, nil)
	if _, err := b2.Connect(req); err != nil {
		t.Fatal(err)
	}
	rec2.waitFor(t, "reset", func(ev Event) bool { return ev.Kind == EvReset && ev.Conv == "r:lobby" })
	rec2.waitFor(t, "latest", isMsg("r:lobby", fmt.Sprintf("a%d", away-1)))
	if n := rec2.count(func(ev Event) bool { return ev.Kind == EvMessage && ev.Message.Kind == MsgNotice }); n != 0 {
		t.Fatal("a history-lost notice for a cache that was only behind")
	}
	// One page fewer to catch up: joined, no reset.
	b2.Close()
	for i := range protocol.MaxHistory {
		if _, err := bob.Say(t.Context(), "lobby", fmt.Sprintf("b%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	b3, rec3 := cachedBridge(t, dir, nil, nil)
	if _, err := b3.Connect(req); err != nil {
		t.Fatal(err)
	}
	rec3.waitFor(t, "b99", isMsg("r:lobby", fmt.Sprintf("b%d", protocol.MaxHistory-1)))
	if n := rec3.count(func(ev Event) bool { return ev.Kind == EvReset }); n != 0 {
		t.Fatal("reset although the gap could be filled")
	}
	seqs := msgSeqs(rec3, "r:lobby")
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			t.Fatalf("seqs not contiguous at %d: %d then %d", i, seqs[i-1], seqs[i])
		}
	}
}

// A guest's private messages are not kept after the session (the
// server's rule): only the room is cached.
func TestCacheKeepsNoGuestPrivateMessages(t *testing.T) {
	ts := runServer(t, protocol.Limits{})
	dir := filepath.Join(t.TempDir(), "cache")
	b, rec := cachedBridge(t, dir, nil, nil)
	if _, err := b.Connect(ConnectRequest{Server: ts.addr, CertHash: ts.hash, Name: "Guest", Room: "lobby"}); err != nil {
		t.Fatal(err)
	}
	bob := goClient(t, ts, "Bob", "lobby")
	bob.SayTo(t.Context(), "lobby", "Guest", "secret")
	bob.Say(t.Context(), "lobby", "public")
	rec.waitFor(t, "secret", isMsg("p:bob", "secret"))
	rec.waitFor(t, "public", isMsg("r:lobby", "public"))
	b.Close()
	if convs := cachedConvs(t, dir); len(convs) != 1 || convs[0] != "r:lobby" {
		t.Fatalf("cached conversations %v", convs)
	}
}
