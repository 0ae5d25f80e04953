//go:build !js

package bridge

import (
	"crypto/tls"
	"net"
	"strings"
	"testing"

	"parley/internal/certs/certtest"
	"parley/internal/lan"
	"parley/protocol"
)

// TestConnectKeyHashAfterRenewal: the status of a connection to a
// self-signed server carries the server's key; given back in a later
// ConnectRequest it connects after the certificate was renewed, when the
// old certificate hash alone no longer does.
func TestConnectKeyHashAfterRenewal(t *testing.T) {
	p := certtest.NewRenewable(t)
	ts := runServer(t, protocol.Limits{})
	ts.stop()
	ts.cfg.TLS = &tls.Config{GetCertificate: p.GetCertificate}
	ts.start(ts.addr)
	oldHash := p.Hash()

	b1, _ := newBridge(t)
	st, err := b1.Connect(ConnectRequest{Name: "Ann", Server: ts.addr, CertHash: oldHash})
	if err != nil {
		t.Fatal(err)
	}
	key := st.KeyHash
	if st.CertHash != oldHash || st.Server != ts.addr {
		t.Errorf("status server %q, certificate hash %q; want %q and %q", st.Server, st.CertHash, ts.addr, oldHash)
	}
	if len(key) != 64 || strings.Trim(key, "0123456789abcdef") != "" {
		t.Fatalf("status KeyHash %q, want 64 hex digits", key)
	}
	b1.Close()

	p.Renew(t)
	b2, _ := newBridge(t)
	if _, err := b2.Connect(ConnectRequest{Name: "Ann", Server: ts.addr, CertHash: oldHash}); err == nil {
		t.Fatal("the old certificate hash alone connected after the renewal")
	}
	b3, _ := newBridge(t)
	st, err = b3.Connect(ConnectRequest{Name: "Ann", Server: ts.addr, CertHash: oldHash, KeyHash: key})
	if err != nil {
		t.Fatalf("with the key hash after the renewal: %v", err)
	}
	if st.KeyHash != key {
		t.Errorf("status KeyHash %q after the renewal, want %q", st.KeyHash, key)
	}
	// A join link made before the renewal carries the key too, and opens.
	link, err := lan.FormatLink(lan.Link{Host: "127.0.0.1", Port: ts.srv.Addr().(*net.UDPAddr).Port, Hash: oldHash, Key: key, Room: "lobby"})
	if err != nil {
		t.Fatal(err)
	}
	rec4 := newRecorder()
	b4 := New(Options{Emit: rec4.emit, ClientName: "parley-bridge-test/1", ParseLink: func(s string) (string, string, string, string, error) {
		l, err := lan.ParseLink(s)
		return l.Addr(), l.Hash, l.Key, l.Room, err
	}})
	t.Cleanup(func() { b4.Close() })
	if st, err := b4.Connect(ConnectRequest{Name: "Ada", Link: link}); err != nil || st.KeyHash != key {
		t.Fatalf("the old link with its key after the renewal: %+v, %v", st, err)
	}

	// A malformed key hash is refused before dialling.
	for _, bad := range []string{"abc", strings.Repeat("g", 64), strings.Repeat("a", 65)} {
		b, _ := newBridge(t)
		_, err := b.Connect(ConnectRequest{Name: "Ann", Server: ts.addr, KeyHash: bad})
		if protocol.CodeOf(err) != protocol.CodeBadRequest || !strings.Contains(err.Error(), "the key hash must be 64 hex digits") {
			t.Errorf("KeyHash %q: %v", bad, err)
		}
	}
}
