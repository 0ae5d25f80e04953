//go:build js && wasm

package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall/js"
	"time"

	"parley/bridge"
	"parley/internal/jsinterop"
)

// CacheWait bounds one history-cache operation on IndexedDB (reopening
// the database included); past it the operation fails, which the bridge
// takes for a miss (Get) or retries at its next flush (Put, Delete).
const CacheWait = 5 * time.Second

// maxCacheKey bounds a cache key's length, as bridge.FileCache does.
const maxCacheKey = 200

// idbCache is the browser's bridge.CacheStore: the history store of the
// page's IndexedDB database, one Uint8Array value per key. Its methods
// block the calling goroutine until IndexedDB answers (at most CacheWait),
// so they must never be called from a js.FuncOf callback; the bridge
// calls them from its cache writer and from Connect. Safe for concurrent
// use: mu guards the connection, and is held while it is reopened.
type idbCache struct {
	wait time.Duration

	mu sync.Mutex
	db js.Value // the open connection; undefined once it failed
}

var _ bridge.CacheStore = (*idbCache)(nil)

// openIDBCache opens the page's database for the history cache. An error
// means there is no usable IndexedDB (private mode, blocked, absent): the
// page then runs without a cache.
func openIDBCache(ctx context.Context) (*idbCache, error) {
	ctx, cancel := context.WithTimeout(ctx, CacheWait)
	defer cancel()
	db, err := idbOpen(ctx)
	if err != nil {
		return nil, fmt.Errorf("wasm: history cache: %w", err)
	}
	if !db.Get("objectStoreNames").Call("contains", idbHistory).Bool() {
		db.Call("close")
		return nil, errors.New("wasm: history cache: the database has no history store")
	}
	return &idbCache{wait: CacheWait, db: db}, nil
}

// checkCacheKey refuses keys that are not lower-case letters and digits
// separated by "/" (the bridge's keys are hex), as bridge.FileCache does.
func checkCacheKey(key string) error {
	if key == "" || len(key) > maxCacheKey {
		return fmt.Errorf("wasm: bad cache key %q", key)
	}
	prev := '/'
	for _, r := range key {
		switch {
		case r == '/' && prev == '/':
			return fmt.Errorf("wasm: bad cache key %q", key)
		case r == '/', r >= '0' && r <= '9', r >= 'a' && r <= 'z':
		default:
			return fmt.Errorf("wasm: bad cache key %q", key)
		}
		prev = r
	}
	if prev == '/' {
		return fmt.Errorf("wasm: bad cache key %q", key)
	}
	return nil
}

// Get returns the value stored under key: nil, nil when there is none. A
// value that is not bytes, or larger than bridge.MaxCacheEntry, is an error.
func (c *idbCache) Get(key string) ([]byte, error) {
	if err := checkCacheKey(key); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.wait)
	defer cancel()
	var req js.Value
	if err := c.transact(ctx, "readonly", func(s js.Value) { req = s.Call("get", key) }); err != nil {
		return nil, err
	}
	v, err := idbRequest(ctx, req, "onsuccess")
	if err != nil {
		return nil, fmt.Errorf("wasm: cache get: %w", err)
	}
	return cacheBytes(v)
}

// cacheBytes converts a stored value: undefined (no value) is nil, a
// Uint8Array or ArrayBuffer of at most bridge.MaxCacheEntry bytes its bytes.
func cacheBytes(v js.Value) ([]byte, error) {
	if v.IsUndefined() || v.IsNull() {
		return nil, nil
	}
	if v.Type() != js.TypeObject || !(v.InstanceOf(js.Global().Get("Uint8Array")) || v.InstanceOf(js.Global().Get("ArrayBuffer"))) {
		return nil, errors.New("wasm: cache value is not bytes")
	}
	if n := v.Get("byteLength").Int(); n > bridge.MaxCacheEntry {
		return nil, fmt.Errorf("wasm: cache value of %d bytes is over %d", n, bridge.MaxCacheEntry)
	}
	return jsinterop.Bytes(nil, v), nil
}

// Put stores value (at most bridge.MaxCacheEntry bytes) under key, and
// returns once its transaction has committed.
func (c *idbCache) Put(key string, value []byte) error {
	if err := checkCacheKey(key); err != nil {
		return err
	}
	if len(value) > bridge.MaxCacheEntry {
		return fmt.Errorf("wasm: cache value of %d bytes is over %d", len(value), bridge.MaxCacheEntry)
	}
	return c.write(func(s js.Value) { s.Call("put", jsinterop.Uint8Array(value), key) })
}

// Delete removes key's value; a missing one is not an error.
func (c *idbCache) Delete(key string) error {
	if err := checkCacheKey(key); err != nil {
		return err
	}
	return c.write(func(s js.Value) { s.Call("delete", key) })
}

// write runs op in a readwrite transaction and waits for it to commit.
func (c *idbCache) write(op func(store js.Value)) error {
	ctx, cancel := context.WithTimeout(context.Background(), c.wait)
	defer cancel()
	var tx js.Value
	err := c.transact(ctx, "readwrite", func(s js.Value) {
		op(s)
		tx = s.Get("transaction")
	})
	if err != nil {
		return err
	}
	if _, err := idbRequest(ctx, tx, "oncomplete"); err != nil {
		return fmt.Errorf("wasm: cache write: %w", err)
	}
	return nil
}

// transact starts a transaction on the history store and runs op with
// the store. A connection that no longer works (closed for another
// page's upgrade, or by the browser) is reopened once.
func (c *idbCache) transact(ctx context.Context, mode string, op func(store js.Value)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		if c.db.IsUndefined() {
			db, oerr := idbOpen(ctx)
			if oerr != nil {
				return fmt.Errorf("wasm: history cache: %w", oerr)
			}
			c.db = db
		}
		db := c.db
		err = jsinterop.Try(func() { op(db.Call("transaction", idbHistory, mode).Call("objectStore", idbHistory)) })
		if err == nil {
			return nil
		}
		var je *jsinterop.Error
		if !errors.As(err, &je) || je.Name != "InvalidStateError" {
			break // not the connection: reopening would not help
		}
		// The connection is closing or closed.
		_ = jsinterop.Try(func() { db.Call("close") })
		c.db = js.Undefined()
	}
	return fmt.Errorf("wasm: history cache: %w", err)
}
