// Package storetest is a contract test suite for server.Store
// implementations. An implementation's tests call Run with a function that
// opens a fresh, empty store:
//
//	func TestContract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) server.Store { return open(t) })
//	}
//
// Run closes every store it opens, exactly once. Its subtests run one after
// another; each opens its own store and uses it from several goroutines.
package storetest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"parley/protocol"
	"parley/server"
)

// waitFor is how long a test waits for done callbacks before it fails.
const waitFor = 60 * time.Second

// Run runs the contract suite; open returns a fresh, empty store.
func Run(t *testing.T, open func(t *testing.T) server.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s server.Store)
	}{
		{"ConvCreate", testConvCreate},
		{"AppendHistory", testAppendHistory},
		{"HistoryQueryLimits", testHistoryQueryLimits},
		{"MessageFields", testMessageFields},
		{"DoneOrder", testDoneOrder},
		{"ConcurrentConversations", testConcurrent},
		{"ByNonce", testByNonce},
		{"Conversations", testConversations},
		{"DropConv", testDropConv},
		{"BindBound", testBind},
		{"Images", testImages},
		{"ImageConvs", testImageConvs},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			var once sync.Once
			t.Cleanup(func() { once.Do(func() { s.Close() }) })
			tc.fn(t, s)
		})
	}
	t.Run("CloseFlushes", func(t *testing.T) { testCloseFlushes(t, open(t)) })
}

// Pending collects the results of done callbacks.
type Pending struct {
	mu    sync.Mutex
	order []int
	errs  map[int]error
	calls map[int]int
	n     int
	all   chan struct{}
	want  int
}

// NewPending expects want done calls.
func NewPending(want int) *Pending {
	p := &Pending{errs: map[int]error{}, calls: map[int]int{}, all: make(chan struct{}), want: want}
	if want == 0 {
		close(p.all)
	}
	return p
}

// Done returns the done callback of the i-th append.
func (p *Pending) Done(i int) func(error) {
	return func(err error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.order = append(p.order, i)
		p.calls[i]++
		if err != nil {
			p.errs[i] = err
		}
		p.n++
		if p.n == p.want {
			close(p.all)
		}
	}
}

// Wait waits for every expected call and fails t on an error, a repeated
// call, or a deadline.
func (p *Pending) Wait(t testing.TB) {
	t.Helper()
	select {
	case <-p.all:
	case <-time.After(waitFor):
		p.mu.Lock()
		defer p.mu.Unlock()
		t.Fatalf("only %d of %d done callbacks within %v", p.n, p.want, waitFor)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, n := range p.calls {
		if n != 1 {
			t.Fatalf("done of append %d called %d times", i, n)
		}
	}
	for i, err := range p.errs {
		t.Fatalf("append %d failed: %v", i, err)
	}
}

// Order returns the order in which done callbacks were called.
func (p *Pending) Order() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int(nil), p.order...)
}

var t0 = time.Date(2026, 11, 25, 21, 0, 0, 123_000_000, time.UTC)

// Msg makes a text message of conversation c with the given seq.
func Msg(c server.ConvID, seq int64) *server.Message {
	return &server.Message{Conv: c, Seq: seq, TS: t0.Add(time.Duration(seq) * time.Millisecond),
		Room: "Lobby", From: "Alice", Text: fmt.Sprintf("message %d", seq), Owner: "k:alice"}
}

// AppendSeq appends messages from+1..to of c (as made by mk) and waits.
func AppendSeq(t testing.TB, s server.Store, c server.ConvID, from, to int64, mk func(server.ConvID, int64) *server.Message) {
	t.Helper()
	p := NewPending(int(to - from))
	for seq := from + 1; seq <= to; seq++ {
		s.Append(mk(c, seq), p.Done(int(seq)))
	}
	p.Wait(t)
}

func seqs(ms []*server.Message) []int64 {
	out := make([]int64, len(ms))
	for i, m := range ms {
		out[i] = m.Seq
	}
	return out
}

func wantRange(t *testing.T, what string, ms []*server.Message, lo, hi int64) {
	t.Helper()
	got := seqs(ms)
	if int64(len(got)) != hi-lo+1 && !(hi < lo && len(got) == 0) {
		t.Fatalf("%s: got seqs %v, want %d..%d", what, got, lo, hi)
	}
	for i, s := range got {
		if s != lo+int64(i) {
			t.Fatalf("%s: got seqs %v, want %d..%d", what, got, lo, hi)
		}
	}
}

