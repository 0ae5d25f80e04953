package sqlitestore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"parley/internal/storetest"
	"parley/protocol"
	"parley/server"
)

// dirFiles reads every file of dir (not recursively) into a map.
func dirFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range ents {
		if e.Type().IsRegular() {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			out[e.Name()] = b
		}
	}
	return out
}

// rawExec runs statements on the database in dir with a plain connection.
func rawExec(t *testing.T, dir string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(dir, DBFile))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	storetest.AppendSeq(t, s, server.RoomConv("lobby"), 0, 3, storetest.Msg)
	s.Close()
	newer := SchemaVersion + 1
	rawExec(t, dir, fmt.Sprintf("PRAGMA user_version = %d", newer), "PRAGMA wal_checkpoint(TRUNCATE)")
	before := dirFiles(t, dir)
	s, err = Open(dir, Options{})
	if err == nil {
		s.Close()
		t.Fatal("a database of a newer schema was opened")
	}
	want := fmt.Sprintf("database was written by a newer Parley (schema %d); this build knows up to %d", newer, SchemaVersion)
	if !strings.Contains(err.Error(), want) || !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("error %q does not say %q", err, want)
	}
	after := dirFiles(t, dir)
	for name, b := range before {
		if name == "LOCK" {
			continue
		}
		if !bytes.Equal(after[name], b) {
			t.Errorf("refusing the database changed %s", name)
		}
	}
	for name := range after {
		if _, ok := before[name]; !ok {
			t.Errorf("refusing the database left a new file %s", name)
		}
	}
}

func TestCorruptDatabase(t *testing.T) {
	for _, tc := range []struct {
		name, content, want string
	}{
		{"garbage", strings.Repeat("this is not a database ", 300), "corrupt"},
		{"zero header", "SQLite format 3\x00" + strings.Repeat("\xff", 4080), "corrupt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, DBFile), []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := Open(dir, Options{})
			if err == nil {
				s.Close()
				t.Fatal("a corrupt database was opened")
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), DBFile) {
				t.Fatalf("error %q does not name the file and say %q", err, tc.want)
			}
		})
	}
	t.Run("foreign database", func(t *testing.T) {
		dir := t.TempDir()
		rawExec(t, dir, "CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER)")
		s, err := Open(dir, Options{})
		if err == nil {
			s.Close()
			t.Fatal("another program's database was opened")
		}
		if !strings.Contains(err.Error(), "not a Parley database") {
			t.Fatalf("error %q does not say it is not a Parley database", err)
		}
	})
}

