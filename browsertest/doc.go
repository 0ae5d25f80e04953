// Package browsertest proves the browser client in a real Chromium: Debian's
// /usr/bin/chromium driven by chromedp against a real Parley server on
// 127.0.0.1:0 serving the real UI and a freshly built parley.wasm. The
// package holds tests only.
//
// Without /usr/bin/chromium the tests skip, saying why, unless CI is set:
// under CI=true a missing Chromium is a failure.
//
// # Concurrency
//
// Each test owns its server and browser. Every browser user is its own
// chromedp context (its own browser context: storage, IndexedDB key),
// driven from the test goroutine only.
package browsertest
