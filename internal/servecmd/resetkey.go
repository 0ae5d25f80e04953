package servecmd

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"parley/internal/atomicfile"
)

// ResetKeyFile is the file in the data directory that holds the QUIC
// stateless reset key (32 random bytes, mode 0600).
const ResetKeyFile = "quic-reset.key"

// resetKeySize is the size of a stateless reset key.
const resetKeySize = 32

// ResetKey returns the QUIC stateless reset key kept in dataDir, making
// and saving a random one the first time. The same key across restarts
// lets a restarted server reset the connections of its previous run (a
// crash, a SIGKILL), so their clients reconnect at once. The file must be
// exactly 32 bytes and readable by its owner only; anything else is a
// clear error rather than a key silently replaced or shared.
func ResetKey(dataDir string) (*[32]byte, error) {
	path := filepath.Join(dataDir, ResetKeyFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		st, err := os.Stat(path)
		if err != nil {
			return nil, err
		}
		if st.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("%s is readable by others (mode %v): make it 0600 (chmod 600 %s)", path, st.Mode().Perm(), path)
		}
		if len(b) != resetKeySize {
			return nil, fmt.Errorf("%s holds %d bytes, not a %d-byte key: remove it and a new one is made", path, len(b), resetKeySize)
		}
		var key [32]byte
		copy(key[:], b)
		return &key, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("reading the QUIC reset key: %w", err)
	}
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		return nil, err
	}
	if err := atomicfile.Write(path, key[:], 0o600); err != nil {
		return nil, fmt.Errorf("saving the QUIC reset key: %w", err)
	}
	return &key, nil
}
