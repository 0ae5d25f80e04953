//go:build js && wasm

package client

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall/js"
	"testing"
	"time"

	"parley/protocol"
)

// These tests run under Node (GOOS=js GOARCH=wasm go test -exec
// $(go env GOROOT)/lib/wasm/go_js_wasm_exec): the browser APIs are the
// fakes of testdata/fakes_js.js, built on Node's real WHATWG streams.

var loadFakes sync.Once

type fakes struct {
	wt, ws, fetch js.Value
}

func setup(t *testing.T) fakes {
	t.Helper()
	loadFakes.Do(func() {
		src, err := os.ReadFile("testdata/fakes_js.js")
		if err != nil {
			panic(err)
		}
		js.Global().Call("eval", string(src))
	})
	f := js.Global().Get("parleyFakes")
	fk := fakes{wt: f.Get("FakeWebTransport"), ws: f.Get("FakeWebSocket"), fetch: f.Get("fakeFetch")}
	for _, c := range []js.Value{fk.wt, fk.ws} {
		c.Set("instances", js.Global().Get("Array").New())
		c.Set("mode", "ok")
	}
	fk.fetch.Set("calls", js.Global().Get("Array").New())
	fk.fetch.Set("mode", "unreachable")
	oldWT, oldWS, oldFetch := js.Global().Get("WebTransport"), js.Global().Get("WebSocket"), js.Global().Get("fetch")
	js.Global().Set("WebTransport", fk.wt)
	js.Global().Set("WebSocket", fk.ws)
	js.Global().Set("fetch", fk.fetch)
	t.Cleanup(func() {
		js.Global().Set("WebTransport", oldWT)
		js.Global().Set("WebSocket", oldWS)
		js.Global().Set("fetch", oldFetch)
	})
	return fk
}

// eventually polls cond until it holds or the deadline passes. Sleeping
// here yields to the JavaScript event loop, which is what makes progress.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

const testHash = "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20"

func testDialer() *BrowserDialer {
	return &BrowserDialer{
		WebTransportURL:     "https://127.0.0.1:4433/parley",
		WebSocketURL:        "wss://127.0.0.1:4433/parley",
		CertHashes:          []string{testHash},
		WebTransportTimeout: 5 * time.Second,
	}
}

