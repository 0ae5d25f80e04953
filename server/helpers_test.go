package server_test

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/quic-go/quic-go"
	"github.com/quic-go/webtransport-go"

	"parley/internal/certs"
	"parley/protocol"
	"parley/server"
)

// waitTimeout bounds every wait of a test on the server.
const waitTimeout = 10 * time.Second

// testServer is a running server on loopback.
type testServer struct {
	srv  *server.Server
	addr string
	hash string
}

// runServer starts a server on 127.0.0.1:0 and returns its address, its
// certificate hash and a cleanup that shuts it down (also registered with t.Cleanup).
func runServer(t testing.TB, cfg server.Config) (addr, hash string, cleanup func()) {
	ts := startServer(t, cfg)
	return ts.addr, ts.hash, func() { ts.shutdown(t) }
}

func startServer(t testing.TB, cfg server.Config) *testServer {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background()) }()
	ts := &testServer{srv: srv, addr: srv.Addr().String(), hash: srv.CertHash()}
	for deadline := time.Now().Add(waitTimeout); !srv.Ready(); {
		if time.Now().After(deadline) {
			t.Fatal("server not ready")
		}
		time.Sleep(time.Millisecond) // polling with a deadline
	}
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { ts.shutdown(t) }) })
	_ = served
	return ts
}

func (ts *testServer) shutdown(t testing.TB) {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := ts.srv.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

// pinned returns a TLS client config that accepts only the certificate with hash.
func pinned(hash string) *tls.Config {
	return &tls.Config{
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 || certs.HashOf(cs.PeerCertificates[0].Raw) != hash {
				return errors.New("certificate hash mismatch")
			}
			return nil
		},
	}
}

var _ = x509.ParseCertificate

// inMsg is one message from the server's control channel.
type inMsg struct {
	text   []byte
	binary bool
}

// rawClient is a test client that reads and writes frames directly, so
// that malformed input can be sent.
type rawClient struct {
	t    testing.TB
	kind string
	name string

	in      chan inMsg
	dgrams  chan []byte
	readErr error
	gone    chan struct{} // closed when the read loop ended

	sess *webtransport.Session
	ctrl *webtransport.Stream
	ws   *websocket.Conn

	nextID int64
	events []*protocol.Frame // events read while waiting for an answer

	gate sync.Mutex // held by a test to stop the read loop (a slow client)
}

// dialWT opens a raw WebTransport session.
func dialWT(t testing.TB, ts *testServer) *rawClient {
	t.Helper()
	c, err := tryDialWT(ts.addr, ts.hash, nil)
	if err != nil {
		t.Fatalf("dial webtransport: %v", err)
	}
	c.t = t
	t.Cleanup(c.close)
	return c
}

func tryDialWT(addr, hash string, hdr http.Header) (*rawClient, error) {
	tr := &webtransport.Transport{
		TLSClientConfig: pinned(hash),
		QUICConfig:      &quic.Config{EnableDatagrams: true, EnableStreamResetPartialDelivery: true, MaxIdleTimeout: 30 * time.Second},
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	rsp, sess, err := tr.Dial(ctx, "https://"+addr+"/parley", hdr)
	if err != nil {
		if rsp != nil {
			return nil, fmt.Errorf("status %d: %w", rsp.StatusCode, err)
		}
		return nil, err
	}
	ctrl, err := sess.OpenStreamSync(ctx)
	if err != nil {
		return nil, err
	}
	c := &rawClient{kind: "webtransport", in: make(chan inMsg, 100000), dgrams: make(chan []byte, 1000), gone: make(chan struct{}), sess: sess, ctrl: ctrl}
	go func() {
		defer close(c.gone)
		r := protocol.NewReader(ctrl)
		for {
			c.gate.Lock()
			c.gate.Unlock()
			b, err := r.Next()
			if err != nil {
				c.readErr = err
				return
			}
			c.in <- inMsg{text: append([]byte(nil), b...)}
		}
	}()
	go func() {
		for {
			b, err := sess.ReceiveDatagram(context.Background())
			if err != nil {
				return
			}
			select {
			case c.dgrams <- b:
			default:
			}
		}
	}()
	return c, nil
}

// dialWS opens a raw WebSocket session over TLS.
func dialWS(t testing.TB, ts *testServer) *rawClient {
	t.Helper()
	c, err := tryDialWS(ts.addr, ts.hash, nil)
	if err != nil {
		t.Fatalf("dial websocket: %v", err)
	}
	c.t = t
	t.Cleanup(c.close)
	return c
}

func tryDialWS(addr, hash string, hdr http.Header) (*rawClient, error) {
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: pinned(hash)}}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	ws, rsp, err := websocket.Dial(ctx, "wss://"+addr+"/parley", &websocket.DialOptions{HTTPClient: hc, HTTPHeader: hdr})
	if err != nil {
		if rsp != nil {
			return nil, fmt.Errorf("status %d: %w", rsp.StatusCode, err)
		}
		return nil, err
	}
	return wsClient(ws, "websocket"), nil
}

