// view.js — how one message, conversation entry or member looks. Pure
// functions of (document, data): the caller decides where they go.

import { el } from './dom.js';
import { badge, clock, hue, initials, size } from './format.js';

/** avatar draws a round badge with the name's initials in its colour. */
export function avatar(doc, name, small = false) {
  return el(doc, 'span', { class: small ? 'avatar small' : 'avatar', style: { '--hue': hue(name) }, 'aria-hidden': 'true' }, initials(name));
}

/**
 * messageView draws one message. opts.onImage(figure, image) is called for
 * image messages so the caller can load the preview when it scrolls into
 * view; opts.previous is the message above (to group by sender).
 */
export function messageView(doc, m, opts = {}) {
  const data = { kind: m.kind };
  if (m.seq) data.seq = m.seq;
  if (m.local) data.local = m.local;
  if (m.kind === 'joined' || m.kind === 'left' || m.kind === 'notice') {
    const what = m.kind === 'joined' ? `${m.from} joined` : m.kind === 'left' ? `${m.from} left` : m.text;
    return el(doc, 'li', { class: `msg system ${m.kind}`, dataset: data },
      el(doc, 'span', { class: 'system-text' }, what || ''),
      m.ts ? el(doc, 'time', { class: 'time', datetime: m.ts }, clock(m.ts)) : null);
  }
  const p = opts.previous;
  const grouped = p && p.from === m.from && (p.kind === 'text' || p.kind === 'image') && m.kind !== 'broadcast' &&
    p.ts && m.ts && Date.parse(m.ts) - Date.parse(p.ts) < 5 * 60 * 1000;
  const cls = ['msg', m.kind];
  if (m.mine) cls.push('mine');
  if (m.pending) cls.push('pending');
  if (m.failed) cls.push('failed');
  if (grouped) cls.push('grouped');
  const head = grouped ? null : el(doc, 'div', { class: 'msg-head' },
    el(doc, 'span', { class: 'from', style: { '--hue': hue(m.from || '') } }, m.from || ''),
    m.kind === 'broadcast' ? el(doc, 'span', { class: 'tag' }, 'broadcast') : null,
    m.to && opts.showTo ? el(doc, 'span', { class: 'to' }, `→ ${m.to}`) : null,
    el(doc, 'time', { class: 'time', datetime: m.ts || '' }, m.pending ? 'sending…' : clock(m.ts)));
  let body;
  if (m.kind === 'image' && m.image) {
    body = imageView(doc, m, opts);
  } else {
    body = el(doc, 'div', { class: 'text' }, m.text || '');
  }
  return el(doc, 'li', { class: cls.join(' '), dataset: data },
    grouped ? el(doc, 'span', { class: 'gutter' }) : avatar(doc, m.from || '?'),
    el(doc, 'div', { class: 'msg-body' }, head, body,
      m.failed ? el(doc, 'div', { class: 'error-line' }, `Not sent: ${m.failed}`) : null));
}

/** imageView draws an image message's preview frame (filled in later). */
export function imageView(doc, m, opts = {}) {
  const im = m.image;
  const maxW = 320;
  const maxH = 240;
  let w = im.w || maxW;
  let h = im.h || maxH;
  const scale = Math.min(1, maxW / w, maxH / h);
  w = Math.max(48, Math.round(w * scale));
  h = Math.max(48, Math.round(h * scale));
  const fig = el(doc, 'figure', { class: 'image loading', dataset: { image: im.id || '' }, style: { width: `${w}px` } },
    el(doc, 'div', { class: 'frame', style: { height: `${h}px` } }, el(doc, 'span', { class: 'spinner', 'aria-hidden': 'true' })),
    el(doc, 'figcaption', {}, el(doc, 'span', { class: 'file' }, im.name || 'image'), ' · ', size(im.size)));
  if (opts.onImage && im.id) opts.onImage(fig, im);
  return fig;
}

/** convEntry draws a sidebar entry or tab: name and unread badge. */
export function convEntry(doc, c, active, onClick, onClose) {
  const b = badge(c.unread);
  return el(doc, 'li', { class: `conv-entry ${c.kind}${active ? ' active' : ''}${c.unread ? ' unread' : ''}`, dataset: { conv: c.id } },
    el(doc, 'button', { type: 'button', class: 'conv-open', title: c.name, on: { click: () => onClick(c.id) } },
      c.kind === 'room' ? el(doc, 'span', { class: 'hash', 'aria-hidden': 'true' }, '#') : avatar(doc, c.name, true),
      el(doc, 'span', { class: 'conv-name' }, c.name),
      b ? el(doc, 'span', { class: 'badge', 'aria-label': `${c.unread} unread` }, b) : null),
    onClose ? el(doc, 'button', { type: 'button', class: 'conv-close', title: `Close ${c.name}`, 'aria-label': `Close ${c.name}`, on: { click: () => onClose(c.id) } }, '×') : null);
}

/** memberEntry draws one member of the member list. */
export function memberEntry(doc, name, me, onClick) {
  const self = name === me;
  return el(doc, 'li', { class: `member${self ? ' me' : ''}` },
    el(doc, 'button', { type: 'button', disabled: self, title: self ? 'You' : `Chat privately with ${name}`, on: { click: () => onClick(name) } },
      avatar(doc, name, true), el(doc, 'span', { class: 'member-name' }, name), self ? el(doc, 'span', { class: 'you' }, 'you') : null));
}
