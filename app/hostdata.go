package app

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"parley/internal/certs"
	"parley/internal/sqlitestore"
)

// What Host on LAN keeps between runs, in ConfigDir/host (mode 0700): the
// durable store (history, name bindings, images: sqlitestore's files), the
// certificate with its key, and the QUIC stateless reset key. So a hosting
// run continues the last one: same history and epochs, and — until the
// self-signed certificate is renewed — the same certificate hash, so the
// join links and pins of the members stay valid across a restart.
const (
	hostDirName   = "host"
	hostCertFile  = "tls-cert.pem"
	hostKeyFile   = "tls-key.pem"
	hostResetFile = "quic-reset.key"
	// maxHostPEM bounds what is read back of the certificate and key files.
	maxHostPEM = 64 << 10
)

// hostDir is where Host on LAN keeps its data.
func (a *App) hostDir() string { return filepath.Join(a.dir, hostDirName) }

// openHostStore opens the durable store of the hosted server.
func openHostStore(dir string) (*sqlitestore.Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, err
	}
	return sqlitestore.Open(dir, sqlitestore.Options{})
}

// hostCert serves the hosted server's certificate: the one kept in the host
// directory while it is valid for more than certs.RenewBefore, else a new
// self-signed one (a new key too), written back. Safe for concurrent use.
type hostCert struct {
	dir   string
	hosts []string
	now   func() time.Time
	log   *slog.Logger

	mu       sync.Mutex
	cert     *tls.Certificate
	notAfter time.Time
}

// loadHostCert reads the kept certificate, or makes and keeps a new one.
func loadHostCert(dir string, hosts []string, now func() time.Time, log *slog.Logger) (*hostCert, error) {
	if now == nil {
		now = time.Now
	}
	h := &hostCert{dir: dir, hosts: hosts, now: now, log: log}
	h.mu.Lock()
	defer h.mu.Unlock()
	if c, err := h.readLocked(); err == nil {
		h.cert, h.notAfter = c, c.Leaf.NotAfter
		if h.freshLocked() {
			return h, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		log.Warn("the hosted server's certificate is unreadable; making a new one", "err", err)
	}
	if err := h.renewLocked(); err != nil {
		return nil, err
	}
	return h, nil
}

// freshLocked reports whether the certificate may still be served.
func (h *hostCert) freshLocked() bool {
	now := h.now()
	return h.cert != nil && !now.Before(h.cert.Leaf.NotBefore) && now.Before(h.notAfter.Add(-certs.RenewBefore))
}

func (h *hostCert) readLocked() (*tls.Certificate, error) {
	certPEM, err := readLimited(filepath.Join(h.dir, hostCertFile), maxHostPEM)
	if err != nil {
		return nil, err
	}
	keyPEM, err := readLimited(filepath.Join(h.dir, hostKeyFile), maxHostPEM)
	if err != nil {
		return nil, err
	}
	p, err := certs.FromPEM(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	c, err := p.Certificate()
	if err != nil {
		return nil, err
	}
	if c.Leaf == nil {
		if c.Leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// renewLocked makes a new self-signed certificate and keeps it. Failing to
// write it is logged: the certificate still serves this run.
func (h *hostCert) renewLocked() error {
	p, err := certs.SelfSigned(h.hosts, certs.WithClock(h.now))
	if err != nil {
		return err
	}
	c, err := p.Certificate()
	if err != nil {
		return err
	}
	if c.Leaf == nil {
		if c.Leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return err
		}
	}
	h.cert, h.notAfter = c, c.Leaf.NotAfter
	if err := h.writeLocked(c); err != nil {
		h.log.Warn("cannot keep the hosted server's certificate; joiners will need a new link next time", "err", err)
	}
	return nil
}

func (h *hostCert) writeLocked(c *tls.Certificate) error {
	der, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		return err
	}
	// The key first: a crash between the two writes leaves a pair that
	// does not match, which the next run replaces.
	if err := writePrivate(h.dir, hostKeyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
		return err
	}
	return writePrivate(h.dir, hostCertFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]}))
}

// GetCertificate is the tls.Config hook: the kept certificate, renewed
// (and kept again) when it comes within certs.RenewBefore of its expiry.
func (h *hostCert) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.freshLocked() {
		if err := h.renewLocked(); err != nil {
			return nil, err
		}
	}
	return h.cert, nil
}

// TLSConfig is the hosted server's TLS configuration.
func (h *hostCert) TLSConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS13, GetCertificate: h.GetCertificate}
}

// loadResetKey reads the kept QUIC stateless reset key, making one on
// first use: with the same key after a restart, the server tells members
// of the old run at once that their connection is gone.
func loadResetKey(dir string) (*[32]byte, error) {
	var key [32]byte
	b, err := readLimited(filepath.Join(dir, hostResetFile), 64)
	if err == nil && len(b) == len(key) {
		copy(key[:], b)
		return &key, nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if _, err := rand.Read(key[:]); err != nil {
		return nil, err
	}
	if err := writePrivate(dir, hostResetFile, key[:]); err != nil {
		return nil, err
	}
	return &key, nil
}

// readLimited reads a file of at most limit bytes.
func readLimited(path string, limit int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > int64(limit) {
		return nil, fmt.Errorf("%s is too large (%d bytes)", path, st.Size())
	}
	b := make([]byte, st.Size())
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, err
	}
	return b, nil
}
