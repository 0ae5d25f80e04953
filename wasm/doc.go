//go:build js && wasm

// Command wasm is Parley's browser client: the Go client (package client,
// with its browser transports) and the UI-facing bridge (package bridge),
// compiled to WebAssembly and loaded by the page that the server serves
// (server/web.go, server/web_boot.js).
//
// It exports, as globalThis.parleyWasm (which the loader merges into
// globalThis.parley):
//
//	call(method, argsJSON) → Promise<string>   // bridge.Methods, JSON in and out
//	onEvents(cb(batchJSON)) → unsubscribe()     // event batches (bridge.EventName)
//	<Method>(...args) → Promise<result>          // the same methods, positional
//	identity() → Promise<{key, persistent}>      // the public key, base64url
//
// Errors reject with an Error whose message is "code: message".
//
// The identity key is a non-extractable WebCrypto Ed25519 key pair kept in
// IndexedDB (database "parley", store "keys", key "identity"); the client
// signs with it through a crypto.Signer whose Sign awaits
// crypto.subtle.sign. Without WebCrypto Ed25519 or IndexedDB the user is a
// guest (or, without IndexedDB only, holds a key for this page's life).
//
// The history cache (bridge.Options.Cache) is the "history" store of the
// same database (idb.go opens it at version 2; the upgrade from version 1
// adds the store and leaves the keys as they are): one Uint8Array (the
// bridge's JSON) per key. A reload shows the past of the room and of the
// private chats that were open as soon as Connect starts, before the
// server answers; a guest's private chats are never kept (the bridge's
// rule). Without IndexedDB the page runs without a cache. A first dial to
// the page's own server that cannot reach it is retried for
// FirstDialRetry (dial.go): the server is restarting, and the page shows
// the cached past as "connecting" meanwhile.
//
// # Concurrency
//
// JavaScript calls into Go through js.FuncOf callbacks, which must never
// block: every exported function starts a goroutine and returns a Promise
// that the goroutine settles. Promises from JavaScript are awaited only in
// goroutines, never in callbacks; so are IndexedDB requests: the cache's
// Get, Put and Delete block their goroutine (at most CacheWait each) and
// are called only from the bridge's goroutines. Event callbacks are invoked from the
// bridge's emitter goroutine, one batch at a time, in order; the list of
// callbacks is guarded by a mutex.
package main
