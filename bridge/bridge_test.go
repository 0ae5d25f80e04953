package bridge

import (
	"context"
	"strings"
	"testing"

	"parley/client"
	"parley/protocol"
)

func connect(t *testing.T, b *Bridge, ts *testServer, name, room string) Status {
	t.Helper()
	st, err := b.Connect(ConnectRequest{Server: ts.addr, CertHash: ts.hash, Name: name, Room: room})
	if err != nil {
		t.Fatalf("connect %s: %v", name, err)
	}
	return st
}

func TestJoinAndRoomMessages(t *testing.T) {
	ts := runServer(t, protocol.Limits{})
	b, rec := newBridge(t)
	st := connect(t, b, ts, "Alice", "lobby")
	if st.State != StateConnected || st.Name != "Alice" || st.ServerName != "test" {
		t.Fatalf("status after connect: %+v", st)
	}
	if len(st.Conversations) != 1 || st.Conversations[0].ID != "r:lobby" {
		t.Fatalf("conversations after connect: %+v", st.Conversations)
	}
	rec.waitFor(t, "state connected", func(ev Event) bool { return ev.Kind == EvState && ev.Status.State == StateConnected })

	bob := goClient(t, ts, "Bob", "lobby")
	rec.waitFor(t, "Bob's join notice", func(ev Event) bool {
		return ev.Kind == EvMessage && ev.Message.Kind == MsgJoined && ev.Message.From == "Bob" && ev.Conv == "r:lobby"
	})
	rec.waitFor(t, "member list with Bob", func(ev Event) bool {
		return ev.Kind == EvConversation && ev.Conv == "r:lobby" && strings.Join(ev.Conversation.Members, ",") == "Alice,Bob"
	})

	if _, err := bob.Say(context.Background(), "lobby", "hi Alice"); err != nil {
		t.Fatal(err)
	}
	ev := rec.waitFor(t, "Bob's message", isMsg("r:lobby", "hi Alice"))
	if ev.Message.From != "Bob" || ev.Message.Mine || ev.Message.Seq == 0 || ev.Message.TS == "" {
		t.Fatalf("message: %+v", ev.Message)
	}
	rec.waitFor(t, "unread 1", func(ev Event) bool {
		return ev.Kind == EvConversation && ev.Conv == "r:lobby" && ev.Conversation.Unread == 1
	})

	m, err := b.Send(SendRequest{Conv: "r:lobby", Text: "hello Bob"})
	if err != nil {
		t.Fatal(err)
	}
	if !m.Pending || m.Local == "" || !m.Mine || m.Conv != "r:lobby" {
		t.Fatalf("sent message: %+v", m)
	}
	ack := rec.waitFor(t, "ack", func(ev Event) bool { return ev.Kind == EvAck && ev.Local == m.Local })
	if ack.Seq != ev.Message.Seq+1 {
		t.Fatalf("ack seq %d, want %d", ack.Seq, ev.Message.Seq+1)
	}
	got := waitClient(t, bob, "Alice's message", func(e client.Event) bool { return e.Kind == client.EventMessage })
	if got.Message.Text != "hello Bob" || got.Message.From != "Alice" || got.Message.Private() {
		t.Fatalf("Bob got %+v", got.Message)
	}

	// Leaving: the conversation closes; Bob sees the leave.
	if _, err := b.LeaveRoom("r:lobby"); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "closed", func(ev Event) bool { return ev.Kind == EvClosed && ev.Conv == "r:lobby" })
	waitClient(t, bob, "Alice left", func(e client.Event) bool { return e.Kind == client.EventLeft && e.User == "Alice" })
}

func TestPrivateMessagesHaveTheirOwnConversation(t *testing.T) {
	ts := runServer(t, protocol.Limits{})
	b, rec := newBridge(t)
	connect(t, b, ts, "Alice", "lobby")
	bob := goClient(t, ts, "Bob", "lobby")
	carol := goClient(t, ts, "Carol", "lobby")
	rec.waitFor(t, "members", func(ev Event) bool {
		return ev.Kind == EvConversation && len(ev.Conversation.Members) == 3
	})

	// Bob → Alice privately: lands in p:bob, never in the room.
	if _, err := bob.SayTo(context.Background(), "lobby", "Alice", "psst"); err != nil {
		t.Fatal(err)
	}
	ev := rec.waitFor(t, "private message", isMsg("p:bob", "psst"))
	if ev.Message.To != "Alice" || ev.Message.From != "Bob" {
		t.Fatalf("private: %+v", ev.Message)
	}
	rec.waitFor(t, "private conversation", func(ev Event) bool {
		return ev.Kind == EvConversation && ev.Conv == "p:bob" && ev.Conversation.Kind == KindPrivate && ev.Conversation.Name == "Bob" && ev.Conversation.Unread == 1
	})
	if n := rec.count(isMsg("r:lobby", "psst")); n != 0 {
		t.Fatalf("private message shown in the room %d times", n)
	}

	// "@bob text" typed in the room goes privately to Bob, into p:bob.
	m, err := b.Send(SendRequest{Conv: "r:lobby", Text: "@bob back at you"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Conv != "p:bob" || m.To != "Bob" || m.Text != "back at you" {
		t.Fatalf("@name message: %+v", m)
	}
	rec.waitFor(t, "ack of @name", func(ev Event) bool { return ev.Kind == EvAck && ev.Local == m.Local && ev.Seq == 2 })
	got := waitClient(t, bob, "private from Alice", func(e client.Event) bool { return e.Kind == client.EventMessage })
	if !got.Message.Private() || got.Message.Text != "back at you" {
		t.Fatalf("Bob got %+v", got.Message)
	}

	// Typing in the private tab goes through a shared room.
	m2, err := b.Send(SendRequest{Conv: "p:bob", Text: "from the tab"})
	if err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "ack of tab message", func(ev Event) bool { return ev.Kind == EvAck && ev.Local == m2.Local && ev.Seq == 3 })
	got = waitClient(t, bob, "tab message", func(e client.Event) bool { return e.Kind == client.EventMessage })
	if got.Message.Text != "from the tab" || got.Message.To != "Bob" {
		t.Fatalf("Bob got %+v", got.Message)
	}

	// Carol saw none of it: everything before Bob's next room message is public.
	if _, err := bob.Say(context.Background(), "lobby", "public"); err != nil {
		t.Fatal(err)
	}
	waitClient(t, carol, "Bob's public message", func(e client.Event) bool {
		if e.Kind == client.EventMessage && e.Message.Private() {
			t.Fatalf("Carol received a private message: %+v", e.Message)
		}
		return e.Kind == client.EventMessage && e.Message.Text == "public"
	})
	rec.waitFor(t, "Bob's public message", isMsg("r:lobby", "public"))

	// History of the private chat: OpenPrivate returns the three messages.
	page, err := b.OpenPrivate("BOB")
	if err != nil {
		t.Fatal(err)
	}
	if page.Conversation.ID != "p:bob" || len(page.Messages) != 3 {
		t.Fatalf("private page: %+v", page)
	}
	if page.Messages[0].Text != "psst" || !page.Messages[1].Mine {
		t.Fatalf("private history: %+v", page.Messages)
	}
	if _, err := b.OpenPrivate("Alice"); protocol.CodeOf(err) != protocol.CodeBadRequest {
		t.Fatalf("private chat with oneself: %v", err)
	}
}
