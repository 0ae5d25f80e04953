package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"

	"parley/server"
)

// DBFile is the database's file name inside the data directory.
const DBFile = "parley.db"

// ImagesDir is the directory, inside the data directory, that holds image
// bytes named by their SHA-256.
const ImagesDir = "images"

// NonceKeep is how long a nonce is remembered at least, even when retention
// removed its message sooner (PROTOCOL.md section 5).
const NonceKeep = 24 * time.Hour

// Defaults for Options fields left zero.
const (
	// DefaultMaxPending is the default Options.MaxPending.
	DefaultMaxPending = 1 << 16
	// DefaultMaxBatch is the default Options.MaxBatch.
	DefaultMaxBatch = 8192
	// DefaultRetainEvery is the default Options.RetainEvery.
	DefaultRetainEvery = time.Minute
)

// retainChunk is how many messages (by id or seq range) one retention step
// deletes at most, so that a retention pass never holds up appends for long.
const retainChunk = 5000

// Options configures a Store. The zero value keeps everything forever.
type Options struct {
	// RetainAge removes messages older than this (by their TS); zero keeps
	// them regardless of age.
	RetainAge time.Duration
	// RetainCount keeps at most this many of the newest messages per
	// conversation; zero keeps them all.
	RetainCount int
	// RetainEvery is how often retention runs when RetainAge or RetainCount
	// is set; zero means DefaultRetainEvery.
	RetainEvery time.Duration
	// MaxPending is how many appends may wait for the committer before
	// Append blocks; zero means DefaultMaxPending.
	MaxPending int
	// MaxBatch is the most items one transaction holds; zero means
	// DefaultMaxBatch.
	MaxBatch int
}

// ErrClosed is the error of an Append, or any other call, on a closed Store.
var ErrClosed = errors.New("sqlitestore: store is closed")

// Store is the SQLite implementation of server.Store. Make one with Open.
type Store struct {
	dir  string
	opts Options

	w    *sql.DB   // one connection, used by the committer alone
	wc   *sql.Conn // the committer's connection
	r    *sql.DB   // read-only pool
	lock *os.File  // advisory lock on dir/LOCK

	mu      sync.Mutex
	cond    *sync.Cond // signalled when the queue shrinks or the store closes
	pending []*item
	closed  bool
	down    atomic.Bool   // set by Close: reads fail with ErrClosed
	wake    chan struct{} // cap 1: something was queued or the store closes

	nmu     sync.Mutex
	ncond   *sync.Cond // signalled when a batch is committed or the committer ends
	nq      [][]*item  // committed batches waiting for the notifier, in order
	nclosed bool

	imgMu sync.Mutex
	fresh map[string]time.Time // image ids committed recently, kept from GC

	stopRetain chan struct{}
	wg         sync.WaitGroup // committer, notifier, retention
	closeOnce  sync.Once
	closeErr   error

	// committer-only state
	c committerState
}

var _ server.Store = (*Store)(nil)

