package client

import (
	"crypto"
	"log/slog"
	"time"
)

// Config says how to reach a server and who to be there. The zero value of
// every optional field is a sensible default.
type Config struct {
	// Server is the server's address: "https://host:port" or "host:port".
	// It is used by the default Dialer; a custom Dialer may ignore it.
	Server string
	// CertHash is the lower-case hex SHA-256 of the server certificate's DER,
	// pinned on every handshake (resumed ones too). Empty: the system roots
	// verify the certificate.
	CertHash string
	// KeyHash is the lower-case hex SHA-256 of the server's public key (its
	// certificate's SubjectPublicKeyInfo), also accepted by the default
	// native Dialer: a self-signed server keeps its key when it renews its
	// certificate, so a client given the KeyHash it learned before
	// (Client.KeyHash) still connects after the CertHash changed. It may be
	// given alone. The browser ignores it (it learns the certificate's hash
	// from the server that served the page).
	KeyHash string
	// Name is the user name to ask for. It is trimmed before it is sent.
	Name string
	// Identity signs the server's auth challenge. Its Public() must be an
	// ed25519.PublicKey. Nil: the client is a guest.
	Identity crypto.Signer
	// ClientName is sent in hello as the client's name and version, for
	// example "parley-desktop/0.1". Empty: "parley-go/1".
	ClientName string
	// Dialer opens sessions. Nil: the platform's default (native build:
	// WebTransport, falling back to WebSocket on the same port; it remembers
	// which one worked).
	Dialer Dialer
	// Logger receives the client's diagnostics. Nil: nothing is logged.
	Logger *slog.Logger
	// Backoff paces reconnection attempts. Zero fields take their defaults.
	Backoff Backoff
	// FallbackAfter is how long the default Dialer waits for WebTransport
	// before it tries WebSocket. Zero: 3 s.
	FallbackAfter time.Duration
	// PingEvery is how often a ping datagram goes out on a native
	// WebTransport session, so that a client which only listens notices a
	// crashed and restarted server (its stateless reset) within about that
	// long rather than at the QUIC idle timeout (30 s). Zero: 10 s;
	// negative: no pings.
	PingEvery time.Duration
	// MaxQueuedEvents bounds the events waiting to be read from Events; past
	// it the oldest events are dropped and an EventError says so. Zero: 65536.
	MaxQueuedEvents int
}

// Backoff is an exponential backoff with full jitter: the n-th wait is a
// random duration in [0, min(Max, Min·2ⁿ)], never below Min/2.
type Backoff struct {
	// Min is the first wait. Zero: 250 ms.
	Min time.Duration
	// Max caps every wait, and is the wait after a server said not to
	// hammer it (close 4000 or 4004). Zero: 30 s.
	Max time.Duration
}

// Defaults applied to a zero Config.
const (
	DefaultClientName      = "parley-go/1"
	DefaultBackoffMin      = 250 * time.Millisecond
	DefaultBackoffMax      = 30 * time.Second
	DefaultFallbackAfter   = 3 * time.Second
	DefaultMaxQueuedEvents = 65536
	DefaultPingEvery       = 10 * time.Second
)

func (c Config) withDefaults() Config {
	if c.ClientName == "" {
		c.ClientName = DefaultClientName
	}
	if c.Backoff.Min <= 0 {
		c.Backoff.Min = DefaultBackoffMin
	}
	if c.Backoff.Max <= 0 {
		c.Backoff.Max = DefaultBackoffMax
	}
	if c.Backoff.Max < c.Backoff.Min {
		c.Backoff.Max = c.Backoff.Min
	}
	if c.FallbackAfter <= 0 {
		c.FallbackAfter = DefaultFallbackAfter
	}
	if c.PingEvery == 0 {
		c.PingEvery = DefaultPingEvery
	}
	if c.MaxQueuedEvents <= 0 {
		c.MaxQueuedEvents = DefaultMaxQueuedEvents
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}
