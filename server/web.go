package server

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"net"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"parley/frontend"
)

// The browser client's WebAssembly build, made by `go generate ./server`
// (or the Makefile) into webwasm/; the directory always holds a README so
// that the server builds without it.
//
//go:generate go run ../internal/webbuild -out webwasm
//go:embed all:webwasm
var webWasm embed.FS

//go:embed web_boot.js
var webBoot []byte

// Paths of the web client's own files, besides the UI's assets.
const (
	webConfigPath = "/config.json"
	webWasmPath   = "/parley.wasm"
	webExecPath   = "/wasm_exec.js"
	webBootPath   = "/parley-boot.js"
)

// WebConfig configures the web client handler. Its zero value serves the
// embedded UI and WebAssembly build with no certificate hash.
type WebConfig struct {
	// CertHash returns the lower-case hex SHA-256 of the DER of the
	// certificate the server presents now (it changes when a self-signed
	// certificate is renewed); the page passes it to the browser as
	// serverCertificateHashes. Typically func() string { return srv.CertHash() }.
	// Nil or "": none (a certificate the browser trusts by itself).
	CertHash func() string
	// Assets are the UI's files, index.html at the top. Nil: frontend.Assets.
	Assets fs.FS
	// Wasm holds parley.wasm (optionally .gz and .br beside it) and
	// wasm_exec.js. Nil: the build embedded in this binary.
	Wasm fs.FS
	// CSP is the Content-Security-Policy header. Empty: frontend.CSP.
	CSP string
}

// Web serves the browser client at /: the UI (frontend.Assets) with the
// WebAssembly loader added to its page, parley.wasm precompressed (brotli,
// gzip) and cacheable forever under its versioned URL, wasm_exec.js, and
// /config.json telling the page the certificate hash and the WebTransport
// and WebSocket URLs. Every response carries security headers. Private
// images are never served here: the page fetches them over its session.
// A Web is immutable after NewWeb and safe for concurrent use.
type Web struct {
	cfg    WebConfig
	files  map[string]*webFile
	wasmV  string // short content hash of parley.wasm; "" when not built
	csp    string
	notice *webFile // the page served at / when parley.wasm was not built
}

// webFile is one file served, with its precompressed variants.
type webFile struct {
	name  string // for Content-Type and ServeContent
	ctype string
	raw   []byte
	gz    []byte // nil: not worth it or not available
	br    []byte
	etag  string // quoted, of raw; variants append -gz / -br
	// immutable: cacheable forever when requested with ?v=<etag hash>.
	immutable bool
}

// NewWeb builds the web handler from cfg. It reads every asset once.
func NewWeb(cfg WebConfig) (*Web, error) {
	if cfg.Assets == nil {
		cfg.Assets = frontend.Assets
	}
	if cfg.Wasm == nil {
		sub, err := fs.Sub(webWasm, "webwasm")
		if err != nil {
			return nil, err
		}
		cfg.Wasm = sub
	}
	w := &Web{cfg: cfg, files: map[string]*webFile{}, csp: cfg.CSP}
	if w.csp == "" {
		w.csp = frontend.CSP
	}
	err := fs.WalkDir(cfg.Assets, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(cfg.Assets, p)
		if err != nil {
			return err
		}
		w.add("/"+p, b)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("server: web assets: %w", err)
	}
	index, ok := w.files["/index.html"]
	if !ok {
		return nil, errors.New("server: web assets have no index.html")
	}
	if err := w.addWasm(); err != nil {
		return nil, err
	}
	if w.wasmV != "" {
		page := injectBoot(index.raw)
		w.add("/index.html", page)
		w.add(webBootPath, webBoot)
	} else {
		w.notice = newWebFile("index.html", []byte(notBuiltPage))
	}
	w.files["/"] = w.files["/index.html"]
	return w, nil
}

// WasmBuilt reports whether this handler has a parley.wasm to serve.
func (w *Web) WasmBuilt() bool { return w.wasmV != "" }

