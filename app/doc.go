// Package app is the Wails façade of the desktop app: the methods bound to
// the window (window.go.app.App.*) convert and forward to package bridge
// (the chat, shared with the browser build), to package server (Host on
// LAN) and to internal/lan (nearby servers, join links). It also keeps the
// settings and the Ed25519 identity key in the user's config directory
// (files 0600), and the history cache (bridge.FileCache) in the user's
// cache directory, and reaches the native side — file dialogs, window title,
// events — only through the Shell interface, so that tests drive an App
// without a window.
//
// # Concurrency
//
// Bound methods are called by Wails concurrently; every method is safe for
// concurrent use. mu guards the settings and the hosting state; it is
// never held while calling the bridge, the server or the Shell, except
// that hostMu serialises StartHosting and StopHosting (lock order: hostMu,
// then mu).
package app
