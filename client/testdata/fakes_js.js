// Fakes of the browser's WebTransport and WebSocket APIs, built on Node's
// WHATWG streams, for the js/wasm transport tests (transport_js_test.go).
// They record what the Go side wrote so the tests can assert it.
(() => {
  const enc = new TextEncoder();
  const dec = new TextDecoder();

  // A writable that records each write, one queued write at a time
  // (highWaterMark 1, like Chrome's stream writer), each taking a tick.
  function recorder() {
    const rec = { writes: [], closed: false, aborted: false };
    rec.stream = new WritableStream({
      write(chunk) {
        rec.writes.push(new Uint8Array(chunk));
        return new Promise((r) => setTimeout(r, 1));
      },
      close() { rec.closed = true; },
      abort() { rec.aborted = true; },
    }, new CountQueuingStrategy({ highWaterMark: 1 }));
    rec.text = () => rec.writes.map((w) => dec.decode(w)).join('');
    rec.bytes = () => {
      const n = rec.writes.reduce((a, w) => a + w.length, 0);
      const out = new Uint8Array(n);
      let o = 0;
      for (const w of rec.writes) { out.set(w, o); o += w.length; }
      return out;
    };
    return rec;
  }

  function source() {
    const s = {};
    s.stream = new ReadableStream({ start(c) { s.ctl = c; } });
    s.push = (text) => s.ctl.enqueue(enc.encode(text));
    s.end = () => { try { s.ctl.close(); } catch (e) {} };
    return s;
  }

  class FakeWebTransport {
    constructor(url, opts) {
      FakeWebTransport.instances.push(this);
      this.url = url;
      this.opts = opts;
      this.bidis = [];
      this.unis = [];
      const mode = FakeWebTransport.mode;
      this.ready = mode === 'fail' ? Promise.reject(new TypeError('Opening handshake failed.'))
        : mode === 'hang' ? new Promise(() => {}) : Promise.resolve();
      this.ready.catch(() => {});
      this.closed = new Promise((res, rej) => { this._res = res; this._rej = rej; });
      if (mode === 'fail') this._rej(new TypeError('Opening handshake failed.'));
      this.closed.catch(() => {});
      this.dgIn = source();
      this.dgOut = recorder();
      this.datagrams = { readable: this.dgIn.stream, createWritable: () => this.dgOut.stream };
    }
    createBidirectionalStream() {
      const b = { toServer: recorder(), fromServer: source() };
      this.bidis.push(b);
      return Promise.resolve({ readable: b.fromServer.stream, writable: b.toServer.stream });
    }
    createUnidirectionalStream() {
      const r = recorder();
      this.unis.push(r);
      return Promise.resolve(r.stream);
    }
    close(info) {
      this.closedBy = info || {};
      this._res({ closeCode: 0, reason: '' });
    }
    // serverClose ends the control stream and the session with a code.
    serverClose(code, reason) {
      this.bidis[0].fromServer.end();
      this._res({ closeCode: code, reason });
    }
  }
  FakeWebTransport.instances = [];
  FakeWebTransport.mode = 'ok';

  class FakeWebSocket {
    constructor(url) {
      FakeWebSocket.instances.push(this);
      this.url = url;
      this.sent = [];
      this.readyState = 0;
      if (FakeWebSocket.mode === 'refuse') {
        setTimeout(() => this.onclose && this.onclose({ code: 1006, reason: '' }), 1);
      } else {
        setTimeout(() => { this.readyState = 1; this.onopen && this.onopen({}); }, 1);
      }
    }
    send(d) {
      if (this.readyState !== 1) throw new DOMException('Still in CONNECTING state.', 'InvalidStateError');
      this.sent.push(typeof d === 'string' ? d : new Uint8Array(d));
    }
    close(code, reason) {
      this.closedWith = { code, reason };
      setTimeout(() => this.onclose && this.onclose({ code: code || 1005, reason: reason || '' }), 1);
    }
    serverText(s) { this.onmessage({ data: s }); }
    serverBinary(text) { this.onmessage({ data: enc.encode(text).buffer }); }
    serverClose(code, reason) { this.onclose({ code, reason }); }
  }
  FakeWebSocket.instances = [];
  FakeWebSocket.mode = 'ok';

  // fetch: 'unreachable' rejects as a failed request does; 'full' answers
  // 503 as a full Parley server does before an upgrade; 'other' answers 426
  // as a server with room does to a plain GET of /parley.
  function fakeFetch(url) {
    fakeFetch.calls.push(String(url));
    switch (fakeFetch.mode) {
      case 'full':
        return Promise.resolve(new Response('parley: the server is full (3 sessions); try again later\n', { status: 503 }));
      case 'other':
        return Promise.resolve(new Response('Upgrade Required', { status: 426 }));
      default:
        return Promise.reject(new TypeError('Failed to fetch'));
    }
  }
  fakeFetch.calls = [];
  fakeFetch.mode = 'unreachable';

  globalThis.parleyFakes = { FakeWebTransport, FakeWebSocket, fakeFetch, recorder, source, dec };
})();
