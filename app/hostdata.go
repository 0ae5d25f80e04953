package app

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"parley/internal/certs"
	"parley/internal/sqlitestore"
)

// What Host on LAN keeps between runs, in ConfigDir/host (mode 0700): the
// durable store (history, name bindings, images: sqlitestore's files), the
// certificate with its key (certs.CertFile and certs.KeyFile, kept by
// certs.Persistent), and the QUIC stateless reset key. So a hosting run
// continues the last one: same history and epochs, and — until the
// self-signed certificate is renewed — the same certificate hash, so the
// join links and pins of the members stay valid across a restart.
const (
	hostDirName   = "host"
	hostResetFile = "quic-reset.key"
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

// hostCertificate is the hosted server's certificate, kept in dir by
// certs.Persistent: the same one (and hash) across runs until it is due
// for renewal; each renewal is kept too. Kept files that cannot be used
// are replaced, with a warning — the desktop user has no way to repair
// them — and the joiners then need a new link. now nil: the real clock.
func hostCertificate(dir string, hosts []string, now func() time.Time, log *slog.Logger) (*certs.Provider, error) {
	opts := []certs.Option{certs.WithLogger(log)}
	if now != nil {
		opts = append(opts, certs.WithClock(now))
	}
	p, err := certs.Persistent(dir, hosts, opts...)
	if !errors.Is(err, certs.ErrUnusable) {
		return p, err
	}
	log.Warn("the hosted server's certificate cannot be used; making a new one (joiners will need a new link)", "err", err)
	for _, f := range []string{certs.KeyFile, certs.CertFile} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return certs.Persistent(dir, hosts, opts...)
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

// readLimited reads a file of at most limit bytes; a larger one is an
// error.
func readLimited(path string, limit int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if len(b) > limit {
		return nil, fmt.Errorf("app: %s is larger than %d bytes", path, limit)
	}
	return b, nil
}
