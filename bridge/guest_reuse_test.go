package bridge

import (
	"fmt"
	"strings"
	"testing"

	"parley/protocol"
)

// A private chat with a guest who left (the server dropped the chat) and
// a new guest of the same name who writes while the user stays connected:
// the chat starts over with a notice, and the new messages are shown (they
// used to be dropped by the client as already seen: seq starts at 1 again).
func TestGuestNameReusedWhileConnected(t *testing.T) {
	ts := runServer(t, protocol.Limits{})
	b, rec := newBridge(t)
	if _, err := b.Connect(ConnectRequest{Server: ts.addr, CertHash: ts.hash, Name: "Ann", Room: "lobby"}); err != nil {
		t.Fatal(err)
	}
	gus := goClient(t, ts, "Gus", "lobby")
	for _, text := range []string{"old 1", "old 2"} {
		if _, err := gus.SayTo(t.Context(), "lobby", "Ann", text); err != nil {
			t.Fatal(err)
		}
	}
	rec.waitFor(t, "old 2", isMsg("p:gus", "old 2"))
	gus.Close()
	rec.waitFor(t, "gus left", gusLeft)
	guestGone(t, ts, "Ann", "Gus")

	gus = goClient(t, ts, "Gus", "lobby")
	if _, err := gus.SayTo(t.Context(), "lobby", "Ann", "new 1"); err != nil {
		t.Fatal(err)
	}
	line := rec.waitFor(t, "notice line", func(ev Event) bool {
		return ev.Kind == EvMessage && ev.Conv == "p:gus" && ev.Message.Kind == MsgNotice
	})
	if line.Message.Text != PrivateGoneNotice {
		t.Fatalf("notice line %q, want PrivateGoneNotice", line.Message.Text)
	}
	rec.waitFor(t, "new 1", isMsg("p:gus", "new 1"))
	// In order: the reset, the notice line, then the new message (the
	// reset clears what came before it). The first of each: should the new
	// guest's own session be lost and its unanswered say be sent again
	// (a loaded machine), that is another guest session and another chat,
	// rightly started over once more after the first "new 1".
	rec.mu.Lock()
	defer rec.mu.Unlock()
	reset, notice, msg := -1, -1, -1
	for i, ev := range rec.events {
		switch {
		case ev.Kind == EvReset && ev.Conv == "p:gus" && reset < 0:
			reset = i
		case ev.Kind == EvMessage && ev.Conv == "p:gus" && ev.Message.Kind == MsgNotice && notice < 0:
			notice = i
		case isMsg("p:gus", "new 1")(ev) && msg < 0:
			msg = i
			if ev.Message.Seq != 1 {
				t.Fatalf("new 1 has seq %d, want 1", ev.Message.Seq)
			}
		}
	}
	if !(reset >= 0 && reset < notice && notice < msg) {
		var log strings.Builder
		for i, ev := range rec.events {
			fmt.Fprintf(&log, "\n%d %s %s", i, ev.Kind, ev.Conv)
			if ev.Message != nil {
				fmt.Fprintf(&log, " %s %q seq %d", ev.Message.Kind, ev.Message.Text, ev.Message.Seq)
			}
		}
		t.Fatalf("events out of order: reset %d, notice %d, message %d:%s", reset, notice, msg, log.String())
	}
	for _, ev := range rec.events {
		if ev.Kind == EvMessage && ev.Message.Text == HistoryLostNotice {
			t.Fatal("a restarted guest chat was said to be lost history")
		}
	}
}
