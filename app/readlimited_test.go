package app

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// readLimited reads a file of exactly the limit and refuses one byte more;
// the settings and identity files are read with maxSettingsFile.
func TestReadLimitedAtTheLimit(t *testing.T) {
	dir := t.TempDir()
	for _, limit := range []int{64, maxSettingsFile} {
		path := filepath.Join(dir, "f")
		at := bytes.Repeat([]byte("x"), limit)
		if err := os.WriteFile(path, at, 0o600); err != nil {
			t.Fatal(err)
		}
		if b, err := readLimited(path, limit); err != nil || len(b) != limit {
			t.Fatalf("limit %d: a file of %d bytes read as %d bytes, %v", limit, limit, len(b), err)
		}
		if err := os.WriteFile(path, append(at, 'x'), 0o600); err != nil {
			t.Fatal(err)
		}
		if b, err := readLimited(path, limit); err == nil {
			t.Fatalf("limit %d: a file one byte over read as %d bytes", limit, len(b))
		}
	}
	if _, err := readLimited(filepath.Join(dir, "absent"), 64); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v, want fs.ErrNotExist", err)
	}
}
