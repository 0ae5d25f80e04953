package client

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"io"
	"strconv"
	"sync"
	"testing"
	"time"

	"parley/protocol"
)

// fakeServer is a small in-memory Parley server speaking through fakeConns,
// for unit tests of the client's logic (hello, auth, join with since,
// say with nonces, history, conversations). It is not the real server.
type fakeServer struct {
	t  *testing.T
	mu sync.Mutex

	rooms    map[string]*fakeRoom
	nonces   map[string]*protocol.Frame
	sessions map[*fakeConn]string // session → user name
	says     int                  // say requests that created a message
	joinCap  int                  // messages a join with since returns at most (0: all)
	// failJoins joins with since are answered err failCode (the session
	// stays in the room, as a real server's may); resumes counts joins
	// with since.
	failJoins int
	failCode  protocol.Code
	resumes   int
	// dropAnswer, when it returns true for a request, makes the server
	// process it and then kill the session instead of answering.
	dropAnswer func(f *protocol.Frame) bool
	challenge  []byte
	dials      int
	refuse     bool // Dial fails
}

type fakeRoom struct {
	name  string
	seq   int64
	epoch string
	msgs  []*protocol.Frame
}

func newFakeServer(t *testing.T) *fakeServer {
	return &fakeServer{t: t, rooms: map[string]*fakeRoom{}, nonces: map[string]*protocol.Frame{}, sessions: map[*fakeConn]string{}}
}

func (s *fakeServer) Dial(ctx context.Context) (Conn, error) {
	s.mu.Lock()
	s.dials++
	refuse := s.refuse
	s.mu.Unlock()
	if refuse {
		return nil, errors.New("fake: connection refused")
	}
	c := &fakeConn{srv: s, in: make(chan []byte, 4096), out: make(chan []byte, 4096), done: make(chan struct{})}
	go s.serve(c)
	return c, nil
}

// post adds a message to a room as another user, sending it to members.
func (s *fakeServer) post(room, from, text string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.roomLocked(room)
	r.seq++
	m := &protocol.Frame{Type: protocol.TypeMsg, Room: r.name, From: from, Text: text, Seq: protocol.Int64(r.seq), TS: protocol.FormatTime(time.Now())}
	r.msgs = append(r.msgs, m)
	for c := range s.sessions {
		c.send(m)
	}
	return r.seq
}

func (s *fakeServer) roomLocked(name string) *fakeRoom {
	k := protocol.Fold(name)
	r := s.rooms[k]
	if r == nil {
		r = &fakeRoom{name: name, epoch: "e1"}
		s.rooms[k] = r
	}
	return r
}

// kill ends every session, as a server restart would.
func (s *fakeServer) kill(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.sessions {
		c.kill(err)
		delete(s.sessions, c)
	}
}

func (s *fakeServer) serve(c *fakeConn) {
	name := ""
	for {
		var b []byte
		select {
		case b = <-c.in:
		case <-c.done:
			return
		}
		f, err := protocol.Decode(b)
		if err != nil {
			s.t.Errorf("fake server: bad frame %q: %v", b, err)
			return
		}
		s.mu.Lock()
		ans := s.handleLocked(c, &name, f)
		drop := s.dropAnswer != nil && s.dropAnswer(f)
		if drop {
			s.dropAnswer = nil
			c.kill(errors.New("dropped"))
			delete(s.sessions, c)
			s.mu.Unlock()
			return
		}
		if ans != nil {
			ans.ID = f.ID
			c.send(ans)
		}
		s.mu.Unlock()
	}
}

func okFrame() *protocol.Frame { return &protocol.Frame{Type: protocol.TypeOK} }

func errFrame(code protocol.Code) *protocol.Frame {
	return &protocol.Frame{Type: protocol.TypeErr, Code: code, Message: string(code)}
}

