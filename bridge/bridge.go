package bridge

import (
	"context"
	"crypto"
	"encoding/hex"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"parley/client"
	"parley/protocol"
)

// CodeNotConnected is the error code of a method that needs a connection
// when there is none; CodeUnavailable wraps failures that carry no
// protocol code (the network, a closed client).
const (
	CodeNotConnected protocol.Code = "not_connected"
	CodeUnavailable  protocol.Code = "unavailable"
)

// Timeouts of the UI's calls: a request the UI waits for (join, history,
// fetch) gives up after RequestTimeout, a first connection after
// DialTimeout. Messages and images sent are not bounded: they wait for a
// reconnect and go out once.
const (
	RequestTimeout = 30 * time.Second
	DialTimeout    = 20 * time.Second
	// TypingEvery is how often at most a typing notice goes out per room.
	TypingEvery = 2 * time.Second
)

// Options configure a Bridge. The zero value works (events are dropped).
type Options struct {
	// Emit delivers event batches to the UI (name is EventName, data a
	// []Event). Called from one goroutine, in order.
	Emit func(name string, data any)
	// OnUnread, if set, is called with the total unread count whenever it
	// changes (the desktop puts it in the window title).
	OnUnread func(total int)
	// Identity signs the server's challenge; nil connects as a guest.
	Identity crypto.Signer
	// ClientName is sent in hello, e.g. "parley-desktop/0.1".
	ClientName string
	// DefaultServer is used when a ConnectRequest names no server (the
	// browser: the server that served the page). CertHash likewise.
	DefaultServer   string
	DefaultCertHash string
	// ParseLink reads a join link into server address, certificate hash,
	// key hash and room; nil: join links are not accepted.
	ParseLink func(link string) (server, certHash, keyHash, room string, err error)
	// Dial opens a client; nil: client.Dial.
	Dial func(ctx context.Context, cfg client.Config) (*client.Client, error)
	// FlushEvery and MaxBatch pace event batches (zero: defaults).
	FlushEvery time.Duration
	MaxBatch   int
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
	// Cache keeps the latest messages of each conversation between runs,
	// per server and identity, so that Connect shows the past at once;
	// nil: no cache.
	Cache CacheStore
	// Recall, if set, returns what was open on a server (ServerKey of its
	// address) the last time: Connect joins those rooms again and opens
	// those private chats, showing their cached past first.
	Recall func(server string) Remembered
	// Remember, if set, is called with what is open on the server whenever
	// a room is joined or left or a private chat opened or closed (and once
	// Connect has opened everything), never at Disconnect. Calls are made
	// one at a time, in order, never under the Bridge's lock.
	Remember func(server string, open Remembered)
	// DefaultRoom is joined at Connect when the request names no room and
	// none is remembered ("" joins none).
	DefaultRoom string
}

// Bridge is the UI's view of one connection at a time. Make one with New.
type Bridge struct {
	opts Options
	log  *slog.Logger
	em   *emitter

	connectMu  sync.Mutex                   // serialises Connect and Disconnect
	rememberMu sync.Mutex                   // serialises Options.Remember calls; taken before mu
	cache      atomic.Pointer[historyCache] // the connection's history cache, if any

	mu         sync.Mutex
	cl         *client.Client
	gen        int64              // connection generation; events of older ones are ignored
	ctx        context.Context    // ends when the connection is closed
	cancel     context.CancelFunc // ends ctx
	wg         sync.WaitGroup     // the pump and the senders of the connection
	state      string
	transport  string
	reason     string // while reconnecting: why, for people (Status.Reason)
	server     string
	certHash   string // the connection's Config.CertHash
	convs      map[string]*conv
	active     string
	focused    bool
	lastUnread int
	typingAt   map[string]time.Time
	nextLocal  int64
	// What is open on the server, for Options.Remember: openKey is the
	// connection's ServerKey ("" when not connected), openDirty says that
	// open changed since the last Remember, openGuest that the user is a
	// guest (whose private chats are not remembered).
	open      Remembered
	openKey   string
	openDirty bool
	openGuest bool
	// restoring: the conversations shown from the history cache while
	// Connect dials (not in convs yet); Status lists them and SetActive
	// accepts them, so that the UI keeps what it shows.
	restoring []*conv
}

