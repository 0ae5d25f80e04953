package server

import (
	"crypto/tls"
	"log/slog"
	"net/http"
	"time"

	"parley/protocol"
)

// Default values of the Config fields whose zero value means "default".
const (
	// DefaultQueueSize is the default bound of a member's outbound queue, in frames.
	DefaultQueueSize = 8192
	// DefaultQueueBytes is the default bound of a member's outbound queue, in bytes.
	DefaultQueueBytes = 8 << 20
	// DefaultRate is the default sustained rate of requests per session, per second.
	DefaultRate = 50
	// DefaultBurst is the default burst of requests per session.
	DefaultBurst = 200
	// DefaultBroadcastRate is the default sustained rate of broadcasts per user, per second.
	DefaultBroadcastRate = 0.2
	// DefaultBroadcastBurst is the default burst of broadcasts per user.
	DefaultBroadcastBurst = 3
	// DefaultAbuseLimit is how many rate_limited answers in a row close a session with 4005.
	DefaultAbuseLimit = 100
	// DefaultIdleTimeout is the QUIC idle timeout.
	DefaultIdleTimeout = 60 * time.Second
	// DefaultShutdownGrace is how long Serve's own shutdown (when its context
	// ends) waits for sessions to close.
	DefaultShutdownGrace = 10 * time.Second
	// DefaultMaxStreams is the default number of concurrent client-opened
	// streams per session (bidirectional and unidirectional each): the control
	// stream, uploads and fetches in flight.
	DefaultMaxStreams = 16
	// DefaultMaxSessions is the default number of network sessions on the
	// server at once (see Config.MaxSessions).
	DefaultMaxSessions = 10000
	// DefaultMaxUserSessions is the default number of sessions one user
	// name holds at once.
	DefaultMaxUserSessions = 16
	// DefaultMaxRooms is the default number of rooms one session is in at once.
	DefaultMaxRooms = 256
	// fullRetryAfter is the Retry-After, in seconds, of a session attempt
	// refused because the server holds MaxSessions sessions.
	fullRetryAfter = 5
)

// Config configures a Server. The zero value is a working server: default
// limits, an in-memory store, a self-signed certificate, no web client.
type Config struct {
	// Name is the server name shown to clients in the hello answer ("parley" when empty).
	Name string
	// Version is the server version shown to clients.
	Version string
	// Limits are the announced and enforced limits. Zero fields take
	// protocol.DefaultLimits; Frame is always protocol.MaxFrame.
	Limits protocol.Limits

	// Store keeps history, identities, nonces and images. Nil: an in-memory
	// store (NewMemoryStore), closed by Shutdown. A given Store is not closed
	// by the server.
	Store Store

	// TLS, if set, is the TLS configuration of both the QUIC and the TCP
	// listener (it must provide a certificate through Certificates or
	// GetCertificate). Nil: CertFile/KeyFile if set, else a self-signed
	// certificate from internal/certs, renewed before it expires.
	TLS *tls.Config
	// CertFile and KeyFile are PEM files of the certificate and its key.
	CertFile, KeyFile string
	// Hosts are extra DNS names or IP addresses of a self-signed certificate.
	Hosts []string

	// AllowedOrigins lists the browser origins ("https://chat.example.org")
	// accepted besides the server's own; "*" accepts any. Requests without an
	// Origin header are always accepted.
	AllowedOrigins []string

	// Web is served at / on the TCP port (and over HTTP/3). Nil: 404.
	Web http.Handler

	// Logger receives the server's logs. Nil: slog.Default().
	Logger *slog.Logger

	// Rate is the sustained requests per second per session (typing
	// included); Burst its burst. Zero: DefaultRate/DefaultBurst. Negative
	// Rate: unlimited.
	Rate  float64
	Burst int
	// BroadcastRate and BroadcastBurst limit broadcasts per user. Zero:
	// defaults. Negative BroadcastRate: unlimited.
	BroadcastRate  float64
	BroadcastBurst int
	// AbuseLimit is how many rate_limited answers in a row close a session
	// with 4005. Zero: DefaultAbuseLimit; negative: never.
	AbuseLimit int

	// QueueSize and QueueBytes bound each session's outbound queue, in
	// frames and in bytes (the queue holds nothing while idle). A session
	// whose queue is full is closed with 4001. Zero: DefaultQueueSize,
	// DefaultQueueBytes.
	QueueSize  int
	QueueBytes int

	// HelloTimeout is how long a session may take to complete hello (and
	// auth) before it is closed with 4003. Zero: protocol.HelloTimeout.
	HelloTimeout time.Duration
	// IdleTimeout is the QUIC idle timeout. Zero: DefaultIdleTimeout.
	IdleTimeout time.Duration
	// StatelessResetKey, if set, derives the QUIC stateless reset tokens.
	// A server restarted with the same key (after a crash, say) resets the
	// QUIC connections of its previous run at their next packet, so their
	// clients reconnect at once instead of after the idle timeout. Keep it
	// secret and the same across restarts (servecmd keeps one in --data).
	// Nil: no stateless resets; clients of a crashed server wait for the
	// idle timeout.
	StatelessResetKey *[32]byte
	// MaxStreams is how many streams of each direction a client may have
	// open at once in a session. Zero: DefaultMaxStreams.
	MaxStreams int

	// MaxSessions is how many network sessions the server holds at once
	// (WebTransport and WebSocket; the host application's in-process
	// session is never refused and not counted). Past it, a WebTransport
	// CONNECT or WebSocket upgrade on /parley is refused before upgrading
	// with 503 and Retry-After. Zero: DefaultMaxSessions.
	MaxSessions int
	// MaxUserSessions is how many sessions one user name holds at once;
	// the hello (guest) or auth (identity) past it is answered too_many.
	// Zero: DefaultMaxUserSessions.
	MaxUserSessions int
	// MaxRooms is how many rooms one session is in at once; a join of
	// another room past it is answered too_many. Zero: DefaultMaxRooms.
	MaxRooms int

	// Now is the clock. Nil: time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.Name == "" {
		c.Name = "parley"
	}
	d := protocol.DefaultLimits()
	if c.Limits.Text <= 0 {
		c.Limits.Text = d.Text
	}
	if c.Limits.Image <= 0 {
		c.Limits.Image = d.Image
	}
	c.Limits.Frame = protocol.MaxFrame
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Rate == 0 {
		c.Rate = DefaultRate
	}
	if c.Burst <= 0 {
		c.Burst = DefaultBurst
	}
	if c.BroadcastRate == 0 {
		c.BroadcastRate = DefaultBroadcastRate
	}
	if c.BroadcastBurst <= 0 {
		c.BroadcastBurst = DefaultBroadcastBurst
	}
	if c.AbuseLimit == 0 {
		c.AbuseLimit = DefaultAbuseLimit
	}
	if c.QueueSize <= 0 {
		c.QueueSize = DefaultQueueSize
	}
	if c.QueueBytes <= 0 {
		c.QueueBytes = DefaultQueueBytes
	}
	if c.HelloTimeout <= 0 {
		c.HelloTimeout = protocol.HelloTimeout
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.MaxStreams <= 0 {
		c.MaxStreams = DefaultMaxStreams
	}
	if c.MaxSessions <= 0 {
		c.MaxSessions = DefaultMaxSessions
	}
	if c.MaxUserSessions <= 0 {
		c.MaxUserSessions = DefaultMaxUserSessions
	}
	if c.MaxRooms <= 0 {
		c.MaxRooms = DefaultMaxRooms
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}
