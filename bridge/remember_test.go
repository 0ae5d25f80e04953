package bridge

import (
	"crypto/ed25519"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"parley/client"
	"parley/protocol"
)

// memory is a shell's settings as far as Recall and Remember go.
type memory struct {
	mu    sync.Mutex
	m     map[string]Remembered
	calls int
}

func (m *memory) recall(server string) Remembered {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.m[server].clone()
}

func (m *memory) remember(server string, r Remembered) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = map[string]Remembered{}
	}
	m.m[server] = r
	m.calls++
}

func (m *memory) get(server string) (Remembered, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.m[server].clone(), m.calls
}

// rememberingBridge is a bridge of identity key (nil: a guest) with a
// file cache in dir (""; none) that remembers through mem.
func rememberingBridge(t *testing.T, dir string, key ed25519.PrivateKey, mem *memory) (*Bridge, *recorder) {
	t.Helper()
	rec := newRecorder()
	opts := Options{Emit: rec.emit, ClientName: "parley-bridge-test/1", Recall: mem.recall, Remember: mem.remember, DefaultRoom: "lobby"}
	if dir != "" {
		opts.Cache = NewFileCache(dir)
	}
	if key != nil {
		opts.Identity = key
	}
	b := New(opts)
	t.Cleanup(func() { b.Close() })
	return b, rec
}

func wantRemembered(t *testing.T, mem *memory, server string, rooms, privates []string) {
	t.Helper()
	got, _ := mem.get(server)
	if !reflect.DeepEqual(got.Rooms, rooms) || !reflect.DeepEqual(got.Privates, privates) {
		t.Fatalf("remembered %+v, want rooms %v privates %v", got, rooms, privates)
	}
}

func sortedIDs(st Status) string {
	var ids []string
	for _, c := range st.Conversations {
		ids = append(ids, c.ID)
	}
	return strings.Join(sortedMembers(ids), ",")
}

// Every room joined and every private chat open is remembered per server
// (leaving and closing too, not disconnecting), and the next run opens all
// of them again: from the cache first, then brought up to date; a
// remembered private chat with nothing cached is filled from the server.
func TestRememberedConversationsReopenAtConnect(t *testing.T) {
	ts := runServer(t, protocol.Limits{})
	dir := filepath.Join(t.TempDir(), "cache")
	_, ann, _ := ed25519.GenerateKey(nil)
	mem := &memory{}
	key := ServerKey(ts.addr)
	bob := identityClient(t, ts, "Bob")
	carol := identityClient(t, ts, "Carol")
	ctx := t.Context()
	for _, c := range []*client.Client{bob, carol} {
		if _, err := c.Join(ctx, "Games"); err != nil {
			t.Fatal(err)
		}
	}

	// Run 1.
	b1, rec1 := rememberingBridge(t, dir, ann, mem)
	if _, err := b1.Connect(ConnectRequest{Server: "https://" + ts.addr, CertHash: ts.hash, Name: "Ann"}); err != nil {
		t.Fatal(err)
	}
	wantRemembered(t, mem, key, []string{"lobby"}, nil) // the default room
	for _, r := range []string{"games", "Music"} {
		if _, err := b1.JoinRoom(r); err != nil {
			t.Fatal(err)
		}
	}
	wantRemembered(t, mem, key, []string{"lobby", "Games", "Music"}, nil) // as the server spells them
	if _, err := b1.OpenPrivate("Bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.SayTo(ctx, "lobby", "Ann", "bob-private"); err != nil {
		t.Fatal(err)
	}
	if _, err := carol.SayTo(ctx, "lobby", "Ann", "carol-private"); err != nil {
		t.Fatal(err)
	}
	rec1.waitFor(t, "carol's private", isMsg("p:carol", "carol-private"))
	wantRemembered(t, mem, key, []string{"lobby", "Games", "Music"}, []string{"Bob", "Carol"})
	if _, err := b1.LeaveRoom("r:music"); err != nil {
		t.Fatal(err)
	}
	if _, err := b1.ClosePrivate("p:carol"); err != nil {
		t.Fatal(err)
	}
	wantRemembered(t, mem, key, []string{"lobby", "Games"}, []string{"Bob"})
	rec1.waitFor(t, "bob's private", isMsg("p:bob", "bob-private"))
	_, calls := mem.get(key)
	b1.Close()
	if _, after := mem.get(key); after != calls {
		t.Fatal("closing the connection changed what is remembered")
	}
	wantRemembered(t, mem, key, []string{"lobby", "Games"}, []string{"Bob"})
	if _, err := bob.Say(ctx, "Games", "said meanwhile"); err != nil {
		t.Fatal(err)
	}

	// Run 2, same cache: everything remembered opens, no request named.
	b2, rec2 := rememberingBridge(t, dir, ann, mem)
	st, err := b2.Connect(ConnectRequest{Server: ts.addr, CertHash: ts.hash, Name: "Ann"})
	if err != nil {
		t.Fatal(err)
	}
	if got := sortedIDs(st); got != "p:bob,r:games,r:lobby" {
		t.Fatalf("conversations after connect: %s", got)
	}
	rec2.waitFor(t, "meanwhile", isMsg("r:games", "said meanwhile"))
	rec2.waitFor(t, "cached private", isMsg("p:bob", "bob-private"))
	if n := rec2.count(func(ev Event) bool { return ev.Kind == EvReset || ev.Kind == EvNotice }); n != 0 {
		t.Fatalf("%d resets or notices on a plain reconnect", n)
	}
	b2.Close()

	// Run 3, no cache at all: the remembered private chat still opens,
	// filled from the server's history.
	b3, rec3 := rememberingBridge(t, "", ann, mem)
	st, err = b3.Connect(ConnectRequest{Server: ts.addr, CertHash: ts.hash, Name: "Ann", Room: "extra"})
	if err != nil {
		t.Fatal(err)
	}
	if got := sortedIDs(st); got != "p:bob,r:extra,r:games,r:lobby" {
		t.Fatalf("conversations after connect: %s", got)
	}
	rec3.waitFor(t, "private from history", isMsg("p:bob", "bob-private"))
	wantRemembered(t, mem, key, []string{"lobby", "Games", "extra"}, []string{"Bob"})
}

