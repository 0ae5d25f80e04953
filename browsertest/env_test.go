package browsertest

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"parley/internal/certs"
	"parley/server"
)

const chromiumPath = "/usr/bin/chromium"

// wasmDir holds parley.wasm and wasm_exec.js built once for the package.
var (
	wasmOnce sync.Once
	wasmDir  string
	wasmErr  error
	wasmTook time.Duration
	// wasmSizes: raw, gzip (best), brotli (quality 9) bytes.
	wasmSizes [3]int
)

func TestMain(m *testing.M) {
	code := m.Run()
	if wasmDir != "" {
		os.RemoveAll(wasmDir)
	}
	os.Exit(code)
}

// needChromium skips (with the reason) where there is no Chromium, except
// under CI where that is a failure.
func needChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set and %s is missing (%v): install the chromium package", chromiumPath, err)
		}
		t.Skipf("no Chromium at %s (%v); these tests need Debian's chromium package", chromiumPath, err)
	}
}

// buildWasm builds the browser client as the Makefile does, once.
func buildWasm(t *testing.T) string {
	t.Helper()
	wasmOnce.Do(func() {
		start := time.Now()
		wasmDir, wasmErr = os.MkdirTemp("", "parley-wasm-")
		if wasmErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s", "-o", filepath.Join(wasmDir, "parley.wasm"), "parley/wasm")
		cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm", "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			wasmErr = fmt.Errorf("building parley.wasm: %v\n%s", err, out)
			return
		}
		// Precompressed as the release build is (brotli at the default
		// build quality), so the browser loads what users load.
		raw, err := os.ReadFile(filepath.Join(wasmDir, "parley.wasm"))
		if err != nil {
			wasmErr = err
			return
		}
		var gz, br bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		zw.Write(raw)
		zw.Close()
		bw := brotli.NewWriterOptions(&br, brotli.WriterOptions{Quality: 9, LGWin: 24})
		bw.Write(raw)
		bw.Close()
		wasmSizes = [3]int{len(raw), gz.Len(), br.Len()}
		for name, b := range map[string][]byte{"parley.wasm.gz": gz.Bytes(), "parley.wasm.br": br.Bytes()} {
			if wasmErr = os.WriteFile(filepath.Join(wasmDir, name), b, 0o644); wasmErr != nil {
				return
			}
		}
		execJS, err := os.ReadFile(filepath.Join(runtime.GOROOT(), "lib", "wasm", "wasm_exec.js"))
		if err != nil {
			wasmErr = err
			return
		}
		wasmErr = os.WriteFile(filepath.Join(wasmDir, "wasm_exec.js"), execJS, 0o644)
		wasmTook = time.Since(start)
	})
	if wasmErr != nil {
		t.Fatal(wasmErr)
	}
	return wasmDir
}

// env is a Parley server whose store and certificate outlive restarts.
type env struct {
	t     *testing.T
	store *server.MemoryStore
	tls   *tls.Config
	hash  string
	spki  string
	web   *server.Web
	port  int
	// maxSessions is the server's Config.MaxSessions from the next start
	// (0: the default).
	maxSessions int

	srv  *server.Server
	done chan error
}

