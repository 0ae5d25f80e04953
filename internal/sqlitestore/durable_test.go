package sqlitestore

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"parley/internal/storetest"
	"parley/protocol"
	"parley/server"
)

// appendWait appends one message and returns its done error.
func appendWait(t testing.TB, s server.Store, m *server.Message) error {
	t.Helper()
	ch := make(chan error, 1)
	s.Append(m, func(err error) { ch <- err })
	select {
	case err := <-ch:
		return err
	case <-time.After(60 * time.Second):
		t.Fatalf("Append of %s/%d: no done within a minute", m.Conv, m.Seq)
		return nil
	}
}

// putImage stores b and returns its id.
func putImage(t testing.TB, s server.Store, b []byte) string {
	t.Helper()
	sum := sha256.Sum256(b)
	id := hex.EncodeToString(sum[:])
	u, err := s.NewUpload(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := u.Commit(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestRestartKeepsEverything(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	room, pair := server.RoomConv("lobby"), server.PairConv("alice", "bob")
	rs, err := s.Conv(ctx, room, "Lobby")
	if err != nil {
		t.Fatal(err)
	}
	ps, err := s.Conv(ctx, pair, "")
	if err != nil {
		t.Fatal(err)
	}
	imgBytes := []byte("restart image")
	imgID := putImage(t, s, imgBytes)
	img := &protocol.ImageMeta{ID: imgID, Mime: "image/png", W: 2, H: 3, Size: int64(len(imgBytes)), Name: "r.png"}
	var sent []*server.Message
	for seq := int64(1); seq <= 20; seq++ {
		m := storetest.Msg(room, seq)
		m.Nonce = fmt.Sprintf("n%d", seq)
		if seq == 7 {
			m.Text, m.Image = "", img
		}
		sent = append(sent, m)
	}
	sent = append(sent, &server.Message{Conv: pair, Seq: 1, TS: time.Now().UTC(), Room: "Lobby", From: "Bob", To: "Alice", Text: "psst", Owner: "k:bob", Nonce: "p1"})
	p := storetest.NewPending(len(sent))
	for i, m := range sent {
		s.Append(m, p.Done(i))
	}
	p.Wait(t)
	pub, _, _ := ed25519.GenerateKey(nil)
	if _, err := s.Bind(ctx, "alice", "Alice", pub); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rs2, err := s.Conv(ctx, room, "other spelling")
	if err != nil {
		t.Fatal(err)
	}
	if rs2 != (server.ConvState{Conv: room, Name: "Lobby", Seq: 20, Epoch: rs.Epoch}) {
		t.Fatalf("room after restart: %+v (before: %+v)", rs2, rs)
	}
	ps2, err := s.Conv(ctx, pair, "")
	if err != nil {
		t.Fatal(err)
	}
	if ps2.Seq != 1 || ps2.Epoch != ps.Epoch {
		t.Fatalf("pair after restart: %+v (before: %+v)", ps2, ps)
	}
	got, err := s.History(ctx, room, server.HistoryQuery{Since: protocol.Int64(0), Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 20 {
		t.Fatalf("history after restart has %d messages, want 20", len(got))
	}
	for i := range got {
		storetest.SameMessage(t, got[i], sent[i])
	}
	if m, err := s.ByNonce(ctx, "k:bob", "p1"); err != nil || m.Seq != 1 || m.Conv != pair {
		t.Fatalf("ByNonce after restart = %+v, %v", m, err)
	}
	if k, err := s.Bound(ctx, "alice"); err != nil || !k.Equal(pub) {
		t.Fatalf("Bound after restart = %x, %v", k, err)
	}
	if convs, err := s.Conversations(ctx, "alice"); err != nil || len(convs) != 1 || convs[0].Name != "Bob" || convs[0].Seq != 1 {
		t.Fatalf("Conversations after restart = %+v, %v", convs, err)
	}
	rc, err := s.OpenImage(ctx, imgID)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	buf.ReadFrom(rc)
	rc.Close()
	if !bytes.Equal(buf.Bytes(), imgBytes) {
		t.Fatal("image bytes changed across restart")
	}
	if convs, err := s.ImageConvs(ctx, imgID); err != nil || len(convs) != 1 || convs[0] != room {
		t.Fatalf("ImageConvs after restart = %v, %v", convs, err)
	}
	// seq continues: 21 follows, a repeated 20 does not.
	if err := appendWait(t, s, storetest.Msg(room, 20)); err == nil {
		t.Fatal("a second seq 20 was accepted after restart")
	}
	if err := appendWait(t, s, storetest.Msg(room, 21)); err != nil {
		t.Fatalf("seq 21 after restart: %v", err)
	}
}

func TestWipedDirGetsNewEpoch(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	room := server.RoomConv("lobby")
	before, err := s.Conv(ctx, room, "Lobby")
	if err != nil {
		t.Fatal(err)
	}
	storetest.AppendSeq(t, s, room, 0, 5, storetest.Msg)
	s.Close()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	after, err := s.Conv(ctx, room, "Lobby")
	if err != nil {
		t.Fatal(err)
	}
	if after.Seq != 0 || after.Epoch == before.Epoch {
		t.Fatalf("room in a wiped directory: %+v (before: %+v); want seq 0 and a new epoch", after, before)
	}
}

func TestSeqMustFollowStored(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	defer s.Close()
	room := server.RoomConv("lobby")
	if _, err := s.Conv(ctx, room, "Lobby"); err != nil {
		t.Fatal(err)
	}
	storetest.AppendSeq(t, s, room, 0, 1, storetest.Msg)
	// A gap fails, and so does every later pending append of the room,
	// while other conversations in the same batch go on.
	other := server.RoomConv("other")
	errs := make([]error, 4)
	p := storetest.NewPending(4)
	for i, m := range []*server.Message{storetest.Msg(room, 3), storetest.Msg(other, 1), storetest.Msg(room, 4), storetest.Msg(room, 1)} {
		done := p.Done(i)
		s.Append(m, func(err error) { errs[i] = err; done(nil) })
	}
	p.Wait(t)
	for i, wantErr := range []bool{true, false, true, true} {
		if (errs[i] != nil) != wantErr {
			t.Errorf("append %d: %v (want an error: %v)", i, errs[i], wantErr)
		}
	}
	st, err := s.Conv(ctx, room, "")
	if err != nil {
		t.Fatal(err)
	}
	if st.Seq != 1 {
		t.Fatalf("seq after failed appends: %d, want 1", st.Seq)
	}
	storetest.AppendSeq(t, s, room, 1, 3, storetest.Msg)
	ms, err := s.History(ctx, room, server.HistoryQuery{Since: protocol.Int64(0), Limit: 10})
	if err != nil || len(ms) != 3 || ms[2].Seq != 3 {
		t.Fatalf("history after reload: %d messages, %v", len(ms), err)
	}
}

func TestRepeatedNonceFails(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	defer s.Close()
	room := server.RoomConv("lobby")
	if _, err := s.Conv(ctx, room, "Lobby"); err != nil {
		t.Fatal(err)
	}
	m := storetest.Msg(room, 1)
	m.Nonce = "once"
	if err := appendWait(t, s, m); err != nil {
		t.Fatal(err)
	}
	m2 := storetest.Msg(room, 2)
	m2.Nonce = "once"
	if err := appendWait(t, s, m2); err == nil {
		t.Fatal("a repeated nonce was stored twice")
	}
	m2.Owner = "k:bob" // another owner's nonce space
	if err := appendWait(t, s, m2); err != nil {
		t.Fatalf("the same nonce from another owner: %v", err)
	}
}

func TestClosedStore(t *testing.T) {
	s := openTest(t, Options{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := appendWait(t, s, storetest.Msg(server.RoomConv("x"), 1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: %v, want ErrClosed", err)
	}
	if _, err := s.Conv(context.Background(), server.RoomConv("x"), "X"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Conv of a new room after Close: %v, want ErrClosed", err)
	}
}

// A done callback may use the store, even for a write that needs the
// committer (creating a conversation), without deadlocking.
func TestDoneMayUseStore(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	defer s.Close()
	room := server.RoomConv("lobby")
	if _, err := s.Conv(ctx, room, "Lobby"); err != nil {
		t.Fatal(err)
	}
	result := make(chan error, 2)
	s.Append(storetest.Msg(room, 1), func(err error) {
		if err == nil {
			_, err = s.Conv(ctx, server.RoomConv("created-in-done"), "X")
		}
		if err == nil {
			// Its done comes after this one returns: done calls are ordered.
			s.Append(storetest.Msg(room, 2), func(err error) { result <- err })
		}
		result <- err
	})
	for range 2 {
		select {
		case err := <-result:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(60 * time.Second):
			t.Fatal("a done callback using the store deadlocked")
		}
	}
}

func TestDirInUse(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s2, err := Open(dir, Options{}); err == nil || !strings.Contains(err.Error(), "in use") {
		if s2 != nil {
			s2.Close()
		}
		t.Fatalf("second Open of one directory: %v, want an 'in use' error", err)
	}
}

func TestAppendCopiesMessage(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	defer s.Close()
	room := server.RoomConv("lobby")
	if _, err := s.Conv(ctx, room, "Lobby"); err != nil {
		t.Fatal(err)
	}
	m := storetest.Msg(room, 1)
	m.Image = &protocol.ImageMeta{ID: strings.Repeat("a", 64), Mime: "image/png", W: 1, H: 1, Size: 1, Name: "a"}
	ch := make(chan error, 1)
	s.Append(m, func(err error) { ch <- err })
	m.Text, m.Image.Name = "changed", "changed" // the caller may reuse m at once
	if err := <-ch; err != nil {
		t.Fatal(err)
	}
	ms, err := s.History(ctx, room, server.HistoryQuery{Since: protocol.Int64(0), Limit: 1})
	if err != nil || len(ms) != 1 || ms[0].Text != "message 1" || ms[0].Image.Name != "a" {
		t.Fatalf("history: %+v, %v", ms, err)
	}
}