func (w *Web) add(p string, b []byte) {
	w.files[p] = newWebFile(path.Base(p), b)
}

func newWebFile(name string, b []byte) *webFile {
	f := &webFile{name: name, raw: b, etag: contentTag(b)}
	f.ctype = mime.TypeByExtension(path.Ext(name))
	switch path.Ext(name) {
	case ".js", ".mjs":
		f.ctype = "text/javascript; charset=utf-8"
	case ".json":
		f.ctype = "application/json"
	case ".wasm":
		f.ctype = "application/wasm"
	case ".svg":
		f.ctype = "image/svg+xml"
	}
	if f.ctype == "" {
		f.ctype = http.DetectContentType(b)
	}
	if len(b) >= 1024 && compressible(f.ctype) {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(b)
		zw.Close()
		if buf.Len() < len(b)*9/10 {
			f.gz = buf.Bytes()
		}
	}
	return f
}

func compressible(ctype string) bool {
	for _, p := range []string{"text/", "application/javascript", "application/json", "image/svg+xml", "application/wasm"} {
		if strings.HasPrefix(ctype, p) {
			return true
		}
	}
	return false
}

// contentTag is a quoted ETag naming b's content.
func contentTag(b []byte) string {
	sum := sha256.Sum256(b)
	return `"` + hex.EncodeToString(sum[:8]) + `"`
}

// addWasm adds parley.wasm, its precompressed copies and wasm_exec.js,
// when they were built.
func (w *Web) addWasm() error {
	raw, err := fs.ReadFile(w.cfg.Wasm, "parley.wasm")
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("server: parley.wasm: %w", err)
	}
	execJS, err := fs.ReadFile(w.cfg.Wasm, "wasm_exec.js")
	if err != nil {
		return fmt.Errorf("server: parley.wasm was built without wasm_exec.js: %w", err)
	}
	f := &webFile{name: "parley.wasm", ctype: "application/wasm", raw: raw, etag: contentTag(raw), immutable: true}
	if gz, err := fs.ReadFile(w.cfg.Wasm, "parley.wasm.gz"); err == nil {
		f.gz = gz
	}
	if br, err := fs.ReadFile(w.cfg.Wasm, "parley.wasm.br"); err == nil {
		f.br = br
	}
	w.files[webWasmPath] = f
	w.wasmV = strings.Trim(f.etag, `"`)
	w.add(webExecPath, execJS)
	return nil
}

// injectBoot adds the WebAssembly loader to the page, ahead of its first
// script (classic scripts run in order, before the page's module scripts).
func injectBoot(page []byte) []byte {
	tags := []byte(`<script src="` + webExecPath + `"></script>` + "\n" + `<script src="` + webBootPath + `"></script>` + "\n")
	i := bytes.Index(page, []byte("<script"))
	if i < 0 {
		i = bytes.Index(page, []byte("</head>"))
	}
	if i < 0 {
		i = 0
	}
	out := make([]byte, 0, len(page)+len(tags))
	out = append(out, page[:i]...)
	out = append(out, tags...)
	return append(out, page[i:]...)
}

