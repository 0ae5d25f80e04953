package client

import (
	"context"
	"errors"
	"sync"

	"parley/protocol"
)

// ErrClosed is returned by requests made on, or interrupted by, a closed Client.
var ErrClosed = errors.New("client: closed")

// Client is a connection to one server as one user. It reconnects by
// itself and resumes every joined room without loss. Its methods are safe
// for concurrent use.
type Client struct {
	cfg    Config
	dialer Dialer
	events *eventQueue

	mu     sync.Mutex
	state  State
	name   string
	server protocol.ServerInfo
	closed bool
}

// Dial connects to the server described by cfg and completes hello (and
// auth, with an Identity). A server's refusal is a *protocol.Error.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	return nil, errors.New("client: not implemented yet")
}

// Events returns the channel of events, in the order they happened. It is
// closed after Close. Read it steadily: see Config.MaxQueuedEvents.
func (c *Client) Events() <-chan Event { return c.events.out }

// State returns the connection state.
func (c *Client) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// Name returns the user name as the server confirmed it.
func (c *Client) Name() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.name
}

// ServerInfo returns what the server said about itself in its hello answer.
func (c *Client) ServerInfo() protocol.ServerInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.server
}

// Close ends the session and stops reconnecting. Pending requests fail
// with ErrClosed. Close is idempotent.
func (c *Client) Close() error { return nil }
