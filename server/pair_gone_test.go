package server

import (
	"log/slog"
	"testing"
)

// A private message to a guest who left between the say's check (the
// guest was online) and the conversation's lookup makes no conversation:
// the guest's conversations were dropped when it left, and one made now
// would stay in the store after the guest's session.
func TestPairWithGuestWhoLeft(t *testing.T) {
	s, err := New(Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	h := s.hub
	ss := &session{}
	bob, err := h.addSession(ss, "bob", "Bob", nil)
	if err != nil {
		t.Fatal(err)
	}
	p := h.pair("ann", "bob", bob)
	if p == nil {
		t.Fatal("no conversation with a guest who is online")
	}
	h.releasePair(p)
	h.removeSession(ss, bob)
	if p := h.pair("ann", "bob", bob); p != nil {
		t.Fatal("a conversation was made with a guest who left")
	}
	// Another guest of that name is another user: the one found before is gone.
	ss2 := &session{}
	if _, err := h.addSession(ss2, "bob", "Bob", nil); err != nil {
		t.Fatal(err)
	}
	if p := h.pair("ann", "bob", bob); p != nil {
		t.Fatal("a conversation was made with a new guest of the name the say checked")
	}
}
