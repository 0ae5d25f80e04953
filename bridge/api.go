package bridge

import "parley/protocol"

// EventName is the name under which event batches ([]Event) are emitted.
const EventName = "parley:events"

// Conversation kinds.
const (
	KindRoom    = "room"    // a room's conversation; ID "r:" + folded room name
	KindPrivate = "private" // a private chat; ID "p:" + the other user's folded name
)

// Connection states, as Status.State and "state" events report them.
const (
	StateIdle         = "idle"         // not connected, nothing asked
	StateConnecting   = "connecting"   // the first connection is being made
	StateConnected    = "connected"    // in session
	StateReconnecting = "reconnecting" // the session dropped; the client is trying again
	StateOffline      = "offline"      // gave up (or closed); Connect again to retry
)

// Message kinds.
const (
	MsgText      = "text"      // a text message of a room or a private chat
	MsgImage     = "image"     // an image message; Image is set
	MsgJoined    = "joined"    // From joined the room
	MsgLeft      = "left"      // From left the room
	MsgBroadcast = "broadcast" // a server-wide broadcast, shown in every open conversation
	MsgNotice    = "notice"    // a local notice (history lost, errors worth keeping)
)

// Event kinds.
const (
	EvState        = "state"        // Status changed (state, transport, unread)
	EvMessage      = "message"      // Message arrived (or was sent by this UI, pending)
	EvAck          = "ack"          // the message with Local was acknowledged: Seq, TS
	EvFailed       = "failed"       // the message with Local was refused: Error
	EvConversation = "conversation" // Conversation added or changed (unread, members)
	EvClosed       = "closed"       // conversation Conv is gone (room left)
	EvTyping       = "typing"       // User is typing in Conv
	EvProgress     = "progress"     // upload Local: Sent of Total bytes written to the transport (0 again if it starts over after a reconnect)
	EvNotice       = "notice"       // Text to show (Level "info", "warn" or "error"), in Conv if set
	// EvReset: conversation Conv starts over (the server lost its history,
	// or a cached past does not match the server's): drop its messages
	// except the pending ones; the events that follow fill it again.
	EvReset = "reset"
)

// ConnectRequest says where and as whom to connect.
type ConnectRequest struct {
	// Server is "host:port" or "https://host:port". Ignored when Link is set.
	Server string `json:"server"`
	// CertHash is the hex SHA-256 of the server certificate's DER, to pin
	// a self-signed server; empty trusts the system roots.
	CertHash string `json:"certHash"`
	// KeyHash is the hex SHA-256 of the server's public key, also accepted
	// (client.Config.KeyHash): give back Status.KeyHash of an earlier
	// connection to the same server, so that it connects after the server
	// renewed its self-signed certificate.
	KeyHash string `json:"keyHash"`
	// Name is the display name (1–32 characters).
	Name string `json:"name"`
	// Link is a join link, parley://host:port?hash=HEX&room=NAME; it
	// gives Server, CertHash and Room.
	Link string `json:"link"`
	// Room, if set, is joined once connected.
	Room string `json:"room"`
}

// Status is where the connection stands and what is open.
type Status struct {
	State         string          `json:"state"`
	Transport     string          `json:"transport"` // "webtransport", "websocket", "inprocess" or ""
	Reason        string          `json:"reason"`    // while reconnecting: why, in words for people ("" otherwise)
	Name          string          `json:"name"`      // this user's name as the server spells it
	Server        string          `json:"server"`    // the address connected to
	CertHash      string          `json:"certHash"`  // the certificate hash the connection was asked to pin ("" for the system roots)
	KeyHash       string          `json:"keyHash"`   // the server key the connection trusts (keep it for ConnectRequest.KeyHash); "" when none
	ServerName    string          `json:"serverName"`
	Limits        protocol.Limits `json:"limits"`
	Unread        int             `json:"unread"` // over every conversation
	Active        string          `json:"active"` // the conversation on screen, if any
	Conversations []Conversation  `json:"conversations"`
}

// Conversation is one room or private chat of the sidebar and tab bar.
type Conversation struct {
	ID       string   `json:"id"`
	Kind     string   `json:"kind"`
	Name     string   `json:"name"` // the room as spelled by its first joiner, or the other user's name
	Unread   int      `json:"unread"`
	Members  []string `json:"members,omitempty"` // rooms only
	HasOlder bool     `json:"hasOlder"`          // "load older" may return more
}

