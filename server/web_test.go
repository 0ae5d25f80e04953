package server

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/andybalholm/brotli"
)

func testWebAssets() fstest.MapFS {
	return fstest.MapFS{
		"index.html": {Data: []byte("<!doctype html><html><head><meta charset=\"utf-8\">\n<script type=\"module\" src=\"main.js\"></script>\n</head><body></body></html>")},
		"main.js":    {Data: []byte("import './view.js';\n")},
		"style.css":  {Data: []byte(strings.Repeat("body { color: red; }\n", 200))},
		"icon.svg":   {Data: []byte("<svg xmlns=\"http://www.w3.org/2000/svg\"></svg>")},
	}
}

func testWasm(t *testing.T) (fstest.MapFS, []byte) {
	raw := bytes.Repeat([]byte("\x00asm\x01\x00\x00\x00 parley "), 4000)
	var gz, br bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw)
	zw.Close()
	bw := brotli.NewWriter(&br)
	bw.Write(raw)
	bw.Close()
	return fstest.MapFS{
		"parley.wasm":    {Data: raw},
		"parley.wasm.gz": {Data: gz.Bytes()},
		"parley.wasm.br": {Data: br.Bytes()},
		"wasm_exec.js":   {Data: []byte("globalThis.Go = class {};\n")},
		"README.md":      {Data: []byte("x")},
	}, raw
}

