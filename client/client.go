package client

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"parley/protocol"
)

// ErrClosed is returned by requests made on, or interrupted by, a closed Client.
var ErrClosed = errors.New("client: closed")

// ErrOffline is returned by Typing while no session is open.
var ErrOffline = errors.New("client: offline")

// newDefaultDialer makes the platform's default Dialer for a Config
// without one. The native build sets it (dialer_native.go); the js/wasm
// build's transport files set it too.
var newDefaultDialer func(cfg Config) (Dialer, error)

// Client is a connection to one server as one user. It reconnects by
// itself and resumes every joined room without loss. Its methods are safe
// for concurrent use.
type Client struct {
	cfg    Config
	dialer Dialer
	log    *slog.Logger
	events *eventQueue

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // the supervisor

	mu        sync.Mutex
	closed    bool
	state     State
	transport string
	name      string
	server    protocol.ServerInfo
	gen       int64
	cur       *session // the session being set up or live
	live      *session // the session requests are sent on; nil while (re)connecting
	nextID    int64
	pending   map[int64]*request
	rooms     map[string]*roomEntry // by folded room name
	seen      map[string]*seen      // by conversation key (convKey)
	liveCh    chan struct{}         // closed when a session becomes live (or at Close)
}

// roomEntry is a room the user joined.
type roomEntry struct {
	name    string // as the server spells it
	members []string
}

// Dial connects to the server described by cfg and completes hello (and
// auth, with an Identity). A server's refusal is a *protocol.Error. The
// returned Client reconnects by itself until Close.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	if cfg.Identity != nil {
		if _, ok := cfg.Identity.Public().(ed25519.PublicKey); !ok {
			return nil, errors.New("client: Identity's public key is not Ed25519")
		}
	}
	d := cfg.Dialer
	if d == nil {
		if newDefaultDialer == nil {
			return nil, errors.New("client: no default Dialer on this platform; set Config.Dialer")
		}
		var err error
		if d, err = newDefaultDialer(cfg); err != nil {
			return nil, err
		}
	}
	cctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		cfg: cfg, dialer: d, log: cfg.Logger, events: newEventQueue(cfg.MaxQueuedEvents),
		ctx: cctx, cancel: cancel, state: StateReconnecting,
		pending: map[int64]*request{}, rooms: map[string]*roomEntry{}, seen: map[string]*seen{},
	}
	s, err := c.connect(ctx)
	if err != nil {
		cancel()
		c.events.close()
		return nil, err
	}
	c.wg.Add(1)
	go c.supervise(s)
	return c, nil
}

// Events returns the channel of events, in the order they happened. It is
// closed by Close. Read it steadily: see Config.MaxQueuedEvents.
func (c *Client) Events() <-chan Event { return c.events.out }

// State returns the connection state.
func (c *Client) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// Transport returns the kind of the current transport ("webtransport",
// "websocket", "inprocess"), or "" while offline.
func (c *Client) Transport() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.transport
}

// KeyHash returns the hex SHA-256 of the server's public key (SPKI) that
// the client accepts: Config.KeyHash, or the key of the certificate it
// verified by Config.CertHash. Keep it with the server's address and give
// it back as Config.KeyHash, so that the next start connects after the
// server renewed its self-signed certificate. "" with the system roots, a
// custom Dialer (unless it has a KeyHash() string method) and in the
// browser.
func (c *Client) KeyHash() string {
	if kh, ok := c.dialer.(interface{ KeyHash() string }); ok {
		return kh.KeyHash()
	}
	return ""
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
// with ErrClosed; Events is closed. Close is idempotent.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	s := c.cur
	c.live = nil
	c.setStateLocked(StateOffline, "", nil)
	c.wakeLiveLocked()
	for id, r := range c.pending {
		delete(c.pending, id)
		r.done <- answer{err: ErrClosed}
	}
	c.mu.Unlock()
	if s != nil {
		s.close(0, "bye")
	}
	c.cancel()
	c.wg.Wait()
	c.events.close()
	return nil
}

// wakeLiveLocked wakes the callers waiting for a live session. c.mu is held.
func (c *Client) wakeLiveLocked() {
	if c.liveCh != nil {
		close(c.liveCh)
		c.liveCh = nil
	}
}

