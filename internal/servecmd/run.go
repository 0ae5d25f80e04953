package servecmd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"parley/internal/certs"
	"parley/internal/lan"
	"parley/internal/sqlitestore"
	"parley/protocol"
	"parley/server"
)

// DrainTimeout is how long a shutdown may take: sessions are closed with
// 4002 and the store flushed within it, so the process exits within 10 s
// of SIGTERM.
const DrainTimeout = 8 * time.Second

// lanRefresh is how often the LAN announcement's member count and
// certificate hash are brought up to date.
const lanRefresh = 5 * time.Second

// Run is `parley serve`: it parses args (and the PARLEY_* environment),
// serves until ctx ends (SIGINT/SIGTERM in the binary), then drains: every
// session is closed with 4002, the store is flushed, and Run returns nil.
// The logs go to stderr; -h writes the usage to stdout and returns
// flag.ErrHelp.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := Parse(args, nil, stdout)
	if err != nil {
		return err
	}
	return Serve(ctx, o, stderr)
}

// Serve runs a server configured by o until ctx ends, logging to logOut.
func Serve(ctx context.Context, o Options, logOut io.Writer) error {
	log := newLogger(o, logOut)

	var store server.Store
	var sqlStore *sqlitestore.Store
	var resetKey *[32]byte
	var tlsConf *tls.Config
	if o.DataDir != "" {
		s, err := sqlitestore.Open(o.DataDir, sqlitestore.Options{RetainAge: o.RetainAge, RetainCount: o.RetainCount})
		if err != nil {
			return fmt.Errorf("--data %s: %w", o.DataDir, err)
		}
		sqlStore, store = s, s
		defer func() {
			if err := sqlStore.Close(); err != nil {
				log.Error("closing the store", "err", err)
			}
		}()
		if resetKey, err = ResetKey(o.DataDir); err != nil {
			return fmt.Errorf("--data %s: %w", o.DataDir, err)
		}
		if o.CertFile == "" {
			// The self-signed certificate is kept there too, so its hash
			// — what clients pin — survives a restart until renewal.
			p, err := certs.Persistent(o.DataDir, certHosts(o.Addr), certs.WithLogger(log), certs.OnRenew(func(hash string) {
				log.Warn("the self-signed certificate was renewed with the same key: clients that connected before keep connecting (they pin the key too); new joiners need the new hash or join link", "cert_hash", hash)
			}))
			if err != nil {
				return fmt.Errorf("--data %s: %w", o.DataDir, err)
			}
			tlsConf = p.TLSConfig()
		}
	} else {
		log.Warn("no --data directory: history, identities and images are kept in memory and lost on exit")
	}

	var srv *server.Server
	var webHandler http.Handler
	web, err := server.NewWeb(server.WebConfig{CertHash: func() string { return srv.CertHash() }})
	switch {
	case err != nil:
		// The chat itself does not need the web client: serve without it.
		log.Error("the web client is unavailable; serving without it", "err", err)
	case !web.WasmBuilt():
		log.Warn("parley.wasm was not built into this binary: the web page at / explains how (make build)")
		webHandler = web
	default:
		webHandler = web
	}
	srv, err = server.New(server.Config{
		Name:            o.Name,
		Version:         Version(),
		Limits:          protocol.Limits{Text: o.MaxText, Image: o.MaxImage},
		MaxSessions:     o.MaxSessions,
		MaxUserSessions: o.MaxUserSessions,
		MaxRooms:        o.MaxRooms,
		Store:           store,
		TLS:             tlsConf, // nil: --cert/--key, or a self-signed certificate for this run only
		CertFile:        o.CertFile,
		KeyFile:         o.KeyFile,
		Hosts:           certHosts(o.Addr),
		AllowedOrigins:  o.Origins,
		Web:             webHandler,
		Logger:          log,
		// Kept in --data: a restart after a crash resets the old QUIC
		// connections, so clients reconnect at once.
		StatelessResetKey: resetKey,
	})
	if err != nil {
		return err
	}
	if err := srv.Listen(o.Addr); err != nil {
		_ = shutdown(srv, log)
		return fmt.Errorf("--addr %s: %w", o.Addr, err)
	}

	var wg sync.WaitGroup
	defer wg.Wait()
	serveCtx, stopAll := context.WithCancel(context.Background())
	defer stopAll()

	serveErr := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		// Serve gets its own context: the drain below is ours to time.
		serveErr <- srv.Serve(serveCtx)
	}()

	var admin *adminServer
	if o.Admin != "" {
		if admin, err = startAdmin(o.Admin, srv, log); err != nil {
			_ = shutdown(srv, log)
			return fmt.Errorf("--admin %s: %w", o.Admin, err)
		}
		defer admin.close()
	}

	port := srv.Addr().(*net.UDPAddr).Port
	host := publicHost(o.Addr)
	link := lan.Link{Host: host, Port: port, Hash: srv.CertHash(), Key: srv.KeyHash()}
	attrs := []any{
		"url", "https://" + net.JoinHostPort(host, strconv.Itoa(port)),
		"addr", srv.Addr().String(),
		"cert_hash", srv.CertHash(),
		"key_hash", srv.KeyHash(),
		"join", link.String(),
		"name", o.Name,
		"version", Version(),
	}
	if admin != nil {
		attrs = append(attrs, "admin", "http://"+admin.addr())
	}

	if o.LAN {
		wg.Add(1)
		ready := make(chan error, 1)
		go func() {
			defer wg.Done()
			announceLAN(serveCtx, srv, o, port, log, ready)
		}()
		if err := <-ready; err != nil {
			log.Error("LAN announcement failed; serving without it", "err", err)
		} else {
			attrs = append(attrs, "lan", lan.ServiceType)
		}
	}
	log.Info("parley serve ready", attrs...)

	select {
	case <-ctx.Done():
		log.Info("shutting down: closing sessions with 4002", "signal", context.Cause(ctx))
		stopAll()
		return shutdown(srv, log)
	case err := <-serveErr:
		stopAll()
		if err != nil {
			return fmt.Errorf("serving: %w", err)
		}
		return nil
	}
}

