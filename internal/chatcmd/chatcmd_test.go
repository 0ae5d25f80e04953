package chatcmd

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"parley/client"
	"parley/server"
)

func startServer(t *testing.T) (addr, hash string) {
	t.Helper()
	srv := startServerKeyed(t)
	return "127.0.0.1:" + strconv.Itoa(srv.Addr().(*net.UDPAddr).Port), srv.CertHash()
}

func startServerKeyed(t *testing.T) *server.Server {
	t.Helper()
	srv, err := server.New(server.Config{Logger: slog.New(slog.DiscardHandler), Rate: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ctx) }()
	t.Cleanup(func() {
		srv.Shutdown(context.Background())
		cancel()
		<-done
	})
	return srv
}

// TestChatKeyHash: --key-hash alone pins the server (the key_hash that
// parley serve logs outlives certificate renewals).
func TestChatKeyHash(t *testing.T) {
	srv := startServerKeyed(t)
	addr := "127.0.0.1:" + strconv.Itoa(srv.Addr().(*net.UDPAddr).Port)
	if len(srv.KeyHash()) != 64 {
		t.Fatalf("server KeyHash %q", srv.KeyHash())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"--server", addr, "--key-hash", srv.KeyHash(), "--name", "Keyed"}, strings.NewReader(""), outW, io.Discard)
		outW.Close()
	}()
	out := lines(outR)
	expect(t, out, "state connected ")
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}

	// Another key is refused.
	other := strings.Repeat("ab", 32)
	if err := Run(ctx, []string{"--server", addr, "--key-hash", other, "--name", "Keyed"}, strings.NewReader(""), io.Discard, io.Discard); err == nil {
		t.Fatal("a chat pinned to another key connected")
	}
}

// lines reads stdout lines into a channel.
func lines(r io.Reader) <-chan string {
	ch := make(chan string, 100)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			ch <- sc.Text()
		}
	}()
	return ch
}

func expect(t *testing.T, ch <-chan string, prefix string) string {
	t.Helper()
	timer := time.NewTimer(15 * time.Second)
	defer timer.Stop()
	var seen []string
	for {
		select {
		case l, ok := <-ch:
			if !ok {
				t.Fatalf("output ended waiting for %q; saw %q", prefix, seen)
			}
			if strings.HasPrefix(l, prefix) {
				return l
			}
			seen = append(seen, l)
		case <-timer.C:
			t.Fatalf("no line %q within 15 s; saw %q", prefix, seen)
		}
	}
}

func TestChatThroughPipes(t *testing.T) {
	addr, hash := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"--server", addr, "--cert-hash", hash, "--name", "Cli", "--room", "lobby"}, inR, outW, io.Discard)
		outW.Close()
	}()
	out := lines(outR)
	// The transport is not the point here (the client's own tests check
	// it): on a loaded machine WebTransport may take longer than the 3 s
	// after which the client falls back to WebSocket.
	expect(t, out, "state connected ")
	expect(t, out, "joined lobby 0")

	peer, err := client.Dial(ctx, client.Config{Server: addr, CertHash: hash, Name: "Peer", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	if _, err := peer.Join(ctx, "lobby"); err != nil {
		t.Fatal(err)
	}
	expect(t, out, "join lobby Peer")

	io.WriteString(inW, "hello\\ world\n")
	expect(t, out, "sent lobby 1")
	for ev := range peer.Events() {
		if ev.Kind == client.EventMessage {
			if ev.Message.Text != `hello\ world` {
				t.Fatalf("peer got %q", ev.Message.Text)
			}
			break
		}
	}
	if _, err := peer.Say(ctx, "lobby", "two\nlines"); err != nil {
		t.Fatal(err)
	}
	if l := expect(t, out, "msg "); l != `msg lobby 2 Peer two\nlines` {
		t.Fatalf("line %q", l)
	}
	if _, err := peer.SayTo(ctx, "lobby", "cli", "secret"); err != nil {
		t.Fatal(err)
	}
	if l := expect(t, out, "pm "); l != "pm lobby 1 Peer Cli secret" {
		t.Fatalf("line %q", l)
	}
	io.WriteString(inW, "@Peer back at you\n")
	expect(t, out, "sent lobby 2")
	io.WriteString(inW, "/users\n")
	if l := expect(t, out, "members lobby "); !strings.Contains(l, "Peer") || !strings.Contains(l, "Cli") {
		t.Fatalf("line %q", l)
	}
	img := filepath.Join(t.TempDir(), "dot.png")
	if err := os.WriteFile(img, pngDot, 0o600); err != nil {
		t.Fatal(err)
	}
	io.WriteString(inW, "/image "+img+"\n")
	expect(t, out, "sent lobby 3")
	io.WriteString(inW, "/nope\n")
	expect(t, out, "error - unknown command /nope")
	io.WriteString(inW, "/leave\n")
	expect(t, out, "left lobby")
	io.WriteString(inW, "/join other\n")
	expect(t, out, "joined other 0")
	inW.Close()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func TestChatNeedsServerAndName(t *testing.T) {
	t.Setenv("PARLEY_SERVER", "")
	t.Setenv("PARLEY_USER", "")
	if err := Run(context.Background(), nil, strings.NewReader(""), io.Discard, io.Discard); err == nil {
		t.Fatal("Run without --server and --name succeeded")
	}
}

var pngDot = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82")
