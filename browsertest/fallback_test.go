package browsertest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"parley/bridge"
	"parley/client"
)

// TestBrowserFallbackWebSocket: a page without WebTransport (removed before
// the client loads) connects over WebSocket and chats with a user on
// WebTransport.
func TestBrowserFallbackWebSocket(t *testing.T) {
	needChromium(t)
	e := newEnv(t)
	b := e.browser()
	gopher := e.goUser("Gopher", "lobby")
	wt := e.newUser(b, "Wendy", false)
	ws := e.newUser(b, "Walter", true)
	wt.open(e.url(), "lobby")
	ws.open(e.url(), "lobby")
	if got := eval[string](ws, `typeof WebTransport`); got != "undefined" {
		t.Fatalf("WebTransport is %s in the page that should lack it", got)
	}
	if tr := eval[string](ws, `document.getElementById('conn-transport').textContent`); !strings.Contains(tr, "websocket") {
		t.Fatalf("Walter's transport %q, want websocket", tr)
	}
	if tr := eval[string](wt, `document.getElementById('conn-transport').textContent`); !strings.Contains(tr, "webtransport") {
		t.Fatalf("Wendy's transport %q, want webtransport", tr)
	}
	ws.say("over websocket")
	wt.waitFor("the WebSocket user's message", `document.getElementById('messages').innerText.includes('over websocket')`)
	gopher.waitMsg("the WebSocket user's message", func(m *client.Message) bool { return m.Text == "over websocket" && m.From == "Walter" })
	wt.say("over webtransport")
	ws.waitFor("the WebTransport user's message", `document.getElementById('messages').innerText.includes('over webtransport')`)

	// Typing travels as a frame over WebSocket.
	ws.typeUntil(wt, "Walter typing", `/Walter/.test(document.getElementById('typing').textContent)`)

	// An image over WebSocket: uploaded as one binary message, fetched on
	// the control channel.
	ws.do(setUploadFiles(writePNG(t, "ws.png")))
	wt.waitFor("the image from WebSocket", `(() => { const i = document.querySelector('#messages img'); return i && i.complete && i.naturalWidth === 160; })()`)
	wt.do(setUploadFiles(writePNG(t, "wt.png")))
	ws.waitFor("the image from WebTransport", `[...document.querySelectorAll('#messages img')].filter(i => i.complete && i.naturalWidth === 160).length === 2`)
	ws.screenshot("websocket")
	if _, err := gopher.cl.Say(context.Background(), "lobby", "bye"); err != nil {
		t.Fatal(err)
	}
	ws.waitFor("the Go client's message", `document.getElementById('messages').innerText.includes('bye')`)
	ws.checkClean()
	wt.checkClean()
}

// TestBrowserServerFull: a page refused by a full server says so in the
// server's words (a browser hides the refused upgrade's 503; the client
// asks the server), and connects once a session is free.
func TestBrowserServerFull(t *testing.T) {
	needChromium(t)
	e := newEnv(t)
	e.stop()
	e.maxSessions = 1
	e.start()
	gopher := e.goUser("Gopher", "lobby") // the only session
	u := e.newUser(e.browser(), "Fay", false)
	u.do(chromedp.Navigate(e.url()))
	u.waitFor("the welcome screen", `!document.getElementById('screen-welcome').hidden`)
	u.do(chromedp.SetValue(chromedp.ID("welcome-name"), u.name))
	eval[chromedp.Void](u, `document.getElementById('welcome-form').requestSubmit()`)
	u.waitFor("the connect screen", `!document.getElementById('screen-connect').hidden`)
	u.do(chromedp.SetValue(chromedp.ID("browser-room"), "lobby"))
	eval[chromedp.Void](u, `document.getElementById('browser-form').requestSubmit()`)
	u.waitFor("the server's refusal", `document.getElementById('connect-error').textContent === `+jsString(bridge.FullMessage))
	u.screenshot("full")
	if m := e.srv.Metrics(); m.Refused < 2 {
		t.Errorf("the server refused %d session attempts, want both transports' and the probe's", m.Refused)
	}

	gopher.cl.Close()
	for deadline := time.Now().Add(10 * time.Second); e.srv.Metrics().Sessions != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the Go client's session did not end")
		}
	}
	eval[chromedp.Void](u, `document.getElementById('browser-form').requestSubmit()`)
	u.waitFor("connected", `/^connected/i.test(document.getElementById('conn-text').textContent)`)
	u.checkClean()
}
