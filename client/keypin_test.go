//go:build !js

package client_test

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"parley/client"
	"parley/internal/certs"
	"parley/server"
)

// renewingServer is a server on a self-signed certificate whose clock the
// test moves, so that the certificate renews (same key, new hash).
type renewingServer struct {
	p    *certs.Provider
	mu   sync.Mutex
	now  time.Time
	cfg  server.Config
	addr string
}

func newRenewingServer(t *testing.T) (*renewingServer, *testServer) {
	t.Helper()
	rs := &renewingServer{now: time.Now()}
	p, err := certs.SelfSigned([]string{"127.0.0.1"}, certs.WithClock(func() time.Time {
		rs.mu.Lock()
		defer rs.mu.Unlock()
		return rs.now
	}))
	if err != nil {
		t.Fatal(err)
	}
	rs.p = p
	rs.cfg = server.Config{TLS: p.TLSConfig(), Store: server.NewMemoryStore()}
	ts := startServer(t, "127.0.0.1:0", rs.cfg)
	rs.addr = ts.addr
	return rs, ts
}

// renew moves the clock past the renewal point and returns the new hash.
func (rs *renewingServer) renew(t *testing.T, old string) string {
	t.Helper()
	rs.mu.Lock()
	rs.now = rs.now.Add(certs.Validity - certs.RenewBefore + time.Hour)
	rs.mu.Unlock()
	h := rs.p.Hash()
	if h == old || h == "" {
		t.Fatalf("the certificate was not renewed: %q", h)
	}
	return h
}

// keyHashOf is the hex SHA-256 of the SubjectPublicKeyInfo of the
// certificate p serves.
func keyHashOf(t *testing.T, p *certs.Provider) string {
	t.Helper()
	c, err := p.Certificate()
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	return hex.EncodeToString(sum[:])
}

// TestKeyHashSurvivesRenewal: a client pinned to a self-signed server's
// certificate learns its key; it reconnects after the certificate was
// renewed, and a client given that key (Config.KeyHash) connects with the
// old certificate hash or none. Without the key, the old hash fails.
func TestKeyHashSurvivesRenewal(t *testing.T) {
	rs, ts := newRenewingServer(t)
	oldHash := rs.p.Hash()
	key := keyHashOf(t, rs.p)
	ann := ts.dial(t, "Ann", func(c *client.Config) { c.CertHash = oldHash })
	if got := ann.KeyHash(); got != key {
		t.Fatalf("Ann's KeyHash %q, want the server key's %q", got, key)
	}
	if _, err := ann.Join(ctxT(t), "lobby"); err != nil {
		t.Fatal(err)
	}

	// The certificate renews, and the server restarts: Ann reconnects.
	newHash := rs.renew(t, oldHash)
	if k := keyHashOf(t, rs.p); k != key {
		t.Fatalf("the renewal changed the key: %s → %s", key, k)
	}
	ts.stop()
	ts = startServer(t, rs.addr, rs.cfg)
	waitState(t, ann, client.StateConnected)
	if _, err := ann.Say(ctxT(t), "lobby", "after the renewal"); err != nil {
		t.Fatalf("say after the renewal: %v", err)
	}

	// A new client with the old hash alone is refused ...
	_, err := client.Dial(ctxT(t), client.Config{Server: ts.addr, CertHash: oldHash, Name: "Bob", Logger: quietLogger(), FallbackAfter: 10 * time.Second})
	var ua x509.UnknownAuthorityError
	if err == nil || !(errors.As(err, &ua) || strings.Contains(err.Error(), "certificate signed by unknown authority")) {
		t.Fatalf("the old hash alone after the renewal: %v, want an unknown authority", err)
	}
	// ... with the key too, or the key alone, or the new hash, it connects.
	for name, mod := range map[string]func(*client.Config){
		"Cat": func(c *client.Config) { c.CertHash, c.KeyHash = oldHash, key },
		"Dan": func(c *client.Config) { c.CertHash, c.KeyHash = "", strings.ToUpper(key) },
		"Eve": func(c *client.Config) { c.CertHash = newHash },
	} {
		c := ts.dial(t, name, mod)
		if got := c.KeyHash(); got != key {
			t.Errorf("%s's KeyHash %q, want %q", name, got, key)
		}
	}
	// Another key is refused.
	other := strings.Repeat("ab", sha256.Size)
	if _, err := client.Dial(ctxT(t), client.Config{Server: ts.addr, KeyHash: other, Name: "Fay", Logger: quietLogger(), FallbackAfter: 10 * time.Second}); err == nil {
		t.Fatal("a client pinned to another key connected")
	}
}

func TestKeyHashValidated(t *testing.T) {
	for _, h := range []string{"abc", strings.Repeat("a", 63), strings.Repeat("a", 66), strings.Repeat("zz", 32)} {
		if _, err := client.Dial(ctxT(t), client.Config{Server: "127.0.0.1:1", KeyHash: h, Name: "Ann"}); err == nil || !strings.Contains(err.Error(), "key hash must be 32 hex bytes") {
			t.Errorf("KeyHash %q: %v", h, err)
		}
	}
	// A client on the system roots has no key to report.
	if tc, err := client.PinnedTLS(""); err != nil || tc.VerifyConnection != nil || tc.InsecureSkipVerify || tc.MinVersion != tls.VersionTLS13 {
		t.Fatalf("PinnedTLS(\"\"): %+v, %v", tc, err)
	}
}
