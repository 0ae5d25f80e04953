// Package sqlitestore is Parley's embedded durable store: one SQLite
// database (modernc.org/sqlite, pure Go, WAL) in the data directory for
// conversations, messages, nonces, identities and image metadata, and image
// bytes as files named by their SHA-256 in the images/ subdirectory. It
// implements server.Store.
//
// # Durability
//
// The database runs in WAL mode with synchronous=FULL: every commit appends
// its frames to the WAL and fsyncs it (fdatasync on Linux) before COMMIT
// returns. An Append's done(nil) is called only after the COMMIT that holds
// the message returned, so an acknowledged message survives a SIGKILL of the
// process and also a power cut or kernel crash. (synchronous=NORMAL would
// survive a SIGKILL too, since the WAL frames are in the kernel's page cache
// once written, but not a power cut; with group commit the fsync is paid once
// per batch, so FULL costs little.) Checkpoints run automatically (SQLite's
// wal_autocheckpoint, on the committer's connection) and never lose committed
// frames: after a crash the next Open replays the WAL. Image files are written
// to a temporary file in images/, fsynced, renamed and the directory fsynced
// before Upload.Commit returns.
//
// # Group commit
//
// Append only queues the message. One committer goroutine takes everything
// queued (appends and the store's other writes: conversation creation, Bind,
// DropConv, retention), applies it in ONE transaction and commits; a notifier
// goroutine then calls the done callbacks in Append order. Every append is
// checked against the conversation's stored seq: a message whose Seq is not
// the stored seq + 1 fails (so a failed append makes every later pending
// append of that conversation fail too, until the server reloads the
// conversation with Conv and assigns seqs again), and a repeated
// (Owner, Nonce) fails. A failed COMMIT (a full disk, an I/O error) fails
// every item of the batch; the store forgets what it cached and keeps
// working, so writes succeed again once space returns.
//
// # Concurrency
//
// A Store is safe for concurrent use. Append blocks only while
// Options.MaxPending appends are already queued. done callbacks run on the
// notifier goroutine, one at a time, in Append order; they may call any Store
// method (including Append) but should not block for long, since they delay
// the callbacks of later batches. Reads (History, ByNonce, Bound, ...) use a
// separate pool of read-only connections and see committed data only. The
// committer's caches (conversation ids and seqs) are touched by the committer
// goroutine alone. Locks: Store.mu guards the queue; Store.imgMu guards image
// file replacement and removal; they are never held together.
//
// # Files
//
// dir/parley.db (+ -wal, -shm), dir/images/<sha256>, dir/LOCK (an advisory
// lock held while the store is open, so two processes never share a data
// directory).
package sqlitestore