func history(t *testing.T, s server.Store, c server.ConvID, before, since *int64, limit int) []*server.Message {
	t.Helper()
	ms, err := s.History(context.Background(), c, server.HistoryQuery{Before: before, Since: since, Limit: limit})
	if err != nil {
		t.Fatalf("History(%q, before %v since %v limit %d): %v", c, before, since, limit, err)
	}
	return ms
}

func testConvCreate(t *testing.T, s server.Store) {
	ctx := context.Background()
	room := server.RoomConv("lobby")
	st, err := s.Conv(ctx, room, "Lobby")
	if err != nil {
		t.Fatal(err)
	}
	if st.Conv != room || st.Name != "Lobby" || st.Seq != 0 || st.Epoch == "" {
		t.Fatalf("new room: %+v", st)
	}
	again, err := s.Conv(ctx, room, "LOBBY")
	if err != nil {
		t.Fatal(err)
	}
	if again != st {
		t.Fatalf("second Conv changed the room: %+v, then %+v", st, again)
	}
	other, err := s.Conv(ctx, server.RoomConv("other"), "Other")
	if err != nil {
		t.Fatal(err)
	}
	if other.Epoch == st.Epoch {
		t.Fatalf("two rooms share epoch %q", st.Epoch)
	}
	pair := server.PairConv("bob", "alice")
	ps, err := s.Conv(ctx, pair, "")
	if err != nil {
		t.Fatal(err)
	}
	if ps.Conv != pair || ps.Name != "" || ps.Seq != 0 || ps.Epoch == "" {
		t.Fatalf("new pair: %+v", ps)
	}
}

func testAppendHistory(t *testing.T, s server.Store) {
	ctx := context.Background()
	c := server.RoomConv("lobby")
	if _, err := s.Conv(ctx, c, "Lobby"); err != nil {
		t.Fatal(err)
	}
	if ms := history(t, s, c, nil, protocol.Int64(0), 10); len(ms) != 0 {
		t.Fatalf("empty room has history %v", seqs(ms))
	}
	AppendSeq(t, s, c, 0, 250, Msg)
	st, err := s.Conv(ctx, c, "Lobby")
	if err != nil {
		t.Fatal(err)
	}
	if st.Seq != 250 {
		t.Fatalf("seq after 250 appends: %d", st.Seq)
	}
	wantRange(t, "since 0", history(t, s, c, nil, protocol.Int64(0), 100), 1, 100)
	wantRange(t, "since 100", history(t, s, c, nil, protocol.Int64(100), 100), 101, 200)
	wantRange(t, "since 240", history(t, s, c, nil, protocol.Int64(240), 100), 241, 250)
	wantRange(t, "since 250", history(t, s, c, nil, protocol.Int64(250), 100), 1, 0)
	wantRange(t, "before 251", history(t, s, c, protocol.Int64(251), nil, 100), 151, 250)
	wantRange(t, "before 1000", history(t, s, c, protocol.Int64(1000), nil, 5), 246, 250)
	wantRange(t, "before 51", history(t, s, c, protocol.Int64(51), nil, 100), 1, 50)
	wantRange(t, "before 1", history(t, s, c, protocol.Int64(1), nil, 100), 1, 0)
	wantRange(t, "before 101 limit 1", history(t, s, c, protocol.Int64(101), nil, 1), 100, 100)
	if ms := history(t, s, server.RoomConv("never"), nil, protocol.Int64(0), 10); len(ms) != 0 {
		t.Fatalf("unknown room has history %v", seqs(ms))
	}
	for _, m := range history(t, s, c, nil, protocol.Int64(0), 3) {
		if m.Conv != c || m.Text != fmt.Sprintf("message %d", m.Seq) || !m.TS.Equal(t0.Add(time.Duration(m.Seq)*time.Millisecond)) {
			t.Fatalf("message %d came back as %+v", m.Seq, m)
		}
	}
}

