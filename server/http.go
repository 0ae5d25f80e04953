package server

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// newMux builds the HTTP handler shared by TCP, HTTP/3 and in-process
// connections: /parley (WebTransport CONNECT or WebSocket upgrade),
// /healthz, and Config.Web at /.
func (s *Server) newMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/parley", s.serveParley)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	if s.cfg.Web != nil {
		mux.Handle("/", s.cfg.Web)
	} else {
		mux.Handle("/", http.NotFoundHandler())
	}
	return mux
}

// Handler returns the server's HTTP handler for the TCP side: /parley
// (WebSocket), /healthz and Config.Web at /, with an Alt-Svc header
// advertising HTTP/3 on the same port once the server listens.
func (s *Server) Handler() http.Handler { return s.tcpHand }

func (s *Server) altSvc(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		port := s.port
		s.mu.Unlock()
		if port != 0 {
			w.Header().Set("Alt-Svc", altSvcValue(port))
		}
		h.ServeHTTP(w, r)
	})
}

// serveParley accepts a session: WebTransport (extended CONNECT over
// HTTP/3) or WebSocket (upgrade over HTTP/1.1 or in-process).
func (s *Server) serveParley(w http.ResponseWriter, r *http.Request) {
	if !s.originAllowed(r) {
		s.metrics.rejected.Add(1)
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return
	}
	// The host application's own window (in-process) is never refused by
	// its own server and takes no slot: it cannot come from the network.
	if !inProcess(r) {
		if !s.reserveSlot() {
			s.refuseFull(w, r)
			return
		}
		// Both adapters run the session in this goroutine: the slot is
		// held until it ends.
		defer s.releaseSlot()
	}
	if r.Method == http.MethodConnect {
		s.serveWebTransport(w, r)
		return
	}
	if !wantsWebSocket(r) {
		// A plain request (a browser asking whether the server is full
		// gets here when it is not): say what the endpoint takes. Over
		// HTTP/2 the Upgrade header is not allowed.
		if r.ProtoMajor == 1 {
			w.Header().Set("Upgrade", "websocket")
		}
		http.Error(w, "parley: /parley takes a WebTransport or WebSocket session", http.StatusUpgradeRequired)
		return
	}
	s.serveWebSocket(w, r)
}

// wantsWebSocket reports whether r asks for a WebSocket upgrade.
func wantsWebSocket(r *http.Request) bool {
	return httpguts.HeaderValuesContainsToken(r.Header.Values("Connection"), "upgrade") &&
		httpguts.HeaderValuesContainsToken(r.Header.Values("Upgrade"), "websocket")
}

// inProcess reports whether r came over DialInProcess.
func inProcess(r *http.Request) bool {
	_, ok := r.Context().Value(http.LocalAddrContextKey).(memAddr)
	return ok
}

// reserveSlot takes one of Config.MaxSessions session slots, or reports
// false when all are taken.
func (s *Server) reserveSlot() bool {
	limit := int64(s.cfg.MaxSessions)
	for {
		n := s.slots.Load()
		if n >= limit {
			return false
		}
		if s.slots.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// releaseSlot gives back a slot taken by reserveSlot.
func (s *Server) releaseSlot() {
	s.slots.Add(-1)
	s.full.Store(false)
}

// refuseFull answers a session attempt when every slot is taken: 503,
// before any upgrade, with Retry-After. It is logged once per spell of
// refusals (the metric counts each).
func (s *Server) refuseFull(w http.ResponseWriter, r *http.Request) {
	s.metrics.refused.Add(1)
	if !s.full.Swap(true) {
		s.log.Warn("the server is full: session attempts are refused", "max_sessions", s.cfg.MaxSessions, "remote", r.RemoteAddr)
	}
	w.Header().Set("Retry-After", strconv.Itoa(fullRetryAfter))
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusServiceUnavailable)
	n := s.cfg.MaxSessions
	fmt.Fprintf(w, "parley: the server is full (%d %s); try again later\n", n, plural(n, "session", "sessions"))
}

// originAllowed implements PROTOCOL.md section 1: no Origin → accepted; an
// Origin equal to the server's own (the request's host, https, or http
// without TLS) or in Config.AllowedOrigins → accepted; else rejected.
func (s *Server) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	for _, a := range s.cfg.AllowedOrigins {
		if a == "*" || strings.EqualFold(strings.TrimRight(a, "/"), origin) {
			return true
		}
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	scheme := "https"
	if r.TLS == nil && r.ProtoMajor < 3 {
		scheme = "http"
	}
	return strings.EqualFold(u.Scheme, scheme) && strings.EqualFold(u.Host, r.Host)
}