func newTestWeb(t *testing.T, built bool) *Web {
	t.Helper()
	cfg := WebConfig{Assets: testWebAssets(), CertHash: func() string { return strings.Repeat("ab", 32) }}
	if built {
		cfg.Wasm, _ = testWasm(t)
	} else {
		cfg.Wasm = fstest.MapFS{"README.md": {Data: []byte("x")}}
	}
	w, err := NewWeb(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func get(t *testing.T, h http.Handler, target string, hdr ...string) *http.Response {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec.Result()
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestWebPageLoadsTheClientBeforeTheUI(t *testing.T) {
	w := newTestWeb(t, true)
	for _, p := range []string{"/", "/index.html"} {
		res := get(t, w, p)
		page := body(t, res)
		if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("%s: %d %s", p, res.StatusCode, res.Header.Get("Content-Type"))
		}
		exec := strings.Index(page, `<script src="/wasm_exec.js"></script>`)
		boot := strings.Index(page, `<script src="/parley-boot.js"></script>`)
		mod := strings.Index(page, `<script type="module"`)
		if exec < 0 || boot < exec || mod < boot {
			t.Fatalf("%s: loader not placed before the UI's script:\n%s", p, page)
		}
		if strings.Contains(page, "<script>") {
			t.Fatalf("%s: inline script in the page", p)
		}
	}
	if res := get(t, w, "/parley-boot.js"); res.StatusCode != 200 || !strings.Contains(body(t, res), "globalThis.parley") {
		t.Fatalf("boot script: %d", res.StatusCode)
	}
	if res := get(t, w, "/wasm_exec.js"); res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/javascript; charset=utf-8" {
		t.Fatalf("wasm_exec.js: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
}

func TestWebSecurityHeaders(t *testing.T) {
	w := newTestWeb(t, true)
	for _, p := range []string{"/", "/main.js", "/parley.wasm", "/config.json", "/nope"} {
		res := get(t, w, p)
		h := res.Header
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"script-src 'self' 'wasm-unsafe-eval'", "frame-ancestors 'none'", "object-src 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", p, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: CSP allows inline code: %q", p, csp)
		}
		for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"} {
			if h.Get(k) != v {
				t.Errorf("%s: %s = %q, want %q", p, k, h.Get(k), v)
			}
		}
	}
}

func TestWebWasmEncodingsAndCaching(t *testing.T) {
	w := newTestWeb(t, true)
	_, raw := testWasm(t)
	var cfg webPageConfig
	if err := json.Unmarshal([]byte(body(t, get(t, w, "/config.json"))), &cfg); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(cfg.Wasm, "/parley.wasm?v=") {
		t.Fatalf("wasm URL %q", cfg.Wasm)
	}
	decode := map[string]func(io.Reader) io.Reader{
		"br":   func(r io.Reader) io.Reader { return brotli.NewReader(r) },
		"gzip": func(r io.Reader) io.Reader { z, _ := gzip.NewReader(r); return z },
		"":     func(r io.Reader) io.Reader { return r },
	}
	etags := map[string]bool{}
	for _, tc := range []struct{ accept, enc string }{
		{"gzip, deflate, br, zstd", "br"},
		{"gzip", "gzip"},
		{"br;q=0, gzip;q=0.8", "gzip"},
		{"identity", ""},
		{"", ""},
		{"*", "br"},
	} {
		res := get(t, w, cfg.Wasm, "Accept-Encoding", tc.accept)
		if res.StatusCode != 200 || res.Header.Get("Content-Encoding") != tc.enc {
			t.Fatalf("Accept-Encoding %q: %d, encoding %q, want %q", tc.accept, res.StatusCode, res.Header.Get("Content-Encoding"), tc.enc)
		}
		if res.Header.Get("Content-Type") != "application/wasm" || !strings.Contains(res.Header.Get("Vary"), "Accept-Encoding") {
			t.Fatalf("headers %v", res.Header)
		}
		if cc := res.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
			t.Fatalf("versioned wasm Cache-Control %q", cc)
		}
		got, err := io.ReadAll(decode[tc.enc](res.Body))
		if err != nil || !bytes.Equal(got, raw) {
			t.Fatalf("Accept-Encoding %q: body of %d bytes decodes to %d (%v)", tc.accept, res.ContentLength, len(got), err)
		}
		etags[tc.enc+res.Header.Get("ETag")] = true
		// A revalidation with the ETag costs no body.
		res = get(t, w, cfg.Wasm, "Accept-Encoding", tc.accept, "If-None-Match", res.Header.Get("ETag"))
		if res.StatusCode != http.StatusNotModified {
			t.Fatalf("If-None-Match: %d", res.StatusCode)
		}
	}
	if len(etags) != 3 {
		t.Fatalf("ETags per encoding not distinct: %v", etags)
	}
	// Unversioned or stale-versioned: revalidate every time.
	for _, p := range []string{"/parley.wasm", "/parley.wasm?v=0000"} {
		if cc := get(t, w, p).Header.Get("Cache-Control"); cc != "no-cache" {
			t.Fatalf("%s Cache-Control %q", p, cc)
		}
	}
	// Small text assets are served as they are; big ones gzip too.
	if res := get(t, w, "/main.js", "Accept-Encoding", "gzip"); res.Header.Get("Content-Encoding") != "" || res.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("main.js: %v", res.Header)
	}
	res := get(t, w, "/style.css", "Accept-Encoding", "gzip")
	if res.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("style.css not compressed: %v", res.Header)
	}
	if b, _ := io.ReadAll(decode["gzip"](res.Body)); !strings.HasPrefix(string(b), "body { color: red; }") {
		t.Fatalf("style.css body %q", b)
	}
}

func TestWebConfigJSON(t *testing.T) {
	w := newTestWeb(t, true)
	srv := httptest.NewTLSServer(w)
	defer srv.Close()
	res, err := srv.Client().Get(srv.URL + "/config.json")
	if err != nil {
		t.Fatal(err)
	}
	var cfg webPageConfig
	if err := json.Unmarshal([]byte(body(t, res)), &cfg); err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(srv.URL, "https://")
	if cfg.Server != host || cfg.WebTransport != "https://"+host+"/parley" || cfg.WebSocket != "wss://"+host+"/parley" || cfg.CertHash != strings.Repeat("ab", 32) {
		t.Fatalf("config %+v", cfg)
	}
	if res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("config.json Cache-Control %q", res.Header.Get("Cache-Control"))
	}
	// Without TLS (the in-process transport): WebSocket only, ws://.
	if err := json.Unmarshal([]byte(body(t, get(t, w, "http://inprocess/config.json"))), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.WebTransport != "" || cfg.WebSocket != "ws://inprocess/parley" {
		t.Fatalf("plain config %+v", cfg)
	}
	// A Host header that is not a host stays out of the URLs.
	r := httptest.NewRequest(http.MethodGet, "/config.json", nil)
	for _, bad := range []string{"evil.com/\"><script>", "a b", "x@y", "[zz]:1", strings.Repeat("a", 256)} {
		r.Host = bad
		rec := httptest.NewRecorder()
		w.ServeHTTP(rec, r)
		if rec.Code != http.StatusBadRequest {
			t.Errorf("Host %q: %d, want 400", bad, rec.Code)
		}
	}
	for _, good := range []string{"127.0.0.1:4433", "[::1]:4433", "chat.example.org", strings.Repeat("a", 255)} {
		r.Host = good
		rec := httptest.NewRecorder()
		w.ServeHTTP(rec, r)
		if rec.Code != 200 {
			t.Errorf("Host %q: %d, want 200", good, rec.Code)
		}
	}
}

