// api.js — the ONLY module that talks to the Go side.
//
// Desktop (Wails): bound methods on window.go.app.App, events through
// window.runtime.EventsOn. Browser: the WebAssembly build of the same Go
// bridge, exported as globalThis.parley.call(method, argsJSON) and
// globalThis.parley.onEvents(cb). Method names and JSON shapes are
// bridge.Methods (bridge/api.go); nothing here decides anything about the
// chat — it converts calls and errors, that is all.

export const EVENT_NAME = 'parley:events';

/** Which shell runs the UI: 'desktop', 'browser' or 'none' (tests). */
export function shell(g = globalThis) {
  if (g.go && g.go.app && g.go.app.App) return 'desktop';
  if (g.parley && typeof g.parley.call === 'function') return 'browser';
  return 'none';
}

/** ApiError carries the protocol code ("bad_name", "offline"...) and a human message. */
export class ApiError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/** toApiError turns what a shell rejects with ("code: message") into an ApiError. */
export function toApiError(e) {
  if (e instanceof ApiError) return e;
  const text = typeof e === 'string' ? e : (e && e.message) || String(e);
  const m = /^([a-z_]+): ([\s\S]*)$/.exec(text);
  if (m) return new ApiError(m[1], m[2]);
  return new ApiError('error', text);
}

/** call invokes a bridge (or, on the desktop, app) method with positional arguments. */
export async function call(method, ...args) {
  const g = globalThis;
  try {
    switch (shell(g)) {
      case 'desktop': {
        const fn = g.go.app.App[method];
        if (typeof fn !== 'function') throw new ApiError('unsupported', `${method} is not available here`);
        return await fn(...args);
      }
      case 'browser': {
        const text = await g.parley.call(method, JSON.stringify(args));
        return text === '' || text === undefined ? null : JSON.parse(text);
      }
      default:
        throw new ApiError('unsupported', 'no Parley backend is loaded');
    }
  } catch (e) {
    throw toApiError(e);
  }
}

/** onEvents registers cb for every event batch (an array of bridge.Event). */
export function onEvents(cb) {
  const g = globalThis;
  const deliver = (data) => {
    let batch = data;
    if (typeof batch === 'string') {
      try { batch = JSON.parse(batch); } catch { return; }
    }
    if (Array.isArray(batch)) cb(batch);
  };
  switch (shell(g)) {
    case 'desktop':
      return g.runtime.EventsOn(EVENT_NAME, deliver);
    case 'browser':
      return g.parley.onEvents(deliver);
    default:
      return () => {};
  }
}

/** onShellEvent listens to a desktop-only event (file drops, test commands). */
export function onShellEvent(name, cb) {
  const g = globalThis;
  if (shell(g) === 'desktop') return g.runtime.EventsOn(name, cb);
  return () => {};
}

// Settings: the desktop keeps them (and the identity key) in the user's
// config directory through app.App; the browser keeps the display name and
// last server in localStorage (its identity key lives in IndexedDB, owned
// by the WebAssembly side).
const LS_KEY = 'parley.settings';

/** loadSettings returns {name, server, certHash, room}. */
export async function loadSettings() {
  if (shell() === 'desktop') return call('Settings');
  try {
    return JSON.parse(globalThis.localStorage.getItem(LS_KEY)) || {};
  } catch {
    return {};
  }
}

/** saveSettings stores s and returns what was stored. */
export async function saveSettings(s) {
  if (shell() === 'desktop') return call('SaveSettings', s);
  const clean = { name: s.name || '', server: s.server || '', certHash: s.certHash || '', room: s.room || '' };
  try { globalThis.localStorage.setItem(LS_KEY, JSON.stringify(clean)); } catch { /* private mode */ }
  return clean;
}

/** hasDesktop reports whether native features (dialogs, hosting, LAN discovery) exist. */
export function hasDesktop() {
  return shell() === 'desktop';
}

/** readFileBase64 reads a browser File/Blob as standard base64 (no data: prefix). */
export function readFileBase64(file) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onerror = () => reject(new ApiError('bad_image', 'the file could not be read'));
    r.onload = () => {
      const s = String(r.result);
      const i = s.indexOf(',');
      resolve(i >= 0 ? s.slice(i + 1) : s);
    };
    r.readAsDataURL(file);
  });
}
