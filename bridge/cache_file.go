package bridge

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"parley/internal/atomicfile"
)

// FileCache is a CacheStore in a directory: one file per key (a key's "/"
// is a subdirectory), written atomically (a temporary file renamed over
// the old one), files 0600 and directories 0700. Safe for concurrent use
// on different keys.
type FileCache struct {
	dir string
}

// NewFileCache returns a FileCache in dir (made on first write).
func NewFileCache(dir string) *FileCache { return &FileCache{dir: dir} }

// path maps a key to its file, refusing keys that are not lower-case hex
// digits separated by "/" (so that no key leaves the directory).
func (f *FileCache) path(key string) (string, error) {
	if key == "" || len(key) > 200 {
		return "", fmt.Errorf("bridge: bad cache key %q", key)
	}
	for _, part := range strings.Split(key, "/") {
		if part == "" {
			return "", fmt.Errorf("bridge: bad cache key %q", key)
		}
		for _, r := range part {
			if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z') {
				return "", fmt.Errorf("bridge: bad cache key %q", key)
			}
		}
	}
	return filepath.Join(f.dir, filepath.FromSlash(key)+".json"), nil
}

// Get reads the value of key: nil, nil when there is none. A value over
// MaxCacheEntry is an error.
func (f *FileCache) Get(key string) ([]byte, error) {
	p, err := f.path(key)
	if err != nil {
		return nil, err
	}
	fh, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, MaxCacheEntry+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxCacheEntry {
		return nil, fmt.Errorf("bridge: cache file %s is too large", p)
	}
	return b, nil
}

// Put writes value under key atomically and durably (atomicfile), mode 0600.
func (f *FileCache) Put(key string, value []byte) error {
	p, err := f.path(key)
	if err != nil {
		return err
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return atomicfile.Write(p, value, 0o600)
}

// Delete removes key's value; a missing one is not an error.
func (f *FileCache) Delete(key string) error {
	p, err := f.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