func TestWebWithoutWasmSaysSo(t *testing.T) {
	w := newTestWeb(t, false)
	if w.WasmBuilt() {
		t.Fatal("WasmBuilt with no parley.wasm")
	}
	res := get(t, w, "/")
	if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body(t, res), "parley.wasm was not built: run make") {
		t.Fatalf("/ without wasm: %d", res.StatusCode)
	}
	for _, p := range []string{"/parley.wasm", "/parley-boot.js", "/wasm_exec.js"} {
		if res := get(t, w, p); res.StatusCode != 404 {
			t.Fatalf("%s without wasm: %d", p, res.StatusCode)
		}
	}
	var cfg webPageConfig
	json.Unmarshal([]byte(body(t, get(t, w, "/config.json"))), &cfg)
	if cfg.Wasm != "" {
		t.Fatalf("config names a wasm that does not exist: %q", cfg.Wasm)
	}
}

func TestWebMethodsAndUnknownPaths(t *testing.T) {
	w := newTestWeb(t, true)
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		rec := httptest.NewRecorder()
		w.ServeHTTP(rec, httptest.NewRequest(m, "/", nil))
		if rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("%s /: %d", m, rec.Code)
		}
	}
	rec := httptest.NewRecorder()
	w.ServeHTTP(rec, httptest.NewRequest(http.MethodHead, "/parley.wasm", nil))
	if rec.Code != 200 || rec.Body.Len() != 0 {
		t.Errorf("HEAD: %d, %d bytes", rec.Code, rec.Body.Len())
	}
	for _, p := range []string{"/nope", "/../go.mod", "/webwasm/README.md", "/README.md"} {
		if res := get(t, w, p); res.StatusCode != 404 {
			t.Errorf("%s: %d, want 404", p, res.StatusCode)
		}
	}
}

func TestWebEmbeddedDefaults(t *testing.T) {
	w, err := NewWeb(WebConfig{})
	if err != nil {
		t.Fatal(err)
	}
	res := get(t, w, "/")
	switch {
	case w.WasmBuilt() && res.StatusCode != 200:
		t.Fatalf("built: / %d", res.StatusCode)
	case !w.WasmBuilt() && res.StatusCode != http.StatusServiceUnavailable:
		t.Fatalf("not built: / %d", res.StatusCode)
	}
	if res := get(t, w, "/icon.svg"); res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/svg+xml" {
		t.Fatalf("icon.svg: %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
}

func TestNegotiate(t *testing.T) {
	for _, tc := range []struct {
		accept       string
		haveBr, hvGz bool
		want         string
	}{
		{"br", true, true, "br"},
		{"br", false, true, ""},
		{"gzip, br", false, true, "gzip"},
		{"BR;q=1.0", true, true, "br"},
		{"br;q=0.000, gzip", true, true, "gzip"},
		{"gzip;q=0", true, true, ""},
		{"deflate", true, true, ""},
	} {
		if got := negotiate(tc.accept, tc.haveBr, tc.hvGz); got != tc.want {
			t.Errorf("negotiate(%q, %v, %v) = %q, want %q", tc.accept, tc.haveBr, tc.hvGz, got, tc.want)
		}
	}
}
