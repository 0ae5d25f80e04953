//go:build js && wasm

// Package jsinterop turns the browser's promise-, exception- and
// typed-array-based JavaScript into plain Go calls, for the Go code that
// runs as WebAssembly (the client's browser transports and the wasm entry
// point): Await blocks a goroutine on a promise, Try turns a thrown
// JavaScript exception into an error, Error is what such an exception or
// rejection becomes, and Uint8Array and Bytes copy bytes across.
//
// # Concurrency
//
// The one rule of syscall/js this package exists for: a js.FuncOf callback
// must never block, because the JavaScript event loop that would unblock
// it is the one running it. Await may be called from any goroutine except
// inside such a callback; its own callbacks only send on a buffered
// channel. Every other function here is synchronous and keeps no state,
// so all are safe for concurrent use.
package jsinterop
