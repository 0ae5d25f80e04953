package client

import (
	"time"

	"parley/protocol"
)

// EventKind names what an Event reports.
type EventKind string

// Event kinds.
const (
	// EventMessage: a message arrived (Message is set): a room message, a
	// private message (Message.To is set) or a broadcast.
	EventMessage EventKind = "msg"
	// EventJoined: User joined Room.
	EventJoined EventKind = "joined"
	// EventLeft: User left Room.
	EventLeft EventKind = "left"
	// EventTyping: User is typing in Room.
	EventTyping EventKind = "typing"
	// EventMembers: the member list of Room after a reconnect (Members);
	// joins and leaves missed while offline are not reported one by one.
	EventMembers EventKind = "members"
	// EventState: the connection state changed (State, and Transport when
	// connected). When the state is StateReconnecting, Err is why the
	// session was lost.
	EventState EventKind = "state"
	// EventEpoch: the history of a conversation (Room, or With for a private
	// one) was lost on the server: older messages are gone and seq started
	// over. Epoch is the new epoch (empty for a private conversation the
	// server no longer has); History holds what the server returned. A
	// private conversation also starts over when a message of it (or the
	// ok of one's own) carries another epoch than the one known: a guest's
	// conversation is dropped when its session ends, and a new guest of
	// the same name starts a new one at seq 1. Then History is empty and
	// that message follows as an EventMessage.
	EventEpoch EventKind = "epoch"
	// EventError: something went wrong in the background (Err). State is
	// StateReconnecting when a reconnection attempt failed (the client
	// tries again after its backoff).
	EventError EventKind = "error"
)

// State is the connection state of a Client.
type State string

// Connection states.
const (
	// StateConnected: a session is open and every room is resumed.
	StateConnected State = "connected"
	// StateReconnecting: the session was lost; the client is dialing again.
	// Requests made now wait and go out on reconnect.
	StateReconnecting State = "reconnecting"
	// StateOffline: the client was closed, or the server removed it.
	StateOffline State = "offline"
)

// Event is one thing that happened, delivered in order through
// Client.Events. Only the fields its Kind names are set.
type Event struct {
	Kind      EventKind `json:"kind"`
	Room      string    `json:"room,omitempty"`
	With      string    `json:"with,omitempty"`
	User      string    `json:"user,omitempty"`
	Message   *Message  `json:"message,omitempty"`
	State     State     `json:"state,omitempty"`
	Transport string    `json:"transport,omitempty"`
	Epoch     string    `json:"epoch,omitempty"`
	History   []Message `json:"history,omitempty"`
	Members   []string  `json:"members,omitempty"`
	Err       error     `json:"-"`
}

// Message is one chat message: in a room, private (To set), or a
// broadcast (Broadcast set, no Seq).
type Message struct {
	Room      string              `json:"room,omitempty"`
	Seq       int64               `json:"seq,omitempty"`
	TS        time.Time           `json:"ts"`
	From      string              `json:"from"`
	To        string              `json:"to,omitempty"`
	With      string              `json:"with,omitempty"` // for a private message: the other user of the conversation
	Text      string              `json:"text,omitempty"`
	Image     *protocol.ImageMeta `json:"image,omitempty"`
	Broadcast bool                `json:"broadcast,omitempty"`
}

// Private reports whether m belongs to a private conversation.
func (m *Message) Private() bool { return m.To != "" }
