package app

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	qrcode "github.com/skip2/go-qrcode"

	"parley/bridge"
	"parley/client"
	"parley/internal/lan"
	"parley/protocol"
	"parley/server"
)

// HostEvent is the name of the event that tells the UI the hosting state
// (a HostInfo).
const HostEvent = "parley:host"

// DefaultHostAddr is where Host on LAN listens first.
const DefaultHostAddr = ":4433"

// HostRequest asks to host a server on the LAN.
type HostRequest struct {
	Room       string `json:"room"`       // the room the host opens (default "lobby")
	Name       string `json:"name"`       // the host's display name (default: the saved one)
	ServerName string `json:"serverName"` // shown to joiners (default: "<name>'s Parley")
}

// HostInfo is what the UI shows while hosting.
type HostInfo struct {
	Hosting    bool     `json:"hosting"`
	ServerName string   `json:"serverName,omitempty"`
	Port       int      `json:"port,omitempty"`
	CertHash   string   `json:"certHash,omitempty"`
	Link       string   `json:"link,omitempty"`
	QR         string   `json:"qr,omitempty"` // PNG data: URL of Link
	Addresses  []string `json:"addresses,omitempty"`
	Announced  bool     `json:"announced"` // mDNS works; false: joiners need the link
	Room       string   `json:"room,omitempty"`
}

// AnnounceRefresh is how often at most the member count announced on the
// LAN is brought up to date while hosting.
const AnnounceRefresh = 2 * time.Second

// hosting is a running in-process server.
type hosting struct {
	srv     *server.Server
	store   io.Closer // the durable store, closed after the server's shutdown
	ann     *lan.Announcer
	cancel  context.CancelFunc
	done    chan struct{}
	log     *slog.Logger
	info    HostInfo
	annStop context.CancelFunc // ends the announcement refresher
	annDone chan struct{}      // closed when the refresher returned
}

// StartHosting starts a server on all interfaces, announces it on the LAN,
// and joins it through an in-process connection (not QUIC to itself).
func (a *App) StartHosting(req HostRequest) (HostInfo, error) {
	a.hostMu.Lock()
	defer a.hostMu.Unlock()
	a.mu.Lock()
	if a.host != nil {
		info := a.host.info
		a.mu.Unlock()
		return info, nil
	}
	saved := a.set
	a.mu.Unlock()

	name := strings.TrimSpace(req.Name)
	if name == "" {
		name = saved.Name
	}
	name, err := protocol.CleanName(name)
	if err != nil {
		return HostInfo{}, err
	}
	room := strings.TrimSpace(req.Room)
	if room == "" {
		room = "lobby"
	}
	if room, err = protocol.CleanRoom(room); err != nil {
		return HostInfo{}, err
	}
	serverName := strings.TrimSpace(req.ServerName)
	if serverName == "" {
		serverName = name + "'s Parley"
	}
	if len(serverName) > lan.MaxNameBytes {
		return HostInfo{}, protocol.Errorf(protocol.CodeBadRequest, "the server name is too long")
	}

	dir := a.hostDir()
	store, err := openHostStore(dir)
	if err != nil {
		return HostInfo{}, unavailable("cannot open the hosted history in "+dir, err)
	}
	srv, err := a.newHostServer(dir, serverName, store)
	if err != nil {
		store.Close()
		return HostInfo{}, unavailable("cannot start the server", err)
	}
	addr := a.cfg.HostAddr
	if addr == "" {
		addr = DefaultHostAddr
		if err = srv.Listen(addr); err != nil {
			addr = ":0"
			err = srv.Listen(addr)
		}
	} else {
		err = srv.Listen(addr)
	}
	if err != nil {
		shutdown(srv)
		store.Close()
		return HostInfo{}, unavailable("cannot listen on "+addr, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &hosting{srv: srv, store: store, cancel: cancel, done: make(chan struct{}), log: a.log}
	go func() {
		defer close(h.done)
		if err := srv.Serve(ctx); err != nil {
			a.log.Error("hosted server stopped", "err", err)
		}
	}()
	port := srv.Addr().(*net.UDPAddr).Port
	h.info = HostInfo{Hosting: true, ServerName: serverName, Port: port, CertHash: srv.CertHash(), Room: room}
	ips, _ := lan.Addresses()
	linkHost := "127.0.0.1"
	for i, ip := range ips {
		h.info.Addresses = append(h.info.Addresses, net.JoinHostPort(ip.String(), strconv.Itoa(port)))
		if i == 0 {
			linkHost = ip.String()
		}
	}
	if link, err := lan.FormatLink(lan.Link{Host: linkHost, Port: port, Hash: srv.CertHash(), Key: srv.KeyHash(), Room: room}); err == nil {
		h.info.Link = link
		if png, err := qrcode.Encode(link, qrcode.Medium, 256); err == nil {
			h.info.QR = "data:image/png;base64," + base64.StdEncoding.EncodeToString(png)
		}
	}
	annInfo := lan.Info{Name: serverName, Port: port, CertHash: srv.CertHash(), IPs: ips}
	if ann, err := lan.Announce(ctx, annInfo); err == nil {
		h.ann = ann
		h.info.Announced = true
		h.refreshAnnouncement(ctx, annInfo, a.cfg.announceEvery(), a.log)
	} else {
		a.log.Warn("LAN announce failed; joiners need the link", "err", err)
	}

	st, err := a.bridge.ConnectConfig(client.Config{
		Server: "inprocess", Name: name, ClientName: ClientName,
		Dialer: client.NewInProcessDialer(srv.DialInProcess),
	}, room)
	if err != nil {
		h.stop()
		return HostInfo{}, err
	}
	_ = st
	a.mu.Lock()
	a.host = h
	a.mu.Unlock()
	a.sh().Emit(HostEvent, h.info)
	a.reportHost(h.info)
	return h.info, nil
}

// StopHosting closes the connection of the host's own UI, stops
// announcing and shuts the server down: members' sessions are closed with
// 4002 (server shutting down).
func (a *App) StopHosting() (HostInfo, error) {
	a.hostMu.Lock()
	defer a.hostMu.Unlock()
	a.mu.Lock()
	h := a.host
	a.host = nil
	a.mu.Unlock()
	if h == nil {
		return HostInfo{}, nil
	}
	a.bridge.Disconnect()
	h.stop()
	a.sh().Emit(HostEvent, HostInfo{})
	return HostInfo{}, nil
}

// refreshAnnouncement keeps the announced member count equal to the
// server's open sessions (the host's own included), and the announced
// certificate hash equal to the served one (renewed), checking every
// `every`, so the announcement changes at most that often. It runs until
// ctx ends or stop.
func (h *hosting) refreshAnnouncement(ctx context.Context, info lan.Info, every time.Duration, log *slog.Logger) {
	rctx, cancel := context.WithCancel(ctx)
	h.annStop, h.annDone = cancel, make(chan struct{})
	current := func() lan.Info {
		next := info
		next.Members = int(h.srv.Metrics().Sessions)
		next.CertHash = h.srv.CertHash() // renews the certificate when due; "" keeps the announced one
		return next
	}
	go func() {
		defer close(h.annDone)
		h.ann.Follow(rctx, every, current, func(err error) { log.Warn("updating the LAN announcement", "err", err) })
	}()
}

func (h *hosting) stop() {
	if h.annStop != nil {
		h.annStop()
		<-h.annDone
	}
	if h.ann != nil {
		h.ann.Close()
	}
	shutdown(h.srv)
	h.cancel()
	<-h.done
	if err := h.store.Close(); err != nil {
		h.log.Error("closing the hosted history", "err", err)
	}
}

// shutdown shuts srv down, closing its sessions with 4002.
func shutdown(srv *server.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), server.DefaultShutdownGrace)
	defer cancel()
	srv.Shutdown(ctx)
}

