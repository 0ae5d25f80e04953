package server_test

import (
	"context"
	"crypto/ed25519"
	"testing"

	"parley/internal/storetest"
	"parley/protocol"
	"parley/server"
)

// The memory store is held to the same contract as the durable store
// (internal/sqlitestore runs the same suite).
func TestMemoryStoreContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) server.Store { return server.NewMemoryStore() })
}

// History limits are 1 to MaxHistory, at the bounds and one past them,
// whether or not the conversation exists.
func TestMemoryStoreHistoryLimits(t *testing.T) {
	ctx := context.Background()
	s := server.NewMemoryStore()
	defer s.Close()
	c := server.RoomConv("lobby")
	storetest.AppendSeq(t, s, c, 0, protocol.MaxHistory+1, storetest.Msg)
	for _, id := range []server.ConvID{c, server.RoomConv("never")} {
		for _, tc := range []struct {
			limit int
			ok    bool
		}{{0, false}, {1, true}, {protocol.MaxHistory, true}, {protocol.MaxHistory + 1, false}} {
			ms, err := s.History(ctx, id, server.HistoryQuery{Since: protocol.Int64(0), Limit: tc.limit})
			if (err == nil) != tc.ok {
				t.Errorf("%s limit %d: %d messages, err %v", id, tc.limit, len(ms), err)
			}
			if tc.ok && id == c && len(ms) != tc.limit {
				t.Errorf("limit %d gave %d messages", tc.limit, len(ms))
			}
		}
	}
}

// After Close every call fails: none answers from a released store.
func TestMemoryStoreClosed(t *testing.T) {
	ctx := context.Background()
	s := server.NewMemoryStore()
	c := server.RoomConv("lobby")
	storetest.AppendSeq(t, s, c, 0, 3, storetest.Msg)
	pub, _, _ := ed25519.GenerateKey(nil)
	if _, err := s.Bind(ctx, "alice", "Alice", pub); err != nil {
		t.Fatal(err)
	}
	up, err := s.NewUpload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	calls := map[string]error{}
	_, calls["Conv"] = s.Conv(ctx, c, "lobby")
	_, calls["History"] = s.History(ctx, c, server.HistoryQuery{Since: protocol.Int64(0), Limit: 1})
	_, calls["ByNonce"] = s.ByNonce(ctx, "alice", "n1")
	_, calls["Conversations"] = s.Conversations(ctx, "alice")
	calls["DropConv"] = s.DropConv(ctx, c)
	_, calls["Bind"] = s.Bind(ctx, "bob", "Bob", pub)
	_, calls["Bound"] = s.Bound(ctx, "alice")
	_, calls["NewUpload"] = s.NewUpload(ctx)
	calls["Commit"] = up.Commit(ctx, "img")
	_, calls["OpenImage"] = s.OpenImage(ctx, "img")
	_, calls["ImageConvs"] = s.ImageConvs(ctx, "img")
	done := make(chan error, 1)
	s.Append(&server.Message{Conv: c, Room: "lobby", Seq: 4, From: "alice", Text: "late"}, func(err error) { done <- err })
	calls["Append"] = <-done
	for name, err := range calls {
		if err == nil {
			t.Errorf("%s after Close succeeded", name)
		}
	}
}
