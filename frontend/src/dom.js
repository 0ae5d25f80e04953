// dom.js — building elements safely. Every piece of text (names, messages,
// room and file names) becomes a text node: nothing here, or anywhere in
// the UI, assigns innerHTML.

/**
 * el makes an element. attrs: class, title, dataset ({k: v}), on ({event:
 * fn}), and plain attributes (set with setAttribute, never event handler
 * attributes). children: nodes or strings (strings become text nodes).
 */
export function el(doc, tag, attrs, ...children) {
  const e = doc.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = String(v);
      else if (k === 'dataset') for (const [dk, dv] of Object.entries(v)) e.dataset[dk] = String(dv);
      else if (k === 'on') for (const [ev, fn] of Object.entries(v)) e.addEventListener(ev, fn);
      else if (k === 'style') for (const [sk, sv] of Object.entries(v)) e.style.setProperty(sk, String(sv));
      else if (/^on/i.test(k)) throw new Error(`el: refusing event handler attribute ${k}`);
      else e.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(e, children);
  return e;
}

function append(e, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(e, c);
    else if (typeof c === 'string' || typeof c === 'number') e.appendChild(e.ownerDocument.createTextNode(String(c)));
    else e.appendChild(c);
  }
}

/** clear removes every child of e. */
export function clear(e) {
  while (e.firstChild) e.removeChild(e.firstChild);
}

/** setText sets e's text (and only text). */
export function setText(e, text) {
  e.textContent = text === undefined || text === null ? '' : String(text);
}