// newHostServer makes the hosted server on the kept certificate, reset
// key and store of dir.
func (a *App) newHostServer(dir, name string, store server.Store) (*server.Server, error) {
	hosts := hostNames()
	cert, err := hostCertificate(dir, hosts, nil, a.log)
	if err != nil {
		return nil, err
	}
	reset, err := loadResetKey(dir)
	if err != nil {
		return nil, err
	}
	return server.New(server.Config{Name: name, Version: ClientName, Hosts: hosts, Logger: a.log,
		Store: store, TLS: cert.TLSConfig(), StatelessResetKey: reset})
}

// HostStatus reports whether this app hosts a server.
func (a *App) HostStatus() (HostInfo, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.host == nil {
		return HostInfo{}, nil
	}
	return a.host.info, nil
}

// NearbyServer is a Parley server found on the LAN.
type NearbyServer struct {
	Name     string `json:"name"`
	Host     string `json:"host"`
	Addr     string `json:"addr"` // ip:port to connect to
	CertHash string `json:"certHash"`
	Members  int    `json:"members"`
}

// Nearby lists the Parley servers that answer on the LAN within a second.
func (a *App) Nearby() ([]NearbyServer, error) {
	discover := a.cfg.Discover
	if discover == nil {
		discover = func(ctx context.Context) ([]lan.Server, error) { return lan.Discover(ctx, time.Second) }
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	found, err := discover(ctx)
	if err != nil {
		return nil, unavailable("LAN discovery failed", err)
	}
	out := make([]NearbyServer, 0, len(found))
	for _, s := range found {
		out = append(out, NearbyServer{Name: s.Name, Host: strings.TrimSuffix(s.Host, "."), Addr: net.JoinHostPort(s.IP.String(), strconv.Itoa(s.Port)), CertHash: s.CertHash, Members: s.Members})
	}
	return out, nil
}

func hostNames() []string {
	var out []string
	if h, err := os.Hostname(); err == nil && h != "" {
		out = append(out, h, h+".local")
	}
	ips, _ := lan.Addresses()
	for _, ip := range ips {
		out = append(out, ip.String())
	}
	return append(out, "127.0.0.1", "localhost")
}

func unavailable(what string, err error) error {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return err
	}
	return &protocol.Error{Code: bridge.CodeUnavailable, Message: what + ": " + err.Error()}
}