func testHistoryQueryLimits(t *testing.T, s server.Store) {
	ctx := context.Background()
	c := server.RoomConv("lobby")
	if _, err := s.Conv(ctx, c, "Lobby"); err != nil {
		t.Fatal(err)
	}
	AppendSeq(t, s, c, 0, protocol.MaxHistory+5, Msg)
	wantRange(t, "limit MaxHistory", history(t, s, c, nil, protocol.Int64(0), protocol.MaxHistory), 1, protocol.MaxHistory)
	bad := []server.HistoryQuery{
		{Since: protocol.Int64(0), Limit: protocol.MaxHistory + 1},
		{Since: protocol.Int64(0), Limit: 0},
		{Since: protocol.Int64(0), Limit: -1},
		{Limit: 10},
		{Before: protocol.Int64(5), Since: protocol.Int64(1), Limit: 10},
	}
	for _, q := range bad {
		if ms, err := s.History(ctx, c, q); err == nil {
			t.Errorf("History(%+v) = %d messages, want an error", q, len(ms))
		}
	}
}

func testMessageFields(t *testing.T, s server.Store) {
	ctx := context.Background()
	room := server.RoomConv("ünïcode")
	pair := server.PairConv("alice", "bob")
	for _, c := range []server.ConvID{room, pair} {
		if _, err := s.Conv(ctx, c, "Ünïcode"); err != nil {
			t.Fatal(err)
		}
	}
	long := strings.Repeat("é🙂", protocol.DefaultMaxText/2)
	img := &protocol.ImageMeta{ID: strings.Repeat("ab", 32), Mime: "image/png", W: 640, H: 480, Size: 123456, Name: "cat.png"}
	ts := time.Date(2026, 1, 2, 3, 4, 5, 678_000_000, time.UTC)
	want := []*server.Message{
		{Conv: room, Seq: 1, TS: ts, Room: "Ünïcode", From: "Alice", Text: long, Owner: "k:alice", Nonce: "n-1"},
		{Conv: room, Seq: 2, TS: ts.Add(time.Millisecond), Room: "Ünïcode", From: "Guest", Image: img, Owner: "g:s1", Nonce: strings.Repeat("x", protocol.MaxNonceLen)},
		{Conv: pair, Seq: 1, TS: ts, Room: "Ünïcode", From: "Alice", To: "Bob", Text: "psst", Owner: "k:alice"},
	}
	p := NewPending(len(want))
	for i, m := range want {
		s.Append(m, p.Done(i))
	}
	p.Wait(t)
	got := append(history(t, s, room, nil, protocol.Int64(0), 10), history(t, s, pair, nil, protocol.Int64(0), 10)...)
	if len(got) != len(want) {
		t.Fatalf("got %d messages, want %d", len(got), len(want))
	}
	for i := range want {
		SameMessage(t, got[i], want[i])
	}
}

// SameMessage fails t unless got and want hold the same message.
func SameMessage(t testing.TB, got, want *server.Message) {
	t.Helper()
	g, w := *got, *want
	if !g.TS.Equal(w.TS) {
		t.Fatalf("message %s/%d: ts %v, want %v", w.Conv, w.Seq, g.TS, w.TS)
	}
	g.TS, w.TS = time.Time{}, time.Time{}
	gi, wi := g.Image, w.Image
	g.Image, w.Image = nil, nil
	if g != w {
		t.Fatalf("message came back as\n%+v\nwant\n%+v", g, w)
	}
	if (gi == nil) != (wi == nil) || gi != nil && *gi != *wi {
		t.Fatalf("message %s/%d: image %+v, want %+v", w.Conv, w.Seq, gi, wi)
	}
}

func testDoneOrder(t *testing.T, s server.Store) {
	ctx := context.Background()
	convs := []server.ConvID{server.RoomConv("a"), server.RoomConv("b"), server.PairConv("x", "y")}
	for _, c := range convs {
		if _, err := s.Conv(ctx, c, string(c)); err != nil {
			t.Fatal(err)
		}
	}
	const n = 3000
	p := NewPending(n)
	next := map[server.ConvID]int64{}
	for i := 0; i < n; i++ {
		c := convs[i%len(convs)]
		next[c]++
		s.Append(Msg(c, next[c]), p.Done(i))
	}
	p.Wait(t)
	for i, got := range p.Order() {
		if got != i {
			t.Fatalf("done callback %d was for append %d: callbacks out of Append order", i, got)
		}
	}
}

