// fakedom.js — the smallest DOM the view code needs, for Node tests. It
// records every assignment of innerHTML/outerHTML (which the UI must never
// make) and keeps text as text.

export class FakeNode {
  constructor(doc, tag, text) {
    this.ownerDocument = doc;
    this.tagName = tag;
    this.children = [];
    this.attributes = {};
    this.dataset = {};
    this.listeners = {};
    this.className = '';
    this.style = { props: {}, setProperty(k, v) { this.props[k] = v; } };
    this._text = text;
  }
  appendChild(c) { this.children.push(c); c.parentNode = this; return c; }
  removeChild(c) { this.children = this.children.filter((x) => x !== c); return c; }
  get firstChild() { return this.children[0] || null; }
  setAttribute(k, v) {
    if (/^on/i.test(k)) this.ownerDocument.violations.push(`attribute ${k}`);
    this.attributes[k] = String(v);
  }
  addEventListener(ev, fn) { (this.listeners[ev] = this.listeners[ev] || []).push(fn); }
  get textContent() { return this._text !== undefined ? this._text : this.children.map((c) => c.textContent).join(''); }
  set textContent(v) { this.children = []; this._text = String(v); }
  set innerHTML(v) { this.ownerDocument.violations.push(`innerHTML = ${v}`); }
  set outerHTML(v) { this.ownerDocument.violations.push(`outerHTML = ${v}`); }
  insertAdjacentHTML(_, v) { this.ownerDocument.violations.push(`insertAdjacentHTML ${v}`); }
  find(pred) {
    if (pred(this)) return this;
    for (const c of this.children) { const f = c.find && c.find(pred); if (f) return f; }
    return null;
  }
  all(pred, out = []) {
    if (pred(this)) out.push(this);
    for (const c of this.children) if (c.all) c.all(pred, out);
    return out;
  }
}

export function fakeDocument() {
  const doc = { violations: [] };
  doc.createElement = (tag) => new FakeNode(doc, tag);
  doc.createTextNode = (text) => { const n = new FakeNode(doc, '#text', text); n.isText = true; return n; };
  return doc;
}
