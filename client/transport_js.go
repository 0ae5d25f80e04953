//go:build js && wasm

package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"
)

// In the browser, a Config without a Dialer gets a BrowserDialer for
// Config.Server: WebTransport pinned to Config.CertHash, then WebSocket.
func init() {
	newDefaultDialer = func(cfg Config) (Dialer, error) {
		return NewBrowserDialer(cfg.Server, cfg.CertHash, cfg.FallbackAfter)
	}
}

// NewBrowserDialer makes a BrowserDialer for server ("host:port",
// "https://host:port", or "http://host:port" for a plain WebSocket only),
// pinning certHash (hex SHA-256 of the certificate's DER; empty: none).
// wtTimeout bounds the WebTransport attempt (zero: the default).
func NewBrowserDialer(server, certHash string, wtTimeout time.Duration) (*BrowserDialer, error) {
	plain := strings.HasPrefix(server, "http://") || strings.HasPrefix(server, "ws://")
	hostport := server
	for _, p := range []string{"https://", "http://", "wss://", "ws://"} {
		hostport = strings.TrimPrefix(hostport, p)
	}
	hostport = strings.TrimSuffix(strings.TrimSuffix(hostport, "/parley"), "/")
	if hostport == "" || strings.ContainsAny(hostport, "/?#@ ") {
		return nil, fmt.Errorf("client: %q is not a server address", server)
	}
	if _, _, err := net.SplitHostPort(hostport); err != nil {
		hostport = net.JoinHostPort(strings.Trim(hostport, "[]"), "4433")
	}
	d := &BrowserDialer{WebTransportTimeout: wtTimeout}
	if certHash != "" {
		d.CertHashes = []string{strings.ToLower(certHash)}
	}
	if plain {
		d.WebSocketURL = "ws://" + hostport + "/parley"
		return d, nil
	}
	d.WebTransportURL = "https://" + hostport + "/parley"
	d.WebSocketURL = "wss://" + hostport + "/parley"
	return d, nil
}

// DefaultWebTransportTimeout is how long BrowserDialer waits for a
// WebTransport session before it tries WebSocket instead: long enough for
// a slow network, short enough that a network blocking UDP costs the user
// only a short wait.
const DefaultWebTransportTimeout = 3 * time.Second

// DefaultStickyFallback is how long BrowserDialer keeps using WebSocket
// after WebTransport failed and WebSocket worked, before it tries
// WebTransport again.
const DefaultStickyFallback = 5 * time.Minute

// BrowserDialer opens sessions from a browser page (the js/wasm build)
// through the browser's own WebTransport API, pinning the server's
// certificate with serverCertificateHashes, and falls back to the
// browser's WebSocket API when WebTransport is missing, fails, or gives no
// session within WebTransportTimeout. Its zero value is not usable: set at
// least WebSocketURL or WebTransportURL. A BrowserDialer is safe for
// concurrent use.
type BrowserDialer struct {
	// WebTransportURL is the session URL, https://host:port/parley.
	// Empty: WebTransport is not tried.
	WebTransportURL string
	// WebSocketURL is the fallback URL, wss://host:port/parley. Empty:
	// there is no fallback.
	WebSocketURL string
	// CertHashes are the accepted certificates' SHA-256 hashes (lower-case
	// hex of the DER), passed as serverCertificateHashes. Empty: the
	// browser's own certificate checks apply.
	CertHashes []string
	// WebTransportTimeout bounds the WebTransport attempt; zero means
	// DefaultWebTransportTimeout.
	WebTransportTimeout time.Duration
	// StickyFallback is how long WebSocket is used directly after a
	// fallback worked; zero means DefaultStickyFallback, negative never.
	StickyFallback time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu        sync.Mutex
	wsUntil   time.Time // dial WebSocket directly until then
	lastError error     // why WebTransport was last given up
}

// Dial opens a session: a WebTransport session when possible, else a
// WebSocket. The error of a failed dial says why each transport failed.
func (d *BrowserDialer) Dial(ctx context.Context) (Conn, error) {
	now := d.now()
	d.mu.Lock()
	direct := now.Before(d.wsUntil)
	d.mu.Unlock()

	var wtErr error
	if d.WebTransportURL != "" && !direct {
		timeout := d.WebTransportTimeout
		if timeout <= 0 {
			timeout = DefaultWebTransportTimeout
		}
		wctx, cancel := context.WithTimeout(ctx, timeout)
		c, err := dialWebTransport(wctx, d.WebTransportURL, d.CertHashes)
		cancel()
		if err == nil {
			d.mu.Lock()
			d.wsUntil, d.lastError = time.Time{}, nil
			d.mu.Unlock()
			return c, nil
		}
		if ctx.Err() != nil {
			return nil, err
		}
		wtErr = err
	}
	if d.WebSocketURL == "" {
		if wtErr == nil {
			wtErr = errors.New("client: BrowserDialer has no URL")
		}
		return nil, wtErr
	}
	c, err := dialWebSocket(ctx, d.WebSocketURL)
	if err != nil {
		if wtErr != nil {
			return nil, fmt.Errorf("%w (after webtransport failed: %v)", err, wtErr)
		}
		return nil, err
	}
	if wtErr != nil {
		d.mu.Lock()
		d.lastError = wtErr
		if sticky := d.sticky(); sticky > 0 {
			d.wsUntil = now.Add(sticky)
		}
		d.mu.Unlock()
	}
	return c, nil
}

// FallbackReason says why the last session fell back to WebSocket, or nil
// if WebTransport was not given up.
func (d *BrowserDialer) FallbackReason() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.lastError
}

func (d *BrowserDialer) sticky() time.Duration {
	switch {
	case d.StickyFallback < 0:
		return 0
	case d.StickyFallback == 0:
		return DefaultStickyFallback
	}
	return d.StickyFallback
}

func (d *BrowserDialer) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}
