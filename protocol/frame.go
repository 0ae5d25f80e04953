package protocol

import "time"

// Frame types: requests from the client, answers and events from the server.
const (
	TypeHello         = "hello"
	TypeAuth          = "auth"
	TypeJoin          = "join"
	TypeLeave         = "leave"
	TypeUsers         = "users"
	TypeRooms         = "rooms"
	TypeSay           = "say"
	TypeImage         = "image" // upload header (client) and fetch answer header (server)
	TypeFetch         = "fetch"
	TypeHistory       = "history"
	TypeConversations = "conversations"
	TypeTyping        = "typing" // datagram both ways; never answered
	TypePing          = "ping"   // client datagram (WebTransport only), padded; ignored, never answered (docs/protocol.md)

	TypeOK     = "ok"
	TypeErr    = "err"
	TypeMsg    = "msg"
	TypeJoined = "joined"
	TypeLeft   = "left"
)

// Frame is one protocol frame. It is the union of every frame's fields;
// each type uses the ones PROTOCOL.md gives it and the rest stay zero and
// are left out of the JSON. Fields whose zero value is meaningful on the wire
// (seq 0 in a join answer, since 0) are pointers.
type Frame struct {
	Type string `json:"type"`
	ID   int64  `json:"id,omitempty"`

	// hello / auth
	V         int         `json:"v,omitempty"`
	Name      string      `json:"name,omitempty"` // user name (hello, ok) or image file name (image header)
	Client    string      `json:"client,omitempty"`
	Key       string      `json:"key,omitempty"`
	Challenge string      `json:"challenge,omitempty"`
	Sig       string      `json:"sig,omitempty"`
	Server    *ServerInfo `json:"server,omitempty"`

	// rooms and conversations
	Room      string             `json:"room,omitempty"`
	With      string             `json:"with,omitempty"`
	Members   []string           `json:"members,omitempty"`
	Rooms     []RoomInfo         `json:"rooms,omitempty"`
	Private   []ConversationInfo `json:"private,omitempty"`
	History   []*Frame           `json:"history,omitempty"`
	Epoch     string             `json:"epoch,omitempty"`
	Truncated bool               `json:"truncated,omitempty"`
	Since     *int64             `json:"since,omitempty"`
	Before    *int64             `json:"before,omitempty"`
	Limit     int                `json:"limit,omitempty"`
	User      string             `json:"user,omitempty"`

	// messages
	Seq       *int64     `json:"seq,omitempty"`
	TS        string     `json:"ts,omitempty"`
	From      string     `json:"from,omitempty"`
	To        string     `json:"to,omitempty"`
	Text      string     `json:"text,omitempty"`
	Broadcast bool       `json:"broadcast,omitempty"`
	Nonce     string     `json:"nonce,omitempty"`
	Image     ImageField `json:"image,omitzero"`

	// image upload header and fetch answer header
	Size int64  `json:"size,omitempty"`
	Mime string `json:"mime,omitempty"`

	// err
	Code    Code   `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// ImageField is the image field of a frame: the image's metadata in a msg
// or an ok, or the image id (a string) in a fetch. Exactly one of Meta and
// ID is set when present.
type ImageField struct {
	Meta *ImageMeta
	ID   string
}

// IsZero reports whether the field is absent (used by omitempty).
func (f ImageField) IsZero() bool { return f.Meta == nil && f.ID == "" }

// ImageMeta describes a stored image.
type ImageMeta struct {
	ID   string `json:"id"` // lower-case hex SHA-256 of the bytes
	Mime string `json:"mime"`
	W    int    `json:"w"`
	H    int    `json:"h"`
	Size int64  `json:"size"`
	Name string `json:"name"`
}

// ServerInfo is the server field of a hello answer.
type ServerInfo struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Limits  Limits `json:"limits"`
}

// RoomInfo is one entry of a rooms answer.
type RoomInfo struct {
	Room    string `json:"room"`
	Members int    `json:"members"`
}

// ConversationInfo is one entry of a conversations answer.
type ConversationInfo struct {
	With  string `json:"with"`
	Seq   int64  `json:"seq"`
	Epoch string `json:"epoch"`
}

// Int64 returns a pointer to v, for the pointer fields of Frame.
func Int64(v int64) *int64 { return &v }

// TimeFormat is the layout of ts: RFC 3339, UTC, exactly three fractional digits.
const TimeFormat = "2006-01-02T15:04:05.000Z"

// FormatTime formats t as a ts value.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// ParseTime parses a ts value.
func ParseTime(s string) (time.Time, error) { return time.Parse(time.RFC3339Nano, s) }
