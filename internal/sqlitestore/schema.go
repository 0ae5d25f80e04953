package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	sqlite3 "modernc.org/sqlite/lib"
)

// SQLite primary result codes the store tells apart.
const (
	sqliteConstraint = sqlite3.SQLITE_CONSTRAINT
	sqliteNotADB     = sqlite3.SQLITE_NOTADB
	sqliteCorrupt    = sqlite3.SQLITE_CORRUPT
	sqliteReadOnly   = sqlite3.SQLITE_READONLY
	sqlitePerm       = sqlite3.SQLITE_PERM
	sqliteCantOpen   = sqlite3.SQLITE_CANTOPEN
	sqliteFull       = sqlite3.SQLITE_FULL
)

// migrations[i] brings the schema from version i to version i+1; the
// database's PRAGMA user_version is the number applied. Append new steps,
// never edit one that shipped.
var migrations = []string{
	// 1: the first schema.
	`
CREATE TABLE conversations (
	cid    INTEGER PRIMARY KEY,
	id     TEXT NOT NULL UNIQUE,      -- server.ConvID
	name   TEXT NOT NULL,             -- a room as its first joiner spelled it; '' for a pair
	seq    INTEGER NOT NULL DEFAULT 0, -- latest seq; never lowered by retention
	epoch  TEXT NOT NULL,             -- random, made at creation
	a_key  TEXT, a_name TEXT,         -- a pair's two users (folded key, display name)
	b_key  TEXT, b_name TEXT
);
CREATE INDEX conversations_a ON conversations(a_key) WHERE a_key IS NOT NULL;
CREATE INDEX conversations_b ON conversations(b_key) WHERE b_key IS NOT NULL;

-- mid grows with insertion, so oldest-first by mid is (nearly) by ts.
CREATE TABLE messages (
	mid       INTEGER PRIMARY KEY,
	cid       INTEGER NOT NULL,
	seq       INTEGER NOT NULL,
	ts        INTEGER NOT NULL,       -- Unix nanoseconds
	room      TEXT NOT NULL,
	sender    TEXT NOT NULL,
	recipient TEXT NOT NULL,
	text      TEXT NOT NULL,
	img_id    TEXT, img_mime TEXT, img_w INTEGER, img_h INTEGER, img_size INTEGER, img_name TEXT,
	owner     TEXT NOT NULL,
	nonce     TEXT NOT NULL
);
CREATE UNIQUE INDEX messages_seq ON messages(cid, seq);
CREATE UNIQUE INDEX messages_nonce ON messages(owner, nonce) WHERE nonce <> '';
CREATE INDEX messages_img ON messages(img_id) WHERE img_id IS NOT NULL;

-- Nonces whose message retention removed while they were younger than
-- NonceKeep. (A message's own nonce lives in its messages row.)
CREATE TABLE nonces (
	owner TEXT NOT NULL,
	nonce TEXT NOT NULL,
	conv  TEXT NOT NULL,
	seq   INTEGER NOT NULL,
	ts    INTEGER NOT NULL,
	img_id TEXT, img_mime TEXT, img_w INTEGER, img_h INTEGER, img_size INTEGER, img_name TEXT,
	PRIMARY KEY (owner, nonce)
) WITHOUT ROWID;
CREATE INDEX nonces_ts ON nonces(ts);

CREATE TABLE identities (
	key     TEXT PRIMARY KEY,         -- folded name
	display TEXT NOT NULL,
	pub     BLOB NOT NULL,            -- Ed25519 public key
	bound   INTEGER NOT NULL          -- Unix nanoseconds
) WITHOUT ROWID;

CREATE TABLE images (
	id   TEXT PRIMARY KEY,            -- lower-case hex SHA-256 of the bytes
	mime TEXT NOT NULL,
	w    INTEGER NOT NULL,
	h    INTEGER NOT NULL,
	size INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE image_posts (
	id  TEXT NOT NULL,
	cid INTEGER NOT NULL,
	PRIMARY KEY (id, cid)
) WITHOUT ROWID;
`,
}

// SchemaVersion is the schema version this build writes.
var SchemaVersion = len(migrations)

// ErrNewerSchema is wrapped by Open's error for a database written by a
// newer Parley.
var ErrNewerSchema = errors.New("database was written by a newer Parley")

// checkVersion reads an existing database file's header, so that a
// database this build must refuse is left exactly as it was (not even
// opened by SQLite, which would add -wal and -shm files). A newer version
// that is only in the WAL (a newer Parley crashed before a checkpoint) is
// caught by migrate instead.
func checkVersion(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("sqlitestore: cannot read %s: %w", path, err)
	}
	defer f.Close()
	var h [100]byte
	n, err := io.ReadFull(f, h[:])
	if n == 0 && errors.Is(err, io.EOF) {
		return nil // an empty file is an empty database
	}
	if err != nil || string(h[:16]) != "SQLite format 3\x00" {
		return fmt.Errorf("sqlitestore: %s is corrupt or not a Parley database (no SQLite header)", path)
	}
	ps := int(binary.BigEndian.Uint16(h[16:18]))
	if ps == 1 {
		ps = 65536
	}
	if ps < 512 || ps&(ps-1) != 0 || h[21] != 64 || h[22] != 32 || h[23] != 32 {
		return fmt.Errorf("sqlitestore: %s is corrupt or not a Parley database (bad SQLite header)", path)
	}
	if v := int(binary.BigEndian.Uint32(h[60:64])); v > SchemaVersion {
		return fmt.Errorf("sqlitestore: %s: %w (schema %d); this build knows up to %d", path, ErrNewerSchema, v, SchemaVersion)
	}
	return nil
}

// migrate applies every migration the database lacks, each in its own
// transaction together with the new user_version.
func migrate(ctx context.Context, c *sql.Conn) error {
	var v int
	if err := c.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return err
	}
	if v > SchemaVersion {
		return fmt.Errorf("sqlitestore: %w (schema %d); this build knows up to %d", ErrNewerSchema, v, SchemaVersion)
	}
	var tables int
	if err := c.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master").Scan(&tables); err != nil {
		return err
	}
	if v == 0 && tables > 0 {
		return errors.New("sqlitestore: the database is not a Parley database (it has tables but no schema version)")
	}
	for ; v < SchemaVersion; v++ {
		if err := migrateStep(ctx, c, v); err != nil {
			return fmt.Errorf("sqlitestore: migrating schema %d to %d: %w", v, v+1, err)
		}
	}
	return nil
}

// migrateStep applies migrations[v] and sets user_version to v+1.
func migrateStep(ctx context.Context, c *sql.Conn, v int) (err error) {
	if _, err := c.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_, _ = c.ExecContext(ctx, "ROLLBACK")
		}
	}()
	if _, err := c.ExecContext(ctx, migrations[v]); err != nil {
		return err
	}
	if _, err := c.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
		return err
	}
	_, err = c.ExecContext(ctx, "COMMIT")
	return err
}
