//go:build !js

package client

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// keyPin is what a pinned TLS configuration accepts: the certificate whose
// DER has the SHA-256 cert, or any certificate for the public key whose
// SubjectPublicKeyInfo has the SHA-256 key. A certificate accepted by its
// hash teaches its key: a self-signed Parley server keeps its key when it
// renews its certificate (about every 11 days, see docs/operations.md), so
// a client that connected once keeps connecting after a renewal, and one
// given the key's hash (Config.KeyHash) does after a restart too.
//
// It is safe for concurrent use: VerifyConnection runs on each handshake.
type keyPin struct {
	cert []byte // nil: no certificate hash given

	mu  sync.Mutex
	key []byte // nil: none given or learned yet
}

// parseHash decodes a hex SHA-256 ("" → nil).
func parseHash(what, h string) ([]byte, error) {
	h = strings.ToLower(strings.TrimSpace(h))
	if h == "" {
		return nil, nil
	}
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("client: %s hash must be %d hex bytes", what, sha256.Size)
	}
	return b, nil
}

// newKeyPin returns the pin of certHash and keyHash (hex SHA-256 each, either
// may be empty), or nil when both are empty: the system roots verify.
func newKeyPin(certHash, keyHash string) (*keyPin, error) {
	cert, err := parseHash("certificate", certHash)
	if err != nil {
		return nil, err
	}
	key, err := parseHash("key", keyHash)
	if err != nil {
		return nil, err
	}
	if cert == nil && key == nil {
		return nil, nil
	}
	return &keyPin{cert: cert, key: key}, nil
}

// verify accepts the peer's certificate by its hash or its key's.
func (p *keyPin) verify(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("client: server sent no certificate")
	}
	leaf := cs.PeerCertificates[0]
	spki := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	p.mu.Lock()
	defer p.mu.Unlock()
	if sum := sha256.Sum256(leaf.Raw); p.cert != nil && string(sum[:]) == string(p.cert) {
		p.key = spki[:] // learned: the same key's next certificates pass
		return nil
	}
	if p.key != nil && string(spki[:]) == string(p.key) {
		return nil
	}
	return &x509.UnknownAuthorityError{Cert: leaf}
}

// keyHash returns the hex SHA-256 of the accepted key's SubjectPublicKeyInfo,
// or "" before any was given or learned.
func (p *keyPin) keyHash() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return hex.EncodeToString(p.key)
}

// tlsConfig returns a TLS client configuration verifying through p (the
// system roots when p is nil), on full and resumed handshakes alike.
func (p *keyPin) tlsConfig() *tls.Config {
	if p == nil {
		return &tls.Config{MinVersion: tls.VersionTLS13}
	}
	return &tls.Config{
		MinVersion:         tls.VersionTLS13,
		InsecureSkipVerify: true, // replaced by the pin
		VerifyConnection:   p.verify,
	}
}