// Open opens (creating if needed) the store in dir, migrating its schema
// forward. It fails, changing nothing, for a database written by a newer
// Parley, and fails clearly for a corrupt database, an unwritable directory,
// or a directory another process has open.
func Open(dir string, opts Options) (*Store, error) {
	if opts.MaxPending <= 0 {
		opts.MaxPending = DefaultMaxPending
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = DefaultMaxBatch
	}
	if opts.RetainEvery <= 0 {
		opts.RetainEvery = DefaultRetainEvery
	}
	if opts.RetainAge < 0 || opts.RetainCount < 0 {
		return nil, fmt.Errorf("sqlitestore: negative retention (age %v, count %d)", opts.RetainAge, opts.RetainCount)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("sqlitestore: cannot create data directory: %w", err)
	}
	if err := probeWritable(dir); err != nil {
		return nil, fmt.Errorf("sqlitestore: data directory %s is not writable: %w", dir, err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	s := &Store{dir: dir, opts: opts, lock: lock}
	if err := s.open(); err != nil {
		s.closeDBs()
		unlockDir(lock)
		return nil, err
	}
	s.cond = sync.NewCond(&s.mu)
	s.wake = make(chan struct{}, 1)
	s.ncond = sync.NewCond(&s.nmu)
	s.fresh = make(map[string]time.Time)
	s.stopRetain = make(chan struct{})
	s.c.init()
	s.wg.Add(2)
	go s.committer()
	go s.notifier()
	if opts.RetainAge > 0 || opts.RetainCount > 0 {
		s.wg.Add(1)
		go s.retainLoop()
	}
	return s, nil
}

// open checks the schema version, opens the writer and reader connections and
// migrates.
func (s *Store) open() error {
	path := filepath.Join(s.dir, DBFile)
	imgs := filepath.Join(s.dir, ImagesDir)
	if err := os.MkdirAll(imgs, 0o700); err != nil {
		return fmt.Errorf("sqlitestore: cannot create %s: %w", imgs, err)
	}
	removeStaleUploads(imgs)
	if _, err := os.Stat(path); err == nil {
		if err := checkVersion(path); err != nil {
			return err
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("sqlitestore: cannot read %s: %w", path, err)
	}
	// Commits sync with fdatasync, as SQLite does where its configure script
	// finds it (every Linux build); durability is unchanged.
	_, _ = sqlite.Fdatasync(true)

	var err error
	s.w, err = sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxLifetime(0)
	ctx := context.Background()
	s.wc, err = s.w.Conn(ctx)
	if err != nil {
		return describeOpenErr(path, err)
	}
	if err := migrate(ctx, s.wc); err != nil {
		return describeOpenErr(path, err)
	}
	if err := s.prepare(ctx); err != nil {
		return describeOpenErr(path, err)
	}
	s.r, err = sql.Open("sqlite", dsn(path, true))
	if err != nil {
		return fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	s.r.SetMaxOpenConns(4)
	s.r.SetMaxIdleConns(4)
	if err := s.r.PingContext(ctx); err != nil {
		return describeOpenErr(path, err)
	}
	return nil
}

// dsn is the connection string of the database at path.
func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(FULL)")
		q.Add("_txlock", "immediate")
	}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// describeOpenErr turns an error met while opening the database into one
// that says what is wrong with the file.
func describeOpenErr(path string, err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqliteNotADB, sqliteCorrupt:
			return fmt.Errorf("sqlitestore: %s is corrupt or not a Parley database: %w", path, err)
		case sqliteReadOnly, sqlitePerm, sqliteCantOpen:
			return fmt.Errorf("sqlitestore: cannot write %s: %w", path, err)
		case sqliteFull:
			return fmt.Errorf("sqlitestore: disk full opening %s: %w", path, err)
		}
	}
	if strings.HasPrefix(err.Error(), "sqlitestore:") {
		return err
	}
	return fmt.Errorf("sqlitestore: open %s: %w", path, err)
}

// probeWritable makes sure files can be created and synced in dir.
func probeWritable(dir string) error {
	f, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		return err
	}
	name := f.Name()
	_, err = f.Write([]byte("parley"))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if rerr := os.Remove(name); err == nil {
		err = rerr
	}
	return err
}

// Close flushes pending appends (their done callbacks are called), stops the
// committer and closes the database. It is safe to call more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.down.Store(true)
		s.cond.Broadcast()
		s.mu.Unlock()
		close(s.stopRetain)
		select {
		case s.wake <- struct{}{}:
		default:
		}
		s.wg.Wait()
		s.closeErr = s.closeDBs()
		unlockDir(s.lock)
	})
	return s.closeErr
}

// closeDBs closes whatever database handles are open.
func (s *Store) closeDBs() error {
	var errs []error
	if s.c.stmts != nil {
		s.c.stmts.close()
	}
	if s.wc != nil {
		errs = append(errs, s.wc.Close())
	}
	if s.w != nil {
		errs = append(errs, s.w.Close())
	}
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	return errors.Join(errs...)
}

// Dir returns the data directory the store was opened in.
func (s *Store) Dir() string { return s.dir }
