package bridge

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sort"
	"strings"
	"sync"
	"time"

	"parley/client"
	"parley/protocol"
)

// CacheStore is where the history cache keeps its entries between runs: a
// value (JSON text) under a key of lower-case hex digits and "/". The
// desktop's is a directory of files (NewFileCache); the browser's is a
// store in IndexedDB (wasm/cache.go). Get returns nil, nil for a missing
// key. Methods are called from the bridge's cache writer and from Connect,
// never concurrently for one key.
type CacheStore interface {
	Get(key string) ([]byte, error)
	Put(key string, value []byte) error
	Delete(key string) error
}

// Bounds of the history cache.
const (
	// CacheMessages is how many of a conversation's latest messages are kept.
	CacheMessages = 200
	// CacheConversations is how many conversations are kept per server and
	// identity; the least recently used beyond it are dropped.
	CacheConversations = 64
	// MaxCacheEntry bounds one stored entry (a conversation), in bytes; a
	// larger one is written without its oldest messages, and one read back
	// larger than it is ignored.
	MaxCacheEntry = 2 << 20
	// CacheFlushEvery is how often at most changed entries are written.
	CacheFlushEvery = 2 * time.Second
	// cacheGapPages bounds the history pages fetched to join a cached past
	// to the server's latest page; past it the cached past is dropped.
	cacheGapPages = 2
)

// cacheVersion is the format of stored entries; others are ignored.
const cacheVersion = 1

// cacheEntry is one conversation as stored.
type cacheEntry struct {
	V     int    `json:"v"`
	Conv  string `json:"conv"`
	Kind  string `json:"kind"`
	Name  string `json:"name"`
	Epoch string `json:"epoch,omitempty"` // "" when not known yet
	Open  bool   `json:"open"`            // private: its tab was open
	// Restarted: the server started this private chat over while its tab
	// was closed; the old chat's messages were dropped, and opening the
	// chat tells the user so.
	Restarted bool      `json:"restarted,omitempty"`
	At        int64     `json:"at"`       // last change, Unix ms
	Messages  []Message `json:"messages"` // by seq, the newest CacheMessages
}

// cacheIndex lists a scope's entries with their last change (Unix ms).
type cacheIndex struct {
	V     int              `json:"v"`
	Convs map[string]int64 `json:"convs"` // conv id -> At
}

// historyCache is the cache of one connection (one server, one identity).
// Its methods are safe for concurrent use; mu is a leaf lock (never held
// while calling the store, except by flush, which holds only flushMu).
type historyCache struct {
	store   CacheStore
	scope   string
	private bool // private conversations are kept (an identity, not a guest)
	now     func() time.Time

	mu      sync.Mutex
	convs   map[string]*cacheEntry // loaded or touched this session
	index   cacheIndex
	dirty   map[string]bool
	gone    map[string]bool    // entries to delete
	pending map[string]Message // local id -> message sent, until its ack
	lastAt  int64              // the last At given

	flushMu  sync.Mutex // one flush at a time
	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
}

// cacheScope names the cache of a server (address and certificate hash)
// and a user (the identity's public key, or a guest's name).
func cacheScope(cfg client.Config) string {
	who := "guest:" + protocol.Fold(cfg.Name)
	if cfg.Identity != nil {
		if pub, ok := cfg.Identity.Public().(ed25519.PublicKey); ok {
			who = "id:" + hex.EncodeToString(pub)
		}
	}
	server := strings.ToLower(strings.TrimPrefix(strings.TrimSpace(cfg.Server), "https://"))
	sum := sha256.Sum256([]byte(server + "\n" + strings.ToLower(cfg.CertHash) + "\n" + who))
	return hex.EncodeToString(sum[:16])
}

func (h *historyCache) key(conv string) string {
	sum := sha256.Sum256([]byte(conv))
	return h.scope + "/" + hex.EncodeToString(sum[:16])
}

// openCache reads a scope's index and starts the writer. private says
// whether private conversations may be kept (not for a guest: the server
// forgets a guest's private messages after the session, and so do we).
func openCache(store CacheStore, scope string, private bool) *historyCache {
	h := &historyCache{store: store, scope: scope, private: private, now: time.Now,
		convs: map[string]*cacheEntry{}, dirty: map[string]bool{}, gone: map[string]bool{}, pending: map[string]Message{},
		stop: make(chan struct{}), done: make(chan struct{})}
	h.index = cacheIndex{V: cacheVersion, Convs: map[string]int64{}}
	if b, err := store.Get(scope + "/index"); err == nil && len(b) > 0 && len(b) <= MaxCacheEntry {
		var ix cacheIndex
		if json.Unmarshal(b, &ix) == nil && ix.V == cacheVersion && ix.Convs != nil {
			h.index = ix
			for _, at := range ix.Convs {
				h.lastAt = max(h.lastAt, at)
			}
		}
	}
	if !private {
		for id := range h.index.Convs {
			if strings.HasPrefix(id, "p:") {
				delete(h.index.Convs, id)
				h.gone[id] = true
			}
		}
	}
	go h.run()
	return h
}

