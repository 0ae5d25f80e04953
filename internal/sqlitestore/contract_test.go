package sqlitestore

import (
	"testing"

	"parley/internal/storetest"
	"parley/server"
)

// openTest opens a store in a fresh temporary directory.
func openTest(t testing.TB, opts Options) *Store {
	t.Helper()
	s, err := Open(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) server.Store { return openTest(t, Options{}) })
}
