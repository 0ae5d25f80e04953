// Package frontend holds Parley's user interface: one set of static
// assets (HTML, ES modules, CSS, icons; no build step) served by Wails'
// AssetServer in the desktop app and by the server's web handler in the
// browser. Assets is read-only and safe for concurrent use.
//
// # Concurrency
//
// Assets, CSP and Headers are immutable and safe for concurrent use.
//
// # Layout
//
// src/ is served as is: index.html, style.css, main.js (controller),
// api.js (the only module that talks to Go: Wails bindings on the desktop,
// globalThis.parley.call/onEvents in the browser), state.js (view state,
// pure), view.js and dom.js (elements built with text nodes only; nothing
// assigns innerHTML), compose.js, format.js, boot-wasm.js (loads
// wasm_exec.js and parley.wasm in the browser) and testmode.js (the
// desktop smoke test's driver, loaded only when app.App.TestMode is on).
// test/ holds the Node tests: node --test frontend/test/
package frontend
