package client

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
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
	if errors.Is(err1, ErrServerFull) && errors.Is(err2, ErrServerFull) {
		return nil, err2 // one "full" says it all
	}
	// A full server stays visible to errors.Is through the join.
	return nil, fmt.Errorf("client: dial failed: %w", errors.Join(err1, err2))
}

// ErrServerFull is what a dial returns (wrapped; test with errors.Is) when
// the server refused the session because it holds as many sessions as it
// allows (HTTP 503 before the upgrade). Try again later: a Client's
// reconnect does, with its usual backoff.
var ErrServerFull = errors.New("client: the server is full; try again later")

// serverFullError is ErrServerFull with the server's own words.
type serverFullError struct{ msg string }

func (e *serverFullError) Error() string { return e.msg }
func (e *serverFullError) Unwrap() error { return ErrServerFull }

// maxFullText bounds the part of a 503 body kept in the error.
const maxFullText = 200

// fullError returns the error of a session attempt the server answered
// 503 over transport ("webtransport", "websocket"): ErrServerFull, with
// the first line of the answer's body when it has one.
func fullError(transport string, body []byte) error {
	text, _, _ := strings.Cut(string(body), "\n")
	text = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return -1
		}
		return r
	}, text)
	text = strings.TrimSpace(text)
	if utf8.RuneCountInString(text) > maxFullText {
		text = string([]rune(text)[:maxFullText]) + "…"
	}
	if text == "" {
		return fmt.Errorf("client: %s dial: %w", transport, ErrServerFull)
	}
	return &serverFullError{msg: fmt.Sprintf("client: %s dial: %s", transport, text)}
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
