package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"parley/internal/certs"
)

// Server is a Parley room server. Make one with New, then Listen and
// Serve; Shutdown ends it. DialInProcess connects to it without a network.
type Server struct {
	cfg      Config
	log      *slog.Logger
	store    Store
	ownStore bool
	certs    *certs.Provider // nil when Config.TLS was given
	tlsConf  *tls.Config
	metrics  *Metrics
	hub      *hub
	handler  http.Handler // the mux without Alt-Svc (HTTP/3 and in-process)
	tcpHand  http.Handler // the mux with Alt-Svc (TCP)
	inproc   *memListener
	wt       *wtServer // the HTTP/3 + WebTransport side; nil before Listen

	// slots counts the session attempts admitted and not yet ended: a
	// slot is reserved before the upgrade and released when the session
	// (or the failed upgrade) ends, so it bounds sessions at
	// Config.MaxSessions even under concurrent upgrades.
	slots atomic.Int64
	full  atomic.Bool // a refusal was logged since the last admission

	mu       sync.Mutex
	udp      net.PacketConn
	tcp      net.Listener
	port     int
	sessions map[*session]struct{}
	closing  bool
	serving  bool
	https    *http.Server
	inHTTP   *http.Server

	wg           sync.WaitGroup // every goroutine the server starts
	shutdownOnce sync.Once
	shutdownCh   chan struct{} // closed when Shutdown starts
	doneCh       chan struct{} // closed when Shutdown finished waiting
	shutdownErr  error
}

// New makes a Server from cfg (see Config for the defaults).
func New(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	s := &Server{
		cfg:        cfg,
		log:        cfg.Logger,
		store:      cfg.Store,
		metrics:    newMetrics(),
		sessions:   make(map[*session]struct{}),
		shutdownCh: make(chan struct{}),
		doneCh:     make(chan struct{}),
		inproc:     newMemListener(),
	}
	if s.store == nil {
		s.store = NewMemoryStore()
		s.ownStore = true
	}
	switch {
	case cfg.TLS != nil:
		s.tlsConf = cfg.TLS.Clone()
	case cfg.CertFile != "" || cfg.KeyFile != "":
		p, err := certs.Load(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
		s.certs = p
		s.tlsConf = p.TLSConfig()
	default:
		p, err := certs.SelfSigned(cfg.Hosts, certs.WithClock(cfg.Now))
		if err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
		s.certs = p
		s.tlsConf = p.TLSConfig()
	}
	if s.tlsConf.MinVersion < tls.VersionTLS12 {
		s.tlsConf.MinVersion = tls.VersionTLS12
	}
	s.hub = newHub(s)
	s.handler = s.newMux()
	s.tcpHand = s.altSvc(s.handler)
	return s, nil
}

// CertHash returns the lower-case hex SHA-256 of the certificate the server
// presents now: what clients pin. With a Config.TLS that has no static
// certificate it is empty.
func (s *Server) CertHash() string {
	der := s.certDER()
	if der == nil {
		return ""
	}
	return certs.HashOf(der)
}

// KeyHash returns the lower-case hex SHA-256 of the public key (the
// SubjectPublicKeyInfo) of the certificate the server presents now: native
// clients pin it too, and it stays the same when a self-signed certificate
// is renewed. Empty when CertHash is.
func (s *Server) KeyHash() string {
	der := s.certDER()
	if der == nil {
		return ""
	}
	h, err := certs.KeyHashOf(der)
	if err != nil {
		return ""
	}
	return h
}

// certDER returns the DER of the certificate the server presents now, or
// nil when it cannot tell.
func (s *Server) certDER() []byte {
	if s.certs != nil {
		if c, err := s.certs.Certificate(); err == nil && len(c.Certificate) > 0 {
			return c.Certificate[0]
		}
		return nil
	}
	if len(s.tlsConf.Certificates) > 0 && len(s.tlsConf.Certificates[0].Certificate) > 0 {
		return s.tlsConf.Certificates[0].Certificate[0]
	}
	if s.tlsConf.GetCertificate != nil {
		if c, err := s.tlsConf.GetCertificate(&tls.ClientHelloInfo{}); err == nil && c != nil && len(c.Certificate) > 0 {
			return c.Certificate[0]
		}
	}
	return nil
}

// SPKIHash returns the base64 SHA-256 of the certificate's public key, as
// Chromium's --ignore-certificate-errors-spki-list wants it ("" with Config.TLS).
func (s *Server) SPKIHash() string {
	if s.certs != nil {
		return s.certs.SPKIHash()
	}
	return ""
}

// Listen binds the UDP (HTTP/3, WebTransport) and TCP (HTTPS, WebSocket)
// listeners on the same port number of addr (host:port). With port 0 it
// picks a free UDP port and then binds TCP on the same number, retrying
// with another port if that one is taken over TCP.
func (s *Server) Listen(addr string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return ErrServerClosed
	}
	if s.udp != nil {
		return errors.New("server: already listening")
	}
	udp, tcp, err := listenPair(addr)
	if err != nil {
		return err
	}
	s.udp, s.tcp = udp, tcp
	s.port = udp.LocalAddr().(*net.UDPAddr).Port
	return nil
}

// Addr returns the address the server listens on (UDP and TCP share the
// port), or nil before Listen.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.udp == nil {
		return nil
	}
	return s.udp.LocalAddr()
}

// ErrServerClosed is returned by Listen and DialInProcess after Shutdown.
var ErrServerClosed = errors.New("server: closed")

