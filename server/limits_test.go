package server_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
	"github.com/quic-go/webtransport-go"

	"parley/protocol"
	"parley/server"
)

// refusal is what a session attempt refused before the upgrade got.
type refusal struct {
	status     int
	retryAfter string
	body       string
}

// refusedWT dials WebTransport and expects a refusal (any non-2xx
// answer). The QUIC connection is the test's, so that the body can be read
// (webtransport.Transport.Dial closes the connection on a refusal).
func refusedWT(t *testing.T, ts *testServer) refusal {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	tc := pinned(ts.hash)
	tc.NextProtos = []string{http3.NextProtoH3}
	qconn, err := quic.DialAddr(ctx, ts.addr, tc, &quic.Config{EnableDatagrams: true, EnableStreamResetPartialDelivery: true})
	if err != nil {
		t.Fatal(err)
	}
	defer qconn.CloseWithError(0, "")
	tr := &webtransport.Transport{}
	defer tr.Close()
	cc, err := tr.NewClientConn(qconn)
	if err != nil {
		t.Fatal(err)
	}
	rsp, sess, err := cc.Dial(ctx, "https://"+ts.addr+"/parley", nil)
	if err == nil {
		sess.CloseWithError(0, "")
		t.Fatalf("webtransport: a session was admitted (status %d), want a refusal", rsp.StatusCode)
	}
	if rsp == nil {
		t.Fatalf("webtransport: %v, and no HTTP answer", err)
	}
	body, _ := io.ReadAll(io.LimitReader(rsp.Body, 1<<10))
	return refusal{rsp.StatusCode, rsp.Header.Get("Retry-After"), string(body)}
}

// refusedWS dials WebSocket and expects a refusal.
func refusedWS(t *testing.T, ts *testServer) refusal {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: pinned(ts.hash)}}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	ws, rsp, err := websocket.Dial(ctx, "wss://"+ts.addr+"/parley", &websocket.DialOptions{HTTPClient: hc})
	if err == nil {
		ws.CloseNow()
		t.Fatal("websocket: a session was admitted, want a refusal")
	}
	if rsp == nil {
		t.Fatalf("websocket: %v, and no HTTP answer", err)
	}
	body, _ := io.ReadAll(rsp.Body) // the library keeps the first KiB
	return refusal{rsp.StatusCode, rsp.Header.Get("Retry-After"), string(body)}
}

// waitSessions polls the sessions gauge until it is n (the gauge drops
// once a closed session has left its rooms and its user).
func waitSessions(t *testing.T, ts *testServer, n int64) {
	t.Helper()
	for deadline := time.Now().Add(waitTimeout); ts.srv.Metrics().Sessions != n; {
		if time.Now().After(deadline) {
			t.Fatalf("sessions gauge %d, want %d", ts.srv.Metrics().Sessions, n)
		}
		time.Sleep(time.Millisecond) // polling with a deadline
	}
}

func TestMaxSessions(t *testing.T) {
	ts := startServer(t, server.Config{MaxSessions: 2})
	a := dialWT(t, ts)
	a.hello("Ann")
	b := dialWS(t, ts)
	b.hello("Bob")

	want := refusal{http.StatusServiceUnavailable, "5", "parley: the server is full (2 sessions); try again later\n"}
	if got := refusedWT(t, ts); got != want {
		t.Errorf("a 3rd session over WebTransport: %+v, want %+v", got, want)
	}
	if got := refusedWS(t, ts); got != want {
		t.Errorf("a 3rd session over WebSocket: %+v, want %+v", got, want)
	}
	// The host's own window (in-process) is never refused by its server,
	// and takes no slot: it cannot come from the network.
	h := dialInProcess(t, ts.srv)
	h.hello("Host")
	if got := refusedWS(t, ts); got != want {
		t.Errorf("a network session beside the in-process one: %+v, want %+v", got, want)
	}
	if m := ts.srv.Metrics(); m.Refused != 3 || m.Sessions != 3 {
		t.Errorf("metrics: %d refused, %d sessions; want 3 and 3", m.Refused, m.Sessions)
	}
	rec := httptest.NewRecorder()
	ts.srv.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(rec.Body.String(), "\nparley_sessions_refused_total 3\n") {
		t.Errorf("/metrics lacks parley_sessions_refused_total 3:\n%s", rec.Body)
	}

	// Sessions that work are not disturbed.
	a.join("lobby")
	b.join("lobby")
	h.join("lobby")

	// The in-process session ending gives back no slot it did not take.
	h.close()
	waitSessions(t, ts, 2)
	if got := refusedWS(t, ts); got != want {
		t.Errorf("a 3rd session after the in-process one ended: %+v, want %+v", got, want)
	}

	// Once one closes, its slot is released: a new session is admitted
	// (polled: the slot is released after the session has ended).
	a.close()
	waitSessions(t, ts, 1)
	var c *rawClient
	for deadline := time.Now().Add(waitTimeout); c == nil; {
		var err error
		if c, err = tryDialWS(ts.addr, ts.hash, nil); err != nil {
			if !strings.Contains(err.Error(), "status 503") || time.Now().After(deadline) {
				t.Fatalf("a session after one closed: %v", err)
			}
			time.Sleep(time.Millisecond) // polling with a deadline
		}
	}
	c.t = t
	t.Cleanup(c.close)
	c.hello("Cat")
	// ...and exactly one: the refusals gave back nothing they did not take.
	if got := refusedWT(t, ts); got.status != http.StatusServiceUnavailable {
		t.Errorf("a 3rd session again: %+v", got)
	}
}

