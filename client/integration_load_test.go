//go:build !js

package client_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"

	"parley/client"
	"parley/server"
)

// TestSixteenClientsEveryMessageOnceInOrder: 16 members each say 200
// messages at once; every member receives every other member's messages
// exactly once, in seq order.
func TestSixteenClientsEveryMessageOnceInOrder(t *testing.T) {
	const clients, each = 16, 200
	ts := startServer(t, "127.0.0.1:0", server.Config{QueueSize: 1 << 16})
	ctx := ctxT(t)
	cs := make([]*client.Client, clients)
	for i := range cs {
		cs[i] = ts.dial(t, fmt.Sprintf("u%02d", i))
		if _, err := cs[i].Join(ctx, "load"); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	own := make([]map[int64]bool, clients)
	errs := make(chan error, clients*2)
	for i, c := range cs {
		own[i] = map[int64]bool{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < each; j++ {
				s, err := c.Say(ctx, "load", fmt.Sprintf("%d/%d", i, j))
				if err != nil {
					errs <- err
					return
				}
				own[i][s.Seq] = true
			}
		}()
	}
	got := make([][]int64, clients)
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for len(got[i]) < (clients-1)*each {
				select {
				case ev := <-c.Events():
					if ev.Kind == client.EventMessage {
						got[i] = append(got[i], ev.Message.Seq)
					}
				case <-ctx.Done():
					errs <- fmt.Errorf("client %d: %d of %d messages", i, len(got[i]), (clients-1)*each)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i := range cs {
		want := int64(1)
		for _, seq := range got[i] {
			for own[i][want] {
				want++
			}
			if seq != want {
				t.Fatalf("client %d: got seq %d, want %d (every message once, in order)", i, seq, want)
			}
			want++
		}
	}
}

// TestServerRestartMidStreamLosesNothing: a sender says 300 messages while
// the server restarts on the same port with the same store; the receiver
// gets each exactly once, in order, and every Say returns a distinct seq.
func TestServerRestartMidStreamLosesNothing(t *testing.T) {
	const total = 300
	store := server.NewMemoryStore()
	tlsConf := testTLS(t)
	ts := startServer(t, "127.0.0.1:0", server.Config{Store: store, TLS: tlsConf})
	ctx := ctxT(t)
	// The sender is an identity: its nonces are recognised across sessions
	// (a guest's only within one session, so a say whose ok the shutdown
	// cut off would be stored again on the next session).
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	a := ts.dial(t, "Sender", func(c *client.Config) { c.Identity = priv })
	b := ts.dial(t, "Receiver")
	for _, c := range []*client.Client{a, b} {
		if _, err := c.Join(ctx, "stream"); err != nil {
			t.Fatal(err)
		}
	}
	restarted := make(chan *testServer, 1)
	sendErr := make(chan error, 1)
	go func() {
		seqs := map[int64]bool{}
		for i := 0; i < total; i++ {
			if i == total/3 {
				go func() {
					ts.stop() // sessions closed with 4002
					restarted <- startServer(t, ts.addr, server.Config{Store: store, TLS: tlsConf})
				}()
			}
			s, err := a.Say(ctx, "stream", fmt.Sprint(i))
			if err != nil {
				sendErr <- fmt.Errorf("say %d: %w", i, err)
				return
			}
			if seqs[s.Seq] {
				sendErr <- fmt.Errorf("say %d: seq %d twice", i, s.Seq)
				return
			}
			seqs[s.Seq] = true
		}
		sendErr <- nil
	}()
	sawReconnect := false
	for want := int64(1); want <= total; {
		ev := next(t, b, client.EventMessage, client.EventState)
		if ev.Kind == client.EventState {
			sawReconnect = sawReconnect || ev.State == client.StateReconnecting
			continue
		}
		if ev.Message.Seq != want || ev.Message.Text != fmt.Sprint(want-1) {
			t.Fatalf("got seq %d %q, want seq %d", ev.Message.Seq, ev.Message.Text, want)
		}
		want++
	}
	if err := <-sendErr; err != nil {
		t.Fatal(err)
	}
	<-restarted
	if !sawReconnect {
		t.Fatal("the receiver never saw the session drop: the restart did not happen mid-stream")
	}
}

// TestWebSocketFallbackWhenUDPIsClosed: a server whose UDP side is not
// listening; the client ends on WebSocket and chats with a WebTransport user.
func TestWebSocketFallbackWhenUDPIsClosed(t *testing.T) {
	tlsConf := testTLS(t)
	ts := startServer(t, "127.0.0.1:0", server.Config{TLS: tlsConf})
	// The same server's handler on a TCP port whose UDP twin is closed.
	ln, err := tls.Listen("tcp", "127.0.0.1:0", tlsConf)
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: ts.srv.Handler(), ErrorLog: nil}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	tcpOnly := &testServer{addr: ln.Addr().(*net.TCPAddr).String(), hash: ts.hash}
	ctx := ctxT(t)
	ws := tcpOnly.dial(t, "Walled", func(c *client.Config) { c.FallbackAfter = 1e9 })
	if ws.Transport() != "websocket" {
		t.Fatalf("transport %q, want websocket", ws.Transport())
	}
	wt := ts.dial(t, "Open")
	for _, c := range []*client.Client{ws, wt} {
		if _, err := c.Join(ctx, "mixed"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := wt.Say(ctx, "mixed", "over quic"); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, ws, client.EventMessage); ev.Message.Text != "over quic" {
		t.Fatalf("websocket client got %+v", ev.Message)
	}
	img, err := ws.SendImage(ctx, "mixed", "", "dot.png", bytesReader(pngBytes), int64(len(pngBytes)))
	if err != nil {
		t.Fatalf("image over websocket: %v", err)
	}
	mime, data, err := ws.Fetch(ctx, img.Image.ID)
	if err != nil || mime != "image/png" || len(data) != len(pngBytes) {
		t.Fatalf("fetch over websocket: %q %d %v", mime, len(data), err)
	}
	if err := ws.Typing("mixed"); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, wt, client.EventTyping); ev.User != "Walled" {
		t.Fatalf("typing %+v", ev)
	}
}

// TestInProcessTransport: a host joins its own server without a network.
func TestInProcessTransport(t *testing.T) {
	srv, err := server.New(server.Config{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(sctx) }()
	t.Cleanup(func() {
		srv.Shutdown(context.Background())
		cancel()
		<-done
	})
	ctx := ctxT(t)
	c, err := client.Dial(ctx, client.Config{Name: "Host", Dialer: client.NewInProcessDialer(srv.DialInProcess), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Transport() != "inprocess" {
		t.Fatalf("transport %q", c.Transport())
	}
	if _, err := c.Join(ctx, "home"); err != nil {
		t.Fatal(err)
	}
	if s, err := c.Say(ctx, "home", "hi from the host"); err != nil || s.Seq != 1 {
		t.Fatalf("say: %+v %v", s, err)
	}
}
