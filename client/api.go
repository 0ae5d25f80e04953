package client

import (
	"context"
	"crypto/rand"
	"encoding/base64"

	"parley/protocol"
)

// Join enters room (creating it if new) and returns its members and
// recent history. The room is re-joined after every reconnect.
func (c *Client) Join(ctx context.Context, room string) (JoinResult, error) {
	room = trimSpace(room)
	a, err := c.do(ctx, &protocol.Frame{Type: protocol.TypeJoin, Room: room}, reqOpts{resend: true, onAnswer: c.joinedLocked})
	if err != nil {
		return JoinResult{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return JoinResult{Room: a.f.Room, Members: a.f.Members, History: c.messagesLocked(a.f.History), Seq: derefSeq(a.f.Seq), Epoch: a.f.Epoch, Truncated: a.f.Truncated}, nil
}

// joinedLocked records a joined room from a join answer, in stream order.
func (c *Client) joinedLocked(s *session, f *protocol.Frame) {
	key := protocol.Fold(f.Room)
	if key == "" {
		return
	}
	_, was := c.rooms[key]
	c.rooms[key] = &roomEntry{name: f.Room, members: f.Members}
	sn := c.seenLocked("r:" + key)
	seq := derefSeq(f.Seq)
	if !was || !sn.known || sn.epoch != f.Epoch {
		sn.reset(seq, f.Epoch)
	}
}

// Leave leaves room. It is not re-joined on reconnect.
func (c *Client) Leave(ctx context.Context, room string) error {
	room = trimSpace(room)
	c.mu.Lock()
	delete(c.rooms, protocol.Fold(room))
	delete(c.seen, "r:"+protocol.Fold(room))
	c.mu.Unlock()
	_, err := c.do(ctx, &protocol.Frame{Type: protocol.TypeLeave, Room: room}, reqOpts{resend: true})
	return err
}

// Joined returns the rooms the client is in, as the server spells them.
func (c *Client) Joined() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.rooms))
	for _, r := range c.rooms {
		out = append(out, r.name)
	}
	return out
}

// Users returns the members of room.
func (c *Client) Users(ctx context.Context, room string) ([]string, error) {
	a, err := c.do(ctx, &protocol.Frame{Type: protocol.TypeUsers, Room: trimSpace(room)}, reqOpts{resend: true})
	if err != nil {
		return nil, err
	}
	return a.f.Members, nil
}

// Rooms returns every room that has members.
func (c *Client) Rooms(ctx context.Context) ([]protocol.RoomInfo, error) {
	a, err := c.do(ctx, &protocol.Frame{Type: protocol.TypeRooms}, reqOpts{resend: true})
	if err != nil {
		return nil, err
	}
	return a.f.Rooms, nil
}

// Say sends text to room. It returns when the server acknowledged it or
// ctx ends; if the session is lost first, it is sent again with its nonce
// on reconnect, so it is delivered exactly once.
func (c *Client) Say(ctx context.Context, room, text string) (Sent, error) {
	if trimSpace(room) == "" {
		return Sent{}, protocol.Errorf(protocol.CodeBadRequest, "a room is required")
	}
	return c.say(ctx, &protocol.Frame{Type: protocol.TypeSay, Room: trimSpace(room), Text: text})
}

// SayTo sends text privately to user to, a member of room.
func (c *Client) SayTo(ctx context.Context, room, to, text string) (Sent, error) {
	if trimSpace(room) == "" || trimSpace(to) == "" {
		return Sent{}, protocol.Errorf(protocol.CodeBadRequest, "a private message needs a room and a recipient")
	}
	return c.say(ctx, &protocol.Frame{Type: protocol.TypeSay, Room: trimSpace(room), To: trimSpace(to), Text: text})
}

// Broadcast sends text to every user on the server.
func (c *Client) Broadcast(ctx context.Context, text string) (Sent, error) {
	return c.say(ctx, &protocol.Frame{Type: protocol.TypeSay, Text: text})
}

func (c *Client) say(ctx context.Context, f *protocol.Frame) (Sent, error) {
	if err := protocol.CheckText(f.Text, c.textLimit()); err != nil {
		return Sent{}, err
	}
	f.Nonce = newNonce()
	a, err := c.do(ctx, f, reqOpts{resend: true, onAnswer: c.ackLocked(f.Room, f.To)})
	if err != nil {
		return Sent{}, err
	}
	return sentOf(a.f), nil
}

// ackLocked returns the answer hook of a message request: its seq is
// marked as delivered, so that a resumed history does not deliver it back.
// The ok of a private message carries the conversation's epoch: one that
// differs from the known one starts the conversation over first.
func (c *Client) ackLocked(room, to string) func(*session, *protocol.Frame) {
	return func(_ *session, f *protocol.Frame) {
		if f.Seq == nil || room == "" {
			return
		}
		ck := "r:" + protocol.Fold(room)
		if to != "" {
			ck = "p:" + protocol.Fold(to)
			c.privateEpochLocked(ck, to, f.Epoch)
		}
		c.seenLocked(ck).mark(*f.Seq)
	}
}

func sentOf(f *protocol.Frame) Sent {
	s := Sent{Seq: derefSeq(f.Seq), Image: f.Image.Meta}
	if t, err := protocol.ParseTime(f.TS); err == nil {
		s.TS = t
	}
	return s
}

func (c *Client) textLimit() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.server.Limits.Text > 0 {
		return c.server.Limits.Text
	}
	return protocol.DefaultMaxText
}

func newNonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Typing tells the other members of room that the user is typing. Best
// effort: while offline it returns ErrOffline.
func (c *Client) Typing(room string) error {
	c.mu.Lock()
	s := c.live
	c.mu.Unlock()
	if s == nil {
		return ErrOffline
	}
	b, err := protocol.Encode(&protocol.Frame{Type: protocol.TypeTyping, Room: trimSpace(room)})
	if err != nil {
		return err
	}
	return s.conn.SendDatagram(b[:len(b)-1])
}

// History returns a page of a room's or a private conversation's history.
func (c *Client) History(ctx context.Context, q HistoryQuery) (HistoryPage, error) {
	if (q.Room == "") == (q.With == "") {
		return HistoryPage{}, protocol.Errorf(protocol.CodeBadRequest, "history needs exactly one of a room and a user")
	}
	if (q.Before == nil) == (q.Since == nil) {
		return HistoryPage{}, protocol.Errorf(protocol.CodeBadRequest, "history needs exactly one of before and since")
	}
	f := &protocol.Frame{Type: protocol.TypeHistory, Room: trimSpace(q.Room), With: trimSpace(q.With), Before: q.Before, Since: q.Since, Limit: q.Limit}
	a, err := c.do(ctx, f, reqOpts{resend: true})
	if err != nil {
		return HistoryPage{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ms := c.messagesLocked(a.f.History)
	for i := range ms {
		if ms[i].Room == "" {
			ms[i].Room = f.Room
		}
	}
	return HistoryPage{Messages: ms, Truncated: a.f.Truncated}, nil
}

// Conversations returns the user's private conversations with their
// latest seq and epoch.
func (c *Client) Conversations(ctx context.Context) ([]protocol.ConversationInfo, error) {
	a, err := c.do(ctx, &protocol.Frame{Type: protocol.TypeConversations}, reqOpts{resend: true})
	if err != nil {
		return nil, err
	}
	return a.f.Private, nil
}