// TestMaxSessionsConcurrent: upgrades racing for the last slots never
// overshoot the limit.
func TestMaxSessionsConcurrent(t *testing.T) {
	const limit, tries = 3, 12
	ts := startServer(t, server.Config{MaxSessions: limit})
	var (
		mu       sync.Mutex
		admitted []*rawClient
		refused  int
		wg       sync.WaitGroup
	)
	for range tries {
		wg.Go(func() {
			c, err := tryDialWS(ts.addr, ts.hash, nil)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				admitted = append(admitted, c)
			case strings.Contains(err.Error(), "status 503"):
				refused++
			default:
				t.Errorf("dial: %v", err)
			}
		})
	}
	wg.Wait()
	for _, c := range admitted {
		c.t = t
		t.Cleanup(c.close)
	}
	if len(admitted) != limit || refused != tries-limit {
		t.Fatalf("%d admitted, %d refused; want %d and %d", len(admitted), refused, limit, tries-limit)
	}
	waitSessions(t, ts, limit) // a WebSocket session is counted once it runs, after its 101 went out
	if m := ts.srv.Metrics(); m.Sessions != limit || m.Refused != tries-limit {
		t.Errorf("metrics: %d sessions, %d refused", m.Sessions, m.Refused)
	}
}

// TestMaxSessionsFailedUpgradeReleases: a plain request on /parley (what a
// browser sends to ask whether the server is full) is answered 426 over
// HTTP/1.1 and HTTP/2 and gives its slot back; at a full server it gets
// the 503 a session attempt gets.
func TestMaxSessionsFailedUpgradeReleases(t *testing.T) {
	ts := startServer(t, server.Config{MaxSessions: 1})
	h1 := &http.Client{Transport: &http.Transport{TLSClientConfig: pinned(ts.hash)}}
	h2 := &http.Client{Transport: &http.Transport{TLSClientConfig: pinned(ts.hash), ForceAttemptHTTP2: true}}
	get := func(hc *http.Client) (*http.Response, string) {
		t.Helper()
		rsp, err := hc.Get("https://" + ts.addr + "/parley")
		if err != nil {
			t.Fatal(err)
		}
		defer rsp.Body.Close()
		body, _ := io.ReadAll(rsp.Body)
		return rsp, string(body)
	}
	for range 3 {
		for i, hc := range []*http.Client{h1, h2} {
			rsp, body := get(hc)
			if rsp.ProtoMajor != i+1 {
				t.Fatalf("client %d spoke %s", i+1, rsp.Proto)
			}
			if rsp.StatusCode != http.StatusUpgradeRequired || body != "parley: /parley takes a WebTransport or WebSocket session\n" {
				t.Fatalf("a plain GET on /parley over %s: %d %q, want 426", rsp.Proto, rsp.StatusCode, body)
			}
			if up := rsp.Header.Get("Upgrade"); (rsp.ProtoMajor == 1) != (up == "websocket") {
				t.Errorf("over %s: Upgrade %q", rsp.Proto, up)
			}
		}
	}
	c := dialWS(t, ts)
	c.hello("Ann")
	if got := refusedWS(t, ts); got.status != http.StatusServiceUnavailable {
		t.Errorf("a 2nd session with one slot: %+v", got)
	}
	for _, hc := range []*http.Client{h1, h2} {
		if rsp, body := get(hc); rsp.StatusCode != http.StatusServiceUnavailable || !strings.HasPrefix(body, "parley: the server is full (1 session)") {
			t.Errorf("a plain GET at the full server over %s: %d %q, want 503", rsp.Proto, rsp.StatusCode, body)
		}
	}
}

