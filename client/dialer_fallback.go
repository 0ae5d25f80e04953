package client

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"
)

// FallbackDialer dials Primary (WebTransport) and, when it fails or is not
// established within After, Fallback (WebSocket). It remembers which one
// worked last and tries that one first next time. It is safe for
// concurrent use.
type FallbackDialer struct {
	Primary  Dialer
	Fallback Dialer
	// After is how long Primary gets. Zero: DefaultFallbackAfter.
	After time.Duration

	mu           sync.Mutex
	fallbackWins bool
}

// Dial opens a session on the dialer that worked last, then on the other.
func (d *FallbackDialer) Dial(ctx context.Context) (Conn, error) {
	d.mu.Lock()
	first, second := d.Primary, d.Fallback
	if d.fallbackWins {
		first, second = second, first
	}
	d.mu.Unlock()
	after := d.After
	if after <= 0 {
		after = DefaultFallbackAfter
	}
	fctx, cancel := context.WithTimeout(ctx, after)
	conn, err1 := first.Dial(fctx)
	cancel()
	if err1 == nil {
		d.remember(first)
		return conn, nil
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	conn, err2 := second.Dial(ctx)
	if err2 == nil {
		d.remember(second)
		return conn, nil
	}
	return nil, fmt.Errorf("client: dial failed: %w", errors.Join(err1, err2))
}

func (d *FallbackDialer) remember(worked Dialer) {
	d.mu.Lock()
	d.fallbackWins = worked == d.Fallback
	d.mu.Unlock()
}

// UsingFallback reports whether the last successful dial used Fallback.
func (d *FallbackDialer) UsingFallback() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.fallbackWins
}

// SessionPath is the path of the session endpoint on a server (PROTOCOL.md section 1).
const SessionPath = "/parley"

// ServerURLs returns the WebTransport (https://host:port/parley) and
// WebSocket (wss://host:port/parley) URLs of a server given as
// "https://host:port", "host:port", or one of those URLs themselves.
func ServerURLs(server string) (wt, ws string, err error) {
	s := strings.TrimSpace(server)
	if s == "" {
		return "", "", errors.New("client: no server address")
	}
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", "", fmt.Errorf("client: server address %q: %w", server, err)
	}
	switch u.Scheme {
	case "https", "wss":
	default:
		return "", "", fmt.Errorf("client: server address %q: scheme must be https", server)
	}
	if u.Host == "" || u.Hostname() == "" {
		return "", "", fmt.Errorf("client: server address %q has no host", server)
	}
	if u.Port() == "" {
		u.Host += ":4433"
	}
	u.Path, u.RawQuery, u.Fragment, u.User = SessionPath, "", "", nil
	u.Scheme = "https"
	wt = u.String()
	u.Scheme = "wss"
	return wt, u.String(), nil
}