func newEnv(t *testing.T) *env {
	t.Helper()
	p, err := certs.SelfSigned([]string{"127.0.0.1", "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, store: server.NewMemoryStore(), tls: p.TLSConfig(), hash: p.Hash(), spki: p.SPKIHash()}
	e.web, err = server.NewWeb(server.WebConfig{Wasm: os.DirFS(buildWasm(t)), CertHash: p.Hash})
	if err != nil {
		t.Fatal(err)
	}
	if !e.web.WasmBuilt() {
		t.Fatal("the web handler found no parley.wasm")
	}
	e.start()
	t.Cleanup(func() {
		e.stop()
		e.store.Close()
	})
	return e
}

// start runs a server on the env's port (a new one the first time).
func (e *env) start() {
	e.t.Helper()
	srv, err := server.New(server.Config{Name: "browsertest", Store: e.store, TLS: e.tls.Clone(), Web: e.web, MaxSessions: e.maxSessions})
	if err != nil {
		e.t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(e.port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		err = srv.Listen(addr)
		if err == nil || e.port == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond) // the old listeners are being released
	}
	if err != nil {
		e.t.Fatal(err)
	}
	e.port = srv.Addr().(*net.UDPAddr).Port
	e.srv, e.done = srv, make(chan error, 1)
	go func() { e.done <- srv.Serve(context.Background()) }()
}

// stop shuts the server down (sessions see 4002).
func (e *env) stop() {
	if e.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		e.t.Errorf("shutdown: %v", err)
	}
	<-e.done
	e.srv = nil
}

func (e *env) restart() { e.stop(); e.start() }

func (e *env) addr() string { return "127.0.0.1:" + strconv.Itoa(e.port) }
func (e *env) url() string  { return "https://" + e.addr() + "/" }

// browser starts one headless Chromium trusting the env's certificate.
func (e *env) browser() context.Context {
	t := e.t
	t.Helper()
	needChromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", "new"),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("ignore-certificate-errors-spki-list", e.spki),
		chromedp.WindowSize(1280, 800),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelB(); cancelA() })
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting %s: %v", chromiumPath, err)
	}
	return bctx
}

// user is one browser user: a tab in a browser context of its own.
type user struct {
	t    *testing.T
	name string
	ctx  context.Context

	mu       sync.Mutex
	problems []string // uncaught exceptions, dialogs
}

// trapScript runs before the page's own scripts: it records any dialog or
// call of __pwned (what the XSS corpus tries to reach), and the moment the
// UI first shows "Connected".
const trapScript = `(() => {
  const trap = (what) => (...a) => { (window.__trapped = window.__trapped || []).push(what + ':' + a.join(' ')); };
  window.alert = trap('alert'); window.confirm = trap('confirm'); window.prompt = trap('prompt');
  window.__pwned = trap('pwned');
  new MutationObserver(() => {
    const c = document.getElementById('conn-text');
    if (!window.__connectedAt && c && /^connected/i.test(c.textContent)) window.__connectedAt = performance.now();
  }).observe(document, { subtree: true, childList: true, characterData: true });
})();`

func (e *env) newUser(bctx context.Context, name string, noWebTransport bool) *user {
	t := e.t
	t.Helper()
	ctx, cancel := chromedp.NewContext(bctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	u := &user{t: t, name: name, ctx: ctx}
	script := trapScript
	if noWebTransport {
		script = "delete globalThis.WebTransport;\n" + script
	}
	err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: script})
		return err
	}))
	if err != nil {
		t.Fatal(err)
	}
	chromedp.Listen(ctx, func(ev any) {
		var p string
		switch ev := ev.(type) {
		case *cdpruntime.EventExceptionThrown:
			p = "exception: " + ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				p += " " + ev.ExceptionDetails.Exception.Description
			}
		case *page.EventJavascriptDialogOpening:
			p = "dialog: " + ev.Message
		}
		if p != "" {
			u.mu.Lock()
			u.problems = append(u.problems, p)
			u.mu.Unlock()
		}
	})
	return u
}

func (u *user) do(steps ...chromedp.Action[chromedp.Void]) {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(u.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		u.t.Fatalf("%s: %v", u.name, err)
	}
}

// eval evaluates expr in the user's page.
func eval[T any](u *user, expr string) T {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(u.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		u.t.Fatalf("%s: %s: %v", u.name, expr, err)
	}
	return v
}