// Serve serves the listeners bound by Listen, and in-process connections,
// until Shutdown is called or ctx ends; when ctx ends it shuts the server
// down itself (waiting at most DefaultShutdownGrace). It returns nil after
// a shutdown, or the error that stopped a listener. Without Listen it
// serves only in-process connections.
func (s *Server) Serve(ctx context.Context) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return ErrServerClosed
	}
	if s.serving {
		s.mu.Unlock()
		return errors.New("server: already serving")
	}
	s.serving = true
	errc := make(chan error, 3)
	s.inHTTP = &http.Server{Handler: s.handler, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)}
	inHTTP := s.inHTTP
	s.goServe(errc, func() error { return inHTTP.Serve(s.inproc) })
	if s.tcp != nil {
		s.https = &http.Server{
			Handler:           s.tcpHand,
			TLSConfig:         s.tlsConf.Clone(),
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		}
		https, tcp := s.https, s.tcp
		s.goServe(errc, func() error { return https.ServeTLS(tcp, "", "") })
	}
	if s.udp != nil {
		s.wt = s.newWTServer()
		wt, udp := s.wt, s.udp
		s.goServe(errc, func() error { return wt.serve(udp) })
	}
	s.mu.Unlock()

	s.log.Info("serving", "addr", s.Addr(), "cert_hash", s.CertHash())
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), DefaultShutdownGrace)
		defer cancel()
		return s.Shutdown(sctx)
	case <-s.shutdownCh:
		<-s.doneCh
		return nil
	case err := <-errc:
		sctx, cancel := context.WithTimeout(context.Background(), DefaultShutdownGrace)
		defer cancel()
		_ = s.Shutdown(sctx)
		return err
	}
}

func (s *Server) goServe(errc chan<- error, f func() error) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		err := f()
		select {
		case <-s.shutdownCh:
		default:
			if err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
				errc <- err
			}
		}
	}()
}

// Shutdown stops accepting sessions and requests, lets the requests
// already read finish (stored, answered, the answers flushed to the
// client), then closes every session with 4002 (server shutting down),
// waits for every goroutine the server started and closes the listeners
// and the server's own store. The first call's ctx bounds the graceful
// part: when it ends, the sessions still open are closed at once. It may
// be called more than once and concurrently; each call waits for the
// shutdown to finish, or returns ctx.Err() if ctx ends first.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutdownOnce.Do(func() {
		s.mu.Lock()
		s.closing = true
		close(s.shutdownCh)
		s.mu.Unlock()
		go s.shutdown(ctx)
	})
	select {
	case <-s.doneCh:
		return s.shutdownErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Server) shutdown(ctx context.Context) {
	defer close(s.doneCh)
	s.inproc.Close()
	s.mu.Lock()
	https, inHTTP, wt, udp, tcp := s.https, s.inHTTP, s.wt, s.udp, s.tcp
	sessions := make([]*session, 0, len(s.sessions))
	for ss := range s.sessions {
		sessions = append(sessions, ss)
	}
	s.mu.Unlock()
	// Stop accepting new TCP connections first; hijacked (WebSocket)
	// connections are ours to close.
	if tcp != nil && https == nil {
		tcp.Close()
	}
	if https != nil {
		https.Close()
	}
	if inHTTP != nil {
		inHTTP.Close()
	}
	// Drain every session (no new request; the ones read are answered
	// and flushed; then 4002) until ctx ends, then close what is left.
	var drains sync.WaitGroup
	for _, ss := range sessions {
		drains.Add(1)
		go func() {
			defer drains.Done()
			ss.drain()
		}()
	}
	for _, ss := range sessions {
		select {
		case <-ss.done:
		case <-ctx.Done():
		}
	}
	s.waitSessions()
	drains.Wait()
	if wt != nil {
		wt.drain(closeGrace)
		wt.close()
	}
	if udp != nil {
		udp.Close() // http3 does not close a PacketConn it was given; a restart on the same port needs it gone
	}
	s.wg.Wait()
	if s.ownStore {
		if err := s.store.Close(); err != nil {
			s.shutdownErr = err
		}
	}
	s.log.Info("shut down")
}

// waitSessions waits until every session has ended.
func (s *Server) waitSessions() {
	for {
		s.mu.Lock()
		n := len(s.sessions)
		var any *session
		for ss := range s.sessions {
			any = ss
			break
		}
		s.mu.Unlock()
		if n == 0 {
			return
		}
		any.close(closeShutdown, "server shutting down")
		<-any.done
	}
}

// addSession registers a new session; it fails when the server is closing.
func (s *Server) addSession(ss *session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.sessions[ss] = struct{}{}
	s.metrics.sessions.Add(1)
	return true
}

func (s *Server) removeSession(ss *session) {
	s.mu.Lock()
	delete(s.sessions, ss)
	s.mu.Unlock()
	s.metrics.sessions.Add(-1)
}

// Ready reports whether the server is serving and not shutting down (for /readyz).
func (s *Server) Ready() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.serving && !s.closing
}

// DialInProcess opens an in-process connection to the server: a net.Conn
// served by the server's HTTP handler without TLS, for an application that
// hosts a server and joins it itself. Speak the WebSocket fallback over it:
// dial the URL InProcessURL ("ws://inprocess/parley") with an HTTP client
// whose transport returns this connection, and no Origin header. It needs
// Serve to be running to get an answer.
func (s *Server) DialInProcess(ctx context.Context) (net.Conn, error) {
	return s.inproc.dial(ctx)
}

// InProcessURL is the URL a client dials over a DialInProcess connection.
const InProcessURL = "ws://inprocess/parley"

// altSvcValue is the Alt-Svc header advertising HTTP/3 on the same port.
func altSvcValue(port int) string {
	return `h3=":` + strconv.Itoa(port) + `"; ma=86400`
}