// load returns a copy of the cached conversation id, or nil.
func (h *historyCache) load(id string) *cacheEntry {
	if !h.keeps(id) {
		return nil
	}
	h.mu.Lock()
	e := h.convs[id]
	_, indexed := h.index.Convs[id]
	h.mu.Unlock()
	if e == nil && indexed {
		b, err := h.store.Get(h.key(id))
		var got cacheEntry
		if err == nil && len(b) > 0 && len(b) <= MaxCacheEntry && json.Unmarshal(b, &got) == nil && got.V == cacheVersion && got.Conv == id {
			h.mu.Lock()
			if h.convs[id] == nil {
				h.convs[id] = &got
			}
			e = h.convs[id]
			h.mu.Unlock()
		}
	}
	if e == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	cp := *e
	cp.Messages = append([]Message(nil), e.Messages...)
	return &cp
}

// openPrivates lists the private conversations whose tabs were open.
func (h *historyCache) openPrivates() []*cacheEntry {
	if !h.private {
		return nil
	}
	h.mu.Lock()
	var ids []string
	for id := range h.index.Convs {
		if strings.HasPrefix(id, "p:") {
			ids = append(ids, id)
		}
	}
	h.mu.Unlock()
	sort.Strings(ids)
	var out []*cacheEntry
	for _, id := range ids {
		if e := h.load(id); e != nil && e.Open {
			out = append(out, e)
		}
	}
	return out
}

func (h *historyCache) keeps(id string) bool {
	return strings.HasPrefix(id, "r:") || (h.private && strings.HasPrefix(id, "p:"))
}

// entryLocked returns the entry of id, making it (kind and name from id
// when unknown).
func (h *historyCache) entryLocked(id string) *cacheEntry {
	e := h.convs[id]
	if e == nil {
		kind := KindRoom
		if strings.HasPrefix(id, "p:") {
			kind = KindPrivate
		}
		e = &cacheEntry{V: cacheVersion, Conv: id, Kind: kind, Name: id[2:]}
		h.convs[id] = e
	}
	return e
}

func (h *historyCache) touchLocked(e *cacheEntry) {
	// Strictly increasing, so that the least recently used is well defined.
	h.lastAt = max(h.now().UnixMilli(), h.lastAt+1)
	e.At = h.lastAt
	h.index.Convs[e.Conv] = e.At
	h.dirty[e.Conv] = true
	delete(h.gone, e.Conv)
}

// conversation records a conversation's kind and name; open says whether
// it is open (a private tab). It changes nothing stored when nothing changed.
func (h *historyCache) conversation(id, kind, name string, open bool) {
	if !h.keeps(id) {
		return
	}
	h.load(id) // merge with what was stored
	h.mu.Lock()
	defer h.mu.Unlock()
	_, known := h.convs[id]
	e := h.entryLocked(id)
	if !known || (kind != "" && e.Kind != kind) || (name != "" && e.Name != name) || e.Open != open {
		if kind != "" {
			e.Kind = kind
		}
		if name != "" {
			e.Name = name
		}
		e.Open = open
		h.touchLocked(e)
	}
	if open && e.Restarted {
		// The new chat is on screen from its start: nothing old to report.
		e.Restarted = false
		h.touchLocked(e)
	}
}

// setEpoch records the epoch of a conversation's history as the server
// reported it.
func (h *historyCache) setEpoch(id, epoch string) {
	if !h.keeps(id) || epoch == "" {
		return
	}
	h.load(id)
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.entryLocked(id)
	if e.Epoch != epoch {
		e.Epoch = epoch
		h.touchLocked(e)
	}
}

// forgetEpoch forgets the epoch of a conversation the server no longer
// has, so that the next one under its name is not taken for it.
func (h *historyCache) forgetEpoch(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e := h.convs[id]; e != nil && e.Epoch != "" {
		e.Epoch = ""
		h.touchLocked(e)
	}
}

// startOverClosed records that the server started conversation id over
// (under epoch; "" when it no longer has it) while its tab was closed:
// the cached messages belong to the old chat and are dropped (they would
// be taken for the new one's, whose seq starts at 1 again), and the entry
// remembers it so that opening the chat tells the user.
func (h *historyCache) startOverClosed(id, epoch string) {
	if !h.keeps(id) || h.load(id) == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.entryLocked(id)
	if epoch != "" && e.Epoch == epoch {
		return // already the chat it holds
	}
	if len(e.Messages) > 0 {
		e.Messages = nil
		e.Restarted = e.Kind == KindPrivate
	}
	e.Epoch = epoch
	h.touchLocked(e)
}

// setOpen marks a private conversation's tab open or closed.
func (h *historyCache) setOpen(id string, open bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e := h.convs[id]; e != nil && e.Open != open {
		e.Open = open
		h.touchLocked(e)
	}
}