// conv is one conversation as the bridge keeps it.
type conv struct {
	id      string
	kind    string
	name    string
	unread  int
	members []string
	oldest  int64  // smallest seq shown, 0 when none
	via     string // private: the room the last message went through
	// restored: shown from the history cache at Connect and not yet
	// checked against the server; cachedSeq and cachedEpoch are the
	// newest cached seq and its epoch.
	restored    bool
	cachedSeq   int64
	cachedEpoch string
	// A restart is learnt twice: by the bridge's check of a cached past
	// against the server's conversations, and by the client (EventEpoch)
	// once it meets the new epoch. It is reported once (startOverLocked):
	// restarts counts c's start-overs, so that a check begun before one
	// drops its stale verdict; restartEpoch is the epoch the latest was
	// for ("" when the server had no such chat: the first epoch the client
	// then reports is that restart's own, not another).
	restarts     int
	restartEpoch string
}

// New makes a Bridge. Close releases it.
func New(opts Options) *Bridge {
	b := &Bridge{opts: opts, log: opts.Logger, convs: map[string]*conv{}, typingAt: map[string]time.Time{}, state: StateIdle, focused: true}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	b.em = newEmitter(opts.Emit, opts.FlushEvery, opts.MaxBatch)
	b.em.observe = func(evs []Event) {
		if hc := b.cache.Load(); hc != nil {
			hc.observe(evs)
		}
	}
	return b
}

// Close ends the connection, delivers the last events and stops. The
// Bridge is unusable afterwards.
func (b *Bridge) Close() error {
	b.disconnect(StateOffline)
	b.em.close()
	return nil
}

// Connect connects to a server as req.Name (closing any earlier
// connection) and joins req.Room if it is given.
func (b *Bridge) Connect(req ConnectRequest) (Status, error) {
	cfg, room, err := b.configFor(req)
	if err != nil {
		return Status{}, err
	}
	return b.ConnectConfig(cfg, room)
}

// configFor validates a ConnectRequest and turns it into a client.Config.
func (b *Bridge) configFor(req ConnectRequest) (client.Config, string, error) {
	name, err := protocol.CleanName(strings.TrimSpace(req.Name))
	if err != nil {
		return client.Config{}, "", err
	}
	server, hash, room := strings.TrimSpace(req.Server), strings.TrimSpace(req.CertHash), strings.TrimSpace(req.Room)
	key := strings.ToLower(strings.TrimSpace(req.KeyHash))
	if link := strings.TrimSpace(req.Link); link != "" {
		if b.opts.ParseLink == nil {
			return client.Config{}, "", protocol.Errorf(protocol.CodeBadRequest, "join links are not supported here")
		}
		if len(link) > 2048 {
			return client.Config{}, "", protocol.Errorf(protocol.CodeBadRequest, "that join link is too long")
		}
		s, h, k, r, err := b.opts.ParseLink(link)
		if err != nil {
			return client.Config{}, "", protocol.Errorf(protocol.CodeBadRequest, "%v", err)
		}
		server, hash, key = s, h, k
		if r != "" {
			room = r
		}
	}
	if server == "" {
		server, hash, key = b.opts.DefaultServer, b.opts.DefaultCertHash, ""
	}
	if server == "" {
		return client.Config{}, "", protocol.Errorf(protocol.CodeBadRequest, "a server address is required")
	}
	if len(server) > 300 || strings.ContainsAny(server, " \t\r\n") {
		return client.Config{}, "", protocol.Errorf(protocol.CodeBadRequest, "%q is not a server address", truncate(server, 40))
	}
	hash = strings.ToLower(hash)
	if err := checkHash("certificate", hash); err != nil {
		return client.Config{}, "", err
	}
	if err := checkHash("key", key); err != nil {
		return client.Config{}, "", err
	}
	if room != "" {
		if room, err = protocol.CleanRoom(room); err != nil {
			return client.Config{}, "", err
		}
	}
	return client.Config{Server: server, CertHash: hash, KeyHash: key, Name: name, Identity: b.opts.Identity, ClientName: b.opts.ClientName, Logger: b.log}, room, nil
}

// checkHash accepts "" or a SHA-256 in hex (what is a certificate or key
// hash), refusing anything else as bad_request.
func checkHash(what, h string) error {
	if raw, err := hex.DecodeString(h); err != nil || (h != "" && len(raw) != 32) {
		return protocol.Errorf(protocol.CodeBadRequest, "the %s hash must be 64 hex digits", what)
	}
	return nil
}