func testConcurrent(t *testing.T, s server.Store) {
	ctx := context.Background()
	const writers, each = 8, 400
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := server.RoomConv(fmt.Sprintf("room%d", w))
			if _, err := s.Conv(ctx, c, fmt.Sprintf("Room%d", w)); err != nil {
				errs <- err
				return
			}
			p := NewPending(each)
			for seq := int64(1); seq <= each; seq++ {
				s.Append(Msg(c, seq), p.Done(int(seq)))
			}
			p.Wait(t)
			for since := int64(0); since < each; since += protocol.MaxHistory {
				ms, err := s.History(ctx, c, server.HistoryQuery{Since: protocol.Int64(since), Limit: protocol.MaxHistory})
				if err != nil {
					errs <- err
					return
				}
				for i, m := range ms {
					if m.Seq != since+int64(i)+1 {
						errs <- fmt.Errorf("%s: history since %d: %v", c, since, seqs(ms))
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func testByNonce(t *testing.T, s server.Store) {
	ctx := context.Background()
	c := server.RoomConv("lobby")
	if _, err := s.Conv(ctx, c, "Lobby"); err != nil {
		t.Fatal(err)
	}
	img := &protocol.ImageMeta{ID: strings.Repeat("cd", 32), Mime: "image/gif", W: 1, H: 1, Size: 42, Name: "dot.gif"}
	ms := []*server.Message{
		{Conv: c, Seq: 1, TS: t0, Room: "Lobby", From: "Alice", Text: "one", Owner: "k:alice", Nonce: "n1"},
		{Conv: c, Seq: 2, TS: t0, Room: "Lobby", From: "Bob", Text: "two", Owner: "k:bob", Nonce: "n1"},
		{Conv: c, Seq: 3, TS: t0, Room: "Lobby", From: "Alice", Image: img, Owner: "k:alice", Nonce: "n2"},
		{Conv: c, Seq: 4, TS: t0, Room: "Lobby", From: "Alice", Text: "no nonce", Owner: "k:alice"},
	}
	p := NewPending(len(ms))
	for i, m := range ms {
		s.Append(m, p.Done(i))
	}
	p.Wait(t)
	for _, m := range ms[:3] {
		got, err := s.ByNonce(ctx, m.Owner, m.Nonce)
		if err != nil {
			t.Fatalf("ByNonce(%q, %q): %v", m.Owner, m.Nonce, err)
		}
		SameMessage(t, got, m)
	}
	for _, q := range [][2]string{{"k:carol", "n1"}, {"k:alice", "n3"}, {"k:alice", ""}, {"g:s1", "n1"}} {
		if m, err := s.ByNonce(ctx, q[0], q[1]); !errors.Is(err, server.ErrNotFound) {
			t.Errorf("ByNonce(%q, %q) = %+v, %v; want ErrNotFound", q[0], q[1], m, err)
		}
	}
}

func testConversations(t *testing.T, s server.Store) {
	ctx := context.Background()
	ab, ac, bc := server.PairConv("alice", "bob"), server.PairConv("carol", "alice"), server.PairConv("bob", "carol")
	for _, c := range []server.ConvID{ab, ac, bc, server.RoomConv("lobby")} {
		if _, err := s.Conv(ctx, c, ""); err != nil {
			t.Fatal(err)
		}
	}
	pm := func(c server.ConvID, seq int64, from, to string) *server.Message {
		return &server.Message{Conv: c, Seq: seq, TS: t0, Room: "Lobby", From: from, To: to, Text: "hi", Owner: "k:" + strings.ToLower(from)}
	}
	p := NewPending(5)
	s.Append(pm(ab, 1, "Alice", "Bob"), p.Done(0))
	s.Append(pm(ab, 2, "Bob", "Alice"), p.Done(1))
	s.Append(pm(ac, 1, "Carol", "Alice"), p.Done(2))
	s.Append(pm(bc, 1, "Bob", "Carol"), p.Done(3))
	s.Append(Msg(server.RoomConv("lobby"), 1), p.Done(4))
	p.Wait(t)
	got, err := s.Conversations(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	want := map[server.ConvID]server.ConvState{}
	for _, c := range []struct {
		id   server.ConvID
		with string
		seq  int64
	}{{ab, "Bob", 2}, {ac, "Carol", 1}} {
		st, err := s.Conv(ctx, c.id, "")
		if err != nil {
			t.Fatal(err)
		}
		want[c.id] = server.ConvState{Conv: c.id, Name: c.with, Seq: c.seq, Epoch: st.Epoch}
	}
	if len(got) != len(want) {
		t.Fatalf("Conversations(alice) = %+v, want %+v", got, want)
	}
	for _, st := range got {
		if want[st.Conv] != st {
			t.Fatalf("Conversations(alice) = %+v, want %+v", got, want)
		}
	}
	if got, err := s.Conversations(ctx, "dave"); err != nil || len(got) != 0 {
		t.Fatalf("Conversations(dave) = %+v, %v; want none", got, err)
	}
}

func testDropConv(t *testing.T, s server.Store) {
	ctx := context.Background()
	pair := server.PairConv("alice", "guest")
	keep := server.PairConv("alice", "bob")
	before, err := s.Conv(ctx, pair, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Conv(ctx, keep, ""); err != nil {
		t.Fatal(err)
	}
	p := NewPending(4)
	for i := int64(1); i <= 3; i++ {
		s.Append(&server.Message{Conv: pair, Seq: i, TS: t0, Room: "Lobby", From: "Guest", To: "Alice", Text: "x", Owner: "g:s1"}, p.Done(int(i)))
	}
	s.Append(&server.Message{Conv: keep, Seq: 1, TS: t0, Room: "Lobby", From: "Bob", To: "Alice", Text: "y", Owner: "k:bob"}, p.Done(0))
	p.Wait(t)
	if err := s.DropConv(ctx, pair); err != nil {
		t.Fatal(err)
	}
	if ms := history(t, s, pair, nil, protocol.Int64(0), 10); len(ms) != 0 {
		t.Fatalf("dropped conversation has history %v", seqs(ms))
	}
	convs, err := s.Conversations(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if len(convs) != 1 || convs[0].Conv != keep {
		t.Fatalf("Conversations(alice) after drop = %+v, want only %q", convs, keep)
	}
	after, err := s.Conv(ctx, pair, "")
	if err != nil {
		t.Fatal(err)
	}
	if after.Seq != 0 || after.Epoch == before.Epoch {
		t.Fatalf("conversation after drop: %+v (before: %+v); want seq 0 and a new epoch", after, before)
	}
	wantRange(t, "kept pair", history(t, s, keep, nil, protocol.Int64(0), 10), 1, 1)
	if err := s.DropConv(ctx, server.PairConv("nobody", "else")); err != nil {
		t.Fatalf("DropConv of an unknown conversation: %v", err)
	}
}

func testBind(t *testing.T, s server.Store) {
	ctx := context.Background()
	pub1, _, _ := ed25519.GenerateKey(nil)
	pub2, _, _ := ed25519.GenerateKey(nil)
	if k, err := s.Bound(ctx, "alice"); err != nil || k != nil {
		t.Fatalf("Bound(alice) before binding = %x, %v", k, err)
	}
	k, err := s.Bind(ctx, "alice", "Alice", pub1)
	if err != nil || !k.Equal(pub1) {
		t.Fatalf("first Bind = %x, %v; want %x", k, err, pub1)
	}
	k, err = s.Bind(ctx, "alice", "ALICE", pub2)
	if err != nil || !k.Equal(pub1) {
		t.Fatalf("second Bind = %x, %v; want the first key %x", k, err, pub1)
	}
	k, err = s.Bound(ctx, "alice")
	if err != nil || !k.Equal(pub1) {
		t.Fatalf("Bound(alice) = %x, %v; want %x", k, err, pub1)
	}
	k, err = s.Bind(ctx, "bob", "Bob", pub2)
	if err != nil || !k.Equal(pub2) {
		t.Fatalf("Bind(bob) = %x, %v; want %x", k, err, pub2)
	}
	// Concurrent first binds: exactly one key wins, and every caller sees it.
	keys := make([]ed25519.PublicKey, 8)
	won := make([]ed25519.PublicKey, len(keys))
	var wg sync.WaitGroup
	for i := range keys {
		keys[i], _, _ = ed25519.GenerateKey(nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			won[i], _ = s.Bind(ctx, "carol", "Carol", keys[i])
		}()
	}
	wg.Wait()
	for i := range won {
		if !won[i].Equal(won[0]) || won[0] == nil {
			t.Fatalf("concurrent binds disagree: %x", won)
		}
	}
}

// put uploads b in chunks and commits it.
func put(t *testing.T, s server.Store, b []byte) string {
	t.Helper()
	ctx := context.Background()
	sum := sha256.Sum256(b)
	id := hex.EncodeToString(sum[:])
	u, err := s.NewUpload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for off := 0; off < len(b); off += 1000 {
		if _, err := u.Write(b[off:min(off+1000, len(b))]); err != nil {
			t.Fatal(err)
		}
	}
	if err := u.Commit(ctx, id); err != nil {
		t.Fatal(err)
	}
	u.Abort() // a no-op after Commit
	return id
}

func readImage(t *testing.T, s server.Store, id string) []byte {
	t.Helper()
	rc, err := s.OpenImage(context.Background(), id)
	if err != nil {
		t.Fatalf("OpenImage(%s): %v", id, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func testImages(t *testing.T, s server.Store) {
	ctx := context.Background()
	data := bytes.Repeat([]byte("parley image bytes "), 5000)
	id := put(t, s, data)
	if got := readImage(t, s, id); !bytes.Equal(got, data) {
		t.Fatalf("image came back with %d bytes, want %d", len(got), len(data))
	}
	if again := put(t, s, data); again != id || !bytes.Equal(readImage(t, s, id), data) {
		t.Fatal("committing the same bytes twice changed them")
	}
	empty := put(t, s, nil)
	if got := readImage(t, s, empty); len(got) != 0 {
		t.Fatalf("empty image came back with %d bytes", len(got))
	}
	// An aborted upload leaves nothing behind.
	gone := []byte("aborted")
	sum := sha256.Sum256(gone)
	u, err := s.NewUpload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Write(gone); err != nil {
		t.Fatal(err)
	}
	u.Abort()
	for _, bad := range []string{hex.EncodeToString(sum[:]), strings.Repeat("0", 64), "nope", "../../etc/passwd", ""} {
		if rc, err := s.OpenImage(ctx, bad); !errors.Is(err, server.ErrNotFound) {
			if rc != nil {
				rc.Close()
			}
			t.Errorf("OpenImage(%q): %v, want ErrNotFound", bad, err)
		}
	}
}

func testImageConvs(t *testing.T, s server.Store) {
	ctx := context.Background()
	data := []byte("GIF89a pretend")
	id := put(t, s, data)
	room, pair := server.RoomConv("lobby"), server.PairConv("alice", "bob")
	for _, c := range []server.ConvID{room, pair, server.RoomConv("other")} {
		if _, err := s.Conv(ctx, c, "Lobby"); err != nil {
			t.Fatal(err)
		}
	}
	img := &protocol.ImageMeta{ID: id, Mime: "image/gif", W: 1, H: 1, Size: int64(len(data)), Name: "x.gif"}
	p := NewPending(3)
	s.Append(&server.Message{Conv: room, Seq: 1, TS: t0, Room: "Lobby", From: "Alice", Image: img, Owner: "k:alice"}, p.Done(0))
	s.Append(&server.Message{Conv: pair, Seq: 1, TS: t0, Room: "Lobby", From: "Alice", To: "Bob", Image: img, Owner: "k:alice"}, p.Done(1))
	s.Append(Msg(server.RoomConv("other"), 1), p.Done(2))
	p.Wait(t)
	got, err := s.ImageConvs(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !(got[0] == room && got[1] == pair || got[0] == pair && got[1] == room) {
		t.Fatalf("ImageConvs = %q, want %q and %q", got, room, pair)
	}
	if got, err := s.ImageConvs(ctx, strings.Repeat("0", 64)); len(got) != 0 && err == nil {
		t.Fatalf("ImageConvs of an unknown image = %q", got)
	}
}

func testCloseFlushes(t *testing.T, s server.Store) {
	ctx := context.Background()
	c := server.RoomConv("lobby")
	if _, err := s.Conv(ctx, c, "Lobby"); err != nil {
		s.Close()
		t.Fatal(err)
	}
	const n = 2000
	p := NewPending(n)
	for seq := int64(1); seq <= n; seq++ {
		s.Append(Msg(c, seq), p.Done(int(seq)))
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case <-p.all:
	default:
		p.mu.Lock()
		defer p.mu.Unlock()
		t.Fatalf("Close returned with %d of %d done callbacks called", p.n, n)
	}
	p.Wait(t)
}
