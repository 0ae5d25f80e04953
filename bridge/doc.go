// Package bridge is the UI-facing API of Parley's client, shared by both
// shells: the Wails desktop app (package app forwards its bound methods
// here) and the WebAssembly build for the browser (package wasm exports the
// same methods to JavaScript). It holds what a chat window needs beyond the
// wire protocol: conversations (rooms and private chats) with unread
// counts, members and typing users, "@name text" parsing, the offline
// outbox semantics of sending (a message typed while offline is shown as
// pending and goes out once, on reconnect), upload progress, and batched
// events. The frontend keeps only view state.
//
// # Calling convention (both shells)
//
// Every method takes JSON-friendly arguments and returns (T, error); the
// input is validated, since the UI is untrusted. Errors are
// *protocol.Error whose text is "code: message"; frontend/src/api.js
// splits it back into {code, message}.
//
// Methods callable from the UI are listed by Methods; Call dispatches one
// of them by name with its positional arguments as a JSON array and
// returns the JSON text of the result, so that a shell can expose the
// whole API with one function. The browser shell exports:
//
//	globalThis.parley.call(method string, argsJSON string) Promise<string>  // resolves to the result's JSON text, rejects with Error("code: message")
//	globalThis.parley.onEvents(cb(batchJSON string))                       // registers the event callback
//
// The desktop shell binds the same method names on app.App
// (window.go.app.App.<Method>) and emits the same batches as the Wails
// event EventName.
//
// # Events
//
// Events are delivered through Options.Emit as a []Event batch under the
// name EventName, at most every Options.FlushEvery (100 ms) or as soon as
// Options.MaxBatch (200) events are waiting, so a busy room never floods
// the webview. Emit is called from one goroutine at a time, in order.
//
// # History cache
//
// With Options.Cache, the latest CacheMessages messages of each
// conversation (at most CacheConversations per server and identity) are
// kept between runs: Connect shows the room it joins and the private chats
// that were open from the cache at once, before the server answers, then
// checks that past against the server's: messages said meanwhile are
// added (each seq once), a past from another epoch is dropped with a
// visible notice ("reset" event, then a notice line), and a past too far
// behind to join is dropped quietly. A guest's private messages are never
// cached. The cache observes the events pushed to the UI and is written by
// one goroutine at most every CacheFlushEvery and at Disconnect/Close.
// CacheStore is the seam for another backing store (the browser keeps
// one in IndexedDB: wasm/cache.go).
// A private chat opened later (OpenPrivate) whose past is cached is
// checked the same way. A private chat the server no longer lists (it
// keeps none of a guest's after the guest's session) starts over with
// PrivateGoneNotice, not HistoryLostNotice. A restart is learnt twice
// (by that check, and by the client's EventEpoch once it meets the new
// epoch) but reported once: the conversation records the epoch it was
// started over for, and the later path sees it is done.
//
// # What is open, between runs
//
// With Options.Recall and Options.Remember, the rooms joined and the
// private chats open are remembered per server (ServerKey of its address;
// a guest's private chats are not): Remember is called whenever one is
// joined, left, opened or closed — never at Disconnect — and Connect opens
// all of them again (the requested room first; Options.DefaultRoom when
// there is nothing), each shown from the cache first and then checked as
// above; a remembered private chat with nothing cached is filled from the
// server's history.
//
// # Concurrency
//
// A Bridge is safe for concurrent use: every method may be called from
// any goroutine (Wails calls bound methods concurrently). One mutex (mu)
// guards the conversation state; it is never held while calling the
// client, the network or Emit. The event pump is one goroutine per
// connection; the emitter is one goroutine per Bridge; the cache writer
// is one goroutine per connection; Close waits for all. The cache's own
// lock is a leaf: it is taken under no other lock of the Bridge.
// rememberMu serialises the calls of Options.Remember (so the last call
// carries the latest state); it is taken before mu, and Remember is called
// with rememberMu held but not mu.
package bridge
