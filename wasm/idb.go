//go:build js && wasm

package main

import (
	"context"
	"errors"
	"syscall/js"

	"parley/internal/jsinterop"
)

// The page's IndexedDB database: the identity key (identity.go) and the
// history cache (cache.go) live in one database, each in its own store.
const (
	idbName = "parley"
	// idbVersion is the database's schema version. 1 had the keys store;
	// 2 added the history store. Opening with a lower version than the
	// stored one fails, so every opener goes through idbOpen.
	idbVersion = 2
	// idbKeys holds the identity key pair (key idbIdentityKey).
	idbKeys = "keys"
	// idbHistory holds the history cache: Uint8Array values under the
	// bridge's cache keys.
	idbHistory = "history"
)

// idbRequest waits for an IDBRequest (or, with complete, an
// IDBTransaction) to succeed or fail. Its handlers only send on a
// buffered channel. It must be called from a goroutine, never from a
// js.FuncOf callback (the event it waits for could never be delivered).
func idbRequest(ctx context.Context, req js.Value, okEvent string) (js.Value, error) {
	type result struct {
		v   js.Value
		err error
	}
	ch := make(chan result, 1)
	send := func(r result) {
		select {
		case ch <- r:
		default:
		}
	}
	ok := js.FuncOf(func(js.Value, []js.Value) any {
		if okEvent == "onsuccess" {
			send(result{v: req.Get("result")})
		} else {
			send(result{})
		}
		return nil
	})
	fail := js.FuncOf(func(js.Value, []js.Value) any {
		msg := "IndexedDB request failed"
		if e := req.Get("error"); e.Type() == js.TypeObject {
			msg = jsinterop.ErrorOf(e).Error()
		}
		send(result{err: errors.New(msg)})
		return nil
	})
	req.Set(okEvent, ok)
	req.Set("onerror", fail)
	if okEvent == "oncomplete" {
		req.Set("onabort", fail)
	}
	select {
	case r := <-ch:
		// Detach before releasing: a transaction whose request failed
		// also fires onabort afterwards.
		for _, ev := range []string{okEvent, "onerror", "onabort"} {
			req.Set(ev, js.Null())
		}
		ok.Release()
		fail.Release()
		return r.v, r.err
	case <-ctx.Done():
		// The handlers stay (never released) so that a late event finds them.
		return js.Undefined(), ctx.Err()
	}
}

// idbOpen opens the page's database at idbVersion, creating the stores
// that are missing (an upgrade from version 1 adds the history store and
// leaves the keys store as it is). The connection closes itself when
// another page asks for a newer version (onversionchange), so that it
// never blocks an upgrade; the caller closes it when done.
func idbOpen(ctx context.Context) (js.Value, error) {
	idb := js.Global().Get("indexedDB")
	if idb.Type() != js.TypeObject {
		return js.Undefined(), errors.New("wasm: no IndexedDB")
	}
	var req js.Value
	if err := jsinterop.Try(func() { req = idb.Call("open", idbName, idbVersion) }); err != nil {
		return js.Undefined(), err
	}
	upgrade := js.FuncOf(func(js.Value, []js.Value) any {
		_ = jsinterop.Try(func() {
			db := req.Get("result")
			for _, s := range []string{idbKeys, idbHistory} {
				if !db.Get("objectStoreNames").Call("contains", s).Bool() {
					db.Call("createObjectStore", s)
				}
			}
		})
		return nil
	})
	req.Set("onupgradeneeded", upgrade)
	db, err := idbRequest(ctx, req, "onsuccess")
	req.Set("onupgradeneeded", js.Null())
	upgrade.Release()
	if err != nil {
		if ctx.Err() != nil {
			// A late success would leave a connection open: close it then.
			closeLate := js.FuncOf(func(js.Value, []js.Value) any {
				_ = jsinterop.Try(func() { req.Get("result").Call("close") })
				return nil
			})
			req.Set("onsuccess", closeLate) // never released: it may run once, late
		}
		return js.Undefined(), err
	}
	db.Set("onversionchange", closeOnVersionChange)
	return db, nil
}

// closeOnVersionChange closes the database it is set on (this); it lives
// as long as the program.
var closeOnVersionChange = js.FuncOf(func(this js.Value, _ []js.Value) any {
	_ = jsinterop.Try(func() { this.Call("close") })
	return nil
})