// A guest's private chats are not remembered (the server keeps none after
// the guest's session), its rooms are; leaving every room leaves nothing
// remembered but the default room is joined next time.
func TestRememberedGuestAndDefaultRoom(t *testing.T) {
	ts := runServer(t, protocol.Limits{})
	mem := &memory{}
	key := ServerKey(ts.addr)
	b, rec := rememberingBridge(t, "", nil, mem)
	if _, err := b.Connect(ConnectRequest{Server: ts.addr, CertHash: ts.hash, Name: "Guest", Room: "den"}); err != nil {
		t.Fatal(err)
	}
	bob := goClient(t, ts, "Bob", "den")
	if _, err := bob.SayTo(t.Context(), "den", "Guest", "hi guest"); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "private", isMsg("p:bob", "hi guest"))
	if _, err := b.OpenPrivate("Bob"); err != nil {
		t.Fatal(err)
	}
	wantRemembered(t, mem, key, []string{"den"}, nil)
	if _, err := b.LeaveRoom("r:den"); err != nil {
		t.Fatal(err)
	}
	wantRemembered(t, mem, key, nil, nil)
	st, err := b.Connect(ConnectRequest{Server: ts.addr, CertHash: ts.hash, Name: "Guest"})
	if err != nil {
		t.Fatal(err)
	}
	if got := sortedIDs(st); got != "r:lobby" {
		t.Fatalf("conversations: %s", got)
	}
}

func TestRememberedBounds(t *testing.T) {
	var r Remembered
	for i := 0; i < MaxRemembered+1; i++ {
		r.Rooms = append(r.Rooms, "room"+strconv.Itoa(i))
	}
	r.Rooms = append(r.Rooms, "ROOM0", " ", strings.Repeat("x", protocol.MaxRoomLen+1))
	r.Privates = []string{"Bob", "bob", "a\u200bb"}
	c := r.Clean()
	// room0 fell out when room50 came; ROOM0 is then opened anew, latest.
	if len(c.Rooms) != MaxRemembered || c.Rooms[0] != "room2" || c.Rooms[MaxRemembered-1] != "ROOM0" {
		t.Fatalf("rooms kept: %d, first %q, last %q", len(c.Rooms), c.Rooms[0], c.Rooms[len(c.Rooms)-1])
	}
	if !reflect.DeepEqual(c.Privates, []string{"bob"}) {
		t.Fatalf("privates kept: %v", c.Privates)
	}
	full := Remembered{Rooms: r.Rooms[:MaxRemembered]}.Clean()
	if len(full.Rooms) != MaxRemembered || full.Rooms[0] != "room0" {
		t.Fatalf("at the bound: %d rooms, first %q", len(full.Rooms), full.Rooms[0])
	}
	if ServerKey(" HTTPS://Host.LAN:4433/ ") != "host.lan:4433" {
		t.Fatal(ServerKey(" HTTPS://Host.LAN:4433/ "))
	}
}

