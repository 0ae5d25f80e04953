package browsertest

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"parley/client"
	"parley/protocol"
)

// pageImageJS builds, in the page, a PNG File of width×60 pixels named
// name (drawn on a canvas), then runs body with it bound to file and a
// DataTransfer holding it bound to dt. The expression's value is body's.
func pageImageJS(name string, width int, body string) string {
	return `(async () => {
  const c = document.createElement('canvas'); c.width = ` + strconv.Itoa(width) + `; c.height = 60;
  const g = c.getContext('2d');
  g.fillStyle = '#3a7'; g.fillRect(0, 0, c.width, c.height);
  g.fillStyle = '#fff'; g.fillRect(10, 10, c.width - 20, 20);
  const blob = await new Promise((r) => c.toBlob(r, 'image/png'));
  const file = new File([blob], ` + jsString(name) + `, { type: 'image/png' });
  const dt = new DataTransfer();
  dt.items.add(file);
` + body + `
})()`
}

// dropResult is what dropImage saw: whether the page showed its drop hint
// during the drag and handled (prevented the default of) the drop.
type dropResult struct {
	HintShown  bool `json:"hintShown"`
	HintHidden bool `json:"hintHidden"`
	Handled    bool `json:"handled"`
}

// dropImage drags a PNG File built in the page onto the conversation and
// drops it there: dragenter, dragover and drop events, each carrying the
// DataTransfer, dispatched at #messages and bubbling to the page's own
// document handlers (the UI's normal image path).
func (u *user) dropImage(name string, width int) dropResult {
	u.t.Helper()
	js := pageImageJS(name, width, `
  const target = document.getElementById('messages');
  const fire = (type) => target.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, composed: true, dataTransfer: dt }));
  fire('dragenter');
  fire('dragover');
  const hintShown = !document.getElementById('drop-hint').hidden;
  const handled = !fire('drop');
  return JSON.stringify({ hintShown, hintHidden: document.getElementById('drop-hint').hidden, handled });`)
	var r dropResult
	if err := json.Unmarshal([]byte(eval[string](u, js)), &r); err != nil {
		u.t.Fatalf("%s: drop: %v", u.name, err)
	}
	return r
}

// pasteImage pastes a PNG File built in the page into the composer: a
// paste ClipboardEvent whose clipboardData holds the file, dispatched at
// #input. It reports whether the page handled (prevented) the paste.
func (u *user) pasteImage(name string, width int) bool {
	u.t.Helper()
	return eval[bool](u, pageImageJS(name, width, `
  const input = document.getElementById('input');
  input.focus();
  return !input.dispatchEvent(new ClipboardEvent('paste', { bubbles: true, cancelable: true, composed: true, clipboardData: dt }));`))
}

// storedIdentity is the identity key pair the page keeps in IndexedDB, as
// the page itself sees it.
type storedIdentity struct {
	Found       bool   `json:"found"`
	Extractable bool   `json:"extractable"`
	Type        string `json:"type"`
	Algorithm   string `json:"alg"`
	Usages      string `json:"usages"`
	ExportError string `json:"exportError"` // the error exporting the private key raised
	Public      string `json:"pub"`         // raw public key, standard base64
}

// identity reads the stored key pair straight from IndexedDB (database
// parley, store keys, key identity, as wasm/identity.go writes it) and
// tries to export its private key.
func (u *user) identity() storedIdentity {
	u.t.Helper()
	js := `(async () => {
  const req = (r) => new Promise((res, rej) => { r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error); });
  const db = await req(indexedDB.open('parley'));
  let pair;
  try {
    if (!db.objectStoreNames.contains('keys')) return JSON.stringify({ found: false });
    pair = await req(db.transaction('keys', 'readonly').objectStore('keys').get('identity'));
  } finally { db.close(); }
  if (!pair || !pair.privateKey || !pair.publicKey) return JSON.stringify({ found: false });
  const k = pair.privateKey;
  let exportError = '';
  for (const format of ['pkcs8', 'jwk']) {
    try { await crypto.subtle.exportKey(format, k); exportError += format + ':exported '; }
    catch (e) { exportError += format + ':' + e.name + ' '; }
  }
  const raw = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
  return JSON.stringify({ found: true, extractable: k.extractable, type: k.type, alg: k.algorithm.name,
    usages: k.usages.join(','), exportError: exportError.trim(), pub: btoa(String.fromCharCode(...raw)) });
})()`
	var id storedIdentity
	if err := json.Unmarshal([]byte(eval[string](u, js)), &id); err != nil {
		u.t.Fatalf("%s: identity: %v", u.name, err)
	}
	return id
}

// boundKey is the public key the server's store has bound u's name to,
// standard base64 ("" if none).
func (e *env) boundKey(name string) string {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	k, err := e.store.Bound(ctx, protocol.Fold(name))
	if err != nil {
		e.t.Fatalf("Bound(%q): %v", name, err)
	}
	if k == nil {
		return ""
	}
	return base64.StdEncoding.EncodeToString(k)
}

// reload reloads u's page and connects again through the UI: the name
// and room are remembered, so the page opens on the connect screen with
// the room filled in.
func (u *user) reload(room string) {
	u.t.Helper()
	u.do(chromedp.Reload())
	u.waitFor("the connect screen after the reload", `!document.getElementById('screen-connect').hidden && document.getElementById('connect-me').textContent === `+jsString(u.name))
	if got := eval[string](u, `document.getElementById('browser-room').value`); got != room {
		u.t.Errorf("%s: the room after the reload is %q, want %q remembered", u.name, got, room)
	}
	eval[chromedp.Void](u, `document.getElementById('browser-form').requestSubmit()`)
	u.waitFor("connected after the reload", `/^connected/i.test(document.getElementById('conn-text').textContent)`)
	u.waitFor("the room after the reload", `document.getElementById('conv-title').textContent.includes(`+jsString(room)+`)`)
}

// background is the page body's computed background colour.
func (u *user) background() string {
	return eval[string](u, `getComputedStyle(document.body).backgroundColor`)
}

// colorScheme emulates prefers-color-scheme (dark, light; "" ends the
// emulation) in u's page.
func (u *user) colorScheme(scheme string) {
	u.t.Helper()
	p := emulation.SetEmulatedMediaParams{}
	if scheme != "" {
		p.Features = []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}
	}
	u.do(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, p)
		return err
	}))
}

// goImpostor dials the env as name with a fresh identity key, returning the
// error the server answered (nil if it let the impostor in).
func (e *env) goImpostor(name string) error {
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl, err := client.Dial(ctx, client.Config{Server: e.addr(), CertHash: e.hash, Name: name, Identity: priv, ClientName: "browsertest-impostor/1"})
	if err == nil {
		cl.Close()
	}
	return err
}
