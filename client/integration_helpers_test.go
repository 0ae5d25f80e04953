//go:build !js

package client_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"parley/client"
	"parley/internal/certs"
	"parley/protocol"
	"parley/server"
)

// testServer is a real server on loopback.
type testServer struct {
	srv  *server.Server
	addr string // host:port, UDP and TCP
	hash string
	stop func()
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// testTLS is one self-signed certificate for a test, so that a restarted
// server presents the same one.
func testTLS(t testing.TB) *tls.Config {
	t.Helper()
	p, err := certs.SelfSigned(nil)
	if err != nil {
		t.Fatal(err)
	}
	return p.TLSConfig()
}

// startServer starts a real server listening on addr ("127.0.0.1:0" for
// any port). cfg's zero fields get test defaults (no rate limits).
func startServer(t testing.TB, addr string, cfg server.Config) *testServer {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	if cfg.Rate == 0 {
		cfg.Rate = -1
	}
	if cfg.BroadcastRate == 0 {
		cfg.BroadcastRate = -1
	}
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var lerr error
	for i := 0; i < 50; i++ { // a restart may find the port briefly busy
		if lerr = srv.Listen(addr); lerr == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if lerr != nil {
		t.Fatalf("listen %s: %v", addr, lerr)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ctx)
	}()
	ts := &testServer{srv: srv, addr: "127.0.0.1:" + strconv.Itoa(srv.Addr().(*net.UDPAddr).Port), hash: srv.CertHash()}
	stopped := false
	ts.stop = func() {
		if stopped {
			return
		}
		stopped = true
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		if err := srv.Shutdown(sctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		cancel()
		<-done
	}
	t.Cleanup(ts.stop)
	return ts
}

// dial connects a client to ts as name.
func (ts *testServer) dial(t testing.TB, name string, mod ...func(*client.Config)) *client.Client {
	t.Helper()
	cfg := client.Config{
		Server:   "https://" + ts.addr,
		CertHash: ts.hash,
		Name:     name,
		Logger:   quietLogger(),
		Backoff:  client.Backoff{Min: 20 * time.Millisecond, Max: 200 * time.Millisecond},
		// Tests that check the transport expect WebTransport: on a loaded
		// machine its handshake may take longer than the 3 s default.
		FallbackAfter: 10 * time.Second,
	}
	for _, m := range mod {
		m(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, cfg)
	if err != nil {
		t.Fatalf("dial %s: %v", name, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// ctxT returns a context for one test. Its deadline only guards against a
// hang: under -race on a 2-core CI machine running other packages' tests at
// once, the 16×200 test alone takes ~30 s.
func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// next waits for the next event of one of kinds, skipping the others.
func next(t testing.TB, c *client.Client, kinds ...client.EventKind) client.Event {
	t.Helper()
	timer := time.NewTimer(15 * time.Second)
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
			t.Fatalf("%s: no %v event within 15 s", c.Name(), kinds)
		}
	}
}

// none asserts that no message event reaches c until a marker message,
// sent by from to room after everything else, arrives.
func noMessageBefore(t testing.TB, c *client.Client, marker string) {
	t.Helper()
	for {
		ev := next(t, c, client.EventMessage)
		if ev.Message.Text == marker {
			return
		}
		t.Fatalf("%s received %+v, which was not for it", c.Name(), ev.Message)
	}
}

// pngBytes is a valid 1×1 PNG.
var pngBytes = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82")

var (
	_ = io.EOF
	_ = http.StatusOK
	_ = protocol.Version
)

func bytesReader(b []byte) io.Reader { return bytesNewReader(b) }

var bytesNewReader = bytes.NewReader