// dialInProcess opens a raw WebSocket session over DialInProcess.
func dialInProcess(t testing.TB, srv *server.Server) *rawClient {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return srv.DialInProcess(ctx)
	}}}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, server.InProcessURL, &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		t.Fatalf("dial in-process: %v", err)
	}
	c := wsClient(ws, "inprocess")
	c.t = t
	t.Cleanup(c.close)
	return c
}

func wsClient(ws *websocket.Conn, kind string) *rawClient {
	ws.SetReadLimit(-1)
	c := &rawClient{kind: kind, in: make(chan inMsg, 100000), gone: make(chan struct{}), ws: ws}
	go func() {
		defer close(c.gone)
		for {
			typ, b, err := ws.Read(context.Background())
			if err != nil {
				c.readErr = err
				return
			}
			c.in <- inMsg{text: b, binary: typ == websocket.MessageBinary}
		}
	}()
	return c
}

func (c *rawClient) close() {
	if c.sess != nil {
		c.sess.CloseWithError(0, "")
	}
	if c.ws != nil {
		c.ws.CloseNow()
	}
	<-c.gone
}

// sendRaw sends one frame's JSON text (no line feed).
func (c *rawClient) sendRaw(s string) {
	c.t.Helper()
	var err error
	if c.ws != nil {
		err = c.ws.Write(context.Background(), websocket.MessageText, []byte(s))
	} else {
		_, err = c.ctrl.Write([]byte(s + "\n"))
	}
	if err != nil {
		c.t.Fatalf("%s: send: %v", c.name, err)
	}
}

// send sends a frame built from fields (type first), with a fresh id unless
// fields has one or id is -1; it returns the id used.
func (c *rawClient) send(f map[string]any) int64 {
	c.t.Helper()
	if _, ok := f["id"]; !ok {
		c.nextID++
		f["id"] = c.nextID
	}
	b, err := json.Marshal(f)
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(string(b))
	id, _ := f["id"].(int64)
	return id
}

// next returns the next message from the server (answers and events), failing after waitTimeout.
func (c *rawClient) nextMsg() inMsg {
	c.t.Helper()
	select {
	case m := <-c.in:
		return m
	case <-time.After(waitTimeout):
		c.t.Fatalf("%s: no frame from the server in %v", c.name, waitTimeout)
	}
	return inMsg{}
}

func (c *rawClient) next() *protocol.Frame {
	c.t.Helper()
	m := c.nextMsg()
	if m.binary {
		c.t.Fatalf("%s: unexpected binary message", c.name)
	}
	f := new(protocol.Frame)
	if err := json.Unmarshal(m.text, f); err != nil {
		c.t.Fatalf("%s: bad frame %q: %v", c.name, m.text, err)
	}
	return f
}

// answer waits for the answer to id, keeping events for event().
func (c *rawClient) answer(id int64) *protocol.Frame {
	c.t.Helper()
	for {
		f := c.next()
		if f.Type == protocol.TypeOK || f.Type == protocol.TypeErr {
			if f.ID != id {
				c.t.Fatalf("%s: answer for id %d while waiting for %d: %+v", c.name, f.ID, id, f)
			}
			return f
		}
		c.events = append(c.events, f)
	}
}

// req sends a request and returns its answer.
func (c *rawClient) req(f map[string]any) *protocol.Frame {
	c.t.Helper()
	return c.answer(c.send(f))
}

// ok sends a request and fails unless it is answered ok.
func (c *rawClient) ok(f map[string]any) *protocol.Frame {
	c.t.Helper()
	a := c.req(f)
	if a.Type != protocol.TypeOK {
		c.t.Fatalf("%s: %v answered %s %s: %s", c.name, f["type"], a.Type, a.Code, a.Message)
	}
	return a
}

// fails sends a request and fails unless it is answered err with code.
func (c *rawClient) fails(code protocol.Code, f map[string]any) *protocol.Frame {
	c.t.Helper()
	a := c.req(f)
	if a.Type != protocol.TypeErr || a.Code != code {
		c.t.Fatalf("%s: %v answered %s %q (%s), want err %s", c.name, f["type"], a.Type, a.Code, a.Message, code)
	}
	return a
}

// event returns the next event (kept ones first).
func (c *rawClient) event() *protocol.Frame {
	c.t.Helper()
	if len(c.events) > 0 {
		f := c.events[0]
		c.events = c.events[1:]
		return f
	}
	f := c.next()
	if f.ID != 0 {
		c.t.Fatalf("%s: got answer %+v, want an event", c.name, f)
	}
	return f
}

// eventOf returns the next event, failing unless it has type typ.
func (c *rawClient) eventOf(typ string) *protocol.Frame {
	c.t.Helper()
	f := c.event()
	if f.Type != typ {
		c.t.Fatalf("%s: event %+v, want %s", c.name, f, typ)
	}
	return f
}