// waitFor polls the page until expr is true.
func (u *user) waitFor(what, expr string) {
	u.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(u.ctx, 10*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+expr+")"))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			body, _ := chromedp.Run(u.ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText.slice(0, 3000) : ''`))
			u.t.Fatalf("%s: timed out waiting for %s (%s; last error %v)\npage text:\n%s", u.name, what, expr, err, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// open loads the page, enters the name and joins room through the UI.
func (u *user) open(url, room string) {
	u.t.Helper()
	u.do(chromedp.Navigate(url))
	u.waitFor("the welcome screen", `!document.getElementById('screen-welcome').hidden`)
	u.do(chromedp.SetValue(chromedp.ID("welcome-name"), u.name))
	eval[chromedp.Void](u, `document.getElementById('welcome-form').requestSubmit()`)
	u.waitFor("the connect screen", `!document.getElementById('screen-connect').hidden`)
	u.do(chromedp.SetValue(chromedp.ID("browser-room"), room))
	eval[chromedp.Void](u, `document.getElementById('browser-form').requestSubmit()`)
	u.waitFor("connected", `/^connected/i.test(document.getElementById('conn-text').textContent)`)
	u.waitFor("the room", `document.getElementById('conv-title').textContent.includes(`+jsString(room)+`)`)
}

// say types text into the composer and presses Enter.
func (u *user) say(text string) {
	u.t.Helper()
	u.do(chromedp.Focus(chromedp.ID("input")), chromedp.SendKeys(chromedp.ID("input"), text))
	u.do(chromedp.KeyEvent("\r"))
	// The UI empties the composer on send (chromedp's synthesized Enter may
	// leave its char event's line feed behind).
	u.waitFor("the composer to clear", `document.getElementById('input').value.trim() === ''`)
	eval[chromedp.Void](u, `document.getElementById('input').value = ''`)
}

// messagesText is the text of the conversation on screen.
func (u *user) messagesText() string {
	return eval[string](u, `document.getElementById('messages').innerText`)
}

// count counts occurrences of s in the conversation on screen.
func (u *user) count(s string) int { return strings.Count(u.messagesText(), s) }

// checkClean fails if the page raised an exception, opened a dialog or
// reached a trap.
func (u *user) checkClean() {
	u.t.Helper()
	trapped := eval[[]string](u, `window.__trapped || []`)
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(trapped) > 0 || len(u.problems) > 0 {
		u.t.Errorf("%s: page problems: trapped %q, events %q", u.name, trapped, u.problems)
	}
}

// screenshot saves the page as browser-<name>.png in the directory that
// PARLEY_SCREENSHOTS names (`make screenshots` sets it to docs/screenshots),
// or in the test's temporary directory, so that a test run never changes the
// checkout.
func (u *user) screenshot(name string) {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(u.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		u.t.Errorf("screenshot: %v", err)
		return
	}
	dir := os.Getenv("PARLEY_SCREENSHOTS")
	if dir == "" {
		dir = u.t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		u.t.Errorf("screenshot: %v", err)
		return
	}
	if err := os.WriteFile(filepath.Join(dir, "browser-"+name+".png"), png, 0o644); err != nil {
		u.t.Errorf("screenshot: %v", err)
	}
}

func jsString(s string) string {
	b := strings.Builder{}
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x2028 || r == 0x2029 || r == '<' || r == '>':
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// typeUntil keeps typing into u's composer (typing notices are paced, at
// most one per room every couple of seconds) until other's page shows expr.
func (u *user) typeUntil(other *user, what, expr string) {
	u.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	u.do(chromedp.Focus(chromedp.ID("input")))
	for {
		u.do(chromedp.SendKeys(chromedp.ID("input"), "x"))
		ok, err := chromedp.Run(other.ctx, chromedp.Evaluate[bool]("!!("+expr+")"))
		if err == nil && ok {
			break
		}
		if time.Now().After(deadline) {
			u.t.Fatalf("%s: timed out waiting for %s (%s)", other.name, what, expr)
		}
		time.Sleep(250 * time.Millisecond)
	}
	eval[chromedp.Void](u, `(() => { const i = document.getElementById('input'); i.value = ''; i.dispatchEvent(new Event('input')); })()`)
}
