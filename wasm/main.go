//go:build js && wasm

package main

import (
	"context"
	"log/slog"
	"os"
	"syscall/js"
	"time"

	"parley/bridge"
	"parley/client"
)

// ClientName is what the browser client sends in hello.
const ClientName = "parley-web/1"

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx := context.Background()
	page := readPageConfig()
	if page.Server == "" { // loaded by a page that did not read /config.json for us
		fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if v, err := fetchConfig(fctx); err == nil {
			page = pageConfigOf(v)
		}
		cancel()
	}

	ev := newEvents()
	idCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	id, persistent, err := loadIdentity(idCtx)
	cancel()
	if err != nil {
		log.Warn("parley: no identity key, connecting as a guest", "err", err)
	}
	opts := bridge.Options{
		Emit:            ev.emit,
		ClientName:      ClientName,
		DefaultServer:   page.Server,
		DefaultCertHash: page.CertHash,
		Logger:          log,
		Dial:            page.dial,
	}
	if id != nil {
		opts.Identity = id
	}
	// The history cache: the page shows the past of its conversations at
	// Connect, before the server answers. A guest's private chats are
	// never kept (the bridge's rule). Without IndexedDB, no cache.
	if cache, err := openIDBCache(ctx); err != nil {
		log.Warn("parley: no history cache", "err", err)
	} else {
		opts.Cache = cache
	}
	b := bridge.New(opts)
	api := newAPI(b, ev, id, persistent)
	exports := api.export()
	js.Global().Set("parleyWasm", exports)
	if g := js.Global().Get("parley"); g.Type() != js.TypeObject {
		js.Global().Set("parley", exports) // loaded without server/web_boot.js
	}
	if f := js.Global().Get("__parleyStarted"); f.Type() == js.TypeFunction {
		f.Invoke(exports)
	}
	select {} // the exports live as long as the page
}

// pageConfig is what the server told the page (/config.json, read by the
// loader into globalThis.parleyConfig).
type pageConfig struct {
	Server       string
	CertHash     string
	WebTransport string
	WebSocket    string
}

func readPageConfig() *pageConfig { return pageConfigOf(js.Global().Get("parleyConfig")) }

func pageConfigOf(v js.Value) *pageConfig {
	if v.Type() != js.TypeObject {
		return &pageConfig{}
	}
	s := func(k string) string {
		if x := v.Get(k); x.Type() == js.TypeString {
			return x.String()
		}
		return ""
	}
	return &pageConfig{Server: s("server"), CertHash: s("certHash"), WebTransport: s("webtransport"), WebSocket: s("websocket")}
}

// dial opens a client. To the page's own server it uses the URLs the
// server gave and refreshes the certificate hash from /config.json before
// every reconnection (a self-signed certificate is renewed on the server
// without a restart of the page); a server that cannot be reached is
// dialed again for FirstDialRetry (it served the page: it is restarting).
func (p *pageConfig) dial(ctx context.Context, cfg client.Config) (*client.Client, error) {
	if cfg.Dialer != nil || p.Server == "" || cfg.Server != p.Server {
		return client.Dial(ctx, cfg)
	}
	d := &client.BrowserDialer{WebTransportURL: p.WebTransport, WebSocketURL: p.WebSocket, WebTransportTimeout: cfg.FallbackAfter}
	if cfg.CertHash != "" {
		d.CertHashes = []string{cfg.CertHash}
	}
	cfg.Dialer = &refreshingDialer{d: d}
	return retryDial(ctx, FirstDialRetry, func(ctx context.Context) (*client.Client, error) { return client.Dial(ctx, cfg) })
}

// refreshingDialer re-reads the certificate hash before each redial. The
// client dials from one goroutine at a time.
type refreshingDialer struct {
	d      *client.BrowserDialer
	dialed bool
}

// Dial refreshes the hash (after the first dial) and dials.
func (r *refreshingDialer) Dial(ctx context.Context) (client.Conn, error) {
	if r.dialed && len(r.d.CertHashes) > 0 {
		fctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		if h, err := fetchCertHash(fctx); err == nil && h != "" {
			r.d.CertHashes = []string{h}
		}
		cancel()
	}
	r.dialed = true
	return r.d.Dial(ctx)
}