// quiet checks that no event is pending, after a round trip through the
// server (a users request answered means everything before it was written).
func (c *rawClient) quiet() {
	c.t.Helper()
	id := c.send(map[string]any{"type": "rooms"})
	a := c.answer(id)
	if a.Type != protocol.TypeOK {
		c.t.Fatalf("%s: rooms: %+v", c.name, a)
	}
	if len(c.events) > 0 {
		c.t.Fatalf("%s: unexpected events %s", c.name, describe(c.events))
	}
}

// aliceAndGuest opens two sessions with dial: Alice, an identity, and
// Guest, a guest; both join lobby, and Alice has seen Guest's join.
func aliceAndGuest(t testing.TB, dial func() *rawClient) (a, g *rawClient) {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	a = dial()
	a.login("Alice", priv, false)
	a.join("lobby")
	g = dial()
	g.hello("Guest")
	g.join("lobby")
	a.eventOf(protocol.TypeJoined)
	return a, g
}

// datagram returns the next datagram the client received, failing the
// test after waitTimeout instead of hanging the run.
func (c *rawClient) datagram() []byte {
	c.t.Helper()
	select {
	case d := <-c.dgrams:
		return d
	case <-time.After(waitTimeout):
		c.t.Fatalf("%s: no datagram within %v", c.name, waitTimeout)
		return nil
	}
}

func describe(fs []*protocol.Frame) string {
	var b strings.Builder
	for _, f := range fs {
		j, _ := json.Marshal(f)
		b.Write(j)
		b.WriteByte(' ')
	}
	return b.String()
}

// hello says hello as a guest.
func (c *rawClient) hello(name string) *protocol.Frame {
	c.t.Helper()
	c.name = name
	return c.ok(map[string]any{"type": "hello", "v": 1, "name": name})
}

func (c *rawClient) join(room string) *protocol.Frame {
	c.t.Helper()
	return c.ok(map[string]any{"type": "join", "room": room})
}

// closeCode waits for the server to close the session and returns the code.
func (c *rawClient) closeCode() uint32 {
	c.t.Helper()
	if c.sess != nil {
		select {
		case <-c.sess.Context().Done():
		case <-time.After(waitTimeout):
			c.t.Fatalf("%s: session not closed", c.name)
		}
		// The session's close error is what its stream operations return.
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		_, err := c.sess.AcceptStream(ctx)
		var se *webtransport.SessionError
		if errors.As(err, &se) {
			return uint32(se.ErrorCode)
		}
		c.t.Fatalf("%s: session ended with %v", c.name, err)
	}
	select {
	case <-c.gone:
	case <-time.After(waitTimeout):
		c.t.Fatalf("%s: websocket not closed", c.name)
	}
	return uint32(websocket.CloseStatus(c.readErr))
}

// drainUntilClosed reads and drops messages until the read loop ends.
func (c *rawClient) drainUntilClosed() {
	for {
		select {
		case <-c.in:
		case <-c.gone:
			return
		}
	}
}

// upload sends an image upload: over WebTransport a unidirectional stream,
// over WebSocket one binary message.
func (c *rawClient) upload(header map[string]any, body []byte) int64 {
	c.t.Helper()
	if _, ok := header["id"]; !ok {
		c.nextID++
		header["id"] = c.nextID
	}
	h, _ := json.Marshal(header)
	msg := append(append(h, '\n'), body...)
	if c.ws != nil {
		if err := c.ws.Write(context.Background(), websocket.MessageBinary, msg); err != nil {
			c.t.Fatal(err)
		}
	} else {
		str, err := c.sess.OpenUniStreamSync(context.Background())
		if err != nil {
			c.t.Fatal(err)
		}
		if _, err := str.Write(msg); err != nil {
			c.t.Fatal(err)
		}
		str.Close()
	}
	id, _ := header["id"].(int64)
	return id
}

// fetch fetches an image's bytes: header frame and body.
func (c *rawClient) fetch(image string) (*protocol.Frame, []byte) {
	c.t.Helper()
	if c.ws != nil {
		id := c.send(map[string]any{"type": "fetch", "image": image})
		for {
			m := c.nextMsg()
			if !m.binary {
				f := new(protocol.Frame)
				json.Unmarshal(m.text, f)
				if f.ID == id {
					return f, nil
				}
				c.events = append(c.events, f)
				continue
			}
			head, body, _ := strings.Cut(string(m.text), "\n")
			f := new(protocol.Frame)
			if err := json.Unmarshal([]byte(head), f); err != nil {
				c.t.Fatal(err)
			}
			return f, []byte(body)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	str, err := c.sess.OpenStreamSync(ctx)
	if err != nil {
		c.t.Fatal(err)
	}
	str.Write([]byte(`{"type":"fetch","image":"` + image + `"}` + "\n"))
	br := bufio.NewReader(str)
	line, err := br.ReadBytes('\n')
	if err != nil {
		c.t.Fatalf("fetch: %v", err)
	}
	f := new(protocol.Frame)
	if err := json.Unmarshal(line, f); err != nil {
		c.t.Fatal(err)
	}
	body, _ := io.ReadAll(br)
	return f, body
}