// Message is one line of a conversation view.
type Message struct {
	Conv    string `json:"conv"`
	Kind    string `json:"kind"`
	Seq     int64  `json:"seq,omitempty"`
	TS      string `json:"ts,omitempty"`
	From    string `json:"from,omitempty"`
	To      string `json:"to,omitempty"`
	Room    string `json:"room,omitempty"`
	Text    string `json:"text,omitempty"`
	Image   *Image `json:"image,omitempty"`
	Mine    bool   `json:"mine,omitempty"`    // sent by this user (any of its sessions)
	Local   string `json:"local,omitempty"`   // set on messages sent from this UI; matches ack/failed/progress events
	Pending bool   `json:"pending,omitempty"` // not acknowledged yet
}

// Image describes an image message's picture; fetch its bytes with FetchImage.
type Image struct {
	ID   string `json:"id"`
	Mime string `json:"mime"`
	W    int    `json:"w"`
	H    int    `json:"h"`
	Size int64  `json:"size"`
	Name string `json:"name"`
}

// Page is a conversation's messages, oldest first: what JoinRoom,
// OpenPrivate and LoadOlder return.
type Page struct {
	Conversation Conversation `json:"conversation"`
	Messages     []Message    `json:"messages"`
	HasOlder     bool         `json:"hasOlder"`
}

// SendRequest is a text typed into a conversation. In a room, "@name text"
// goes privately to name (and the message lands in the private chat).
type SendRequest struct {
	Conv string `json:"conv"`
	Text string `json:"text"`
}

// SendImageRequest is an image picked in the browser, pasted or dropped:
// its bytes in base64 (standard encoding).
type SendImageRequest struct {
	Conv string `json:"conv"`
	Name string `json:"name"`
	Data string `json:"data"`
}

// ImageData is a fetched image as a data: URL, ready for an <img>.
type ImageData struct {
	ID   string `json:"id"`
	Mime string `json:"mime"`
	Size int64  `json:"size"`
	URL  string `json:"url"`
}

// RoomEntry is one room of the server's room list.
type RoomEntry struct {
	Room    string `json:"room"`
	Members int    `json:"members"`
	Joined  bool   `json:"joined"`
}

// Event is one element of an event batch. Kind says which fields are set.
type Event struct {
	Kind         string        `json:"kind"`
	Conv         string        `json:"conv,omitempty"`
	Status       *Status       `json:"status,omitempty"`       // state (Conversations left empty)
	Message      *Message      `json:"message,omitempty"`      // message
	Conversation *Conversation `json:"conversation,omitempty"` // conversation
	Local        string        `json:"local,omitempty"`        // ack, failed, progress
	Seq          int64         `json:"seq,omitempty"`          // ack
	TS           string        `json:"ts,omitempty"`           // ack
	Error        *ErrorInfo    `json:"error,omitempty"`        // failed
	User         string        `json:"user,omitempty"`         // typing
	Sent         int64         `json:"sent,omitempty"`         // progress
	Total        int64         `json:"total,omitempty"`        // progress
	Text         string        `json:"text,omitempty"`         // notice
	Level        string        `json:"level,omitempty"`        // notice
}

// ErrorInfo is an error as the UI shows it.
type ErrorInfo struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Methods lists the methods the UI may call, in both shells, with the
// names of their positional arguments. Call dispatches them.
var Methods = []MethodInfo{
	{"Connect", []string{"req ConnectRequest"}, "Status"},
	{"Disconnect", nil, "Status"},
	{"Status", nil, "Status"},
	{"JoinRoom", []string{"room string"}, "Page"},
	{"LeaveRoom", []string{"conv string"}, "Status"},
	{"ServerRooms", nil, "[]RoomEntry"},
	{"Members", []string{"conv string"}, "[]string"},
	{"OpenPrivate", []string{"name string"}, "Page"},
	{"ClosePrivate", []string{"conv string"}, "Status"},
	{"Send", []string{"req SendRequest"}, "Message"},
	{"SendImage", []string{"req SendImageRequest"}, "Message"},
	{"FetchImage", []string{"id string"}, "ImageData"},
	{"LoadOlder", []string{"conv string"}, "Page"},
	{"Typing", []string{"conv string"}, "bool"},
	{"SetActive", []string{"conv string", "focused bool"}, "Status"},
}

// MethodInfo describes one UI-callable method.
type MethodInfo struct {
	Name   string   `json:"name"`
	Args   []string `json:"args"`
	Result string   `json:"result"`
}
