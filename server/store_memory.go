package server

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"parley/protocol"
)

// MemoryStore is a Store kept in memory: history, nonces, identities and
// image bytes are lost when the process ends. Appends are durable at once
// (done is called inside Append). It is safe for concurrent use.
type MemoryStore struct {
	mu      sync.Mutex
	convs   map[ConvID]*memConv
	nonces  map[string]*Message // owner + "\x00" + nonce
	bound   map[string]ed25519.PublicKey
	images  map[string][]byte
	imgConv map[string][]ConvID
	closed  bool
}

type memConv struct {
	state ConvState
	msgs  []*Message // in seq order
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{
		convs:   make(map[ConvID]*memConv),
		nonces:  make(map[string]*Message),
		bound:   make(map[string]ed25519.PublicKey),
		images:  make(map[string][]byte),
		imgConv: make(map[string][]ConvID),
	}
}

var errStoreClosed = errors.New("server: store closed")

func newEpoch() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Conv returns a conversation's state, creating it when new.
func (s *MemoryStore) Conv(_ context.Context, id ConvID, name string) (ConvState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ConvState{}, errStoreClosed
	}
	c := s.convs[id]
	if c == nil {
		c = &memConv{state: ConvState{Conv: id, Name: name, Epoch: newEpoch()}}
		s.convs[id] = c
	}
	return c.state, nil
}

// Append stores m and calls done(nil) before returning.
func (s *MemoryStore) Append(m *Message, done func(error)) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		done(errStoreClosed)
		return
	}
	c := s.convs[m.Conv]
	if c == nil {
		c = &memConv{state: ConvState{Conv: m.Conv, Name: m.Room, Epoch: newEpoch()}}
		if !m.Conv.IsRoom() {
			c.state.Name = ""
		}
		s.convs[m.Conv] = c
	}
	if m.Seq <= c.state.Seq {
		s.mu.Unlock()
		done(errors.New("server: seq out of order"))
		return
	}
	c.msgs = append(c.msgs, m)
	c.state.Seq = m.Seq
	if m.Nonce != "" {
		s.nonces[m.Owner+"\x00"+m.Nonce] = m
	}
	if m.Image != nil {
		s.imgConv[m.Image.ID] = append(s.imgConv[m.Image.ID], m.Conv)
	}
	s.mu.Unlock()
	done(nil)
}

// History returns a page of a conversation, oldest first. As the Store
// contract says, exactly one of q.Before and q.Since must be set and
// q.Limit must be 1 to protocol.MaxHistory; anything else is an error, as
// it is from the durable store.
func (s *MemoryStore) History(_ context.Context, id ConvID, q HistoryQuery) ([]*Message, error) {
	if err := checkHistoryQuery(q); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errStoreClosed
	}
	c := s.convs[id]
	if c == nil {
		return nil, nil
	}
	msgs := c.msgs
	if q.Before != nil {
		i := sort.Search(len(msgs), func(i int) bool { return msgs[i].Seq >= *q.Before })
		lo := max(0, i-q.Limit)
		return append([]*Message(nil), msgs[lo:i]...), nil
	}
	i := sort.Search(len(msgs), func(i int) bool { return msgs[i].Seq > *q.Since })
	hi := min(len(msgs), i+q.Limit)
	return append([]*Message(nil), msgs[i:hi]...), nil
}

// checkHistoryQuery enforces the HistoryQuery contract.
func checkHistoryQuery(q HistoryQuery) error {
	if (q.Before == nil) == (q.Since == nil) {
		return errors.New("server: history needs exactly one of Before and Since")
	}
	if q.Limit < 1 || q.Limit > protocol.MaxHistory {
		return fmt.Errorf("server: history limit %d is not 1 to %d", q.Limit, protocol.MaxHistory)
	}
	return nil
}

// ByNonce returns the message owner made with nonce.
func (s *MemoryStore) ByNonce(_ context.Context, owner, nonce string) (*Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errStoreClosed
	}
	if m := s.nonces[owner+"\x00"+nonce]; m != nil {
		return m, nil
	}
	return nil, ErrNotFound
}

// Conversations returns the private conversations of the user key.
func (s *MemoryStore) Conversations(_ context.Context, key string) ([]ConvState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errStoreClosed
	}
	var out []ConvState
	for id, c := range s.convs {
		if id.IsRoom() || len(id) < 2 {
			continue
		}
		a, b, ok := strings.Cut(string(id[2:]), "\n")
		if !ok || (a != key && b != key) {
			continue
		}
		st := c.state
		st.Name = ""
		// The other user's display name: from the latest message.
		other := b
		if b == key {
			other = a
		}
		for i := len(c.msgs) - 1; i >= 0 && st.Name == ""; i-- {
			m := c.msgs[i]
			switch {
			case foldEq(m.From, other):
				st.Name = m.From
			case foldEq(m.To, other):
				st.Name = m.To
			}
		}
		if st.Name == "" {
			st.Name = other
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Conv < out[j].Conv })
	return out, nil
}

// DropConv forgets a conversation and its messages.
func (s *MemoryStore) DropConv(_ context.Context, id ConvID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errStoreClosed
	}
	delete(s.convs, id)
	return nil
}

// Bind binds key to pub unless it is bound already.
func (s *MemoryStore) Bind(_ context.Context, key, _ string, pub ed25519.PublicKey) (ed25519.PublicKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errStoreClosed
	}
	if k, ok := s.bound[key]; ok {
		return k, nil
	}
	s.bound[key] = append(ed25519.PublicKey(nil), pub...)
	return pub, nil
}

// Bound returns the key bound to a name, or nil.
func (s *MemoryStore) Bound(_ context.Context, key string) (ed25519.PublicKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errStoreClosed
	}
	return s.bound[key], nil
}

// NewUpload starts an in-memory upload.
func (s *MemoryStore) NewUpload(context.Context) (Upload, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errStoreClosed
	}
	return &memUpload{s: s}, nil
}

// OpenImage opens an image's bytes.
func (s *MemoryStore) OpenImage(_ context.Context, id string) (io.ReadCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errStoreClosed
	}
	b, ok := s.images[id]
	if !ok {
		return nil, ErrNotFound
	}
	return memImage{bytes.NewReader(b)}, nil
}

// ImageConvs lists the conversations an image was posted in.
func (s *MemoryStore) ImageConvs(_ context.Context, id string) ([]ConvID, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errStoreClosed
	}
	return append([]ConvID(nil), s.imgConv[id]...), nil
}

// Close releases the store; every later call fails (Append through done).
func (s *MemoryStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

// memImage is an image's bytes; Size tells the server their length.
type memImage struct{ *bytes.Reader }

func (memImage) Close() error { return nil }

type memUpload struct {
	s    *MemoryStore
	buf  bytes.Buffer
	done bool
}

func (u *memUpload) Write(p []byte) (int, error) { return u.buf.Write(p) }

func (u *memUpload) Commit(_ context.Context, id string) error {
	if u.done {
		return errors.New("server: upload already finished")
	}
	u.done = true
	u.s.mu.Lock()
	defer u.s.mu.Unlock()
	if u.s.closed {
		return errStoreClosed
	}
	if _, ok := u.s.images[id]; !ok {
		u.s.images[id] = u.buf.Bytes()
	}
	return nil
}

func (u *memUpload) Abort() {
	u.done = true
	u.buf = bytes.Buffer{}
}

var _ Store = (*MemoryStore)(nil)
