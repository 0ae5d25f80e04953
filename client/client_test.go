package client

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"testing"
	"time"

	"parley/protocol"
)

func TestDialGuestCompletesHello(t *testing.T) {
	srv := newFakeServer(t)
	c := dialFake(t, srv, "  Alice ")
	if c.Name() != "Alice" {
		t.Fatalf("Name = %q, want the trimmed name the server confirmed", c.Name())
	}
	if c.ServerInfo().Name != "fake" || c.ServerInfo().Limits.Text != protocol.DefaultMaxText {
		t.Fatalf("ServerInfo = %+v", c.ServerInfo())
	}
	if c.State() != StateConnected || c.Transport() != "fake" {
		t.Fatalf("state %s over %q, want connected over fake", c.State(), c.Transport())
	}
}

func TestDialIdentitySignsChallenge(t *testing.T) {
	srv := newFakeServer(t)
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, Config{Name: "Bob", Identity: priv, Dialer: srv})
	if err != nil {
		t.Fatalf("Dial with identity: %v", err)
	}
	defer c.Close()
	if c.Name() != "Bob" {
		t.Fatalf("Name = %q", c.Name())
	}
}

func TestDialRejectsNonEd25519Identity(t *testing.T) {
	_, err := Dial(context.Background(), Config{Name: "x", Identity: badSigner{}, Dialer: newFakeServer(t)})
	if err == nil {
		t.Fatal("Dial accepted an identity whose key is not Ed25519")
	}
}

func TestSayGetsSeqAndOthersReceive(t *testing.T) {
	srv := newFakeServer(t)
	a := dialFake(t, srv, "A")
	b := dialFake(t, srv, "B")
	ctx := context.Background()
	for _, c := range []*Client{a, b} {
		if _, err := c.Join(ctx, "lobby"); err != nil {
			t.Fatal(err)
		}
	}
	sent, err := a.Say(ctx, "lobby", "hi")
	if err != nil || sent.Seq != 1 || sent.TS.IsZero() {
		t.Fatalf("Say = %+v, %v; want seq 1 with a ts", sent, err)
	}
	ev := nextEvent(t, b, EventMessage)
	if m := ev.Message; m.Text != "hi" || m.From != "A" || m.Seq != 1 || m.Room != "lobby" {
		t.Fatalf("B got %+v", m)
	}
}

func TestSayValidatesTextLocally(t *testing.T) {
	srv := newFakeServer(t)
	a := dialFake(t, srv, "A")
	ctx := context.Background()
	long := make([]rune, protocol.DefaultMaxText+1)
	for i := range long {
		long[i] = 'x'
	}
	if _, err := a.Say(ctx, "lobby", string(long)); protocol.CodeOf(err) != protocol.CodeTooLarge {
		t.Fatalf("text one past the limit: %v, want too_large", err)
	}
	if _, err := a.Say(ctx, "lobby", " \t"); protocol.CodeOf(err) != protocol.CodeBadRequest {
		t.Fatalf("blank text: %v, want bad_request", err)
	}
	if _, err := a.Say(ctx, "", "x"); protocol.CodeOf(err) != protocol.CodeBadRequest {
		t.Fatalf("no room: %v, want bad_request", err)
	}
}

func TestResumeDeliversMissedMessagesOnceInOrder(t *testing.T) {
	srv := newFakeServer(t)
	b := dialFake(t, srv, "B")
	ctx := context.Background()
	if _, err := b.Join(ctx, "lobby"); err != nil {
		t.Fatal(err)
	}
	srv.post("lobby", "A", "before")
	if ev := nextEvent(t, b, EventMessage); ev.Message.Seq != 1 {
		t.Fatalf("first message seq %d", ev.Message.Seq)
	}
	srv.kill(&protocol.CloseError{Code: protocol.CloseShutdown})
	waitState(t, b, StateReconnecting)
	// Messages posted while B is away; B reconnects by itself meanwhile,
	// and may see some of these live and the rest in the resumed history.
	for i := 0; i < 5; i++ {
		srv.post("lobby", "A", "missed")
	}
	for want := int64(2); want <= 6; want++ {
		ev := nextEvent(t, b, EventMessage)
		if ev.Message.Seq != want {
			t.Fatalf("got seq %d, want %d (in order, once)", ev.Message.Seq, want)
		}
	}
	srv.post("lobby", "A", "after")
	if ev := nextEvent(t, b, EventMessage); ev.Message.Seq != 7 {
		t.Fatalf("after resume: seq %d, want 7 (no duplicate)", ev.Message.Seq)
	}
}

