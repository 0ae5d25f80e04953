package servecmd

import (
	"context"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"parley/client"
	"parley/internal/certs"
	"parley/protocol"
)

// serveUntilReady runs Serve in-process with args until the test (or the
// returned stop) ends it, and returns its ready line. Stop reports an
// error Serve returns.
func serveUntilReady(t *testing.T, args ...string) (readyLine, func()) {
	t.Helper()
	p := startServe(t, args...)
	stopped := false
	stop := func() {
		t.Helper()
		if stopped {
			return
		}
		stopped = true
		if err := p.stop(); err != nil {
			t.Errorf("Serve: %v", err)
		}
	}
	t.Cleanup(stop)
	return p.ready, stop
}

// helloOK dials url pinning hash and says hello.
func helloOK(t *testing.T, url, hash string) {
	t.Helper()
	s := dialRaw(t, url, hash)
	if a := s.request(&protocol.Frame{Type: protocol.TypeHello, V: protocol.Version, Name: "pinned"}); a.Type != protocol.TypeOK {
		t.Fatalf("hello: %+v", a)
	}
	_ = s.conn.Close(0, "")
}

// parley serve --data without --cert/--key keeps its self-signed
// certificate in the data directory: a restarted server presents the same
// hash, and a client pinned to the first run's hash connects.
func TestServeDataKeepsCertificate(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	r1, stop := serveUntilReady(t, "--data", data)
	helloOK(t, r1.URL, r1.CertHash)
	stop()
	for _, f := range []string{certs.CertFile, certs.KeyFile} {
		st, err := os.Stat(filepath.Join(data, f))
		if err != nil {
			t.Fatalf("--data kept no %s: %v", f, err)
		}
		if m := st.Mode().Perm(); m != 0o600 {
			t.Errorf("%s mode %o", f, m)
		}
	}

	r2, _ := serveUntilReady(t, "--data", data)
	if r2.CertHash != r1.CertHash {
		t.Fatalf("certificate hash %s after a restart, was %s", r2.CertHash, r1.CertHash)
	}
	helloOK(t, r2.URL, r1.CertHash)
	if link := r2.Join; !strings.Contains(link, r1.CertHash) {
		t.Fatalf("join link %q lacks the kept hash", link)
	}
	// The key hash in the ready line is the served certificate's, and a
	// client given only it connects.
	kept, err := os.ReadFile(filepath.Join(data, certs.CertFile))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(kept)
	if blk == nil {
		t.Fatal("the kept certificate is not PEM")
	}
	if want, err := certs.KeyHashOf(blk.Bytes); err != nil || r1.KeyHash != want || r2.KeyHash != want {
		t.Fatalf("key_hash %q then %q, want the kept certificate's %q (%v)", r1.KeyHash, r2.KeyHash, want, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if !strings.Contains(r2.Join, "&key="+r2.KeyHash) {
		t.Errorf("join link %q lacks the key hash", r2.Join)
	}
	c, err := client.Dial(ctx, client.Config{Server: r2.URL, KeyHash: r2.KeyHash, Name: "keyed"})
	if err != nil {
		t.Fatalf("a client pinned to key_hash alone: %v", err)
	}
	c.Close()
}

// Without --data every run has its own certificate; with --cert/--key
// nothing is kept in --data.
func TestServeCertificateWithoutKeeping(t *testing.T) {
	r1, stop := serveUntilReady(t)
	stop()
	r2, stop := serveUntilReady(t)
	stop()
	if r1.CertHash == r2.CertHash {
		t.Fatal("two runs without --data share a certificate")
	}

	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	certFile, keyFile := writeCert(t, dir)
	r, _ := serveUntilReady(t, "--data", data, "--cert", certFile, "--key", keyFile)
	p, err := certs.Load(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if r.CertHash != p.Hash() {
		t.Fatalf("serving %s, want the --cert hash %s", r.CertHash, p.Hash())
	}
	for _, f := range []string{certs.CertFile, certs.KeyFile} {
		if _, err := os.Stat(filepath.Join(data, f)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s kept with --cert: %v", f, err)
		}
	}
}

// A damaged kept key is a clear error at start naming the file, and it is
// left as it was.
func TestServeDataDamagedCertificate(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	_, stop := serveUntilReady(t, "--data", data)
	stop()
	keyPath := filepath.Join(data, certs.KeyFile)
	if err := os.WriteFile(keyPath, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	o, err := Parse([]string{"--addr", "127.0.0.1:0", "--data", data}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	err = Serve(context.Background(), o, io.Discard)
	if err == nil || !errors.Is(err, certs.ErrUnusable) || !strings.Contains(err.Error(), keyPath) || !strings.Contains(err.Error(), "--data") {
		t.Fatalf("Serve with a damaged key: %v", err)
	}
	if b, _ := os.ReadFile(keyPath); string(b) != "not a key" {
		t.Fatal("the damaged key was replaced")
	}
}