// ConnectConfig connects with a ready client configuration (the desktop's
// own in-process server uses it) and joins room if it is not empty. It is
// for Go callers; the UI calls Connect.
func (b *Bridge) ConnectConfig(cfg client.Config, room string) (Status, error) {
	b.connectMu.Lock()
	defer b.connectMu.Unlock()
	b.disconnect(StateIdle)
	if cfg.Name == "" {
		return Status{}, protocol.Errorf(protocol.CodeBadName, "a name is required")
	}
	if cfg.Identity == nil {
		cfg.Identity = b.opts.Identity
	}
	if cfg.ClientName == "" {
		cfg.ClientName = b.opts.ClientName
	}
	b.setState(StateConnecting, "")
	guest := cfg.Identity == nil
	rooms, rec := b.recall(cfg.Server, room, guest)
	restored := b.restore(cfg, rooms, rec.Privates)
	b.mu.Lock()
	b.restoring = restored
	b.mu.Unlock()
	dial := b.opts.Dial
	if dial == nil {
		dial = client.Dial
	}
	ctx, cancel := context.WithTimeout(context.Background(), DialTimeout)
	cl, err := dial(ctx, cfg)
	cancel()
	if err != nil {
		b.mu.Lock()
		b.restoring, b.active = nil, ""
		b.mu.Unlock()
		b.unrestore(restored)
		b.setState(StateOffline, "")
		return Status{}, uiErr(err)
	}
	cctx, ccancel := context.WithCancel(context.Background())
	b.mu.Lock()
	b.cl, b.ctx, b.cancel = cl, cctx, ccancel
	b.gen++
	gen := b.gen
	b.server, b.certHash = cfg.Server, cfg.CertHash
	b.state = string(cl.State())
	b.transport = cl.Transport()
	b.reason = ""
	b.convs = map[string]*conv{}
	for _, c := range restored {
		b.convs[c.id] = c
	}
	b.restoring = nil
	b.active = ""
	b.open, b.openKey, b.openGuest, b.openDirty = rec.clone(), ServerKey(cfg.Server), guest, false
	// The private chats to open: those open from the cache, and those
	// remembered with nothing cached, which open empty and are filled from
	// the server's history like the others are checked against it.
	var fresh []Event
	for _, c := range restored {
		if c.kind == KindPrivate {
			b.notePrivateLocked(c.name, true)
		}
	}
	for _, name := range rec.Privates {
		id := privateID(name)
		if b.convs[id] == nil && protocol.Fold(name) != protocol.Fold(cfg.Name) {
			c := &conv{id: id, kind: KindPrivate, name: name, restored: true}
			b.convs[id] = c
			restored = append(restored, c)
			v := c.view()
			fresh = append(fresh, Event{Kind: EvConversation, Conv: id, Conversation: &v})
		}
	}
	b.wg.Add(1)
	b.mu.Unlock()
	b.em.push(fresh...)
	go b.pump(cl, gen)
	b.pushState()
	for _, r := range rooms {
		if _, err := b.joinRoom(r, true); err != nil {
			b.em.push(Event{Kind: EvNotice, Level: "error", Text: "Could not join " + r + ": " + messageOf(err)})
			if protocol.CodeOf(err) == protocol.CodeBadRoom {
				b.mu.Lock()
				b.noteRoomLocked(r, false)
				b.mu.Unlock()
			}
		}
	}
	b.checkRestoredPrivates(restored)
	b.remember()
	return b.Status()
}

// Disconnect closes the connection. Messages still waiting to go out are
// dropped (their "failed" events say so).
func (b *Bridge) Disconnect() (Status, error) {
	b.connectMu.Lock()
	defer b.connectMu.Unlock()
	b.disconnect(StateIdle)
	return b.Status()
}

func (b *Bridge) disconnect(to string) {
	b.mu.Lock()
	cl, cancel := b.cl, b.cancel
	had := cl != nil
	b.cl, b.cancel = nil, nil
	b.gen++
	b.openKey, b.openDirty = "", false // closing is no leaving: nothing more to remember
	b.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	if cl != nil {
		cl.Close()
	}
	b.wg.Wait()
	if hc := b.cache.Swap(nil); hc != nil {
		hc.close() // before the closed events below, which are no tab closing
	}
	b.mu.Lock()
	closed := make([]string, 0, len(b.convs))
	for id := range b.convs {
		closed = append(closed, id)
	}
	b.convs = map[string]*conv{}
	b.active = ""
	b.mu.Unlock()
	if had {
		for _, id := range closed {
			b.em.push(Event{Kind: EvClosed, Conv: id})
		}
		b.setState(to, "")
		b.unreadChanged()
	}
}

