// Package certtest gives tests a self-signed certificate whose renewal they
// control: the provider's clock moves only when the test says so.
//
// A Renewable is safe for concurrent use (the server's handshakes read its
// clock while the test moves it).
package certtest

import (
	"sync"
	"testing"
	"time"

	"parley/internal/certs"
)

// Renewable is a self-signed certificate provider on a clock the test moves.
type Renewable struct {
	*certs.Provider

	mu  sync.Mutex
	now time.Time
}

// NewRenewable makes a self-signed certificate for hosts (default
// 127.0.0.1), valid from now on the provider's own clock.
func NewRenewable(t testing.TB, hosts ...string) *Renewable {
	t.Helper()
	if len(hosts) == 0 {
		hosts = []string{"127.0.0.1"}
	}
	r := &Renewable{now: time.Now()}
	p, err := certs.SelfSigned(hosts, certs.WithClock(r.clock))
	if err != nil {
		t.Fatal(err)
	}
	r.Provider = p
	return r
}

func (r *Renewable) clock() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.now
}

// Renew moves the clock past the point where the certificate is renewed
// and returns the new certificate's hash; the key stays the same. It fails
// the test when the hash did not change.
func (r *Renewable) Renew(t testing.TB) string {
	t.Helper()
	old := r.Hash()
	r.mu.Lock()
	r.now = r.now.Add(certs.Validity - certs.RenewBefore + time.Hour)
	r.mu.Unlock()
	h := r.Hash()
	if h == old || h == "" {
		t.Fatalf("certtest: the certificate was not renewed (hash %q)", h)
	}
	return h
}
