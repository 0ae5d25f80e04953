// boot-wasm.js — loads the browser backend: Go's wasm_exec.js and
// parley.wasm (the Go client + bridge compiled to WebAssembly), served by
// the Parley server next to this page. Resolves once globalThis.parley
// (call, onEvents) is ready.

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = src;
    s.onload = resolve;
    s.onerror = () => reject(new Error(`${src} could not be loaded`));
    document.head.appendChild(s);
  });
}

/** loadBackend starts parley.wasm and waits for its exports. */
export async function loadBackend() {
  if (!globalThis.Go) await loadScript('wasm_exec.js');
  const go = new globalThis.Go();
  const res = await fetch('parley.wasm');
  if (!res.ok) throw new Error(`parley.wasm: ${res.status} ${res.statusText}`);
  const { instance } = await WebAssembly.instantiateStreaming(res, go.importObject);
  go.run(instance); // runs until the page goes away
  const deadline = Date.now() + 10000;
  while (!(globalThis.parley && typeof globalThis.parley.call === 'function')) {
    if (Date.now() > deadline) throw new Error('parley.wasm did not start');
    await new Promise((r) => setTimeout(r, 20));
  }
}