func (c *Client) emit(ev Event) { c.events.push(ev) }

// setStateLocked records and announces a state change. c.mu is held.
// cause is why the session was lost, for StateReconnecting.
func (c *Client) setStateLocked(st State, transport string, cause error) {
	if c.state == st && c.transport == transport {
		return
	}
	c.state, c.transport = st, transport
	c.emit(Event{Kind: EventState, State: st, Transport: transport, Err: cause})
}

// connect dials, completes hello (and auth) and resumes. The session is
// live when it returns.
func (c *Client) connect(ctx context.Context) (*session, error) {
	conn, err := c.dialer.Dial(ctx)
	if err != nil {
		return nil, err
	}
	s := c.newSession(conn)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		s.close(0, "bye")
		s.wait()
		return nil, ErrClosed
	}
	c.cur = s
	c.mu.Unlock()
	if err := c.handshake(ctx, s); err != nil {
		s.close(0, "hello failed")
		s.wait()
		c.mu.Lock()
		c.sessionEndedLocked(s)
		c.mu.Unlock()
		return nil, err
	}
	c.resume(s)
	return s, nil
}

// handshake sends hello, and auth when the server asks for it.
func (c *Client) handshake(ctx context.Context, s *session) error {
	ctx, cancel := context.WithTimeout(ctx, protocol.HelloTimeout+5*time.Second)
	defer cancel()
	hello := &protocol.Frame{Type: protocol.TypeHello, V: protocol.Version, Name: trimSpace(c.cfg.Name), Client: c.cfg.ClientName}
	if c.cfg.Identity != nil {
		hello.Key = base64.RawURLEncoding.EncodeToString(c.cfg.Identity.Public().(ed25519.PublicKey))
	}
	a, err := c.do(ctx, hello, reqOpts{on: s})
	if err != nil {
		return err
	}
	if a.f.Challenge != "" {
		if c.cfg.Identity == nil {
			return errors.New("client: the server sent a challenge to a guest")
		}
		ch, err := decodeB64(a.f.Challenge)
		if err != nil {
			return fmt.Errorf("client: bad challenge: %w", err)
		}
		sig, err := c.cfg.Identity.Sign(rand.Reader, ch, crypto.Hash(0))
		if err != nil {
			return fmt.Errorf("client: sign the challenge: %w", err)
		}
		a, err = c.do(ctx, &protocol.Frame{Type: protocol.TypeAuth, Sig: base64.RawURLEncoding.EncodeToString(sig)}, reqOpts{on: s})
		if err != nil {
			return err
		}
	}
	c.mu.Lock()
	c.name = a.f.Name
	if a.f.Server != nil {
		c.server = *a.f.Server
	}
	c.mu.Unlock()
	return nil
}

func decodeB64(s string) ([]byte, error) {
	if b, err := base64.RawURLEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.URLEncoding.DecodeString(s)
}

// supervise waits for the live session to end and reconnects, with
// backoff, until Close.
func (c *Client) supervise(s *session) {
	defer c.wg.Done()
	for {
		<-s.ctx.Done()
		s.wait()
		cause := s.err
		c.mu.Lock()
		if c.live == s {
			c.live = nil
		}
		c.sessionEndedLocked(s)
		closed := c.closed
		if !closed {
			c.setStateLocked(StateReconnecting, "", cause)
		}
		c.mu.Unlock()
		if closed {
			return
		}
		c.log.Info("session lost; reconnecting", "err", cause)
		for attempt := 0; ; attempt++ {
			if !c.sleep(c.cfg.Backoff.delay(attempt, cause)) {
				return
			}
			ns, err := c.connect(c.ctx)
			if err == nil {
				s = ns
				break
			}
			if c.ctx.Err() != nil {
				return
			}
			c.log.Info("reconnect failed", "attempt", attempt+1, "err", err)
			c.emit(Event{Kind: EventError, State: StateReconnecting, Err: err})
			cause = err
		}
	}
}

// sleep waits d or until Close; it reports whether the client is still open.
func (c *Client) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.ctx.Done():
		return false
	}
}