// add merges messages (those with a seq) into conversation id.
func (h *historyCache) add(id string, ms ...Message) {
	if !h.keeps(id) {
		return
	}
	if h.load(id) == nil {
		h.mu.Lock()
		h.entryLocked(id)
		h.mu.Unlock()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.entryLocked(id)
	changed := false
	for _, m := range ms {
		if m.Seq <= 0 || (m.Kind != MsgText && m.Kind != MsgImage) {
			continue
		}
		m.Conv, m.Local, m.Pending = id, "", false
		i := sort.Search(len(e.Messages), func(i int) bool { return e.Messages[i].Seq >= m.Seq })
		if i < len(e.Messages) && e.Messages[i].Seq == m.Seq {
			continue
		}
		e.Messages = append(e.Messages, Message{})
		copy(e.Messages[i+1:], e.Messages[i:])
		e.Messages[i] = m
		changed = true
	}
	if over := len(e.Messages) - CacheMessages; over > 0 {
		e.Messages = append([]Message(nil), e.Messages[over:]...)
	}
	if changed {
		h.touchLocked(e)
	}
}

// reset forgets a conversation's messages (its history was lost, or the
// cached past cannot be joined to the server's); setEpoch follows.
func (h *historyCache) reset(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e := h.convs[id]; e != nil && (len(e.Messages) > 0 || e.Restarted) {
		e.Messages, e.Restarted = nil, false
		h.touchLocked(e)
	}
}

// sent remembers a message sent from the UI until its ack gives its seq.
func (h *historyCache) sent(m Message) {
	if m.Local == "" || !h.keeps(m.Conv) {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.pending) < 10_000 {
		h.pending[m.Local] = m
	}
}

// observe files what a batch of UI events says about conversations: new
// messages, acks of sent ones, resets. Called for every event pushed.
func (h *historyCache) observe(evs []Event) {
	for i := range evs {
		ev := &evs[i]
		switch ev.Kind {
		case EvMessage:
			if ev.Message != nil && ev.Message.Seq > 0 {
				h.add(ev.Message.Conv, *ev.Message)
			}
		case EvAck:
			h.mu.Lock()
			m, ok := h.pending[ev.Local]
			delete(h.pending, ev.Local)
			h.mu.Unlock()
			if ok && ev.Seq > 0 {
				m.Seq = ev.Seq
				if ev.TS != "" {
					m.TS = ev.TS
				}
				h.add(m.Conv, m)
			}
		case EvFailed:
			h.mu.Lock()
			delete(h.pending, ev.Local)
			h.mu.Unlock()
		case EvReset:
			h.reset(ev.Conv)
		case EvConversation:
			if c := ev.Conversation; c != nil {
				h.conversation(c.ID, c.Kind, c.Name, c.Kind == KindPrivate)
			}
		case EvClosed:
			h.setOpen(ev.Conv, false) // a private tab closed (Disconnect detaches the cache first)
		}
	}
}

func (h *historyCache) run() {
	defer close(h.done)
	t := time.NewTicker(CacheFlushEvery)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			h.flush()
			return
		case <-t.C:
			h.flush()
		}
	}
}

// flush writes the changed entries and the index, dropping the least
// recently used conversations beyond CacheConversations.
func (h *historyCache) flush() {
	h.flushMu.Lock()
	defer h.flushMu.Unlock()
	h.mu.Lock()
	if len(h.dirty) == 0 && len(h.gone) == 0 {
		h.mu.Unlock()
		return
	}
	if over := len(h.index.Convs) - CacheConversations; over > 0 {
		ids := make([]string, 0, len(h.index.Convs))
		for id := range h.index.Convs {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool { return h.index.Convs[ids[i]] < h.index.Convs[ids[j]] })
		for _, id := range ids[:over] {
			delete(h.index.Convs, id)
			delete(h.convs, id)
			delete(h.dirty, id)
			h.gone[id] = true
		}
	}
	var puts []cacheEntry
	for id := range h.dirty {
		if e := h.convs[id]; e != nil {
			cp := *e
			cp.Messages = append([]Message(nil), e.Messages...)
			puts = append(puts, cp)
		}
	}
	var dels []string
	for id := range h.gone {
		dels = append(dels, id)
	}
	ix, _ := json.Marshal(h.index)
	h.dirty, h.gone = map[string]bool{}, map[string]bool{}
	h.mu.Unlock()

	for _, e := range puts {
		b, err := json.Marshal(e)
		for err == nil && len(b) > MaxCacheEntry && len(e.Messages) > 0 {
			e.Messages = e.Messages[len(e.Messages)/4+1:]
			b, err = json.Marshal(e)
		}
		if err == nil {
			err = h.store.Put(h.key(e.Conv), b)
		}
		if err != nil {
			h.retry(e.Conv)
		}
	}
	for _, id := range dels {
		if h.store.Delete(h.key(id)) != nil {
			h.mu.Lock()
			h.gone[id] = true
			h.mu.Unlock()
		}
	}
	if h.store.Put(h.scope+"/index", ix) != nil {
		h.mu.Lock()
		h.dirty[""] = true // write the index again next time
		h.mu.Unlock()
	}
}

func (h *historyCache) retry(id string) {
	h.mu.Lock()
	h.dirty[id] = true
	h.mu.Unlock()
}

// close writes what changed and stops the writer. Idempotent.
func (h *historyCache) close() {
	h.stopOnce.Do(func() { close(h.stop) })
	<-h.done
}
