// parley-boot.js — loads the browser client (the Go client compiled to
// WebAssembly) and exposes it as globalThis.parley before the UI's modules
// run. Served by the Parley server (server/web.go) and injected into the
// page ahead of the UI's own scripts; the desktop app never loads it.
//
// globalThis.parley is usable at once: calls made before the module is
// running wait for it. Its API is the bridge's (bridge/doc.go):
//   parley.call(method, argsJSON) → Promise<string>
//   parley.onEvents(cb)           → unsubscribe function
//   parley.ready                  → Promise, resolved once Go runs
// plus parley.<Method>(...args) for every bridge method, once ready.
(() => {
  'use strict';
  const t0 = performance.now();
  const timings = (globalThis.parleyTimings = { boot: t0 });

  const ready = (async () => {
    const res = await fetch('/config.json', { cache: 'no-store', credentials: 'same-origin' });
    if (!res.ok) throw new Error('unavailable: the server gave no configuration (' + res.status + ')');
    const cfg = await res.json();
    if (!cfg.wasm) throw new Error('unavailable: parley.wasm was not built on this server (run make)');
    globalThis.parleyConfig = Object.freeze(cfg);
    const started = new Promise((resolve) => { globalThis.__parleyStarted = resolve; });
    const go = new Go();
    const { instance } = await WebAssembly.instantiateStreaming(fetch(cfg.wasm, { credentials: 'same-origin' }), go.importObject);
    timings.instantiated = performance.now();
    const exited = go.run(instance);
    const api = await Promise.race([
      started, // Go's main calls it once its exports are in place
      exited.then(() => { throw new Error('unavailable: parley.wasm stopped'); }),
    ]);
    delete globalThis.__parleyStarted;
    if (!api || typeof api.call !== 'function') throw new Error('unavailable: parley.wasm did not start');
    timings.ready = performance.now();
    return api;
  })();
  ready.catch((e) => console.error('parley:', e && e.message ? e.message : e));

  const parley = {
    ready,
    call: async (method, argsJSON) => (await ready).call(method, argsJSON),
    onEvents: (cb) => {
      let off = null;
      let cancelled = false;
      ready.then((api) => { if (!cancelled) off = api.onEvents(cb); }, () => {});
      return () => { cancelled = true; if (typeof off === 'function') off(); };
    },
  };
  ready.then((api) => {
    for (const k of Object.keys(api)) {
      if (!(k in parley)) parley[k] = api[k];
    }
  }, () => {});
  globalThis.parley = parley;
})();