// A private chat opened later (OpenPrivate), whose past is cached from an
// earlier run with its tab closed, is checked against the server's as the
// chats open at Connect are: a chat the server no longer has (a guest's,
// dropped at the end of its session) starts over with a notice that says
// so — not that the server lost its history — and the stale past is gone
// from the cache.
func TestOpenPrivateChecksCachedPast(t *testing.T) {
	// Run 1: a guest, Gus, writes privately; Ann closes the tab.
	g := newGuestChat(t, "from a guest")
	ts, dir, ann, req, b1, gus := g.ts, g.dir, g.ann, g.req, g.b, g.gus
	if _, err := b1.ClosePrivate("p:gus"); err != nil {
		t.Fatal(err)
	}
	b1.Close()
	if convs := cachedConvs(t, dir); !slices.Contains(convs, "p:gus") {
		t.Fatalf("the private chat was not cached: %v", convs)
	}
	// Gus's session ends (the server drops his private chats), he comes
	// back as a new guest of the same name.
	gus.Close()
	guestGone(t, ts, "Ann", "Gus")
	gus = goClient(t, ts, "Gus", "lobby")

	// Run 2: reopening the chat checks the cached past.
	b2, rec2 := cachedBridge(t, dir, ann, nil)
	if _, err := b2.Connect(req); err != nil {
		t.Fatal(err)
	}
	page, err := b2.OpenPrivate("Gus")
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Messages) != 1 || page.Messages[0].Kind != MsgNotice || page.Messages[0].Text != PrivateGoneNotice {
		t.Fatalf("page %+v", page.Messages)
	}
	toast := rec2.waitFor(t, "warning", func(ev Event) bool { return ev.Kind == EvNotice && ev.Conv == "p:gus" })
	if strings.Contains(toast.Text, "lost") || !strings.Contains(toast.Text, "no longer has") {
		t.Fatalf("warning %q", toast.Text)
	}
	if _, err := gus.SayTo(t.Context(), "lobby", "Ann", "new chat"); err != nil {
		t.Fatal(err)
	}
	rec2.waitFor(t, "new message", isMsg("p:gus", "new chat"))
	b2.Close()

	// Run 3: the chat is open at Connect from the cache, which kept only
	// the new chat: no notice this time.
	b3, rec3 := cachedBridge(t, dir, ann, nil)
	if _, err := b3.Connect(req); err != nil {
		t.Fatal(err)
	}
	m, err := b3.Send(SendRequest{Conv: "p:gus", Text: "still here?"})
	if err != nil {
		t.Fatal(err)
	}
	rec3.waitFor(t, "reply acknowledged", func(ev Event) bool { return ev.Kind == EvAck && ev.Local == m.Local })
	waitClient(t, gus, "ann's reply", func(e client.Event) bool {
		return e.Kind == client.EventMessage && e.Message.Text == "still here?"
	})
	if n := rec3.count(func(ev Event) bool {
		return ev.Kind == EvReset || (ev.Kind == EvMessage && ev.Message.Text == "from a guest")
	}); n != 0 {
		t.Fatalf("the dropped chat came back (%d events)", n)
	}
}

// A private chat with a guest shown from the cache at Connect, which the
// server dropped with the guest's session, says so in those words.
func TestGuestPrivateDroppedIsWordedSo(t *testing.T) {
	g := newGuestChat(t, "hello from gus")
	ts, dir, ann, req, b1, gus := g.ts, g.dir, g.ann, g.req, g.b, g.gus
	b1.Close()
	gus.Close()
	guestGone(t, ts, "Ann", "Gus")

	b2, rec2 := cachedBridge(t, dir, ann, nil)
	if _, err := b2.Connect(req); err != nil {
		t.Fatal(err)
	}
	rec2.waitFor(t, "reset", func(ev Event) bool { return ev.Kind == EvReset && ev.Conv == "p:gus" })
	line := rec2.waitFor(t, "line", func(ev Event) bool { return ev.Kind == EvMessage && ev.Conv == "p:gus" && ev.Message.Kind == MsgNotice })
	if line.Message.Text != PrivateGoneNotice {
		t.Fatalf("notice line %q", line.Message.Text)
	}
	if n := rec2.count(func(ev Event) bool { return ev.Kind == EvMessage && ev.Message.Text == HistoryLostNotice }); n != 0 {
		t.Fatal("a dropped guest chat was said to be lost history")
	}
}
