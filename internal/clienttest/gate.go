// Package clienttest holds helpers for tests of code built on client/:
// they are real client parts, not fakes.
package clienttest

import (
	"context"
	"sync"

	"parley/client"
)

// GatedDialer dials through Inner while its gate is open; while shut, Dial
// waits for the gate (or its context), so a test decides when a client may
// reconnect. The gate starts open. Safe for concurrent use.
type GatedDialer struct {
	inner client.Dialer
	mu    sync.Mutex
	open  chan struct{} // closed while the gate is open
}

// NewGatedDialer returns an open gate in front of inner.
func NewGatedDialer(inner client.Dialer) *GatedDialer {
	g := &GatedDialer{inner: inner, open: make(chan struct{})}
	close(g.open)
	return g
}

// Shut makes dials wait until Unshut. Shutting a shut gate does nothing.
func (g *GatedDialer) Shut() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.open:
		g.open = make(chan struct{})
	default:
	}
}

// Unshut lets waiting and later dials through. Opening an open gate does
// nothing.
func (g *GatedDialer) Unshut() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.open:
	default:
		close(g.open)
	}
}

// Dial waits for the gate to be open, then dials through the inner dialer.
func (g *GatedDialer) Dial(ctx context.Context) (client.Conn, error) {
	g.mu.Lock()
	open := g.open
	g.mu.Unlock()
	select {
	case <-open:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.inner.Dial(ctx)
}
