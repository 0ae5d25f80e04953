package certs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// testClock is a settable clock, safe for concurrent use.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock {
	return &testClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *testClock) advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

func persistent(t *testing.T, dir string, clock *testClock, opts ...Option) *Provider {
	t.Helper()
	p, err := Persistent(dir, []string{"host.lan"}, append([]Option{WithClock(clock.Now)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func fileMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

// A restart (a second Persistent on the same directory) serves the same
// certificate: same hash, same SPKI hash. Both files are 0600, a directory
// it makes is 0700.
func TestPersistentKeepsHashAcrossRestarts(t *testing.T) {
	clock := newTestClock()
	dir := filepath.Join(t.TempDir(), "data")
	p1 := persistent(t, dir, clock)
	c1, err := p1.Certificate()
	if err != nil {
		t.Fatal(err)
	}
	if c1.Leaf == nil || c1.Leaf.VerifyHostname("host.lan") != nil || c1.Leaf.VerifyHostname("localhost") != nil {
		t.Fatal("the certificate does not cover its hosts")
	}
	if m := fileMode(t, dir); m != 0o700 {
		t.Errorf("directory mode %o", m)
	}
	for _, f := range []string{CertFile, KeyFile} {
		if m := fileMode(t, filepath.Join(dir, f)); m != 0o600 {
			t.Errorf("%s mode %o", f, m)
		}
	}
	p2 := persistent(t, dir, clock)
	if p2.Hash() != p1.Hash() || p2.SPKIHash() != p1.SPKIHash() || p1.Hash() == "" {
		t.Fatalf("hash %s/%s after a restart, was %s/%s", p2.Hash(), p2.SPKIHash(), p1.Hash(), p1.SPKIHash())
	}
	c2, _ := p2.GetCertificate(nil)
	if HashOf(c2.Certificate[0]) != p1.Hash() || c2.Leaf == nil {
		t.Fatal("GetCertificate serves another certificate than Hash names")
	}
	if !c2.PrivateKey.(*ecdsa.PrivateKey).Equal(c1.PrivateKey) {
		t.Fatal("another key after a restart")
	}
	// Another directory: another certificate.
	if q := persistent(t, t.TempDir(), clock); q.Hash() == p1.Hash() {
		t.Fatal("two directories share a certificate")
	}
}

// A running provider renews at the threshold (RenewBefore ahead of the
// expiry), not a second before, and writes the renewal back; a restart
// then serves the renewed one. The key, hence the SPKI hash, is kept.
func TestPersistentRenewal(t *testing.T) {
	clock := newTestClock()
	dir := t.TempDir()
	renewed := make(chan string, 1)
	p := persistent(t, dir, clock, OnRenew(func(h string) { renewed <- h }))
	first, spki := p.Hash(), p.SPKIHash()
	threshold := p.NotAfter().Add(-RenewBefore)

	clock.advance(threshold.Sub(clock.Now()) - time.Second)
	if p.Hash() != first {
		t.Fatal("renewed a second before the threshold")
	}
	if q := persistent(t, dir, clock); q.Hash() != first {
		t.Fatal("a restart a second before the threshold renewed")
	}

	clock.advance(time.Second) // exactly at the threshold
	second := p.Hash()
	if second == first {
		t.Fatal("not renewed at the threshold")
	}
	if got := <-renewed; got != second {
		t.Fatalf("OnRenew got %s, want %s", got, second)
	}
	if p.SPKIHash() != spki {
		t.Fatal("the SPKI hash changed on renewal")
	}
	if !p.NotAfter().After(clock.Now().Add(RenewBefore)) {
		t.Fatal("the renewed certificate is due already")
	}
	q := persistent(t, dir, clock)
	if q.Hash() != second || q.SPKIHash() != spki {
		t.Fatal("the renewal was not kept")
	}
	if m := fileMode(t, filepath.Join(dir, CertFile)); m != 0o600 {
		t.Errorf("renewed certificate mode %o", m)
	}

	// A server stopped for longer than the certificate lives renews at
	// start, with the kept key, and writes the renewal.
	clock.advance(Validity)
	r := persistent(t, dir, clock)
	if r.Hash() == second || r.SPKIHash() != spki {
		t.Fatal("an expired kept certificate was served, or the key changed")
	}
	if s := persistent(t, dir, clock); s.Hash() != r.Hash() {
		t.Fatal("the renewal at start was not kept")
	}
	// A clock set back before the certificate's start renews too.
	clock.advance(-2 * Validity)
	if u := persistent(t, dir, clock); u.Hash() == r.Hash() {
		t.Fatal("a certificate not valid yet was served")
	}
}

// Concurrent handshakes at the threshold renew once and all get the new
// certificate (run with -race).
func TestPersistentConcurrentRenewal(t *testing.T) {
	clock := newTestClock()
	dir := t.TempDir()
	var mu sync.Mutex
	renewals := 0
	p := persistent(t, dir, clock, OnRenew(func(string) { mu.Lock(); renewals++; mu.Unlock() }))
	first := p.Hash()
	clock.advance(p.NotAfter().Add(-RenewBefore).Sub(clock.Now()))
	var wg sync.WaitGroup
	hashes := make([]string, 8)
	for i := range hashes {
		wg.Go(func() {
			c, err := p.GetCertificate(nil)
			if err != nil {
				t.Error(err)
				return
			}
			hashes[i] = HashOf(c.Certificate[0])
		})
	}
	wg.Wait()
	for _, h := range hashes {
		if h == first || h != hashes[0] {
			t.Fatalf("hashes %v (first %s)", hashes, first)
		}
	}
	if q := persistent(t, dir, clock); q.Hash() != hashes[0] {
		t.Fatal("the concurrent renewal was not kept")
	}
}

// A renewal that cannot be written back is logged and still served.
func TestPersistentRenewalNotWritten(t *testing.T) {
	clock := newTestClock()
	dir := t.TempDir()
	var logBuf syncBuffer
	p := persistent(t, dir, clock, WithLogger(slog.New(slog.NewTextHandler(&logBuf, nil))))
	first := p.Hash()
	// A directory where the certificate file was: the rename fails.
	certPath := filepath.Join(dir, CertFile)
	if err := os.Remove(certPath); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(certPath, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(certPath, "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	clock.advance(Validity)
	if h := p.Hash(); h == first || h == "" {
		t.Fatal("not renewed")
	}
	if !strings.Contains(logBuf.String(), "could not be kept") {
		t.Fatalf("log %q", logBuf.String())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// Kept files that cannot be used are a clear error naming the file, never
// silently replaced; a key without its certificate (a crash between the
// two first writes) is completed with a certificate of that key.
func TestPersistentDamagedFiles(t *testing.T) {
	clock := newTestClock()
	good := t.TempDir()
	persistent(t, good, clock)
	goodCert, _ := os.ReadFile(filepath.Join(good, CertFile))
	goodKey, _ := os.ReadFile(filepath.Join(good, KeyFile))
	other := t.TempDir()
	persistent(t, other, clock)
	otherCert, _ := os.ReadFile(filepath.Join(other, CertFile))
	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	rsaDER, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384DER, _ := x509.MarshalPKCS8PrivateKey(p384)
	pemOf := func(typ string, der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}) }

	for _, tc := range []struct {
		name      string
		cert, key []byte // nil: no such file
		keyMode   os.FileMode
		wantInErr string
	}{
		{name: "junk key", cert: goodCert, key: []byte("not a key"), wantInErr: KeyFile},
		{name: "junk certificate", cert: []byte("not a certificate"), key: goodKey, wantInErr: CertFile},
		{name: "certificate of another key", cert: otherCert, key: goodKey, wantInErr: CertFile},
		{name: "certificate without key", cert: goodCert, wantInErr: "missing"},
		{name: "key readable by others", cert: goodCert, key: goodKey, keyMode: 0o644, wantInErr: "chmod 600"},
		{name: "RSA key", cert: goodCert, key: pemOf("PRIVATE KEY", rsaDER), wantInErr: "P-256"},
		{name: "P-384 key", cert: goodCert, key: pemOf("PRIVATE KEY", p384DER), wantInErr: "P-256"},
		{name: "certificate as key", cert: goodCert, key: goodCert, wantInErr: "not a private key"},
		{name: "key one byte past MaxPEM", cert: goodCert, key: pad(goodKey, MaxPEM+1), wantInErr: "larger than"},
		{name: "certificate one byte past MaxPEM", cert: pad(goodCert, MaxPEM+1), key: goodKey, wantInErr: "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write := func(name string, b []byte, mode os.FileMode) {
				if b == nil {
					return
				}
				if mode == 0 {
					mode = 0o600
				}
				if err := os.WriteFile(filepath.Join(dir, name), b, mode); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(filepath.Join(dir, name), mode); err != nil {
					t.Fatal(err)
				}
			}
			write(CertFile, tc.cert, 0)
			write(KeyFile, tc.key, tc.keyMode)
			p, err := Persistent(dir, nil, WithClock(clock.Now))
			if err == nil || p != nil {
				t.Fatalf("loaded: %v", err)
			}
			if !errors.Is(err, ErrUnusable) || !strings.Contains(err.Error(), tc.wantInErr) {
				t.Fatalf("error %q, want ErrUnusable mentioning %q", err, tc.wantInErr)
			}
			// Nothing was replaced.
			if b, _ := os.ReadFile(filepath.Join(dir, CertFile)); !bytes.Equal(b, tc.cert) {
				t.Fatal("the certificate file was changed")
			}
		})
	}

	t.Run("files at MaxPEM", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, CertFile), pad(goodCert, MaxPEM), 0o600)
		os.WriteFile(filepath.Join(dir, KeyFile), pad(goodKey, MaxPEM), 0o600)
		p, err := Persistent(dir, nil, WithClock(clock.Now))
		if err != nil {
			t.Fatal(err)
		}
		if p.Hash() != HashOf(mustDER(t, goodCert)) {
			t.Fatal("another certificate served")
		}
	})
	t.Run("key without certificate", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, KeyFile), goodKey, 0o600)
		p, err := Persistent(dir, nil, WithClock(clock.Now))
		if err != nil {
			t.Fatal(err)
		}
		c, _ := p.Certificate()
		key, _ := parseKey(filepath.Join(dir, KeyFile), goodKey)
		if !key.Equal(c.PrivateKey) {
			t.Fatal("the kept key was not used")
		}
		if q := persistent(t, dir, clock); q.Hash() != p.Hash() {
			t.Fatal("the completed certificate was not kept")
		}
	})
	t.Run("SEC 1 key", func(t *testing.T) {
		dir := t.TempDir()
		key, _ := parseKey(filepath.Join(good, KeyFile), goodKey)
		der, _ := x509.MarshalECPrivateKey(key)
		os.WriteFile(filepath.Join(dir, KeyFile), pemOf("EC PRIVATE KEY", der), 0o600)
		os.WriteFile(filepath.Join(dir, CertFile), goodCert, 0o600)
		p, err := Persistent(dir, nil, WithClock(clock.Now))
		if err != nil || p.Hash() != HashOf(mustDER(t, goodCert)) {
			t.Fatalf("an EC PRIVATE KEY was not used: %v", err)
		}
	})
}

// pad appends newlines to b up to n bytes (PEM ignores them).
func pad(b []byte, n int) []byte {
	return append(append([]byte(nil), b...), bytes.Repeat([]byte("\n"), n-len(b))...)
}

func mustDER(t *testing.T, certPEM []byte) []byte {
	t.Helper()
	block, _ := pem.Decode(certPEM)
	if block == nil {
		t.Fatal("no PEM")
	}
	return block.Bytes
}
