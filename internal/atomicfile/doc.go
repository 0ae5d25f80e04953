// Package atomicfile replaces a file's contents so that a reader, or the
// file system after a crash, sees either the old file or the new one,
// whole: never a truncated or half-written file.
//
// Write puts the data in a temporary file next to the target (same
// directory, so the rename cannot cross file systems), syncs it, gives it
// its mode, renames it over the target and syncs the directory so that
// the rename itself survives a crash. SyncDir is that last step alone, for
// callers that stream into their own temporary file.
//
// # Concurrency
//
// The functions keep no state and are safe for concurrent use. Concurrent
// Writes to the same path leave one of them whole (the last rename wins);
// they never mix their bytes. The directory must already exist: Write does
// not create it, so callers choose its mode.
package atomicfile
