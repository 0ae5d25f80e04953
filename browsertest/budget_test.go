package browsertest

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

func chromedpNavigate(url string) chromedp.Action[chromedp.Void] { return chromedp.Navigate(url) }

// TestBrowserLoadBudget measures, on loopback, the size of parley.wasm
// (raw, gzip, brotli) and the time from page load to connected: the
// module fetched (brotli), compiled and started, then Connect to the
// server with a WebTransport session, hello, auth with the WebCrypto key
// and the join. Figures are logged, not asserted (no timing assertions);
// the test asserts that each step happened and the module came brotli-encoded.
func TestBrowserLoadBudget(t *testing.T) {
	needChromium(t)
	e := newEnv(t)
	b := e.browser()
	t.Logf("parley.wasm: %d bytes raw, %d gzip (best), %d brotli (q9); built in %v", wasmSizes[0], wasmSizes[1], wasmSizes[2], wasmTook)
	u := e.newUser(b, "Timer", false)
	for i, label := range []string{"cold", "warm (cached module)"} {
		u.do(chromedpNavigate(e.url()))
		u.waitFor("the module", `globalThis.parleyTimings && globalThis.parleyTimings.ready > 0`)
		enc := eval[string](u, `(performance.getEntriesByType('resource').find(r => r.name.includes('parley.wasm')) || {}).encodedBodySize + ''`)
		ready := eval[float64](u, `parleyTimings.ready`)
		// Connect as the UI does, timing it in the page.
		took := eval[float64](u, `(async () => { const t0 = performance.now(); await parley.call('Connect', JSON.stringify([{name: 'Timer`+string(rune('A'+i))+`', room: 'lobby'}])); return performance.now() - t0; })()`)
		st := eval[string](u, `parley.call('Status', '[]')`)
		if !containsAll(st, `"state":"connected"`, `"transport":"webtransport"`) {
			t.Fatalf("status after Connect: %s", st)
		}
		t.Logf("%s: page load → module ready %.0f ms, Connect (WebTransport, auth, join) %.0f ms, load → connected %.0f ms; wasm transfer %s bytes", label, ready, took, ready+took, enc)
		if i == 0 {
			if n := eval[float64](u, `(performance.getEntriesByType('resource').find(r => r.name.includes('parley.wasm')) || {}).encodedBodySize || 0`); n <= 0 || int(n) >= wasmSizes[0] {
				t.Errorf("parley.wasm came %v bytes encoded; want the brotli copy (%d)", n, wasmSizes[2])
			}
		}
		eval[string](u, `parley.call('Disconnect', '[]')`)
	}
	u.checkClean()
}

func containsAll(s string, subs ...string) bool {
	for _, x := range subs {
		if !strings.Contains(s, x) {
			return false
		}
	}
	return true
}
