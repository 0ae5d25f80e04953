package browsertest

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"parley/client"
	"parley/protocol"
)

// goUser is the native Go client in the room.
type goUser struct {
	t   *testing.T
	cl  *client.Client
	evs chan client.Event
}

func (e *env) goUser(name, room string) *goUser {
	t := e.t
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl, err := client.Dial(ctx, client.Config{Server: e.addr(), CertHash: e.hash, Name: name, ClientName: "browsertest/1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	if _, err := cl.Join(ctx, room); err != nil {
		t.Fatal(err)
	}
	g := &goUser{t: t, cl: cl, evs: make(chan client.Event, 1024)}
	go func() {
		for ev := range cl.Events() {
			select {
			case g.evs <- ev:
			default:
			}
		}
	}()
	return g
}

// waitMsg waits for a message event matching f.
func (g *goUser) waitMsg(what string, f func(*client.Message) bool) *client.Message {
	g.t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev := <-g.evs:
			if ev.Kind == client.EventMessage && f(ev.Message) {
				return ev.Message
			}
		case <-timeout:
			g.t.Fatalf("Go client: timed out waiting for %s", what)
		}
	}
}

// TestBrowserChat: two browser users and one Go client in one room.
func TestBrowserChat(t *testing.T) {
	needChromium(t)
	e := newEnv(t)
	b := e.browser()

	gopher := e.goUser("Gopher", "lobby")
	alice := e.newUser(b, "Alice", false)
	start := time.Now()
	alice.open(e.url(), "lobby")
	loadToConnected := eval[float64](alice, `window.__connectedAt`)
	t.Logf("page load to connected (Alice, WebTransport, cold wasm): %.0f ms (test wall time %v)", loadToConnected, time.Since(start).Round(time.Millisecond))
	if tr := eval[string](alice, `document.getElementById('conn-transport').textContent`); !strings.Contains(tr, "webtransport") {
		t.Errorf("Alice's transport %q, want webtransport", tr)
	}

	bob := e.newUser(b, "Bob", false)
	bob.open(e.url(), "lobby")

	// Join notices and the member list.
	alice.waitFor("Bob's join notice", `document.getElementById('messages').innerText.includes('Bob joined')`)
	for _, u := range []*user{alice, bob} {
		u.waitFor("three members", `(() => { const t = document.getElementById('member-list').innerText; return t.includes('Alice') && t.includes('Bob') && t.includes('Gopher'); })()`)
	}

	// A room message seen by all.
	alice.say("hello from the browser")
	bob.waitFor("Alice's message", `document.getElementById('messages').innerText.includes('hello from the browser')`)
	gopher.waitMsg("Alice's message", func(m *client.Message) bool { return m.Text == "hello from the browser" && m.From == "Alice" })
	if _, err := gopher.cl.Say(context.Background(), "lobby", "hello from Go"); err != nil {
		t.Fatal(err)
	}
	for _, u := range []*user{alice, bob} {
		u.waitFor("Gopher's message", `document.getElementById('messages').innerText.includes('hello from Go')`)
	}

	// The typing indicator.
	bob.typeUntil(alice, "Bob typing", `/Bob/.test(document.getElementById('typing').textContent)`)
	alice.screenshot("room")

	// A private message from Alice to Bob: only Bob sees it, in a private tab.
	alice.do(clickMember("Bob"))
	alice.waitFor("the private tab", `document.getElementById('conv-title').textContent.includes('Bob')`)
	alice.say("psst, Bob only")
	bob.waitFor("the private tab to appear", `document.getElementById('private-list').innerText.includes('Alice')`)
	bob.do(clickConv("private-list", "Alice"))
	bob.waitFor("the private message", `document.getElementById('messages').innerText.includes('psst, Bob only')`)
	bob.screenshot("private")
	// Not in Bob's room view, and never at the Go client.
	bob.do(clickConv("room-list", "lobby"))
	bob.waitFor("the room view", `document.getElementById('conv-title').textContent.includes('lobby')`)
	if bob.count("psst, Bob only") != 0 {
		t.Error("the private message shows in Bob's room view")
	}

	// An image uploaded from the browser, shown to the others.
	alice.do(clickConv("room-list", "lobby"))
	alice.waitFor("the room view", `document.getElementById('conv-title').textContent.includes('lobby')`)
	img := writePNG(t, "cat.png")
	alice.do(setUploadFiles(img))
	bob.waitFor("the image", `(() => { const i = document.querySelector('#messages img'); return i && i.complete && i.naturalWidth === 160; })()`)
	gopher.waitMsg("Alice's image", func(m *client.Message) bool { return m.Image != nil && m.Image.Name == "cat.png" && m.Image.W == 160 })
	bob.screenshot("image")

	// The same image path from a drop onto the conversation and from a
	// paste into the composer: Files built in the page, carried by real
	// DragEvent/ClipboardEvent DataTransfers to the UI's own handlers.
	imagesStart := time.Now()
	if r := alice.dropImage("dropped.png", 120); !r.HintShown || !r.HintHidden || !r.Handled {
		t.Errorf("drop: %+v, want the hint shown while dragging, hidden after, and the drop handled", r)
	}
	if !alice.pasteImage("pasted-shot.png", 140) {
		t.Error("paste: the composer did not handle a pasted image")
	}
	for _, w := range []int{120, 140} {
		bob.waitFor("the "+strconv.Itoa(w)+"-pixel image", `[...document.querySelectorAll('#messages img')].some(i => i.complete && i.naturalWidth === `+strconv.Itoa(w)+`)`)
	}
	gopher.waitMsg("the dropped image", func(m *client.Message) bool {
		return m.Image != nil && m.Image.Name == "dropped.png" && m.Image.W == 120
	})
	gopher.waitMsg("the pasted image", func(m *client.Message) bool {
		return m.Image != nil && m.Image.Name == "pasted-shot.png" && m.Image.W == 140
	})
	// Each image once, at the sender as at the others.
	for _, u := range []*user{alice, bob} {
		u.waitFor("the three images (file input, drop, paste)", `[...document.querySelectorAll('#messages img')].map(i => i.complete ? i.naturalWidth : 0).sort().join() === '120,140,160'`)
	}

	t.Logf("drop and paste: both images seen by all in %v", time.Since(imagesStart).Round(time.Millisecond))

	// Dark mode: the page follows prefers-color-scheme.
	light := bob.background()
	bob.colorScheme("dark")
	dark := bob.background()
	if dark == light {
		t.Errorf("the page background is %s in dark mode as in light mode", dark)
	}
	bob.screenshot("dark")
	bob.colorScheme("")
	if got := bob.background(); got != light {
		t.Errorf("the background after the emulation ended is %s, want %s", got, light)
	}

	// A server restart: while it is down the status says why it
	// reconnects; then everyone reconnects; nothing sent is lost or doubled.
	e.stop()
	alice.waitFor("the reason of the reconnect", `document.getElementById('conn').dataset.state === 'reconnecting' && document.getElementById('conn-transport').textContent.length > 2`)
	alice.screenshot("reconnecting")
	e.start()
	for _, u := range []*user{alice, bob} {
		u.waitFor("reconnected", `/^connected/i.test(document.getElementById('conn-text').textContent)`)
	}
	alice.say("after the restart")
	bob.waitFor("the message after the restart", `document.getElementById('messages').innerText.includes('after the restart')`)
	gopher.waitMsg("the message after the restart", func(m *client.Message) bool { return m.Text == "after the restart" })
	for _, u := range []*user{alice, bob} {
		for _, s := range []string{"hello from the browser", "hello from Go", "after the restart"} {
			if n := u.count(s); n != 1 {
				t.Errorf("%s sees %q %d times, want once", u.name, s, n)
			}
		}
	}

	// The identity key survives a reload: non-extractable in IndexedDB,
	// and the page connects again under the same name with the same key
	// (the server binds the name to the first key; another key gets
	// name_taken, as the impostor shows).
	before := alice.identity()
	if !before.Found || before.Extractable || before.Type != "private" || before.Algorithm != "Ed25519" || before.Usages != "sign" {
		t.Errorf("Alice's stored private key: %+v, want a non-extractable Ed25519 signing key", before)
	}
	if before.ExportError != "pkcs8:InvalidAccessError jwk:InvalidAccessError" {
		t.Errorf("exporting Alice's private key: %q, want InvalidAccessError for pkcs8 and jwk", before.ExportError)
	}
	if bound := e.boundKey("Alice"); bound == "" || bound != before.Public {
		t.Errorf("the server bound Alice to %q, the page holds %q", bound, before.Public)
	}
	reloadStart := time.Now()
	alice.reload("lobby")
	t.Logf("reload to connected under the bound name (wasm cached): %v", time.Since(reloadStart).Round(time.Millisecond))
	after := alice.identity()
	if after != before {
		t.Errorf("Alice's key after the reload: %+v, before: %+v", after, before)
	}
	if me := eval[string](alice, `document.getElementById('me-name').textContent`); me != "Alice" {
		t.Errorf("after the reload the page is %q, want Alice", me)
	}
	if bound := e.boundKey("Alice"); bound != before.Public {
		t.Errorf("after the reload the server binds Alice to %q, want %q", bound, before.Public)
	}
	if err := e.goImpostor("Alice"); protocol.CodeOf(err) != protocol.CodeNameTaken {
		t.Errorf("another key as Alice: %v, want name_taken", err)
	}
	// The room's history comes back with the reloaded page, each message once.
	alice.waitFor("the history after the reload", `document.getElementById('messages').innerText.includes('after the restart')`)
	for _, s := range []string{"hello from Go", "after the restart"} {
		if n := alice.count(s); n > 1 {
			t.Errorf("after the reload Alice sees %q %d times", s, n)
		}
	}
	alice.say("back after the reload")
	bob.waitFor("the message after the reload", `document.getElementById('messages').innerText.includes('back after the reload')`)
	gopher.waitMsg("the message after the reload", func(m *client.Message) bool { return m.Text == "back after the reload" && m.From == "Alice" })

	for _, u := range []*user{alice, bob} {
		u.checkClean()
	}
}

