package sqlitestore

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"parley/internal/storetest"
	"parley/protocol"
	"parley/server"
)

// allHistory pages through a conversation from the start.
func allHistory(t *testing.T, s server.Store, c server.ConvID) []int64 {
	t.Helper()
	var out []int64
	for since := int64(0); ; {
		ms, err := s.History(context.Background(), c, server.HistoryQuery{Since: protocol.Int64(since), Limit: protocol.MaxHistory})
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) == 0 {
			return out
		}
		for _, m := range ms {
			out = append(out, m.Seq)
		}
		since = ms[len(ms)-1].Seq
	}
}

func wantSeqs(t *testing.T, what string, got []int64, lo, hi int64) {
	t.Helper()
	ok := int64(len(got)) == hi-lo+1
	for i := 0; ok && i < len(got); i++ {
		ok = got[i] == lo+int64(i)
	}
	if !ok {
		t.Fatalf("%s: seqs %v, want %d..%d", what, got, lo, hi)
	}
}

func TestRetainCount(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{RetainCount: 10, RetainEvery: time.Hour})
	defer s.Close()
	room, other := server.RoomConv("lobby"), server.RoomConv("quiet")
	now := time.Now().UTC()
	mk := func(c server.ConvID, seq int64) *server.Message {
		m := storetest.Msg(c, seq)
		m.TS, m.Nonce = now, fmt.Sprintf("%s-%d", c, seq)
		return m
	}
	storetest.AppendSeq(t, s, room, 0, 50, mk)
	storetest.AppendSeq(t, s, other, 0, 7, mk)
	if err := s.Retain(ctx); err != nil {
		t.Fatal(err)
	}
	wantSeqs(t, "busy room", allHistory(t, s, room), 41, 50)
	wantSeqs(t, "quiet room", allHistory(t, s, other), 1, 7)
	if st, err := s.Conv(ctx, room, ""); err != nil || st.Seq != 50 {
		t.Fatalf("room after retention: %+v, %v; seq must stay 50", st, err)
	}
	// A removed message's young nonce is still known, and still taken.
	m, err := s.ByNonce(ctx, "k:alice", string(room)+"-5")
	if err != nil || m.Seq != 5 || m.Conv != room || !m.TS.Equal(now) {
		t.Fatalf("ByNonce of a removed message = %+v, %v", m, err)
	}
	dup := mk(room, 51)
	dup.Nonce = string(room) + "-5"
	if err := appendWait(t, s, dup); err == nil {
		t.Fatal("a nonce whose message retention removed was accepted again")
	}
	storetest.AppendSeq(t, s, room, 50, 55, mk)
	if err := s.Retain(ctx); err != nil {
		t.Fatal(err)
	}
	wantSeqs(t, "busy room after more", allHistory(t, s, room), 46, 55)
}

func TestRetainAge(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	room := server.RoomConv("lobby")
	now := time.Now().UTC()
	oldImg := putImage(t, s, []byte("an old image"))
	newImg := putImage(t, s, []byte("a new image"))
	age := func(seq int64) time.Duration {
		switch {
		case seq <= 5:
			return NonceKeep + time.Hour
		case seq <= 8:
			return 2 * time.Hour
		}
		return 0
	}
	mk := func(c server.ConvID, seq int64) *server.Message {
		m := storetest.Msg(c, seq)
		m.TS, m.Nonce = now.Add(-age(seq)), fmt.Sprintf("n%d", seq)
		switch seq {
		case 3:
			m.Image = &protocol.ImageMeta{ID: oldImg, Mime: "image/png", W: 1, H: 1, Size: 12, Name: "old.png"}
		case 7:
			m.Image = &protocol.ImageMeta{ID: oldImg, Mime: "image/png", W: 1, H: 1, Size: 12, Name: "again.png"}
		case 9:
			m.Image = &protocol.ImageMeta{ID: newImg, Mime: "image/png", W: 1, H: 1, Size: 11, Name: "new.png"}
		}
		return m
	}
	storetest.AppendSeq(t, s, room, 0, 10, mk)
	s.Close()

	// Reopened, so that the images are not "just uploaded" any more.
	s, err = Open(dir, Options{RetainAge: time.Hour, RetainEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Retain(ctx); err != nil {
		t.Fatal(err)
	}
	wantSeqs(t, "after retention", allHistory(t, s, room), 9, 10)
	if _, err := s.ByNonce(ctx, "k:alice", "n2"); !errors.Is(err, server.ErrNotFound) {
		t.Fatalf("nonce of a message older than NonceKeep: %v, want ErrNotFound", err)
	}
	m, err := s.ByNonce(ctx, "k:alice", "n7")
	if err != nil || m.Seq != 7 || m.Image == nil || m.Image.Name != "again.png" {
		t.Fatalf("nonce of a young removed image message = %+v, %v", m, err)
	}
	if rc, err := s.OpenImage(ctx, oldImg); !errors.Is(err, server.ErrNotFound) {
		if rc != nil {
			rc.Close()
		}
		t.Fatalf("image no message refers to: %v, want ErrNotFound", err)
	}
	if convs, err := s.ImageConvs(ctx, oldImg); err != nil || len(convs) != 0 {
		t.Fatalf("ImageConvs of a removed image = %v, %v", convs, err)
	}
	rc, err := s.OpenImage(ctx, newImg)
	if err != nil {
		t.Fatalf("image of a kept message: %v", err)
	}
	rc.Close()
	storetest.AppendSeq(t, s, room, 10, 11, storetest.Msg)
}

// The store applies retention by itself every RetainEvery.
func TestRetainPeriodic(t *testing.T) {
	s := openTest(t, Options{RetainCount: 3, RetainEvery: 10 * time.Millisecond})
	defer s.Close()
	room := server.RoomConv("lobby")
	storetest.AppendSeq(t, s, room, 0, 20, storetest.Msg)
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := allHistory(t, s, room)
		if len(got) == 3 {
			wantSeqs(t, "periodic retention", got, 18, 20)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("history still %v after 30 s of periodic retention", got)
		}
		time.Sleep(5 * time.Millisecond) // polling with a deadline
	}
}

// Retention of a large backlog goes in chunks and finishes.
func TestRetainChunks(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{RetainCount: 1, RetainEvery: time.Hour})
	defer s.Close()
	room := server.RoomConv("lobby")
	n := int64(2*retainChunk + 17)
	storetest.AppendSeq(t, s, room, 0, n, storetest.Msg)
	if err := s.Retain(ctx); err != nil {
		t.Fatal(err)
	}
	wantSeqs(t, "after chunked retention", allHistory(t, s, room), n, n)
}
