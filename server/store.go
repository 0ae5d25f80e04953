package server

import (
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"time"

	"parley/protocol"
)

// ConvID identifies a conversation: a room, or the private conversation of
// two users. Make one with RoomConv or PairConv; the string form is stable
// and may be stored.
type ConvID string

// RoomConv is the conversation of the room whose folded name is key.
func RoomConv(key string) ConvID { return ConvID("r:" + key) }

// PairConv is the private conversation of the two users whose folded names
// are a and b, in either order.
func PairConv(a, b string) ConvID {
	if b < a {
		a, b = b, a
	}
	return ConvID("p:" + a + "\n" + b) // names never contain a line feed
}

// IsRoom reports whether c is a room's conversation.
func (c ConvID) IsRoom() bool { return len(c) > 2 && c[:2] == "r:" }

// Message is one message of a conversation as the store keeps it.
type Message struct {
	Conv  ConvID
	Seq   int64
	TS    time.Time
	Room  string // the room as its first joiner spelled it (for a private message: the room it was sent from)
	From  string // sender's display name
	To    string // recipient's display name, for a private message
	Text  string
	Image *protocol.ImageMeta
	// Owner and Nonce identify the request that made the message, for
	// de-duplication: Owner is "k:"+identity key for an identity, or
	// "g:"+session id for a guest. Nonce may be empty.
	Owner string
	Nonce string
}

// ConvState is where a conversation stands.
type ConvState struct {
	Conv  ConvID
	Name  string // the room as its first joiner spelled it; for a pair, empty
	Seq   int64  // latest seq, 0 when nothing was ever sent
	Epoch string // changes only when the conversation's history was lost
}

// HistoryQuery selects a page of a conversation: exactly one of Before and
// Since is set (a seq, exclusive); Limit is 1 to protocol.MaxHistory.
// With Before the newest Limit messages below it are returned; with Since
// the oldest Limit messages above it. Either way oldest first.
type HistoryQuery struct {
	Before *int64
	Since  *int64
	Limit  int
}

// ErrNotFound is returned by a Store for an unknown image or nonce.
var ErrNotFound = errors.New("server: not found")

// Store keeps conversations, messages, nonces, identities and images.
// Implementations are safe for concurrent use. The server is the only
// writer of a conversation's sequence: it assigns Seq, the store keeps it.
type Store interface {
	// Conv returns a conversation's state, creating it (seq 0, a new
	// epoch, the given name) when the store has never seen it.
	Conv(ctx context.Context, id ConvID, name string) (ConvState, error)
	// Append queues m for storage. done is called exactly once, when m is
	// durable or has failed; calls to done happen in the order of the
	// Append calls, and may happen inside Append before it returns. After
	// a failure the server reloads the conversation with Conv before
	// assigning another seq, and every later pending Append of the same
	// conversation fails too.
	Append(m *Message, done func(error))
	// History returns a page of a conversation, oldest first.
	History(ctx context.Context, id ConvID, q HistoryQuery) ([]*Message, error)
	// ByNonce returns the message that owner made with nonce, or ErrNotFound.
	ByNonce(ctx context.Context, owner, nonce string) (*Message, error)
	// Conversations returns the private conversations of the user whose
	// folded name is key, with the other user's display name in Name.
	Conversations(ctx context.Context, key string) ([]ConvState, error)
	// DropConv forgets a conversation and its messages (a guest's private
	// conversations when its session ends).
	DropConv(ctx context.Context, id ConvID) error

	// Bind binds the folded name key to pub if it is not bound yet and
	// returns the key the name is bound to afterwards (pub, or the earlier one).
	Bind(ctx context.Context, key, display string, pub ed25519.PublicKey) (ed25519.PublicKey, error)
	// Bound returns the key a folded name is bound to, or nil.
	Bound(ctx context.Context, key string) (ed25519.PublicKey, error)

	// NewUpload starts storing an image's bytes.
	NewUpload(ctx context.Context) (Upload, error)
	// OpenImage opens an image's bytes by id, or fails with ErrNotFound.
	OpenImage(ctx context.Context, id string) (io.ReadCloser, error)
	// ImageConvs lists the conversations an image was posted in.
	ImageConvs(ctx context.Context, id string) ([]ConvID, error)

	// Close flushes pending appends and releases the store.
	Close() error
}

// Upload receives an image's bytes while they stream in.
type Upload interface {
	io.Writer
	// Commit keeps the bytes under id (their SHA-256, lower-case hex).
	// Committing bytes that are already stored is not an error.
	Commit(ctx context.Context, id string) error
	// Abort discards the bytes; it is safe after Commit (then a no-op).
	Abort()
}