// shutdown drains srv within DrainTimeout.
func shutdown(srv *server.Server, log *slog.Logger) error {
	sctx, cancel := context.WithTimeout(context.Background(), DrainTimeout)
	defer cancel()
	start := time.Now()
	if err := srv.Shutdown(sctx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("shutdown did not finish within %v", DrainTimeout)
		}
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("drained", "took", time.Since(start).Round(time.Millisecond).String())
	return nil
}

// announceLAN announces srv on mDNS until ctx ends, refreshing the member
// count and the certificate hash (a self-signed certificate is renewed).
// It sends the result of the first announcement to ready.
func announceLAN(ctx context.Context, srv *server.Server, o Options, port int, log *slog.Logger, ready chan<- error) {
	info := func() lan.Info {
		return lan.Info{Name: o.Name, Port: port, CertHash: srv.CertHash(),
			Members: int(srv.Metrics().Sessions), IPs: announceIPs(o.Addr)}
	}
	a, err := lan.Announce(ctx, info())
	ready <- err
	if err != nil {
		return
	}
	defer a.Close()
	a.Follow(ctx, lanRefresh, info, func(err error) { log.Warn("updating the LAN announcement", "err", err) })
}

// announceIPs are the addresses announced: the one --addr names, or every
// LAN address when it names none.
func announceIPs(addr string) []net.IP {
	host, _, _ := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() {
		return []net.IP{ip}
	}
	ips, _ := lan.Addresses()
	return ips // empty: lan picks loopback
}

// publicHost is the host a client should dial: the one --addr names, else
// the first LAN address, else localhost.
func publicHost(addr string) string {
	host, _, _ := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() {
		return ip.String()
	}
	if host == "localhost" {
		return "127.0.0.1"
	}
	if ips, _ := lan.Addresses(); len(ips) > 0 {
		return ips[0].String()
	}
	return "127.0.0.1"
}

// certHosts are the names a self-signed certificate covers.
func certHosts(addr string) []string {
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	host, _, _ := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() {
		return append(hosts, ip.String())
	}
	if ips, _ := lan.Addresses(); len(ips) > 0 {
		for _, ip := range ips {
			hosts = append(hosts, ip.String())
		}
	}
	return hosts
}

func newLogger(o Options, w io.Writer) *slog.Logger {
	hopts := &slog.HandlerOptions{Level: o.LogLevel}
	if o.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, hopts))
	}
	return slog.New(slog.NewTextHandler(w, hopts))
}

// version is set at link time by the Makefile
// (-ldflags "-X parley/internal/servecmd.version=…").
var version string

// Version is the version of this build: what the Makefile stamped (git
// describe), else the module version or the VCS revision it was built
// from, else "dev".
func Version() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	switch {
	case rev == "":
		return "dev"
	case dirty:
		return rev + "-dirty"
	}
	return rev
}
