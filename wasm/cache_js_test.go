//go:build js && wasm

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall/js"
	"testing"
	"time"

	"parley/bridge"
	"parley/client"
	"parley/internal/jsinterop"
	"parley/protocol"
)

// fakeIDBSource is a small IndexedDB stand-in for Node (which has none):
// open with versions and onupgradeneeded, one-store transactions with
// get/put/add/delete answering on a later task, close, and knobs to make
// requests hang or writes abort. The real IndexedDB is exercised in
// Chromium by browsertest.
const fakeIDBSource = `(() => {
  const later = (f) => setTimeout(f, 0);
  globalThis.__makeFakeIDB = () => {
    const dbs = new Map();
    const fake = { dbs, hangOpen: false, hangRequests: false, abortWrites: false, conns: [] };
    const req = () => ({ result: undefined, error: null, onsuccess: null, onerror: null });
    const conn = (d) => {
      const c = {
        closed: false, onversionchange: null,
        objectStoreNames: { contains: (n) => d.stores.has(n) },
        createObjectStore(n) { d.stores.set(n, new Map()); },
        close() { this.closed = true; },
        transaction(name, mode) {
          if (this.closed) throw new DOMException('the connection is closed', 'InvalidStateError');
          if (!d.stores.has(name)) throw new DOMException('no store ' + name, 'NotFoundError');
          const m = d.stores.get(name);
          const tx = { mode, error: null, oncomplete: null, onerror: null, onabort: null };
          const finish = () => later(() => {
            if (fake.hangRequests) return;
            if (fake.abortWrites) { tx.error = new DOMException('over quota', 'QuotaExceededError'); if (tx.onabort) tx.onabort(); return; }
            if (tx.oncomplete) tx.oncomplete();
          });
          const write = (f) => { if (mode !== 'readwrite') throw new DOMException('read-only', 'ReadOnlyError'); f(); finish(); return req(); };
          tx.objectStore = () => ({
            transaction: tx,
            get: (k) => { const r = req(); later(() => { if (fake.hangRequests) return; r.result = m.get(k); if (r.onsuccess) r.onsuccess(); }); return r; },
            put: (v, k) => write(() => { if (!fake.abortWrites) m.set(k, v instanceof Uint8Array ? new Uint8Array(v) : v); }),
            add: (v, k) => write(() => { if (!m.has(k)) m.set(k, v); }),
            delete: (k) => write(() => { if (!fake.abortWrites) m.delete(k); }),
          });
          return tx;
        },
      };
      fake.conns.push(c);
      return c;
    };
    fake.open = (name, version) => {
      const r = Object.assign(req(), { onupgradeneeded: null });
      later(() => {
        if (fake.hangOpen) return;
        let d = dbs.get(name);
        if (!d) { d = { version: 0, stores: new Map() }; dbs.set(name, d); }
        if (version < d.version) { r.error = new DOMException('lower version', 'VersionError'); if (r.onerror) r.onerror(); return; }
        r.result = conn(d);
        if (version > d.version) { d.version = version; if (r.onupgradeneeded) r.onupgradeneeded({}); }
        if (r.onsuccess) r.onsuccess();
      });
      return r;
    };
    return fake;
  };
})()`

// withFakeIDB installs a fresh fake as globalThis.indexedDB for the test.
func withFakeIDB(t *testing.T) js.Value {
	t.Helper()
	if js.Global().Get("__makeFakeIDB").IsUndefined() {
		js.Global().Call("eval", fakeIDBSource)
	}
	old := js.Global().Get("indexedDB")
	fake := js.Global().Call("__makeFakeIDB")
	js.Global().Set("indexedDB", fake)
	t.Cleanup(func() { js.Global().Set("indexedDB", old) })
	return fake
}

// stored is the fake's map of a store of the parley database.
func stored(fake js.Value, store string) js.Value {
	return fake.Get("dbs").Call("get", idbName).Get("stores").Call("get", store)
}