func TestBrowserDialerUsesWebTransportWithHash(t *testing.T) {
	fk := setup(t)
	c, err := testDialer().Dial(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(protocol.CloseShutdown, "bye")
	if c.Kind() != "webtransport" {
		t.Fatalf("kind %q, want webtransport", c.Kind())
	}
	inst := fk.wt.Get("instances").Index(0)
	if got := inst.Get("url").String(); got != "https://127.0.0.1:4433/parley" {
		t.Fatalf("url %q", got)
	}
	h := inst.Get("opts").Get("serverCertificateHashes").Index(0)
	if h.Get("algorithm").String() != "sha-256" {
		t.Fatalf("algorithm %q", h.Get("algorithm").String())
	}
	if got := goBytes(nil, h.Get("value")); got[0] != 1 || got[31] != 0x20 || len(got) != 32 {
		t.Fatalf("hash bytes %x", got)
	}
	if n := fk.ws.Get("instances").Length(); n != 0 {
		t.Fatalf("%d websockets opened, want 0", n)
	}
}

func TestBrowserDialerRejectsBadHash(t *testing.T) {
	setup(t)
	d := testDialer()
	d.CertHashes = []string{"abc"}
	d.WebSocketURL = ""
	if _, err := d.Dial(context.Background()); err == nil || !strings.Contains(err.Error(), "64 hex digits") {
		t.Fatalf("err %v, want a bad-hash error", err)
	}
}

func TestBrowserDialerFallsBackWithoutWebTransport(t *testing.T) {
	fk := setup(t)
	js.Global().Delete("WebTransport")
	c, err := testDialer().Dial(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c.Kind() != "websocket" {
		t.Fatalf("kind %q, want websocket", c.Kind())
	}
	ws := fk.ws.Get("instances").Index(0)
	if got := ws.Get("url").String(); got != "wss://127.0.0.1:4433/parley" {
		t.Fatalf("url %q", got)
	}
	// Frames are text messages, one frame each, without line feeds.
	if err := c.Send([]byte(`{"type":"hello","id":1}`), []byte(`{"type":"join","id":2,"room":"é"}`)); err != nil {
		t.Fatal(err)
	}
	sent := ws.Get("sent")
	if sent.Length() != 2 || sent.Index(1).String() != `{"type":"join","id":2,"room":"é"}` {
		t.Fatalf("sent %v", sent)
	}
	// Typing goes on the control channel.
	if err := c.SendDatagram([]byte(`{"type":"typing","room":"r"}`)); err != nil || sent.Length() != 3 {
		t.Fatalf("typing: %v, %d sent", err, sent.Length())
	}
	if _, err := c.Fetch(context.Background(), []byte(`{}`)); !errors.Is(err, ErrFetchOnControl) {
		t.Fatalf("fetch err %v", err)
	}
	ws.Call("serverText", `{"type":"ok","id":1}`)
	ws.Call("serverBinary", "{\"type\":\"image\",\"id\":3,\"size\":2}\nhi")
	data, bin, err := c.Recv()
	if err != nil || bin || string(data) != `{"type":"ok","id":1}` {
		t.Fatalf("recv %q %v %v", data, bin, err)
	}
	data, bin, err = c.Recv()
	if err != nil || !bin || !bytes.HasSuffix(data, []byte("\nhi")) {
		t.Fatalf("recv %q %v %v", data, bin, err)
	}
	// An upload is one binary message: header, line feed, bytes.
	if err := c.Upload(context.Background(), []byte(`{"type":"image","id":4}`), strings.NewReader("PNGDATA"), 7); err != nil {
		t.Fatal(err)
	}
	up := goBytes(nil, sent.Index(3))
	if string(up) != "{\"type\":\"image\",\"id\":4}\nPNGDATA" {
		t.Fatalf("upload message %q", up)
	}
	if err := c.Upload(context.Background(), []byte(`{}`), strings.NewReader("short"), 7); err == nil {
		t.Fatal("a short body was sent")
	}
	ws.Call("serverClose", 4002, "restart")
	_, _, err = c.Recv()
	var ce *protocol.CloseError
	if !errors.As(err, &ce) || ce.Code != protocol.CloseShutdown || ce.Reason != "restart" {
		t.Fatalf("recv after close: %v, want close 4002", err)
	}
	if err := c.Send([]byte(`{}`)); !errors.As(err, &ce) {
		t.Fatalf("send after close: %v", err)
	}
}

func TestBrowserDialerFallsBackWhenWebTransportFails(t *testing.T) {
	for _, mode := range []string{"fail", "hang"} {
		t.Run(mode, func(t *testing.T) {
			fk := setup(t)
			fk.wt.Set("mode", mode)
			d := testDialer()
			if mode == "hang" {
				d.WebTransportTimeout = 100 * time.Millisecond
			}
			c, err := d.Dial(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if c.Kind() != "websocket" {
				t.Fatalf("kind %q, want websocket", c.Kind())
			}
			if d.FallbackReason() == nil {
				t.Fatal("no fallback reason recorded")
			}
			c.Close(protocol.CloseShutdown, "")
			// The next dial goes straight to WebSocket while the fallback is sticky.
			c, err = d.Dial(context.Background())
			if err != nil || c.Kind() != "websocket" {
				t.Fatalf("second dial: %v", err)
			}
			c.Close(protocol.CloseShutdown, "")
			if n := fk.wt.Get("instances").Length(); n != 1 {
				t.Fatalf("%d WebTransport attempts, want 1", n)
			}
		})
	}
}

func TestBrowserDialerStickyExpires(t *testing.T) {
	fk := setup(t)
	fk.wt.Set("mode", "fail")
	now := time.Unix(1000, 0)
	d := testDialer()
	d.StickyFallback = time.Minute
	d.Now = func() time.Time { return now }
	c, err := d.Dial(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c.Close(protocol.CloseShutdown, "")
	now = now.Add(2 * time.Minute)
	fk.wt.Set("mode", "ok")
	c, err = d.Dial(context.Background())
	if err != nil || c.Kind() != "webtransport" {
		t.Fatalf("after the sticky period: %v %v", c, err)
	}
	c.Close(protocol.CloseShutdown, "")
}

func TestBrowserDialerBothFail(t *testing.T) {
	fk := setup(t)
	fk.wt.Set("mode", "fail")
	fk.ws.Set("mode", "refuse")
	_, err := testDialer().Dial(context.Background())
	if err == nil || !strings.Contains(err.Error(), "websocket") || !strings.Contains(err.Error(), "webtransport") {
		t.Fatalf("err %v, want both failures named", err)
	}
}

// TestBrowserDialerServerFull: a browser hides a refused upgrade's 503, so
// when neither transport opens the dialer asks the server with a plain GET
// of /parley whether it is full, and says so in the server's words.
func TestBrowserDialerServerFull(t *testing.T) {
	fk := setup(t)
	fk.wt.Set("mode", "fail")
	fk.ws.Set("mode", "refuse")
	fk.fetch.Set("mode", "full")
	_, err := testDialer().Dial(context.Background())
	if !errors.Is(err, ErrServerFull) {
		t.Fatalf("err %v, want ErrServerFull", err)
	}
	if !strings.Contains(err.Error(), "parley: the server is full (3 sessions); try again later") {
		t.Errorf("err %q lacks the server's words", err)
	}
	if calls := fk.fetch.Get("calls"); calls.Length() != 1 || calls.Index(0).String() != "https://127.0.0.1:4433/parley" {
		t.Errorf("probed %v, want one GET of https://127.0.0.1:4433/parley", jsString(calls.Call("join", " ")))
	}

	// A server with room (426 to a plain GET) or none at all: not "full".
	for _, mode := range []string{"other", "unreachable"} {
		fk.fetch.Set("mode", mode)
		_, err := testDialer().Dial(context.Background())
		if err == nil || errors.Is(err, ErrServerFull) || !strings.Contains(err.Error(), "websocket") {
			t.Errorf("probe %s: err %v, want the WebSocket failure, not full", mode, err)
		}
	}

	// A dial that works asks nothing.
	fk.ws.Set("mode", "ok")
	fk.fetch.Set("calls", js.Global().Get("Array").New())
	c, err := testDialer().Dial(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c.Close(protocol.CloseShutdown, "")
	if n := fk.fetch.Get("calls").Length(); n != 0 {
		t.Errorf("%d probes after a dial that worked", n)
	}
}

func TestWebTransportCoalescesControlFrames(t *testing.T) {
	fk := setup(t)
	c, err := testDialer().Dial(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(protocol.CloseShutdown, "")
	const n = 200
	var want strings.Builder
	for i := 0; i < n; i++ {
		f := []byte(`{"type":"say","id":` + strconv.Itoa(i+1) + `,"room":"r","text":"x"}`)
		want.Write(f)
		want.WriteByte('\n')
		if err := c.Send(f); err != nil {
			t.Fatal(err)
		}
	}
	rec := fk.wt.Get("instances").Index(0).Get("bidis").Index(0).Get("toServer")
	eventually(t, "all frames written", func() bool { return rec.Call("text").String() == want.String() })
	if w := rec.Get("writes").Length(); w >= n {
		t.Fatalf("%d writes for %d frames: not coalesced", w, n)
	}
}

func TestWebTransportRecvAndCloseCode(t *testing.T) {
	fk := setup(t)
	c, err := testDialer().Dial(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	wt := fk.wt.Get("instances").Index(0)
	from := wt.Get("bidis").Index(0).Get("fromServer")
	from.Call("push", `{"type":"ok",`)
	from.Call("push", "\"id\":1}\n{\"type\":\"msg\"}\n")
	for _, want := range []string{`{"type":"ok","id":1}`, `{"type":"msg"}`} {
		data, bin, err := c.Recv()
		if err != nil || bin || string(data) != want {
			t.Fatalf("recv %q %v %v, want %s", data, bin, err, want)
		}
	}
	wt.Call("serverClose", 4002, "shutting down")
	_, _, err = c.Recv()
	var ce *protocol.CloseError
	if !errors.As(err, &ce) || ce.Code != protocol.CloseShutdown {
		t.Fatalf("recv: %v, want close 4002", err)
	}
	if _, err := c.RecvDatagram(context.Background()); !errors.As(err, &ce) {
		t.Fatalf("recv datagram: %v", err)
	}
}

func TestWebTransportFrameLimit(t *testing.T) {
	fk := setup(t)
	c, err := testDialer().Dial(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(protocol.CloseShutdown, "")
	from := fk.wt.Get("instances").Index(0).Get("bidis").Index(0).Get("fromServer")
	at := `{"type":"msg","text":"` + strings.Repeat("a", protocol.MaxFrameJSON-len(`{"type":"msg","text":""}`)) + `"}`
	from.Call("push", at+"\n")
	data, _, err := c.Recv()
	if err != nil || len(data) != protocol.MaxFrameJSON {
		t.Fatalf("frame at the limit: %d bytes, %v", len(data), err)
	}
	from.Call("push", at[:1]+" "+at[1:]+"\n")
	if _, _, err := c.Recv(); !errors.Is(err, protocol.ErrFrameTooLarge) {
		t.Fatalf("frame one past the limit: %v", err)
	}
}

func TestWebTransportUploadFetchDatagrams(t *testing.T) {
	fk := setup(t)
	c, err := testDialer().Dial(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(protocol.CloseShutdown, "")
	wt := fk.wt.Get("instances").Index(0)

	body := bytes.Repeat([]byte("0123456789"), 60_000) // several chunks
	if err := c.Upload(context.Background(), []byte(`{"type":"image","id":5}`), bytes.NewReader(body), int64(len(body))); err != nil {
		t.Fatal(err)
	}
	uni := wt.Get("unis").Index(0)
	got := goBytes(nil, uni.Call("bytes"))
	if want := append([]byte("{\"type\":\"image\",\"id\":5}\n"), body...); !bytes.Equal(got, want) || !uni.Get("closed").Bool() {
		t.Fatalf("upload stream: %d bytes, closed %v; want %d", len(got), uni.Get("closed").Bool(), len(want))
	}
	if err := c.Upload(context.Background(), []byte(`{}`), strings.NewReader("short"), 10); err == nil {
		t.Fatal("short body uploaded")
	}
	eventually(t, "short upload aborted", func() bool { return wt.Get("unis").Index(1).Get("aborted").Bool() })

	rc, err := c.Fetch(context.Background(), []byte(`{"type":"fetch","image":"ab"}`))
	if err != nil {
		t.Fatal(err)
	}
	b := wt.Get("bidis").Index(1)
	eventually(t, "fetch request", func() bool {
		return b.Get("toServer").Call("text").String() == "{\"type\":\"fetch\",\"image\":\"ab\"}\n"
	})
	b.Get("fromServer").Call("push", "{\"type\":\"image\",\"size\":3}\nabc")
	b.Get("fromServer").Call("end")
	all, err := io.ReadAll(rc)
	if err != nil || string(all) != "{\"type\":\"image\",\"size\":3}\nabc" {
		t.Fatalf("fetch answer %q %v", all, err)
	}
	rc.Close()

	if err := c.SendDatagram([]byte(`{"type":"typing","room":"r"}`)); err != nil {
		t.Fatal(err)
	}
	dg := wt.Get("dgOut")
	eventually(t, "datagram", func() bool { return dg.Call("text").String() == `{"type":"typing","room":"r"}` })
	wt.Get("dgIn").Call("push", `{"type":"typing","room":"r","user":"bo"}`)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d, err := c.RecvDatagram(ctx)
	if err != nil || string(d) != `{"type":"typing","room":"r","user":"bo"}` {
		t.Fatalf("datagram %q %v", d, err)
	}
}

func TestWebTransportCloseSendsCode(t *testing.T) {
	fk := setup(t)
	c, err := testDialer().Dial(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c.Close(protocol.CloseProtocolError, strings.Repeat("é", 600))
	info := fk.wt.Get("instances").Index(0).Get("closedBy")
	if info.Get("closeCode").Int() != 4000 {
		t.Fatalf("close code %v", info.Get("closeCode"))
	}
	if r := info.Get("reason").String(); len(r) > 1024 || !strings.HasPrefix(r, "éé") || strings.ContainsRune(r, '\uFFFD') {
		t.Fatalf("reason of %d bytes not cut cleanly", len(r))
	}
}

func TestTruncUTF8(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{{"abc", 3, "abc"}, {"abcd", 3, "abc"}, {"aé", 2, "a"}, {"aé", 3, "aé"}, {"", 0, ""}} {
		if got := jsTruncUTF8(tc.in, tc.n); got != tc.want {
			t.Errorf("jsTruncUTF8(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

func TestNewBrowserDialerURLs(t *testing.T) {
	for _, tc := range []struct{ server, wt, ws string }{
		{"127.0.0.1:4433", "https://127.0.0.1:4433/parley", "wss://127.0.0.1:4433/parley"},
		{"https://chat.example.org:8443", "https://chat.example.org:8443/parley", "wss://chat.example.org:8443/parley"},
		{"https://chat.example.org", "https://chat.example.org:4433/parley", "wss://chat.example.org:4433/parley"},
		{"[::1]:9000", "https://[::1]:9000/parley", "wss://[::1]:9000/parley"},
		{"http://inprocess:80", "", "ws://inprocess:80/parley"},
	} {
		d, err := NewBrowserDialer(tc.server, "", 0)
		if err != nil || d.WebTransportURL != tc.wt || d.WebSocketURL != tc.ws {
			t.Errorf("NewBrowserDialer(%q) = %+v, %v", tc.server, d, err)
		}
	}
	for _, bad := range []string{"", "https://", "a b:1", "host/x:1", "u@host:1"} {
		if _, err := NewBrowserDialer(bad, "", 0); err == nil {
			t.Errorf("NewBrowserDialer(%q) accepted", bad)
		}
	}
	d, _ := NewBrowserDialer("h:1", "ABCD", 0)
	if len(d.CertHashes) != 1 || d.CertHashes[0] != "abcd" {
		t.Errorf("hashes %v", d.CertHashes)
	}
}
