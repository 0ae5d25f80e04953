//go:build !js

package client_test

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"parley/client"
	"parley/internal/certs"
	"parley/internal/certs/certtest"
	"parley/server"
)

// renewingServer is a server on a self-signed certificate whose renewal
// the test controls.
type renewingServer struct {
	p    *certtest.Renewable
	cfg  server.Config
	addr string
}

func newRenewingServer(t *testing.T) (*renewingServer, *testServer) {
	t.Helper()
	p := certtest.NewRenewable(t)
	rs := &renewingServer{p: p, cfg: server.Config{TLS: p.TLSConfig(), Store: server.NewMemoryStore()}}
	ts := startServer(t, "127.0.0.1:0", rs.cfg)
	rs.addr = ts.addr
	return rs, ts
}

// keyHashOf is the key hash of the certificate p serves.
func keyHashOf(t *testing.T, p *certtest.Renewable) string {
	t.Helper()
	c, err := p.Certificate()
	if err != nil {
		t.Fatal(err)
	}
	h, err := certs.KeyHashOf(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return h
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
	newHash := rs.p.Renew(t)
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
