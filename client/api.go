package client

import (
	"context"
	"errors"
	"io"

	"parley/protocol"
)

var errTODO = errors.New("client: not implemented yet")

// Join enters room (creating it if new) and returns its members and
// recent history. The room is re-joined after every reconnect.
func (c *Client) Join(ctx context.Context, room string) (JoinResult, error) {
	return JoinResult{}, errTODO
}

// Leave leaves room.
func (c *Client) Leave(ctx context.Context, room string) error { return errTODO }

// Users returns the members of room.
func (c *Client) Users(ctx context.Context, room string) ([]string, error) { return nil, errTODO }

// Rooms returns every room that has members.
func (c *Client) Rooms(ctx context.Context) ([]protocol.RoomInfo, error) { return nil, errTODO }

// Say sends text to room. It returns when the server acknowledged it; if
// the connection is lost first, it is sent again (once, with its nonce)
// on reconnect.
func (c *Client) Say(ctx context.Context, room, text string) (Sent, error) { return Sent{}, errTODO }

// SayTo sends text privately to user to, a member of room.
func (c *Client) SayTo(ctx context.Context, room, to, text string) (Sent, error) {
	return Sent{}, errTODO
}

// Broadcast sends text to every user on the server.
func (c *Client) Broadcast(ctx context.Context, text string) (Sent, error) { return Sent{}, errTODO }

// SendImage uploads an image of size bytes read from r to room (privately
// to user to, when to is not empty). name is the file name shown.
func (c *Client) SendImage(ctx context.Context, room, to, name string, r io.Reader, size int64) (Sent, error) {
	return Sent{}, errTODO
}

// SendImageFile uploads the image file at path, as SendImage.
func (c *Client) SendImageFile(ctx context.Context, room, to, path string) (Sent, error) {
	return Sent{}, errTODO
}

// Fetch downloads the bytes of image id and returns its MIME type.
func (c *Client) Fetch(ctx context.Context, imageID string) (mime string, data []byte, err error) {
	return "", nil, errTODO
}

// Typing tells the other members of room that the user is typing. Best
// effort: it is dropped while offline.
func (c *Client) Typing(room string) error { return errTODO }

// History returns a page of a room's or a private conversation's history.
func (c *Client) History(ctx context.Context, q HistoryQuery) (HistoryPage, error) {
	return HistoryPage{}, errTODO
}

// Conversations returns the user's private conversations with their
// latest seq and epoch.
func (c *Client) Conversations(ctx context.Context) ([]protocol.ConversationInfo, error) {
	return nil, errTODO
}
