package browsertest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"parley/client"
)

// xssText is the corpus of payloads sent as message text. Each one, if the
// page ran it, would call __pwned or alert, which the page traps.
var xssText = []string{
	`<img src=x onerror=__pwned(1)>`,
	`<script>__pwned(2)</script>`,
	`<svg onload=__pwned(3)>`,
	`"><img src=x onerror=alert(4)>`,
	`<a href="javascript:__pwned(5)">click me</a>`,
	`<iframe srcdoc="<script>parent.__pwned(6)</script>"></iframe>`,
	`{{constructor.constructor('__pwned(7)')()}}`,
	`<details open ontoggle=__pwned(8)>`,
	`javascript:__pwned(9)`,
	`&lt;b&gt;not bold&lt;/b&gt; &amp;`,
	"<style>*{display:none}</style>`${__pwned(10)}`",
	`<math><mtext><table><mglyph><style><img src=x onerror=__pwned(11)>`,
}

const (
	xssBrowserName = `<svg onload=__pwned(12)>`
	xssGoName      = `"><img src=x onerror=alert(13)>`
	xssRoom        = `<details open ontoggle=__pwned(14)>#room`
	xssFile        = `<img src=x onerror=__pwned(15)>.png`
)

// TestBrowserXSS: message text, user names, room names and image file
// names from a corpus of payloads render as text; no script runs, nothing
// trapped is called.
func TestBrowserXSS(t *testing.T) {
	needChromium(t)
	e := newEnv(t)
	b := e.browser()
	gopher := e.goUser(xssGoName, xssRoom)
	mallory := e.newUser(b, xssBrowserName, false)
	mallory.open(e.url(), xssRoom)
	viewer := e.newUser(b, "Viewer", false)
	viewer.open(e.url(), xssRoom)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, p := range xssText {
		if _, err := gopher.cl.Say(ctx, xssRoom, p); err != nil {
			t.Fatalf("say %q: %v", p, err)
		}
	}
	mallory.say(xssText[0] + " from the browser")
	// An image whose file name is a payload.
	dir := t.TempDir()
	src, err := os.ReadFile(writePNG(t, "x.png"))
	if err != nil {
		t.Fatal(err)
	}
	imgPath := filepath.Join(dir, xssFile)
	if err := os.WriteFile(imgPath, src, 0o644); err != nil {
		t.Fatal(err)
	}
	mallory.do(setUploadFiles(imgPath))
	gopher.waitMsg("the image", func(m *client.Message) bool { return m.Image != nil && m.Image.Name == xssFile })

	for _, u := range []*user{viewer, mallory} {
		for _, p := range append(xssText, xssText[0]+" from the browser") {
			if p == xssText[0] && u == mallory {
				continue
			}
			u.waitFor("payload as text "+p, `document.getElementById('messages').innerText.includes(`+jsString(p)+`)`)
		}
		u.waitFor("the image file name as text", `document.getElementById('messages').innerText.includes(`+jsString(xssFile)+`)`)
		u.waitFor("the image", `(() => { const i = document.querySelector('#messages img'); return i && i.complete && i.naturalWidth === 160; })()`)
		for _, n := range []string{xssBrowserName, xssGoName, "Viewer"} {
			u.waitFor("member name as text "+n, `document.getElementById('member-list').innerText.includes(`+jsString(n)+`)`)
		}
		u.waitFor("the room name as text", `document.getElementById('room-list').innerText.includes(`+jsString(xssRoom)+`) && document.getElementById('conv-title').textContent.includes(`+jsString(xssRoom)+`)`)
		// Nothing that a payload carries became an element or a handler.
		bad := eval[[]string](u, `['messages','member-list','room-list','private-list','tabs','conv-title','typing','toasts'].flatMap(id => [...document.getElementById(id).querySelectorAll('[onerror],[onload],[ontoggle],[onclick],[srcdoc],iframe,details,math,script,style,a[href^="javascript"]')]).map(e => e.outerHTML.slice(0, 120)).concat([...document.querySelectorAll('script:not([src]),iframe')].map(e => e.outerHTML.slice(0, 120)))`)
		if len(bad) > 0 {
			t.Errorf("%s: elements from payloads: %q", u.name, bad)
		}
	}
	viewer.screenshot("xss")
	// Every payload is in the page; give any deferred handler a chance to
	// fire before checking the traps (events are polled, not slept on).
	viewer.waitFor("images loaded", `[...document.images].every(i => i.complete)`)
	for _, u := range []*user{viewer, mallory} {
		u.checkClean()
	}
}
