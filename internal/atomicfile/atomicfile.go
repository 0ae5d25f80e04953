package atomicfile

import (
	"io/fs"
	"os"
	"path/filepath"
)

// Write replaces path's contents with data, mode perm (not reduced by the
// umask), atomically and durably: when it returns nil the new file is in
// place and synced, directory entry included. On an error the old file,
// if any, is untouched and no temporary file is left behind. The errors
// are the os package's, unwrapped (callers name what they were saving).
func Write(path string, data []byte, perm fs.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if err := fill(f, data, perm); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return SyncDir(dir)
}

// fill writes data to f, sets its mode, syncs and closes it (closed on
// every path).
func fill(f *os.File, data []byte, perm fs.FileMode) error {
	err := f.Chmod(perm)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// SyncDir syncs the directory dir, making the renames, creations and
// removals of entries in it durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