func (b *Bridge) setState(state, transport string) {
	b.mu.Lock()
	b.state, b.transport, b.reason = state, transport, ""
	b.mu.Unlock()
	b.pushState()
}

func (b *Bridge) pushState() {
	s, _ := b.status(false)
	b.em.push(Event{Kind: EvState, Status: &s})
}

// Status reports the connection and every open conversation.
func (b *Bridge) Status() (Status, error) {
	return b.status(true)
}

func (b *Bridge) status(withConvs bool) (Status, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := Status{State: b.state, Transport: b.transport, Reason: b.reason, Server: b.server, CertHash: b.certHash, Active: b.active, Unread: b.unreadLocked()}
	if b.cl != nil {
		info := b.cl.ServerInfo()
		s.Name, s.ServerName, s.Limits = b.cl.Name(), info.Name, info.Limits
		s.KeyHash = b.cl.KeyHash()
	}
	if withConvs {
		s.Conversations = make([]Conversation, 0, len(b.convs))
		for _, c := range b.convs {
			s.Conversations = append(s.Conversations, c.view())
		}
		for _, c := range b.restoring {
			if b.convs[c.id] == nil {
				s.Conversations = append(s.Conversations, c.view())
			}
		}
	}
	return s, nil
}

func (b *Bridge) unreadLocked() int {
	n := 0
	for _, c := range b.convs {
		n += c.unread
	}
	return n
}

// unreadChanged calls OnUnread if the total changed. Not under mu.
func (b *Bridge) unreadChanged() {
	b.mu.Lock()
	n := b.unreadLocked()
	changed := n != b.lastUnread
	b.lastUnread = n
	b.mu.Unlock()
	if changed && b.opts.OnUnread != nil {
		b.opts.OnUnread(n)
	}
}

func (c *conv) view() Conversation {
	v := Conversation{ID: c.id, Kind: c.kind, Name: c.name, Unread: c.unread, HasOlder: c.oldest > 1}
	if c.kind == KindRoom {
		v.Members = append([]string{}, c.members...)
	}
	return v
}

// live returns the client and the connection's context, or not_connected.
func (b *Bridge) live() (*client.Client, context.Context, int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cl == nil {
		return nil, nil, 0, &protocol.Error{Code: CodeNotConnected, Message: "not connected to a server"}
	}
	return b.cl, b.ctx, b.gen, nil
}

// roomID and privateID are the conversation ids of a room and of a private chat.
func roomID(room string) string    { return "r:" + protocol.Fold(room) }
func privateID(user string) string { return "p:" + protocol.Fold(user) }

// uiErr gives every error a code the UI can branch on.
func uiErr(err error) error {
	if err == nil {
		return nil
	}
	if protocol.CodeOf(err) != "" {
		return err
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return &protocol.Error{Code: CodeUnavailable, Message: "the server did not answer in time"}
	case errors.Is(err, client.ErrClosed), errors.Is(err, context.Canceled):
		return &protocol.Error{Code: CodeNotConnected, Message: "the connection was closed"}
	case errors.Is(err, client.ErrServerFull):
		return &protocol.Error{Code: CodeUnavailable, Message: FullMessage}
	}
	var ce *protocol.CloseError
	if errors.As(err, &ce) {
		return &protocol.Error{Code: CodeUnavailable, Message: "the server closed the session: " + ce.Reason}
	}
	return &protocol.Error{Code: CodeUnavailable, Message: err.Error()}
}

// messageOf is the human part of an error.
// reasonOf says for people why a session was lost or a reconnection
// attempt failed (Status.Reason); the log has the details.
func reasonOf(err error) string {
	var ce *protocol.CloseError
	switch {
	case err == nil:
		return ""
	case errors.Is(err, client.ErrServerFull):
		return "the server is full"
	case errors.As(err, &ce) && ce.Code == protocol.CloseShutdown:
		return "the server is restarting"
	case errors.As(err, &ce) && ce.Code == protocol.CloseTooSlow:
		return "the connection was too slow"
	case errors.As(err, &ce) && ce.Code == protocol.CloseRateLimit:
		return "too many requests"
	case protocol.CodeOf(err) != "":
		return messageOf(err) // the server refused the hello: its words
	}
	return "the server cannot be reached"
}

// FullMessage is what the UI says when the server refused a session
// because it is full (client.ErrServerFull).
const FullMessage = "The server is full; try again in a little while."

func messageOf(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe.Message
	}
	if errors.Is(err, client.ErrServerFull) {
		return FullMessage
	}
	return err.Error()
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
