package servecmd

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"parley/client"
	"parley/internal/certs"
)

func TestResetKeyMadeOnceAndKept(t *testing.T) {
	dir := t.TempDir()
	k1, err := ResetKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, ResetKeyFile)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 || st.Size() != resetKeySize {
		t.Fatalf("key file mode %v size %d, want 0600 and %d", st.Mode().Perm(), st.Size(), resetKeySize)
	}
	if *k1 == ([32]byte{}) {
		t.Fatal("the key is all zeroes")
	}
	k2, err := ResetKey(dir)
	if err != nil || *k2 != *k1 {
		t.Fatalf("second read: %v, same key %v", err, err == nil && *k2 == *k1)
	}
	if k3, err := ResetKey(t.TempDir()); err != nil || *k3 == *k1 {
		t.Fatalf("another data directory: %v, same key %v", err, err == nil && *k3 == *k1)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("data directory holds %d entries, want the key file only", len(entries))
	}
}

func TestResetKeyRefusesABadFile(t *testing.T) {
	for _, tc := range []struct {
		name string
		size int
		mode os.FileMode
		want string
	}{
		{"32 bytes", 32, 0o600, ""},
		{"31 bytes", 31, 0o600, "holds 31 bytes"},
		{"33 bytes", 33, 0o600, "holds 33 bytes"},
		{"empty", 0, 0o600, "holds 0 bytes"},
		{"group-readable", 32, 0o640, "readable by others"},
		{"world-readable", 32, 0o604, "readable by others"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, ResetKeyFile)
			b := bytes.Repeat([]byte{7}, tc.size)
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tc.mode); err != nil {
				t.Fatal(err)
			}
			k, err := ResetKey(dir)
			if tc.want == "" {
				if err != nil || !bytes.Equal(k[:], b) {
					t.Fatalf("a good key file: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("error %v, want one naming %s and saying %q", err, path, tc.want)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(after, b) {
				t.Fatal("the bad key file was replaced")
			}
		})
	}
}

// TestServeBinaryKilledResetsQUIC: `parley serve --data` is SIGKILLed and
// restarted on the same port; its WebTransport client's next packet to
// the old connection is answered with a stateless reset (the key kept in
// --data), so the client loses the session at once, by a reset rather
// than its 30 s idle timeout, reconnects over WebTransport and its
// message goes through.
func TestServeBinaryKilledResetsQUIC(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	certFile, keyFile := writeCert(t, dir)
	start := func(addr string) (kill func(), ready readyLine) {
		t.Helper()
		cmd := exec.Command(bin, "serve", "--addr", addr, "--data", data, "--cert", certFile, "--key", keyFile, "--log-format", "json")
		cmd.Env = append(os.Environ(), "PARLEY_ADMIN=", "PARLEY_LAN=")
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		logs := newLogLines()
		exited := make(chan struct{})
		go func() {
			logs.consume(stderr)
			_ = cmd.Wait()
			close(exited)
		}()
		kill = func() {
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-exited
		}
		t.Cleanup(kill)
		return kill, decodeReady(t, logs.wait(t, "parley serve ready", 30*time.Second))
	}
	killFirst, r := start("127.0.0.1:0")
	key, err := os.ReadFile(filepath.Join(data, ResetKeyFile))
	if err != nil || len(key) != resetKeySize {
		t.Fatalf("parley serve --data kept no reset key: %v", err)
	}

	wt, err := client.NewWebTransportDialer(r.URL, r.CertHash)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Config{
		Server: r.URL, CertHash: r.CertHash, Name: "Ann", Dialer: wt,
		Backoff: client.Backoff{Min: 10 * time.Millisecond, Max: 100 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Join(ctx, "r"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Say(ctx, "r", "before"); err != nil {
		t.Fatal(err)
	}

	killFirst()
	killed := time.Now()
	_, r2 := start(r.Addr)
	if r2.CertHash != r.CertHash {
		t.Fatalf("the restarted server uses certificate %s, want %s", r2.CertHash, r.CertHash)
	}
	restarted := time.Now()
	// The say goes out on the dead connection first: its packet meets the
	// restarted server, which resets the connection.
	sent, err := c.Say(ctx, "r", "after")
	if err != nil {
		t.Fatalf("say after the restart: %v", err)
	}
	if sent.Seq != 2 {
		t.Fatalf("say after the restart got seq %d, want 2", sent.Seq)
	}
	t.Logf("killed → restarted %v → say answered %v after the kill", restarted.Sub(killed).Round(time.Millisecond), time.Since(killed).Round(time.Millisecond))
	if c.Transport() != "webtransport" {
		t.Fatalf("reconnected over %q, want webtransport", c.Transport())
	}
	// The say was answered after the reconnect: the events so far hold
	// the loss (with its cause) and the new session.
	var losses []error
	for connected := false; !connected; {
		select {
		case ev := <-c.Events():
			if ev.Kind != client.EventState {
				continue
			}
			switch ev.State {
			case client.StateReconnecting:
				losses = append(losses, ev.Err)
			case client.StateConnected:
				connected = len(losses) > 0
			}
		case <-ctx.Done():
			t.Fatalf("no reconnect among the client's events (losses %v)", losses)
		}
	}
	if len(losses) != 1 {
		t.Fatalf("the client lost %d sessions (%v), want 1", len(losses), losses)
	}
	var reset *quic.StatelessResetError
	if !errors.As(losses[0], &reset) {
		t.Fatalf("the session was lost by %v (%T), want a QUIC stateless reset", losses[0], losses[0])
	}
}

// writeCert writes a self-signed ECDSA P-256 certificate for 127.0.0.1
// (valid for less than 14 days) and its key to dir, so that a restarted
// server given them presents the same one.
func writeCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	if _, err := certs.Persistent(dir, nil); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, certs.CertFile), filepath.Join(dir, certs.KeyFile)
}
