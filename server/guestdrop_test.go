package server_test

import (
	"context"
	"testing"

	"parley/protocol"
	"parley/server"
)

// blockingDropStore holds DropConv until released.
type blockingDropStore struct {
	server.Store
	dropping chan struct{} // a DropConv started
	release  chan struct{}
}

func (b *blockingDropStore) DropConv(ctx context.Context, id server.ConvID) error {
	b.dropping <- struct{}{}
	<-b.release
	return b.Store.DropConv(ctx, id)
}

// TestGuestNameReusedWhileDropping: a new guest of a departed guest's name
// who writes to the same partner while the old conversation is still being
// dropped starts a new conversation (seq 1), never the old one's.
func TestGuestNameReusedWhileDropping(t *testing.T) {
	st := &blockingDropStore{Store: server.NewMemoryStore(), dropping: make(chan struct{}, 1), release: make(chan struct{})}
	ts := startServer(t, server.Config{Store: st})
	_, g := aliceAndGuest(t, func() *rawClient { return dialWT(t, ts) })
	for range 3 {
		g.ok(map[string]any{"type": "say", "room": "lobby", "to": "Alice", "text": "old"})
	}
	g.close()
	<-st.dropping // the old conversation's drop is blocked
	g2 := dialWT(t, ts)
	g2.hello("Guest")
	g2.join("lobby")
	id := g2.send(map[string]any{"type": "say", "room": "lobby", "to": "Alice", "text": "new"})
	close(st.release)
	ok := g2.answer(id)
	if ok.Type != protocol.TypeOK || ok.Seq == nil || *ok.Seq != 1 {
		t.Fatalf("the new guest's first private message: %+v (want ok seq 1)", ok)
	}
	since := int64(0)
	h := g2.ok(map[string]any{"type": "history", "with": "Alice", "since": since})
	if len(h.History) != 1 || h.History[0].Text != "new" {
		t.Fatalf("new guest's history: %+v", h.History)
	}
}