func TestMaxUserSessionsIdentity(t *testing.T) {
	ts := startServer(t, server.Config{MaxUserSessions: 2})
	_, ann, _ := ed25519.GenerateKey(rand.Reader)
	a1, a2, a3 := dialWT(t, ts), dialWS(t, ts), dialWT(t, ts)
	for _, c := range []*rawClient{a1, a2} {
		if a := c.login("Ann", ann, false); a.Type != protocol.TypeOK {
			t.Fatalf("session of Ann at the limit: %+v", a)
		}
	}
	a := a3.login("ann", ann, false)
	if a.Type != protocol.TypeErr || a.Code != protocol.CodeTooMany || a.Message != "Ann already has 2 sessions open" {
		t.Fatalf("a 3rd session of Ann: %+v, want too_many", a)
	}
	// The session stays open and not ready.
	a3.fails(protocol.CodeHelloRequired, map[string]any{"type": "join", "room": "lobby"})
	// Other names are not affected.
	b := dialWT(t, ts)
	b.hello("Bob")

	// After one closes, the same session tries again and gets in.
	a1.close()
	waitSessions(t, ts, 3)
	if a := a3.login("Ann", ann, false); a.Type != protocol.TypeOK {
		t.Fatalf("Ann after one of her sessions closed: %+v", a)
	}
	a3.join("lobby")
	if a := dialWS(t, ts).login("Ann", ann, false); a.Code != protocol.CodeTooMany {
		t.Fatalf("a 3rd session of Ann again: %+v", a)
	}
}

// TestMaxUserSessionsGuest: a guest name holds one session whatever the
// limit (a second is name_taken, the name rule); at a limit of one, the
// guest is admitted and another guest of the name after it left.
func TestMaxUserSessionsGuest(t *testing.T) {
	ts := startServer(t, server.Config{MaxUserSessions: 1})
	g := dialWT(t, ts)
	g.hello("Ann")
	g.join("lobby")
	g2 := dialWS(t, ts)
	g2.fails(protocol.CodeNameTaken, map[string]any{"type": "hello", "v": 1, "name": "ann"})
	g.close()
	waitSessions(t, ts, 1)
	g2.hello("Ann")

	// An identity at a limit of one: its second session is too_many.
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	if a := dialWT(t, ts).login("Zoe", key, false); a.Type != protocol.TypeOK {
		t.Fatalf("Zoe: %+v", a)
	}
	if a := dialWS(t, ts).login("Zoe", key, false); a.Code != protocol.CodeTooMany || a.Message != "Zoe already has 1 session open" {
		t.Fatalf("a 2nd session of Zoe at a limit of one: %+v", a)
	}
}

func TestMaxRooms(t *testing.T) {
	ts := startServer(t, server.Config{MaxRooms: 3})
	for _, dial := range []func(testing.TB, *testServer) *rawClient{dialWT, dialWS} {
		c := dial(t, ts)
		c.hello("Ann-" + c.kind)
		for _, r := range []string{"one", "two", "three"} {
			c.join(r)
		}
		a := c.fails(protocol.CodeTooMany, map[string]any{"type": "join", "room": "four"})
		if a.Message != "a session can be in at most 3 rooms; leave one first" {
			t.Errorf("%s: message %q", c.kind, a.Message)
		}
		// A repeated join of a room it is in still works (names fold).
		if a := c.join("TWO"); a.Room != "two" {
			t.Errorf("%s: repeated join answered room %q", c.kind, a.Room)
		}
		// Another session has rooms of its own.
		o := dial(t, ts)
		o.hello("Other-" + c.kind)
		o.join("four")
		o.close()
		// After a leave, a new room can be joined; then the limit holds again.
		c.ok(map[string]any{"type": "leave", "room": "one"})
		c.join("four")
		c.fails(protocol.CodeTooMany, map[string]any{"type": "join", "room": "one"})
		c.fails(protocol.CodeTooMany, map[string]any{"type": "join", "room": "five"})
		c.close()
	}
}