func (s *fakeServer) handleLocked(c *fakeConn, name *string, f *protocol.Frame) *protocol.Frame {
	info := &protocol.ServerInfo{Name: "fake", Version: "0", Limits: protocol.DefaultLimits()}
	switch f.Type {
	case protocol.TypeHello:
		if f.Key != "" {
			s.challenge = []byte("0123456789abcdef0123456789abcdef")
			c.key, _ = base64.RawURLEncoding.DecodeString(f.Key)
			c.pendingName = f.Name
			return &protocol.Frame{Type: protocol.TypeOK, Challenge: base64.RawURLEncoding.EncodeToString(s.challenge)}
		}
		*name = f.Name
		s.sessions[c] = f.Name
		return &protocol.Frame{Type: protocol.TypeOK, Name: f.Name, Server: info}
	case protocol.TypeAuth:
		sig, _ := base64.RawURLEncoding.DecodeString(f.Sig)
		if !ed25519.Verify(c.key, s.challenge, sig) {
			return errFrame(protocol.CodeUnauthorized)
		}
		*name = c.pendingName
		s.sessions[c] = *name
		return &protocol.Frame{Type: protocol.TypeOK, Name: *name, Server: info}
	case protocol.TypeJoin:
		if f.Since != nil {
			s.resumes++
			if s.failJoins > 0 {
				s.failJoins--
				return errFrame(s.failCode)
			}
		}
		r := s.roomLocked(f.Room)
		ok := &protocol.Frame{Type: protocol.TypeOK, Room: r.name, Seq: protocol.Int64(r.seq), Epoch: r.epoch, Members: []string{*name}}
		var hist []*protocol.Frame
		for _, m := range r.msgs {
			if f.Since == nil || *m.Seq > *f.Since {
				hist = append(hist, m)
			}
		}
		if s.joinCap > 0 && len(hist) > s.joinCap {
			hist, ok.Truncated = hist[len(hist)-s.joinCap:], true
		}
		ok.History = hist
		return ok
	case protocol.TypeHistory:
		r := s.roomLocked(f.Room)
		var hist []*protocol.Frame
		for _, m := range r.msgs {
			if f.Since != nil && *m.Seq > *f.Since && len(hist) < max(f.Limit, 1) {
				hist = append(hist, m)
			}
		}
		return &protocol.Frame{Type: protocol.TypeOK, History: hist}
	case protocol.TypeSay:
		if f.Nonce != "" {
			if prev := s.nonces[f.Nonce]; prev != nil {
				cp := *prev
				return &cp
			}
		}
		r := s.roomLocked(f.Room)
		r.seq++
		s.says++
		ts := protocol.FormatTime(time.Now())
		m := &protocol.Frame{Type: protocol.TypeMsg, Room: r.name, From: *name, Text: f.Text, Seq: protocol.Int64(r.seq), TS: ts}
		r.msgs = append(r.msgs, m)
		for oc := range s.sessions {
			if oc != c {
				oc.send(m)
			}
		}
		ok := &protocol.Frame{Type: protocol.TypeOK, Seq: protocol.Int64(r.seq), TS: ts}
		if f.Nonce != "" {
			s.nonces[f.Nonce] = ok
		}
		return ok
	case protocol.TypeConversations:
		return &protocol.Frame{Type: protocol.TypeOK}
	}
	return errFrame(protocol.CodeBadRequest)
}

// fakeConn is the client's end of a fake session.
type fakeConn struct {
	srv         *fakeServer
	in, out     chan []byte
	done        chan struct{}
	once        sync.Once
	err         error
	key         []byte
	pendingName string
}

func (c *fakeConn) send(f *protocol.Frame) {
	b, err := protocol.Encode(f)
	if err != nil {
		c.srv.t.Errorf("fake server: encode: %v", err)
		return
	}
	select {
	case c.out <- b[:len(b)-1]:
	case <-c.done:
	}
}

func (c *fakeConn) kill(err error) {
	c.once.Do(func() { c.err = err; close(c.done) })
}

func (c *fakeConn) Send(frames ...[]byte) error {
	for _, f := range frames {
		select {
		case c.in <- append([]byte(nil), f...):
		case <-c.done:
			return c.err
		}
	}
	return nil
}

func (c *fakeConn) Recv() ([]byte, bool, error) {
	select {
	case b := <-c.out:
		return b, false, nil
	case <-c.done:
		return nil, false, c.err
	}
}

func (c *fakeConn) Upload(ctx context.Context, header []byte, body io.Reader, size int64) error {
	return errors.New("fake: no uploads")
}

func (c *fakeConn) Fetch(ctx context.Context, req []byte) (io.ReadCloser, error) {
	return nil, ErrFetchOnControl
}

func (c *fakeConn) SendDatagram(frame []byte) error { return c.Send(frame) }

func (c *fakeConn) RecvDatagram(ctx context.Context) ([]byte, error) {
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.done:
		return nil, c.err
	}
}

func (c *fakeConn) Close(code protocol.CloseCode, reason string) error {
	c.kill(errors.New("closed by client"))
	c.srv.mu.Lock()
	delete(c.srv.sessions, c)
	c.srv.mu.Unlock()
	return nil
}

func (c *fakeConn) Kind() string { return "fake" }

// fastBackoff keeps reconnects quick in tests.
var fastBackoff = Backoff{Min: time.Millisecond, Max: 5 * time.Millisecond}

func dialFake(t *testing.T, srv *fakeServer, name string) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, Config{Name: name, Dialer: srv, Backoff: fastBackoff})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// nextEvent waits for the next event of one of kinds, skipping others.
func nextEvent(t *testing.T, c *Client, kinds ...EventKind) Event {
	t.Helper()
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	for {
		select {
		case ev, ok := <-c.Events():
			if !ok {
				t.Fatalf("events closed while waiting for %v", kinds)
			}
			for _, k := range kinds {
				if ev.Kind == k {
					return ev
				}
			}
		case <-timer.C:
			t.Fatalf("no %v event within 10 s", kinds)
		}
	}
}

// waitState waits for a state event with st.
func waitState(t *testing.T, c *Client, st State) {
	t.Helper()
	for {
		if ev := nextEvent(t, c, EventState); ev.State == st {
			return
		}
	}
}

func texts(n int, prefix string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + strconv.Itoa(i)
	}
	return out
}