// mount runs mount(8) with args.
func mount(args ...string) error {
	out, err := exec.Command("mount", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("mount %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// umountOnCleanup unmounts dir when the test ends.
func umountOnCleanup(t *testing.T, dir string) {
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
}

// readOnly makes dir read-only: a read-only bind mount when running as root
// (root ignores permission bits), else chmod 0555.
func readOnly(t *testing.T, dir string) {
	t.Helper()
	if os.Geteuid() != 0 {
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(dir, 0o755) })
		return
	}
	if err := mount("--bind", dir, dir); err != nil {
		t.Skipf("cannot make a read-only directory as root without mount privileges: %v", err)
	}
	umountOnCleanup(t, dir)
	if err := mount("-o", "remount,bind,ro", dir); err != nil {
		t.Skipf("cannot remount read-only: %v", err)
	}
}

func TestReadOnlyDir(t *testing.T) {
	t.Run("empty", func(t *testing.T) {
		dir := t.TempDir()
		readOnly(t, dir)
		s, err := Open(dir, Options{})
		if err == nil {
			s.Close()
			t.Fatal("Open succeeded in a read-only directory")
		}
		if !strings.Contains(err.Error(), "not writable") {
			t.Fatalf("error %q does not say the directory is not writable", err)
		}
	})
	t.Run("existing database", func(t *testing.T) {
		dir := t.TempDir()
		s, err := Open(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		storetest.AppendSeq(t, s, server.RoomConv("lobby"), 0, 3, storetest.Msg)
		s.Close()
		readOnly(t, dir)
		s, err = Open(dir, Options{})
		if err == nil {
			s.Close()
			t.Fatal("Open succeeded in a read-only directory")
		}
		if !strings.Contains(err.Error(), "not writable") {
			t.Fatalf("error %q does not say the directory is not writable", err)
		}
	})
}

func TestDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("cannot mount a 2 MiB tmpfs without root (running as uid", os.Geteuid(), ")")
	}
	dir := t.TempDir()
	if err := mount("-t", "tmpfs", "-o", "size=2m", "tmpfs", dir); err != nil {
		t.Skipf("cannot mount a small tmpfs: %v", err)
	}
	umountOnCleanup(t, dir)
	ctx := context.Background()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	room := server.RoomConv("lobby")
	if _, err := s.Conv(ctx, room, "Lobby"); err != nil {
		t.Fatal(err)
	}
	// Fill most of the disk with a file we can remove later.
	filler := filepath.Join(dir, "filler")
	if err := os.WriteFile(filler, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	text := strings.Repeat("x", protocol.DefaultMaxText)
	acked := int64(0)
	var failed error
	for seq := int64(1); seq <= 1000 && failed == nil; seq++ {
		m := storetest.Msg(room, seq)
		m.Text = text
		if err := appendWait(t, s, m); err != nil {
			failed = err
		} else {
			acked = seq
		}
	}
	if failed == nil {
		t.Fatal("1000 messages of 4000 bytes fitted in a 2 MiB file system")
	}
	t.Logf("disk full after %d messages: %v", acked, failed)
	// The store keeps answering and refuses further writes cleanly.
	if err := appendWait(t, s, storetest.Msg(room, acked+2)); err == nil {
		t.Fatal("an append out of sequence succeeded")
	}
	u, err := s.NewUpload(ctx)
	if err == nil {
		_, err = u.Write(make([]byte, 4<<20))
		u.Abort()
	}
	if err == nil {
		t.Fatal("a 4 MiB upload fitted in a full 2 MiB file system")
	}
	// Space returns: the server reloads the room and goes on.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	st, err := s.Conv(ctx, room, "")
	if err != nil {
		t.Fatal(err)
	}
	if st.Seq != acked {
		t.Fatalf("seq after a full disk: %d, want the last acknowledged %d", st.Seq, acked)
	}
	for seq := acked + 1; seq <= acked+3; seq++ {
		if err := appendWait(t, s, storetest.Msg(room, seq)); err != nil {
			t.Fatalf("append %d once space returned: %v", seq, err)
		}
	}
	var got []*server.Message
	for since := int64(0); ; {
		ms, err := s.History(ctx, room, server.HistoryQuery{Since: protocol.Int64(since), Limit: protocol.MaxHistory})
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) == 0 {
			break
		}
		got = append(got, ms...)
		since = ms[len(ms)-1].Seq
	}
	if int64(len(got)) != acked+3 {
		t.Fatalf("history has %d messages, want %d", len(got), acked+3)
	}
	for i, m := range got {
		if m.Seq != int64(i)+1 {
			t.Fatalf("history seq %d at position %d", m.Seq, i)
		}
	}
	if _, err := putImageErr(s, []byte("after the storm")); err != nil {
		t.Fatalf("upload once space returned: %v", err)
	}
}

// putImageErr stores b, returning errors instead of failing.
func putImageErr(s server.Store, b []byte) (string, error) {
	u, err := s.NewUpload(context.Background())
	if err != nil {
		return "", err
	}
	if _, err := u.Write(b); err != nil {
		u.Abort()
		return "", err
	}
	id := sha256Hex(b)
	return id, u.Commit(context.Background(), id)
}

// sha256Hex is an image id.
func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