func TestSayWhileOfflineGoesOutOnceOnReconnect(t *testing.T) {
	srv := newFakeServer(t)
	a := dialFake(t, srv, "A")
	ctx := context.Background()
	if _, err := a.Join(ctx, "lobby"); err != nil {
		t.Fatal(err)
	}
	// The server processes the say and dies before answering: the client
	// re-sends it with its nonce, and the message exists once.
	srv.mu.Lock()
	srv.dropAnswer = func(f *protocol.Frame) bool { return f.Type == protocol.TypeSay }
	srv.mu.Unlock()
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	sent, err := a.Say(sctx, "lobby", "exactly once")
	if err != nil {
		t.Fatalf("Say across a lost session: %v", err)
	}
	srv.mu.Lock()
	says := srv.says
	srv.mu.Unlock()
	if sent.Seq != 1 || says != 1 {
		t.Fatalf("seq %d, messages created %d; want 1 and 1", sent.Seq, says)
	}
	// The resumed join's history held that message; it must not come back
	// to its sender as an event.
	srv.post("lobby", "B", "next")
	if ev := nextEvent(t, a, EventMessage); ev.Message.Seq != 2 {
		t.Fatalf("A got seq %d (%q), want 2: its own message came back", ev.Message.Seq, ev.Message.Text)
	}
}

func TestRequestWaitsWhileReconnecting(t *testing.T) {
	srv := newFakeServer(t)
	a := dialFake(t, srv, "A")
	ctx := context.Background()
	if _, err := a.Join(ctx, "lobby"); err != nil {
		t.Fatal(err)
	}
	srv.kill(errors.New("network gone"))
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := a.Say(sctx, "lobby", "queued"); err != nil {
		t.Fatalf("Say while reconnecting: %v", err)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.says != 1 {
		t.Fatalf("%d messages created, want 1", srv.says)
	}
}

func TestTruncatedResumePagesForward(t *testing.T) {
	srv := newFakeServer(t)
	srv.joinCap = 3
	b := dialFake(t, srv, "B")
	ctx := context.Background()
	if _, err := b.Join(ctx, "lobby"); err != nil {
		t.Fatal(err)
	}
	// Hold B offline while 10 messages are posted: the server refuses
	// dials until they are in.
	srv.mu.Lock()
	for c := range srv.sessions {
		c.kill(errors.New("gone"))
		delete(srv.sessions, c)
	}
	r := srv.roomLocked("lobby")
	for i := 0; i < 10; i++ {
		r.seq++
		r.msgs = append(r.msgs, &protocol.Frame{Type: protocol.TypeMsg, Room: "lobby", From: "A", Text: "m", Seq: protocol.Int64(r.seq), TS: protocol.FormatTime(time.Now())})
	}
	srv.mu.Unlock()
	for want := int64(1); want <= 10; want++ {
		ev := nextEvent(t, b, EventMessage)
		if ev.Message.Seq != want {
			t.Fatalf("got seq %d, want %d", ev.Message.Seq, want)
		}
	}
}

func TestEpochChangeIsAnnounced(t *testing.T) {
	srv := newFakeServer(t)
	b := dialFake(t, srv, "B")
	ctx := context.Background()
	if _, err := b.Join(ctx, "lobby"); err != nil {
		t.Fatal(err)
	}
	srv.post("lobby", "A", "old world")
	nextEvent(t, b, EventMessage)
	srv.mu.Lock()
	srv.rooms = map[string]*fakeRoom{} // the server lost its data
	r := srv.roomLocked("lobby")
	r.epoch = "e2"
	for c := range srv.sessions {
		c.kill(errors.New("restart"))
		delete(srv.sessions, c)
	}
	srv.mu.Unlock()
	ev := nextEvent(t, b, EventEpoch)
	if ev.Room != "lobby" || ev.Epoch != "e2" {
		t.Fatalf("epoch event %+v", ev)
	}
	srv.post("lobby", "A", "new world")
	if ev := nextEvent(t, b, EventMessage); ev.Message.Seq != 1 || ev.Message.Text != "new world" {
		t.Fatalf("after the epoch change got %+v", ev.Message)
	}
}

func TestCloseFailsPendingAndClosesEvents(t *testing.T) {
	srv := newFakeServer(t)
	a := dialFake(t, srv, "A")
	blockDials(srv) // keep the server away so the Say stays pending
	srv.kill(errors.New("gone"))
	done := make(chan error, 1)
	go func() {
		_, err := a.Say(context.Background(), "lobby", "never")
		done <- err
	}()
	a.Close()
	if err := <-done; !errors.Is(err, ErrClosed) && err != nil {
		t.Fatalf("pending Say after Close: %v, want ErrClosed (or sent)", err)
	}
	for range a.Events() {
	}
	if _, err := a.Say(context.Background(), "lobby", "x"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Say after Close: %v", err)
	}
	if a.Close() != nil {
		t.Fatal("second Close failed")
	}
}

func TestSayContextEndsWhileOffline(t *testing.T) {
	srv := newFakeServer(t)
	a := dialFake(t, srv, "A")
	blockDials(srv)
	srv.kill(errors.New("gone"))
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		waitState(t, a, StateReconnecting)
		cancel()
	}()
	if _, err := a.Say(ctx, "lobby", "x"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Say with a cancelled ctx: %v", err)
	}
}

// blockDials makes the fake server refuse connections.
func blockDials(srv *fakeServer) {
	srv.mu.Lock()
	srv.refuse = true
	srv.mu.Unlock()
}

type badSigner struct{}

func (badSigner) Public() crypto.PublicKey { return "not a key" }
func (badSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("no")
}

