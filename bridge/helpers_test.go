package bridge

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"image"
	"image/color"
	"image/png"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"parley/client"
	"parley/internal/certs"
	"parley/protocol"
	"parley/server"
)

// testServer is a real server on 127.0.0.1 that can be restarted on the
// same port with the same store and certificate.
type testServer struct {
	t      *testing.T
	cfg    server.Config
	srv    *server.Server
	addr   string
	hash   string
	cancel context.CancelFunc
	done   chan error
}

func runServer(t *testing.T, limits protocol.Limits) *testServer {
	t.Helper()
	p, err := certs.SelfSigned([]string{"127.0.0.1", "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{t: t, hash: p.Hash(), cfg: server.Config{
		Name: "test", Limits: limits, Store: server.NewMemoryStore(), Logger: slog.New(slog.DiscardHandler),
		TLS: &tls.Config{GetCertificate: p.GetCertificate},
	}}
	ts.start("127.0.0.1:0")
	t.Cleanup(ts.stop)
	return ts
}

func (ts *testServer) start(addr string) {
	ts.t.Helper()
	srv, err := server.New(ts.cfg)
	if err != nil {
		ts.t.Fatal(err)
	}
	// A restart binds the same port again; the old sockets may take a
	// moment to go, so retry until a deadline.
	deadline := time.Now().Add(5 * time.Second)
	for {
		err = srv.Listen(addr)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			ts.t.Fatalf("listen %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond) // polling a port, not synchronising goroutines
	}
	ts.srv, ts.addr = srv, srv.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	ts.cancel, ts.done = cancel, make(chan error, 1)
	go func() { ts.done <- srv.Serve(ctx) }()
}

func (ts *testServer) stop() {
	if ts.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ts.srv.Shutdown(ctx); err != nil {
		ts.t.Errorf("shutdown: %v", err)
	}
	ts.cancel()
	<-ts.done
	ts.srv = nil
}

func (ts *testServer) restart() {
	ts.stop()
	ts.start(ts.addr)
}

// recorder captures emitted event batches.
type recorder struct {
	mu      sync.Mutex
	events  []Event
	batches int
	maxLen  int
	unread  []int
	changed chan struct{}
}

func newRecorder() *recorder { return &recorder{changed: make(chan struct{}, 1)} }

func (r *recorder) emit(name string, data any) {
	batch, ok := data.([]Event)
	if name != EventName || !ok {
		panic("unexpected emit " + name)
	}
	r.mu.Lock()
	r.events = append(r.events, batch...)
	r.batches++
	r.maxLen = max(r.maxLen, len(batch))
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *recorder) onUnread(n int) {
	r.mu.Lock()
	r.unread = append(r.unread, n)
	r.mu.Unlock()
}

// waitFor waits until pred holds for one of the recorded events and
// returns it.
func (r *recorder) waitFor(t *testing.T, what string, pred func(Event) bool) Event {
	t.Helper()
	deadline := time.After(15 * time.Second)
	seen := 0
	for {
		r.mu.Lock()
		for ; seen < len(r.events); seen++ {
			if pred(r.events[seen]) {
				ev := r.events[seen]
				r.mu.Unlock()
				return ev
			}
		}
		r.mu.Unlock()
		select {
		case <-r.changed:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// count returns how many recorded events satisfy pred.
func (r *recorder) count(pred func(Event) bool) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, ev := range r.events {
		if pred(ev) {
			n++
		}
	}
	return n
}

func newBridge(t *testing.T) (*Bridge, *recorder) {
	t.Helper()
	rec := newRecorder()
	b := New(Options{Emit: rec.emit, OnUnread: rec.onUnread, ClientName: "parley-bridge-test/1"})
	t.Cleanup(func() { b.Close() })
	return b, rec
}

// goClient connects a plain Go client as name and joins room.
func goClient(t *testing.T, ts *testServer, name, room string) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Config{Server: ts.addr, CertHash: ts.hash, Name: name, Backoff: client.Backoff{Min: 20 * time.Millisecond, Max: 200 * time.Millisecond}})
	if err != nil {
		t.Fatalf("dial %s: %v", name, err)
	}
	t.Cleanup(func() { c.Close() })
	if room != "" {
		if _, err := c.Join(ctx, room); err != nil {
			t.Fatalf("%s join %s: %v", name, room, err)
		}
	}
	return c
}

// waitClient waits for an event of c that satisfies pred.
func waitClient(t *testing.T, c *client.Client, what string, pred func(client.Event) bool) client.Event {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case ev, ok := <-c.Events():
			if !ok {
				t.Fatalf("events closed waiting for %s", what)
			}
			if pred(ev) {
				return ev
			}
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// testPNG returns a small PNG, padded with trailing bytes to at least size.
func testPNG(t *testing.T, w, h int, pad int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x * 7), uint8(y * 5), 200, 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if pad > buf.Len() {
		buf.Write(make([]byte, pad-buf.Len()))
	}
	return buf.Bytes()
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func isMsg(conv, text string) func(Event) bool {
	return func(ev Event) bool {
		return ev.Kind == EvMessage && ev.Message != nil && ev.Message.Conv == conv && ev.Message.Text == text
	}
}

// guestGone waits until the server is done with a guest's session: its
// private chat with user is dropped from the store, which the server does
// after it freed the guest's name (the "left" notice comes before both).
func guestGone(t *testing.T, ts *testServer, user, guest string) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		convs, err := ts.cfg.Store.Conversations(t.Context(), protocol.Fold(user))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(convs, func(c server.ConvState) bool { return protocol.Fold(c.Name) == protocol.Fold(guest) }) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server kept %s's private chat with %s", guest, user)
		}
	}
}
