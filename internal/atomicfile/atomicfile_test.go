package atomicfile

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// entries lists the names in dir.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// mustRead reads path, failing the test on an error.
func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestWriteCreatesWithMode(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "key")
	for _, perm := range []fs.FileMode{0o600, 0o640, 0o444} {
		if err := Write(path, []byte("v"+perm.String()), perm); err != nil {
			t.Fatalf("Write %v: %v", perm, err)
		}
		if got := mustRead(t, path); string(got) != "v"+perm.String() {
			t.Fatalf("contents %q after Write with %v", got, perm)
		}
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != perm {
			t.Fatalf("mode %v, want %v", st.Mode().Perm(), perm)
		}
	}
	if names := entries(t, dir); len(names) != 1 || names[0] != "key" {
		t.Fatalf("directory holds %q, want only the file", names)
	}
}

func TestWriteEmpty(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty")
	if err := Write(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, path); len(got) != 0 {
		t.Fatalf("contents %q, want none", got)
	}
}

// The old file is replaced, not rewritten in place: a hard link to it
// still reads the old bytes, which is what a reader holding it open sees.
func TestWriteReplacesNotOverwrites(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "settings.json")
	if err := os.WriteFile(path, []byte("old contents"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(dir, "old-link")
	if err := os.Link(path, old); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, path); string(got) != "new" {
		t.Fatalf("contents %q, want new", got)
	}
	if got := mustRead(t, old); string(got) != "old contents" {
		t.Fatalf("the old file was changed in place: %q", got)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v after replacing a 0644 file, want 0600", st.Mode().Perm())
	}
}

func TestWriteMissingDirectory(t *testing.T) {
	dir := t.TempDir()
	err := Write(filepath.Join(dir, "absent", "f"), []byte("x"), 0o600)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err %v, want one wrapping fs.ErrNotExist", err)
	}
	if names := entries(t, dir); len(names) != 0 {
		t.Fatalf("directory holds %q after a failed Write", names)
	}
}

// A rename that fails (the target is a directory that is not empty)
// leaves the target alone and no temporary file behind.
func TestWriteRenameFails(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	if err := os.MkdirAll(filepath.Join(target, "inside"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := Write(target, []byte("x"), 0o600); err == nil {
		t.Fatal("Write over a non-empty directory succeeded")
	}
	st, err := os.Stat(target)
	if err != nil || !st.IsDir() {
		t.Fatalf("target is no longer the directory: %v, %v", st, err)
	}
	if names := entries(t, dir); len(names) != 1 || names[0] != "target" {
		t.Fatalf("directory holds %q, want only the target (no temporary file)", names)
	}
}

// fill closes the file and reports the error when writing fails; Write
// then removes the temporary file.
func TestFillWriteFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ro")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path) // read-only: Write fails
	if err != nil {
		t.Fatal(err)
	}
	if err := fill(f, []byte("x"), 0o600); err == nil {
		t.Fatal("fill on a read-only file succeeded")
	}
	if err := f.Close(); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("file not closed after a failed fill: Close says %v", err)
	}
}

func TestSyncDir(t *testing.T) {
	dir := t.TempDir()
	if err := SyncDir(dir); err != nil {
		t.Fatalf("SyncDir of a directory: %v", err)
	}
	if err := SyncDir(filepath.Join(dir, "absent")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("SyncDir of a missing directory: %v, want fs.ErrNotExist", err)
	}
}

// Readers racing with writers only ever see a whole version of the file,
// and after the writers the file is one of the written versions.
func TestWriteConcurrentReadersSeeWholeFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	const writers, rounds, size = 4, 20, 64 << 10
	version := func(w, r int) []byte {
		return bytes.Repeat([]byte(fmt.Sprintf("%d.%d;", w, r)), size/8)
	}
	whole := map[string]bool{}
	for w := 0; w < writers; w++ {
		for r := 0; r < rounds; r++ {
			whole[string(version(w, r))] = true
		}
	}
	if err := Write(path, version(0, 0), 0o600); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers+1)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				if err := Write(path, version(w, r), 0o600); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	stop := make(chan struct{})
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			select {
			case <-stop:
				return
			default:
			}
			b, err := os.ReadFile(path)
			if err != nil {
				errs <- err
				return
			}
			if !whole[string(b)] {
				errs <- fmt.Errorf("a reader saw %d bytes that are no whole version", len(b))
				return
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-readerDone
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if b := mustRead(t, path); !whole[string(b)] {
		t.Fatalf("final file (%d bytes) is no whole version", len(b))
	}
	if names := entries(t, filepath.Dir(path)); len(names) != 1 {
		t.Fatalf("directory holds %q, want only the file", names)
	}
}