func writePNG(t *testing.T, name string) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 160, 100))
	for y := 0; y < 100; y++ {
		for x := 0; x < 160; x++ {
			img.Set(x, y, color.RGBA{uint8(x * 255 / 160), uint8(y * 255 / 100), 200, 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// clickMember clicks a member in the member list (opens a private chat).
func clickMember(name string) chromedp.Action[chromedp.Void] {
	return clickJS(`[...document.querySelectorAll('#member-list button')].find(b => b.innerText.includes(` + jsString(name) + `))`)
}

// clickConv clicks the entry of list (room-list, private-list) named name.
func clickConv(list, name string) chromedp.Action[chromedp.Void] {
	return clickJS(`[...document.querySelectorAll('#` + list + ` .conv-open')].find(b => b.innerText.includes(` + jsString(name) + `))`)
}

func clickJS(find string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		ok, err := chromedp.Evaluate[bool](`(() => { const b = `+find+`; if (!b) return false; b.click(); return true; })()`)(ctx, tg)
		if err == nil && !ok {
			err = fmt.Errorf("nothing to click: %s", find)
		}
		return chromedp.Void{}, err
	}
}

// setUploadFiles picks files in the composer's file input, as a user does
// through the file dialog.
func setUploadFiles(files ...string) chromedp.Action[chromedp.Void] {
	return chromedp.SetUploadFiles(chromedp.ID("file-input"), files, chromedp.NodeReady)
}
