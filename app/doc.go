// Package app is the Wails façade of the desktop app: the methods bound to
// the window (window.go.app.App.*) convert and forward to package bridge
// (the chat, shared with the browser build), to package server (Host on
// LAN) and to internal/lan (nearby servers, join links). It also keeps the
// settings and the Ed25519 identity key in the user's config directory
// (files 0600), and the history cache (bridge.FileCache) in the user's
// cache directory. Host on LAN keeps its server's data in ConfigDir/host
// (0700): the durable store (internal/sqlitestore: history, name bindings,
// images), the self-signed certificate with its key (served until it is
// due for renewal, so joiners' pinned hash survives a restart) and the QUIC
// stateless reset key; the store is closed after the server's Shutdown.
// The App reaches the native side — file dialogs, window title,
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
