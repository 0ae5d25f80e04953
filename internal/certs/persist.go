package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"parley/internal/atomicfile"
)

// The files a Persistent provider keeps in its directory, both mode 0600.
const (
	// CertFile holds the self-signed certificate (PEM).
	CertFile = "tls-cert.pem"
	// KeyFile holds its ECDSA P-256 private key (PEM, PKCS #8). The key is
	// made once and kept across renewals.
	KeyFile = "tls-key.pem"
)

// MaxPEM bounds what Persistent reads of each kept file.
const MaxPEM = 64 << 10

// ErrUnusable is wrapped by Persistent's error when a kept file is there
// but cannot be used: unreadable, too large, not PEM, a key that is not
// ECDSA P-256 or is readable by others, a certificate not of that key, a
// certificate without its key. Nothing is replaced silently: the error
// says which file and what to do. A caller that may make a new certificate
// without asking anyone (the desktop's Host on LAN) removes both files and
// calls Persistent again.
var ErrUnusable = errors.New("the kept certificate cannot be used")

// Persistent returns a Provider of a self-signed certificate kept in dir
// (made with mode 0700 if missing) as CertFile and KeyFile. The first time
// it makes a key and a certificate and writes both; afterwards it serves
// the kept certificate as long as it is not due for renewal, so its hash —
// what clients pin — stays the same across restarts. When it is due
// (within RenewBefore of its expiry, not yet valid, or valid for longer
// than Validity) a new certificate is made with the same key and written
// back, at start or later inside GetCertificate; the new certificate has a
// new hash (the hash is of the certificate's DER), its SPKI hash is the
// same. hosts are as for SelfSigned; they are used whenever a certificate
// is made, a kept one is served as it is. A kept file that cannot be used
// is an error wrapping ErrUnusable; failing to write the files at start is
// an error too (failing to write a later renewal is logged, see WithLogger).
func Persistent(dir string, hosts []string, opts ...Option) (*Provider, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("certs: %w", err)
	}
	keyPath, certPath := filepath.Join(dir, KeyFile), filepath.Join(dir, CertFile)
	keyPEM, err := readKept(keyPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if _, err := os.Lstat(certPath); err == nil {
			return nil, unusable(certPath, "its key %s is missing", KeyFile)
		}
		return create(dir, hosts, opts)
	case err != nil:
		return nil, err
	}
	key, err := parseKey(keyPath, keyPEM)
	if err != nil {
		return nil, err
	}
	p := newSelfSigned(key, hosts, opts)
	p.dir = dir
	certPEM, err := readKept(certPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// The key was written first and the certificate never was (a
		// crash in between): make one with the kept key.
		return p.renewed()
	case err != nil:
		return nil, err
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, unusable(certPath, "%v", err)
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		return nil, unusable(certPath, "%v", err)
	}
	c.Certificate = c.Certificate[:1]
	c.PrivateKey, c.Leaf = key, leaf
	p.set(&c, leaf)
	if due(p.now(), p.notBefore, p.notAfter) {
		return p.renewed()
	}
	return p, nil
}

// create makes the key and the first certificate in dir and writes them:
// the key first, so that a crash in between leaves a key without a
// certificate, which the next start completes.
func create(dir string, hosts []string, opts []Option) (*Provider, error) {
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("certs: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(dir, KeyFile), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return nil, fmt.Errorf("certs: keeping the key: %w", err)
	}
	p := newSelfSigned(key, hosts, opts)
	p.dir = dir
	return p.renewed()
}

// renewed returns p with a new certificate, written to its directory.
func (p *Provider) renewed() (*Provider, error) {
	if err := p.renewAndSave(); err != nil {
		return nil, err
	}
	return p, nil
}

// renewAndSave makes a new certificate and writes it (at start: a failure
// is the caller's error).
func (p *Provider) renewAndSave() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.renewLocked(); err != nil {
		return err
	}
	if err := p.saveCertLocked(); err != nil {
		return fmt.Errorf("certs: keeping the certificate: %w", err)
	}
	return nil
}

// saveCertLocked writes the certificate served now to the directory.
func (p *Provider) saveCertLocked() error {
	return atomicfile.Write(filepath.Join(p.dir, CertFile), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.cert.Certificate[0]}), 0o600)
}

// parseKey reads the kept key: PEM, ECDSA P-256 (PKCS #8 or SEC 1), and
// readable by its owner only.
func parseKey(path string, b []byte) (*ecdsa.PrivateKey, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("certs: %w", err)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, unusable(path, "readable by others (mode %v): make it 0600 (chmod 600 %s) if nobody else had it", perm, path)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, unusable(path, "no PEM block")
	}
	var k any
	switch block.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, unusable(path, "a %q PEM block, not a private key", block.Type)
	}
	if err != nil {
		return nil, unusable(path, "%v", err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok || key.Curve != elliptic.P256() {
		return nil, unusable(path, "not an ECDSA P-256 key")
	}
	return key, nil
}

// unusable is the error of a kept file that cannot be used.
func unusable(path, format string, args ...any) error {
	return fmt.Errorf("certs: %s: %s (%w; remove %s and %s in %s to make a new certificate, whose new hash pinned clients will need)",
		path, fmt.Sprintf(format, args...), ErrUnusable, KeyFile, CertFile, filepath.Dir(path))
}

// readKept reads a kept file of at most MaxPEM bytes. A missing file is an
// error wrapping fs.ErrNotExist; any other failure wraps ErrUnusable.
func readKept(path string) ([]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err != nil {
		return nil, unusable(path, "%v", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxPEM+1))
	if err != nil {
		return nil, unusable(path, "%v", err)
	}
	if len(b) > MaxPEM {
		return nil, unusable(path, "larger than %d bytes", MaxPEM)
	}
	return b, nil
}
