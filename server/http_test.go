package server_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"parley/protocol"
	"parley/server"
)

func TestHTTPSideAndListen(t *testing.T) {
	web := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "web client") })
	ts := startServer(t, server.Config{Web: web})
	// UDP and TCP share the port number.
	host, port, _ := net.SplitHostPort(ts.addr)
	conn, err := net.Dial("tcp", net.JoinHostPort(host, port))
	if err != nil {
		t.Fatalf("TCP on the UDP port: %v", err)
	}
	conn.Close()
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: pinned(ts.hash)}}
	for path, want := range map[string]string{"/healthz": "ok\n", "/": "web client"} {
		rsp, err := hc.Get("https://" + ts.addr + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(rsp.Body)
		rsp.Body.Close()
		if string(body) != want {
			t.Errorf("%s: %q", path, body)
		}
		if alt := rsp.Header.Get("Alt-Svc"); alt != `h3=":`+port+`"; ma=86400` {
			t.Errorf("%s: Alt-Svc %q", path, alt)
		}
	}
	// Without Config.Web, / is 404.
	ts2 := startServer(t, server.Config{})
	hc2 := &http.Client{Transport: &http.Transport{TLSClientConfig: pinned(ts2.hash)}}
	rsp, err := hc2.Get("https://" + ts2.addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	rsp.Body.Close()
	if rsp.StatusCode != http.StatusNotFound {
		t.Errorf("no web: %d", rsp.StatusCode)
	}
}

func TestMetricsAndReady(t *testing.T) {
	ts := startServer(t, server.Config{})
	if !ts.srv.Ready() {
		t.Fatal("not ready while serving")
	}
	a, b := dialWT(t, ts), dialWT(t, ts)
	a.hello("Alice")
	b.hello("Bob")
	a.join("lobby")
	b.join("lobby")
	a.ok(map[string]any{"type": "say", "room": "lobby", "text": "hi"})
	b.eventOf(protocol.TypeMsg)
	a.fails(protocol.CodeBadRequest, map[string]any{"type": "nope"})
	rec := &strings.Builder{}
	srv := &http.Server{Handler: ts.srv.MetricsHandler()}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())
	rsp, err := http.Get("http://" + ln.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(rec, rsp.Body)
	rsp.Body.Close()
	for _, want := range []string{"parley_sessions 2", "parley_messages_total 1", "parley_deliveries_total 1", `parley_errors_total{code="bad_request"} 1`, "# TYPE parley_sessions gauge", "parley_rooms 1"} {
		if !strings.Contains(rec.String(), want+"\n") {
			t.Errorf("metrics lack %q:\n%s", want, rec)
		}
	}
}

func TestTyping(t *testing.T) {
	ts := startServer(t, server.Config{})
	a, a2, b, w := dialWT(t, ts), dialWT(t, ts), dialWT(t, ts), dialWS(t, ts)
	_ = a2
	a.hello("Alice")
	b.hello("Bob")
	w.hello("Wes")
	for _, c := range []*rawClient{a, b, w} {
		c.join("lobby")
	}
	// Over WebTransport a datagram; over WebSocket a frame.
	if err := a.sess.SendDatagram([]byte(`{"type":"typing","room":"lobby"}`)); err != nil {
		t.Fatal(err)
	}
	ev := w.eventOf(protocol.TypeTyping)
	if ev.User != "Alice" || ev.Room != "lobby" {
		t.Fatalf("%+v", ev)
	}
	d := b.datagram()
	if !strings.Contains(string(d), `"user":"Alice"`) {
		t.Fatalf("datagram %s", d)
	}
	w.sendRaw(`{"type":"typing","room":"lobby"}`)
	d = a.datagram()
	if !strings.Contains(string(d), `"user":"Wes"`) {
		t.Fatalf("datagram %s", d)
	}
	w.quiet2(protocol.TypeJoined) // never answered, not echoed to the typist
}
