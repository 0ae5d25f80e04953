package sqlitestore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"parley/internal/atomicfile"
	"parley/server"
)

// uploadPrefix starts the name of an upload's temporary file in images/.
const uploadPrefix = ".upload-"

// freshKeep is how long a just-committed image file is kept from removal by
// retention, so that an upload racing with the removal of the same bytes is
// not lost before its message is appended.
const freshKeep = time.Hour

// validImageID reports whether id is a lower-case hex SHA-256.
func validImageID(id string) bool {
	if len(id) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// imagePath is where an image's bytes live.
func (s *Store) imagePath(id string) string { return filepath.Join(s.dir, ImagesDir, id) }

// upload is a server.Upload writing to a temporary file in images/. It is
// used by one goroutine at a time.
type upload struct {
	s    *Store
	f    *os.File
	h    hash.Hash
	done bool
}

// NewUpload starts storing an image's bytes in a temporary file.
func (s *Store) NewUpload(ctx context.Context) (server.Upload, error) {
	if s.down.Load() {
		return nil, ErrClosed
	}
	f, err := os.CreateTemp(filepath.Join(s.dir, ImagesDir), uploadPrefix+"*")
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: new upload: %w", err)
	}
	return &upload{s: s, f: f, h: sha256.New()}, nil
}

// Write appends bytes to the upload.
func (u *upload) Write(p []byte) (int, error) {
	if u.done {
		return 0, errors.New("sqlitestore: write to a finished upload")
	}
	n, err := u.f.Write(p)
	u.h.Write(p[:n])
	if err != nil {
		return n, fmt.Errorf("sqlitestore: upload: %w", err)
	}
	return n, nil
}

// Commit keeps the bytes under id, which must be their SHA-256: the file is
// synced, renamed into place and the directory synced before it returns.
func (u *upload) Commit(ctx context.Context, id string) error {
	if u.done {
		return errors.New("sqlitestore: commit of a finished upload")
	}
	if got := hex.EncodeToString(u.h.Sum(nil)); got != id {
		u.Abort()
		return fmt.Errorf("sqlitestore: upload committed as %q but its bytes hash to %s", id, got)
	}
	u.done = true
	tmp := u.f.Name()
	err := u.f.Sync()
	if cerr := u.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("sqlitestore: upload %s: %w", id, err)
	}
	s := u.s
	s.imgMu.Lock()
	defer s.imgMu.Unlock()
	// Same id, same bytes: replacing an existing file is harmless and
	// leaves no window in which it is missing.
	if err := os.Rename(tmp, s.imagePath(id)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("sqlitestore: upload %s: %w", id, err)
	}
	if err := atomicfile.SyncDir(filepath.Join(s.dir, ImagesDir)); err != nil {
		return fmt.Errorf("sqlitestore: upload %s: %w", id, err)
	}
	s.fresh[id] = time.Now()
	return nil
}

// Abort discards the bytes; after Commit it does nothing.
func (u *upload) Abort() {
	if u.done {
		return
	}
	u.done = true
	u.f.Close()
	os.Remove(u.f.Name())
}

// OpenImage opens an image's bytes by id, or fails with server.ErrNotFound.
func (s *Store) OpenImage(ctx context.Context, id string) (io.ReadCloser, error) {
	if s.down.Load() {
		return nil, ErrClosed
	}
	if !validImageID(id) {
		return nil, server.ErrNotFound
	}
	f, err := os.Open(s.imagePath(id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, server.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open image %s: %w", id, err)
	}
	return f, nil
}

// ImageConvs lists the conversations an image was posted in (none for an
// unknown image).
func (s *Store) ImageConvs(ctx context.Context, id string) ([]server.ConvID, error) {
	if s.down.Load() {
		return nil, ErrClosed
	}
	rows, err := s.r.QueryContext(ctx, `SELECT c.id FROM image_posts p JOIN conversations c ON c.cid = p.cid
		WHERE p.id = ? ORDER BY c.id`, id)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: conversations of image %s: %w", id, err)
	}
	defer rows.Close()
	var out []server.ConvID
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, fmt.Errorf("sqlitestore: conversations of image %s: %w", id, err)
		}
		out = append(out, server.ConvID(c))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlitestore: conversations of image %s: %w", id, err)
	}
	return out, nil
}

// removeImageFile deletes an image's bytes that no message refers to any
// more, unless an upload committed them recently.
func (s *Store) removeImageFile(id string) {
	s.imgMu.Lock()
	defer s.imgMu.Unlock()
	now := time.Now()
	for k, t := range s.fresh {
		if now.Sub(t) > freshKeep {
			delete(s.fresh, k)
		}
	}
	if _, ok := s.fresh[id]; ok {
		return
	}
	os.Remove(s.imagePath(id))
}

// removeStaleUploads deletes temporary upload files a crash left behind.
func removeStaleUploads(dir string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), uploadPrefix) {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}