func openTestCache(t *testing.T) *idbCache {
	t.Helper()
	c, err := openIDBCache(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestIDBCacheRoundTrip(t *testing.T) {
	fake := withFakeIDB(t)
	c := openTestCache(t)
	const key = "0123abcd/ef45"
	if v, err := c.Get(key); v != nil || err != nil {
		t.Fatalf("Get of a missing key: %q, %v; want nil, nil (as bridge.FileCache)", v, err)
	}
	for _, val := range [][]byte{[]byte(`{"v":1}`), []byte(`{"v":1,"conv":"r:lobby"}`), {}} {
		if err := c.Put(key, val); err != nil {
			t.Fatal(err)
		}
		got, err := c.Get(key)
		if err != nil || !bytes.Equal(got, val) {
			t.Fatalf("Get after Put(%q): %q, %v", val, got, err)
		}
	}
	// Stored as a Uint8Array in the history store.
	if v := stored(fake, idbHistory).Call("get", key); !v.InstanceOf(js.Global().Get("Uint8Array")) {
		t.Errorf("the stored value is %s, want a Uint8Array", v.Type())
	}
	if err := c.Delete(key); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Get(key); v != nil || err != nil {
		t.Fatalf("Get after Delete: %q, %v", v, err)
	}
	if err := c.Delete(key); err != nil {
		t.Fatalf("Delete of a missing key: %v", err)
	}
}

func TestIDBCacheEntryLimit(t *testing.T) {
	fake := withFakeIDB(t)
	c := openTestCache(t)
	at := bytes.Repeat([]byte("a"), bridge.MaxCacheEntry)
	if err := c.Put("aa/bb", at); err != nil {
		t.Fatalf("Put of MaxCacheEntry bytes: %v", err)
	}
	if got, err := c.Get("aa/bb"); err != nil || len(got) != bridge.MaxCacheEntry {
		t.Fatalf("Get of MaxCacheEntry bytes: %d bytes, %v", len(got), err)
	}
	if err := c.Put("aa/cc", append(at, 'a')); err == nil {
		t.Fatal("Put of MaxCacheEntry+1 bytes: no error")
	}
	if v, _ := c.Get("aa/cc"); v != nil {
		t.Fatal("the refused value was stored")
	}
	// Values read back: one over the limit, and values that are not bytes.
	h := stored(fake, idbHistory)
	h.Call("set", "aa/dd", js.Global().Get("Uint8Array").New(bridge.MaxCacheEntry+1))
	if _, err := c.Get("aa/dd"); err == nil {
		t.Error("Get of a stored value of MaxCacheEntry+1 bytes: no error")
	}
	h.Call("set", "aa/ee", "text")
	if _, err := c.Get("aa/ee"); err == nil {
		t.Error("Get of a stored string: no error")
	}
	h.Call("set", "aa/ff", js.Global().Get("Object").New())
	if _, err := c.Get("aa/ff"); err == nil {
		t.Error("Get of a stored object: no error")
	}
	buf := js.Global().Get("Uint8Array").New(js.ValueOf([]any{1, 2, 3})).Get("buffer")
	h.Call("set", "aa/ab", buf)
	if got, err := c.Get("aa/ab"); err != nil || !bytes.Equal(got, []byte{1, 2, 3}) {
		t.Errorf("Get of a stored ArrayBuffer: %v, %v", got, err)
	}
}

func TestCheckCacheKey(t *testing.T) {
	good := []string{"a", "0123456789abcdef/index", "ab/cd/ef", strings.Repeat("a", maxCacheKey)}
	bad := []string{"", "/a", "a/", "a//b", "A", "a.b", "../x", "a b", "é", strings.Repeat("a", maxCacheKey+1)}
	for _, k := range good {
		if err := checkCacheKey(k); err != nil {
			t.Errorf("checkCacheKey(%q): %v", k, err)
		}
	}
	for _, k := range bad {
		if err := checkCacheKey(k); err == nil {
			t.Errorf("checkCacheKey(%q): no error", k)
		}
	}
	withFakeIDB(t)
	c := openTestCache(t)
	if _, err := c.Get("../x"); err == nil {
		t.Error("Get with a bad key: no error")
	}
	if err := c.Put("A", nil); err == nil {
		t.Error("Put with a bad key: no error")
	}
	if err := c.Delete(""); err == nil {
		t.Error("Delete with a bad key: no error")
	}
}

// TestIDBUpgradeKeepsKeys: a version-1 database (the keys store with an
// identity) is upgraded to version 2: the history store is added, the
// identity is untouched, and identity.go reads it through the same opener.
func TestIDBUpgradeKeepsKeys(t *testing.T) {
	fake := withFakeIDB(t)
	made := js.Global().Call("eval", `new Promise((res) => {
  const r = globalThis.indexedDB.open('parley', 1);
  r.onupgradeneeded = () => r.result.createObjectStore('keys');
  r.onsuccess = () => {
    const tx = r.result.transaction('keys', 'readwrite');
    tx.objectStore('keys').add({ mark: 'old key' }, 'identity');
    tx.oncomplete = () => { r.result.close(); res(); };
  };
})`)
	wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
	_, err := jsinterop.Await(wctx, made)
	wcancel()
	if err != nil {
		t.Fatalf("making the version-1 database: %v", err)
	}
	c := openTestCache(t)
	d := fake.Get("dbs").Call("get", idbName)
	if v := d.Get("version").Int(); v != idbVersion {
		t.Errorf("version %d after the upgrade, want %d", v, idbVersion)
	}
	if got := stored(fake, idbKeys).Call("get", idbIdentityKey).Get("mark").String(); got != "old key" {
		t.Errorf("the identity after the upgrade: %q", got)
	}
	if err := c.Put("aa", []byte("x")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	db, err := idbOpen(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := idbGet(ctx, db)
	if err != nil || pair.Get("mark").String() != "old key" {
		t.Fatalf("identity.go's read after the upgrade: %v, %v", pair, err)
	}
	db.Call("close")
}

// TestIDBCacheReopens: a connection closed under the cache (another page
// upgraded the database, or the browser closed it) is reopened.
func TestIDBCacheReopens(t *testing.T) {
	fake := withFakeIDB(t)
	c := openTestCache(t)
	if err := c.Put("aa", []byte("before")); err != nil {
		t.Fatal(err)
	}
	// What a versionchange does: the handler idbOpen set closes it.
	conn := fake.Get("conns").Index(fake.Get("conns").Length() - 1)
	conn.Call("onversionchange")
	if !conn.Get("closed").Bool() {
		t.Fatal("onversionchange did not close the connection")
	}
	got, err := c.Get("aa")
	if err != nil || string(got) != "before" {
		t.Fatalf("Get after the connection closed: %q, %v", got, err)
	}
	if n := fake.Get("conns").Length(); n != 2 {
		t.Errorf("%d connections opened, want 2 (the first and the reopened)", n)
	}
}

// TestIDBCacheFailures: no IndexedDB, an open that never answers, requests
// that never answer (bounded by the wait) and a write that aborts are
// errors, never a hang or a panic.
func TestIDBCacheFailures(t *testing.T) {
	old := js.Global().Get("indexedDB")
	js.Global().Set("indexedDB", js.Undefined())
	_, err := openIDBCache(context.Background())
	js.Global().Set("indexedDB", old)
	if err == nil {
		t.Fatal("openIDBCache without IndexedDB: no error")
	}

	fake := withFakeIDB(t)
	fake.Set("hangOpen", true)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	_, err = openIDBCache(ctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("openIDBCache with an open that never answers: %v, want a deadline error", err)
	}
	fake.Set("hangOpen", false)

	c := openTestCache(t)
	c.wait = 100 * time.Millisecond
	fake.Set("hangRequests", true)
	if _, err := c.Get("aa"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Get that never answers: %v", err)
	}
	if err := c.Put("aa", []byte("x")); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Put that never commits: %v", err)
	}
	fake.Set("hangRequests", false)
	fake.Set("abortWrites", true)
	if err := c.Put("aa", []byte("x")); err == nil || !strings.Contains(err.Error(), "QuotaExceededError") {
		t.Errorf("Put that aborts: %v, want the QuotaExceededError", err)
	}
	if err := c.Delete("aa"); err == nil {
		t.Error("Delete that aborts: no error")
	}
	fake.Set("abortWrites", false)
	if err := c.Put("aa", []byte("y")); err != nil {
		t.Errorf("Put after the failures: %v", err)
	}
}

func TestRetryDial(t *testing.T) {
	unreachable := errors.New("client: WebSocket: connection refused")
	ctx := context.Background()
	n := 0
	cl, err := retryDial(ctx, time.Minute, func(context.Context) (*client.Client, error) {
		n++
		if n < 3 {
			return nil, unreachable
		}
		return &client.Client{}, nil
	})
	if err != nil || cl == nil || n != 3 {
		t.Fatalf("unreachable twice, then up: %v, %v after %d attempts", cl, err, n)
	}
	for _, final := range []error{
		protocol.Errorf(protocol.CodeNameTaken, "taken"),
		fmt.Errorf("dial: %w", client.ErrServerFull),
		&protocol.CloseError{Code: protocol.CloseCode(4001), Reason: "bye"},
		context.DeadlineExceeded,
	} {
		n = 0
		_, err := retryDial(ctx, time.Minute, func(context.Context) (*client.Client, error) { n++; return nil, final })
		if err != final || n != 1 {
			t.Errorf("%v: %d attempts, err %v; want one", final, n, err)
		}
	}
	// Never past within: a zero window is one attempt.
	n = 0
	if _, err := retryDial(ctx, 0, func(context.Context) (*client.Client, error) { n++; return nil, unreachable }); err != unreachable || n != 1 {
		t.Errorf("within 0: %d attempts, %v", n, err)
	}
	// A window that allows a few attempts ends with the last error.
	n = 0
	if _, err := retryDial(ctx, time.Second, func(context.Context) (*client.Client, error) { n++; return nil, unreachable }); err != unreachable || n < 2 {
		t.Errorf("within 1s: %d attempts, %v; want at least two, then the error", n, err)
	}
	// A cancelled context ends the pauses.
	cctx, cancel := context.WithCancel(ctx)
	n = 0
	if _, err := retryDial(cctx, time.Minute, func(context.Context) (*client.Client, error) {
		n++
		cancel()
		return nil, unreachable
	}); err != unreachable || n != 1 {
		t.Errorf("cancelled: %d attempts, %v", n, err)
	}
}
