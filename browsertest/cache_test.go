package browsertest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// idbHistory is the page's history cache as the page itself reads it from
// IndexedDB (database parley, store history, as wasm/cache.go writes it).
type idbHistory struct {
	Version int        `json:"version"`
	Stores  []string   `json:"stores"`
	Entries []idbEntry `json:"entries"`
}

type idbEntry struct {
	Key   string `json:"key"`
	Bytes bool   `json:"bytes"` // stored as a Uint8Array
	Text  string `json:"text"`  // the value, decoded as UTF-8
}

// has says whether some entry's value contains s.
func (h idbHistory) has(s string) bool {
	for _, e := range h.Entries {
		if strings.Contains(e.Text, s) {
			return true
		}
	}
	return false
}

const readHistoryJS = `(async () => {
  const req = (r) => new Promise((res, rej) => { r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error); });
  const db = await req(indexedDB.open('parley'));
  try {
    const out = { version: db.version, stores: [...db.objectStoreNames], entries: [] };
    if (!db.objectStoreNames.contains('history')) return JSON.stringify(out);
    const s = db.transaction('history', 'readonly').objectStore('history');
    const [keys, vals] = [await req(s.getAllKeys()), await req(s.getAll())];
    const dec = new TextDecoder();
    out.entries = keys.map((k, i) => ({ key: String(k), bytes: vals[i] instanceof Uint8Array, text: vals[i] instanceof Uint8Array ? dec.decode(vals[i]) : String(vals[i]) }));
    return JSON.stringify(out);
  } finally { db.close(); }
})()`

// history reads u's history cache from IndexedDB.
func (u *user) history() idbHistory {
	u.t.Helper()
	var h idbHistory
	if err := json.Unmarshal([]byte(eval[string](u, readHistoryJS)), &h); err != nil {
		u.t.Fatalf("%s: reading the history cache: %v", u.name, err)
	}
	return h
}