// notBuiltPage is served at / when this binary has no parley.wasm.
const notBuiltPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Parley: web client not built</title></head>
<body><h1>parley.wasm was not built: run make</h1>
<p>This Parley server was built without its browser client. Build it with
<code>make</code> (or <code>go generate ./server</code> and then
<code>go build</code>). The desktop app and <code>parley chat</code> can
connect to this server meanwhile.</p></body></html>
`

// webPageConfig is the JSON of /config.json.
type webPageConfig struct {
	Server       string `json:"server"`   // host:port the page came from
	CertHash     string `json:"certHash"` // hex SHA-256 of the certificate's DER, or ""
	WebTransport string `json:"webtransport"`
	WebSocket    string `json:"websocket"`
	Wasm         string `json:"wasm"` // versioned URL of parley.wasm, or "" when not built
}

// ServeHTTP serves the web client.
func (w *Web) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	h := rw.Header()
	h.Set("Content-Security-Policy", w.csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(rw, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if r.URL.Path == webConfigPath {
		w.serveConfig(rw, r)
		return
	}
	if w.notice != nil && (r.URL.Path == "/" || r.URL.Path == "/index.html") {
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Type", w.notice.ctype)
		rw.WriteHeader(http.StatusServiceUnavailable)
		if r.Method == http.MethodGet {
			rw.Write(w.notice.raw)
		}
		return
	}
	f, ok := w.files[r.URL.Path]
	if !ok {
		http.NotFound(rw, r)
		return
	}
	w.serveFile(rw, r, f)
}

func (w *Web) serveFile(rw http.ResponseWriter, r *http.Request, f *webFile) {
	h := rw.Header()
	body, etag := f.raw, f.etag
	if f.gz != nil || f.br != nil {
		h.Add("Vary", "Accept-Encoding")
		switch enc := negotiate(r.Header.Get("Accept-Encoding"), f.br != nil, f.gz != nil); enc {
		case "br":
			body, etag = f.br, strings.TrimSuffix(f.etag, `"`)+`-br"`
			h.Set("Content-Encoding", "br")
		case "gzip":
			body, etag = f.gz, strings.TrimSuffix(f.etag, `"`)+`-gz"`
			h.Set("Content-Encoding", "gzip")
		}
	}
	if f.immutable && r.URL.Query().Get("v") == strings.Trim(f.etag, `"`) {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache") // revalidate with the ETag
	}
	h.Set("Content-Type", f.ctype)
	h.Set("ETag", etag)
	http.ServeContent(rw, r, f.name, time.Time{}, bytes.NewReader(body))
}

func (w *Web) serveConfig(rw http.ResponseWriter, r *http.Request) {
	host := r.Host
	if !validHost(host) {
		http.Error(rw, "bad Host header", http.StatusBadRequest)
		return
	}
	c := webPageConfig{Server: host}
	if w.cfg.CertHash != nil {
		c.CertHash = w.cfg.CertHash()
	}
	if r.TLS != nil {
		c.WebTransport = "https://" + host + "/parley"
		c.WebSocket = "wss://" + host + "/parley"
	} else {
		c.WebSocket = "ws://" + host + "/parley"
	}
	if w.wasmV != "" {
		c.Wasm = webWasmPath + "?v=" + w.wasmV
	}
	b, _ := json.Marshal(c)
	rw.Header().Set("Content-Type", "application/json")
	rw.Header().Set("Cache-Control", "no-store")
	rw.Write(b)
}

// validHost accepts a host[:port] made of the characters of DNS names and
// IP literals, so that it can be put into a URL as it is.
func validHost(host string) bool {
	if host == "" || len(host) > 255 {
		return false
	}
	for _, c := range host {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.', c == '-', c == ':', c == '[', c == ']', c == '_':
		default:
			return false
		}
	}
	if strings.ContainsAny(host, "[]") {
		h, _, err := net.SplitHostPort(host)
		if err != nil {
			h = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		}
		return net.ParseIP(h) != nil
	}
	return true
}

// negotiate picks "br", "gzip" or "" from an Accept-Encoding header.
func negotiate(accept string, haveBr, haveGz bool) string {
	var br, gz bool
	for _, part := range strings.Split(accept, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if k, v, ok := strings.Cut(strings.TrimSpace(params), "="); ok && strings.TrimSpace(k) == "q" {
			if q, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err != nil || q <= 0 {
				continue
			}
		}
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "br":
			br = true
		case "gzip":
			gz = true
		case "*":
			br, gz = true, true
		}
	}
	switch {
	case br && haveBr:
		return "br"
	case gz && haveGz:
		return "gzip"
	}
	return ""
}
