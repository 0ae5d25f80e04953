//go:build !js

package client_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"parley/client"
	"parley/internal/certs"
	"parley/internal/sqlitestore"
	"parley/server"
)

// crashServerEnv, when set, makes the test binary a server process (see
// TestMain): its value is the data directory (certificate, QUIC reset key,
// SQLite store), crashServerAddrEnv the address to listen on.
const (
	crashServerEnv     = "PARLEY_CLIENT_TEST_CRASH_SERVER"
	crashServerAddrEnv = "PARLEY_CLIENT_TEST_CRASH_ADDR"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashServerEnv); dir != "" {
		if err := runCrashServer(dir, os.Getenv(crashServerAddrEnv)); err != nil {
			fmt.Fprintln(os.Stderr, "crash server:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runCrashServer is the server process of the crash test, as `parley
// serve --data` runs it: its certificate, QUIC stateless reset key and
// store are kept in dir, so that a restarted process presents the same
// certificate, resets the previous run's QUIC connections and has the same
// history. It prints "ready <addr> <hash>" and serves until it is killed.
func runCrashServer(dir, addr string) error {
	key, err := os.ReadFile(filepath.Join(dir, "quic-reset.key"))
	if err != nil || len(key) != 32 {
		return fmt.Errorf("reset key: %v (%d bytes)", err, len(key))
	}
	var rk [32]byte
	copy(rk[:], key)
	p, err := certs.Persistent(filepath.Join(dir, "certs"), nil)
	if err != nil {
		return err
	}
	st, err := sqlitestore.Open(filepath.Join(dir, "db"), sqlitestore.Options{})
	if err != nil {
		return err
	}
	srv, err := server.New(server.Config{TLS: p.TLSConfig(), Store: st, StatelessResetKey: &rk, Logger: quietLogger(), Rate: -1, BroadcastRate: -1})
	if err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err = srv.Listen(addr); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond) // polling a port freed by the killed process
	}
	fmt.Printf("ready %s %s\n", srv.Addr(), srv.CertHash())
	return srv.Serve(context.Background())
}

// startCrashServer starts the server process on addr with the data in dir
// and returns its address, certificate hash and a kill function (SIGKILL,
// then wait), also run at cleanup.
func startCrashServer(t *testing.T, dir, addr string) (string, string, func()) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), crashServerEnv+"="+dir, crashServerAddrEnv+"="+addr)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	kill := func() {
		once.Do(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
	}
	t.Cleanup(kill)
	ready := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		ready <- line
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case line := <-ready:
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != "ready" {
			t.Fatalf("the server process said %q", line)
		}
		return f[1], f[2], kill
	case <-time.After(60 * time.Second):
		t.Fatal("the server process did not get ready")
	}
	return "", "", nil
}