// waitCached polls u's history cache until it holds every one of texts
// (the bridge writes it at most every bridge.CacheFlushEvery).
func (u *user) waitCached(texts ...string) idbHistory {
	u.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		h := u.history()
		missing := ""
		for _, s := range texts {
			if !h.has(s) {
				missing = s
				break
			}
		}
		if missing == "" {
			return h
		}
		if time.Now().After(deadline) {
			u.t.Fatalf("%s: %q never reached the history cache (%d entries)", u.name, missing, len(h.Entries))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// watchJS, run before the connect form is submitted, records in the page
// when (performance.now(), ms) the text past first shows in #messages and
// when the status first says connected, counting from the submit.
func watchJS(past string) string {
	return `(() => {
  window.__watch = { t0: performance.now(), pastAt: 0, pastState: '', connAt: 0 };
  const w = window.__watch;
  const check = () => {
    const m = document.getElementById('messages'), c = document.getElementById('conn-text');
    if (!w.pastAt && m && !document.getElementById('screen-chat').hidden && m.innerText.includes(` + jsString(past) + `)) {
      w.pastAt = performance.now() - w.t0; w.pastState = document.getElementById('conn').dataset.state;
    }
    if (!w.connAt && c && /^connected/i.test(c.textContent)) w.connAt = performance.now() - w.t0;
  };
  new MutationObserver(check).observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
  check();
})()`
}

type watch struct {
	T0        float64 `json:"t0"` // since the reload's navigation started
	PastAt    float64 `json:"pastAt"`
	PastState string  `json:"pastState"`
	ConnAt    float64 `json:"connAt"`
}

func (u *user) watched() watch {
	u.t.Helper()
	var w watch
	if err := json.Unmarshal([]byte(eval[string](u, `JSON.stringify(window.__watch)`)), &w); err != nil {
		u.t.Fatalf("%s: %v", u.name, err)
	}
	return w
}

// reloadToConnect reloads u's page and waits for the connect screen with
// the remembered room (the form is not submitted).
func (u *user) reloadToConnect(room string) {
	u.t.Helper()
	u.do(chromedp.Reload())
	u.waitFor("the connect screen after the reload", `!document.getElementById('screen-connect').hidden && document.getElementById('connect-me').textContent === `+jsString(u.name))
	if got := eval[string](u, `document.getElementById('browser-room').value`); got != room {
		u.t.Fatalf("%s: the room after the reload is %q, want %q", u.name, got, room)
	}
}

// TestBrowserHistoryCache: the page keeps the past in IndexedDB. A user
// with an identity reloads while the server is down: the room's past
// shows from the cache while connecting; once the server is back the page
// connects and shows each message once. A reload with the server up shows
// the past before it is connected. A guest's room history is cached, its
// private messages never (a user with an identity keeps hers).
func TestBrowserHistoryCache(t *testing.T) {
	needChromium(t)
	e := newEnv(t)
	b := e.browser()
	const room = "cafe"
	gopher := e.goUser("Gopher", room)
	alice := e.newUser(b, "Alice", false)
	alice.open(e.url(), room)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	alice.say("alice one")
	for _, s := range []string{"gopher one", "gopher two"} {
		if _, err := gopher.cl.Say(ctx, room, s); err != nil {
			t.Fatal(err)
		}
	}
	alice.say("alice two")
	if _, err := gopher.cl.SayTo(ctx, room, "Alice", "psst alice"); err != nil {
		t.Fatal(err)
	}
	alice.waitFor("the past on screen", `document.getElementById('messages').innerText.includes('gopher two') && document.getElementById('private-list').innerText.includes('Gopher')`)
	past := []string{"alice one", "gopher one", "gopher two", "alice two"}
	h := alice.waitCached(append(past, "psst alice")...)
	if h.Version != 2 || !containsAll(strings.Join(h.Stores, ","), "keys", "history") {
		t.Errorf("the database: version %d, stores %v; want 2 with keys and history", h.Version, h.Stores)
	}
	for _, en := range h.Entries {
		if !en.Bytes {
			t.Errorf("entry %s is not stored as a Uint8Array", en.Key)
		}
	}
	if id := alice.identity(); !id.Found {
		t.Error("the identity key is gone from the keys store after the history store was added")
	}

	// The server is down when the reloaded page connects (the page itself
	// needs the server, so it is loaded first).
	alice.reloadToConnect(room)
	e.stop()
	eval[chromedp.Void](alice, watchJS("gopher two"))
	eval[chromedp.Void](alice, `document.getElementById('browser-form').requestSubmit()`)
	alice.waitFor("the cached past while the server is down", `window.__watch.pastAt > 0`)
	for _, s := range past {
		if n := alice.count(s); n != 1 {
			t.Errorf("from the cache, with the server down, Alice sees %q %d times, want once", s, n)
		}
	}
	if st := eval[string](alice, `document.getElementById('conn').dataset.state`); st == "connected" {
		t.Errorf("the status says %q while the server is down", st)
	}
	alice.screenshot("cached")
	down := alice.watched()
	e.start()
	alice.waitFor("connected after the server is back", `window.__watch.connAt > 0`)
	back := alice.watched()
	t.Logf("server down: reload → connect screen %.0f ms; submit → cached past shown %.0f ms (status %q); server started after the screenshot, connected at %.0f ms",
		down.T0, down.PastAt, down.PastState, back.ConnAt)
	if down.PastState == "connected" || down.PastState == "" {
		t.Errorf("the cached past showed with the status %q; want it shown before the page was connected", down.PastState)
	}
	sayRetry(t, gopher, room, "gopher after the restart")
	alice.waitFor("the message after the restart", `document.getElementById('messages').innerText.includes('gopher after the restart')`)
	for _, s := range append(past, "gopher after the restart") {
		if n := alice.count(s); n != 1 {
			t.Errorf("connected again, Alice sees %q %d times, want once", s, n)
		}
	}
	// With the server up: the past shows before the page is connected.
	// (A reload drops what the cache had not written yet: at most
	// bridge.CacheFlushEvery of the latest messages, which the server's
	// history then brings.)
	alice.waitCached("gopher after the restart")
	alice.reloadToConnect(room)
	eval[chromedp.Void](alice, watchJS("gopher after the restart"))
	eval[chromedp.Void](alice, `document.getElementById('browser-form').requestSubmit()`)
	alice.waitFor("connected and the past shown", `window.__watch.connAt > 0 && window.__watch.pastAt > 0`)
	up := alice.watched()
	// On loopback the server answers within the emitter's batch, so the
	// past and "connected" usually arrive together: logged, not asserted.
	t.Logf("server up (wasm cached): reload → connect screen %.0f ms; submit → past shown %.0f ms (status %q), connected %.0f ms",
		up.T0, up.PastAt, up.PastState, up.ConnAt)
	for _, s := range append(past, "gopher after the restart") {
		if n := alice.count(s); n != 1 {
			t.Errorf("after the reload Alice sees %q %d times, want once", s, n)
		}
	}

	// A guest: no WebCrypto, so no identity key.
	guest := e.newUser(b, "Guesty", false)
	guest.do(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
			Source: `Object.defineProperty(Crypto.prototype, 'subtle', { get() { return undefined; }, configurable: true });`,
		})
		return err
	}))
	guest.open(e.url(), room)
	if got := eval[string](guest, `parley.identity().then((id) => JSON.stringify(id))`); got != "null" {
		t.Fatalf("the guest page holds an identity: %s", got)
	}
	if _, err := gopher.cl.SayTo(ctx, room, "Guesty", "psst guest"); err != nil {
		t.Fatal(err)
	}
	guest.waitFor("the private tab", `document.getElementById('private-list').innerText.includes('Gopher')`)
	guest.do(clickConv("private-list", "Gopher"))
	guest.waitFor("the private message", `document.getElementById('messages').innerText.includes('psst guest')`)
	// Said after the private message: once it is cached, a flush that
	// would have written the private chat has happened.
	sayRetry(t, gopher, room, "room after psst")
	gh := guest.waitCached("room after psst")
	if gh.has("psst guest") {
		t.Error("the guest's private message is in IndexedDB")
	}
	for _, en := range gh.Entries {
		if strings.Contains(en.Text, `"conv":"p:`) || strings.Contains(en.Text, `"p:`) {
			t.Errorf("the guest's cache holds a private chat: %s = %.200s", en.Key, en.Text)
		}
	}
	for _, u := range []*user{alice, guest} {
		u.checkClean()
	}
}

// sayRetry says text in room from the Go client, retrying while it
// reconnects after a server restart.
func sayRetry(t *testing.T, g *goUser, room, text string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := g.cl.Say(ctx, room, text)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Go client: say %q: %v", text, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