// offlineWhilePosting ends B's sessions and posts n messages to room
// before any new session can see them.
func offlineWhilePosting(srv *fakeServer, room string, n int) {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	for c := range srv.sessions {
		c.kill(errors.New("gone"))
		delete(srv.sessions, c)
	}
	r := srv.roomLocked(room)
	for i := 0; i < n; i++ {
		r.seq++
		r.msgs = append(r.msgs, &protocol.Frame{Type: protocol.TypeMsg, Room: r.name, From: "A", Text: "m", Seq: protocol.Int64(r.seq), TS: protocol.FormatTime(time.Now())})
	}
}

// A resumed join answered internal is reported and tried again on a new
// session; nothing is skipped (the crash test's watcher used to lose what
// a failed resumed join should have carried).
func TestResumeJoinFailureIsRetried(t *testing.T) {
	srv := newFakeServer(t)
	b := dialFake(t, srv, "B")
	if _, err := b.Join(context.Background(), "lobby"); err != nil {
		t.Fatal(err)
	}
	srv.post("lobby", "A", "before")
	nextEvent(t, b, EventMessage)
	srv.mu.Lock()
	srv.failJoins, srv.failCode = 2, protocol.CodeInternal
	srv.mu.Unlock()
	offlineWhilePosting(srv, "lobby", 5)
	for i := 0; i < 2; i++ {
		ev := nextEvent(t, b, EventError, EventMessage)
		if ev.Kind != EventError || ev.Room != "lobby" || protocol.CodeOf(ev.Err) != protocol.CodeInternal {
			t.Fatalf("event %d: %+v, want an internal error for lobby", i+1, ev)
		}
	}
	for want := int64(2); want <= 6; want++ {
		ev := nextEvent(t, b, EventMessage)
		if ev.Message.Seq != want {
			t.Fatalf("got seq %d, want %d (in order, once)", ev.Message.Seq, want)
		}
	}
	srv.post("lobby", "A", "after")
	if ev := nextEvent(t, b, EventMessage); ev.Message.Seq != 7 {
		t.Fatalf("after the resume: seq %d, want 7", ev.Message.Seq)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.resumes != 3 {
		t.Fatalf("%d resumed joins, want 3 (two failed, one answered)", srv.resumes)
	}
}

// A resumed join the server refuses for good is reported and the room is
// forgotten: later sessions do not join it again.
func TestResumeJoinRefusedForgetsTheRoom(t *testing.T) {
	srv := newFakeServer(t)
	b := dialFake(t, srv, "B")
	if _, err := b.Join(context.Background(), "lobby"); err != nil {
		t.Fatal(err)
	}
	srv.mu.Lock()
	srv.failJoins, srv.failCode = 1, protocol.CodeBadRoom
	srv.mu.Unlock()
	offlineWhilePosting(srv, "lobby", 1)
	ev := nextEvent(t, b, EventError)
	if ev.Room != "lobby" || protocol.CodeOf(ev.Err) != protocol.CodeBadRoom {
		t.Fatalf("error event %+v, want bad_room for lobby", ev)
	}
	offlineWhilePosting(srv, "lobby", 1)
	waitState(t, b, StateReconnecting)
	waitState(t, b, StateConnected)
	// A round trip: a resumed join would have been answered before it.
	if _, err := b.Rooms(context.Background()); protocol.CodeOf(err) != protocol.CodeBadRequest {
		t.Fatalf("rooms on the fake server: %v, want its bad_request", err)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.resumes != 1 {
		t.Fatalf("%d resumed joins, want 1: the refused room was joined again", srv.resumes)
	}
}

// A resumed join answered rate_limited is tried again on the same session
// after a backoff, with events held meanwhile: no reconnect, nothing lost.
func TestResumeJoinRateLimitedIsRetriedOnTheSession(t *testing.T) {
	srv := newFakeServer(t)
	b := dialFake(t, srv, "B")
	if _, err := b.Join(context.Background(), "lobby"); err != nil {
		t.Fatal(err)
	}
	srv.post("lobby", "A", "before")
	nextEvent(t, b, EventMessage)
	srv.mu.Lock()
	srv.failJoins, srv.failCode = 3, protocol.CodeRateLimited
	dials := srv.dials
	srv.mu.Unlock()
	offlineWhilePosting(srv, "lobby", 5)
	for want := int64(2); want <= 6; want++ {
		ev := nextEvent(t, b, EventMessage, EventError)
		if ev.Kind == EventError {
			t.Fatalf("error event %v while the join was being retried", ev.Err)
		}
		if ev.Message.Seq != want {
			t.Fatalf("got seq %d, want %d (in order, once)", ev.Message.Seq, want)
		}
	}
	srv.post("lobby", "A", "after")
	if ev := nextEvent(t, b, EventMessage); ev.Message.Seq != 7 {
		t.Fatalf("after the resume: seq %d, want 7", ev.Message.Seq)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.resumes != 4 || srv.dials != dials+1 {
		t.Fatalf("%d resumed joins over %d new sessions, want 4 over 1", srv.resumes, srv.dials-dials)
	}
}