// TestListeningClientNoticesCrashedServer: a server process (reset key,
// certificate and store kept in its data directory) is SIGKILLed and
// started again on the same port. A WebTransport client that only listens
// sends nothing but its pings: the first ping after the restart is large
// enough to draw a stateless reset, so the client loses the session by a
// reset (not by its idle timeout), reconnects over WebTransport, resumes
// its room and receives what is said there after the restart.
func TestListeningClientNoticesCrashedServer(t *testing.T) {
	dir := t.TempDir()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "quic-reset.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	addr, hash, kill := startCrashServer(t, dir, "127.0.0.1:0")
	if _, _, err := net.SplitHostPort(addr); err != nil {
		t.Fatalf("server address %q: %v", addr, err)
	}
	ctx := ctxT(t)
	dialWT := func(name string) *client.Client {
		t.Helper()
		d, err := client.NewWebTransportDialer(addr, hash)
		if err != nil {
			t.Fatal(err)
		}
		c, err := client.Dial(ctx, client.Config{
			Server: addr, CertHash: hash, Name: name, Dialer: d, Logger: quietLogger(),
			Backoff:   client.Backoff{Min: 10 * time.Millisecond, Max: 100 * time.Millisecond},
			PingEvery: 100 * time.Millisecond,
		})
		if err != nil {
			t.Fatalf("dial %s: %v", name, err)
		}
		t.Cleanup(func() { c.Close() })
		if _, err := c.Join(ctx, "r"); err != nil {
			t.Fatal(err)
		}
		return c
	}
	listener := dialWT("Listener")
	sender := dialWT("Sender")
	if _, err := sender.Say(ctx, "r", "before"); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, listener, client.EventMessage); ev.Message.Text != "before" {
		t.Fatalf("listener got %+v", ev.Message)
	}
	sender.Close()

	kill()
	killed := time.Now()
	addr2, hash2, _ := startCrashServer(t, dir, addr)
	restarted := time.Now()
	if addr2 != addr || hash2 != hash {
		t.Fatalf("the restarted server is %s with certificate %s, want %s with %s", addr2, hash2, addr, hash)
	}

	// The listener sends nothing but pings: it must notice on its own.
	lost := next(t, listener, client.EventState)
	if lost.State != client.StateReconnecting {
		t.Fatalf("listener state %+v, want reconnecting", lost)
	}
	noticed := time.Now()
	var reset *quic.StatelessResetError
	if !errors.As(lost.Err, &reset) {
		t.Fatalf("the session was lost by %v (%T), want a QUIC stateless reset", lost.Err, lost.Err)
	}
	if ev := next(t, listener, client.EventState); ev.State != client.StateConnected || ev.Transport != "webtransport" {
		t.Fatalf("listener state %+v, want connected over webtransport", ev)
	}
	t.Logf("killed → restarted %v → listener noticed %v after the restart, reconnected %v after",
		restarted.Sub(killed).Round(time.Millisecond), noticed.Sub(restarted).Round(time.Millisecond), time.Since(restarted).Round(time.Millisecond))

	sender = dialWT("Sender")
	if s, err := sender.Say(ctx, "r", "after"); err != nil || s.Seq != 2 {
		t.Fatalf("say after the restart: %+v, %v; want seq 2", s, err)
	}
	// A second loss would show as a state event before the message.
	if ev := next(t, listener, client.EventMessage, client.EventEpoch, client.EventState); ev.Kind != client.EventMessage || ev.Message.Text != "after" || ev.Message.Seq != 2 {
		t.Fatalf("listener got %+v (%+v), want the message said after the restart", ev, ev.Message)
	}
}

// countingDialer dials through a WebTransportDialer and counts the pings
// its Conns send (it keeps them pingers by delegating Ping).
type countingDialer struct {
	inner *client.WebTransportDialer
	mu    sync.Mutex
	pings int
}

type countingConn struct {
	client.Conn
	d *countingDialer
}

func (c countingConn) Ping() error {
	c.d.mu.Lock()
	c.d.pings++
	c.d.mu.Unlock()
	return c.Conn.(interface{ Ping() error }).Ping()
}

func (d *countingDialer) Dial(ctx context.Context) (client.Conn, error) {
	c, err := d.inner.Dial(ctx)
	if err != nil {
		return nil, err
	}
	if _, ok := c.(interface{ Ping() error }); !ok {
		return nil, fmt.Errorf("the WebTransport Conn %T sends no pings", c)
	}
	return countingConn{Conn: c, d: d}, nil
}

func (d *countingDialer) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.pings
}

// TestPingsAreIgnoredByTheServer: a client pinging every 10 ms sends its
// pings on the real server, which ignores them: no answer, no error event,
// no bad datagram counted, and the session goes on.
func TestPingsAreIgnoredByTheServer(t *testing.T) {
	ts := startServer(t, "127.0.0.1:0", server.Config{})
	inner, err := client.NewWebTransportDialer(ts.addr, ts.hash)
	if err != nil {
		t.Fatal(err)
	}
	d := &countingDialer{inner: inner}
	c := ts.dial(t, "Pinger", func(cfg *client.Config) { cfg.Dialer, cfg.PingEvery = d, 10*time.Millisecond })
	ctx := ctxT(t)
	if _, err := c.Join(ctx, "r"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for d.count() < 10 {
		if time.Now().After(deadline) {
			t.Fatalf("%d pings sent in 15 s, want 10", d.count())
		}
		time.Sleep(10 * time.Millisecond) // polling the count
	}
	if s, err := c.Say(ctx, "r", "still here"); err != nil || s.Seq != 1 {
		t.Fatalf("say after pings: %+v, %v", s, err)
	}
	if n := ts.srv.Metrics().Drops["bad_datagram"]; n != 0 {
		t.Fatalf("the server counted %d bad datagrams", n)
	}
	for {
		select {
		case ev := <-c.Events():
			if ev.Kind == client.EventError || (ev.Kind == client.EventState && ev.State != client.StateConnected) {
				t.Fatalf("event %+v while pinging", ev)
			}
			continue
		default:
		}
		break
	}
}
