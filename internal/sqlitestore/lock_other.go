//go:build !unix

package sqlitestore

import (
	"fmt"
	"os"
	"path/filepath"
)

// lockDir creates dir/LOCK; on this platform it does not lock it, so keeping
// two processes off one data directory is left to the operator.
func lockDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, "LOCK")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: cannot create %s: %w", path, err)
	}
	return f, nil
}

// unlockDir closes the file opened by lockDir.
func unlockDir(f *os.File) {
	if f != nil {
		f.Close()
	}
}
