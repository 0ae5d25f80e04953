package frontend

import (
	"embed"
	"io/fs"
)

//go:embed src
var src embed.FS

// Assets is the UI's files, rooted so that "index.html" is at the top.
var Assets fs.FS = mustSub(src, "src")

// CSP is the Content-Security-Policy the UI is written for (index.html
// carries it as a meta tag too; servers should also send it as a header).
// No inline script or style; images only from the page itself and data:
// URLs (fetched images are data: URLs); WebAssembly allowed for the
// browser build; connections to the page's own origin only (the browser's
// WebTransport to the same server is allowed through 'self' and https:).
const CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self' https: wss:; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func mustSub(f fs.FS, dir string) fs.FS {
	s, err := fs.Sub(f, dir)
	if err != nil {
		panic(err) // a constant directory that is embedded: cannot fail
	}
	return s
}
