import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fakeDocument } from './fakedom.js';
import { el } from '../src/dom.js';
import { messageView, convEntry, memberEntry } from '../src/view.js';

const XSS = [
  '<img src=x onerror=alert(1)>',
  '<script>alert(1)</script>',
  '"><svg onload=alert(1)>',
  'javascript:alert(1)',
  '&lt;b&gt;bold&lt;/b&gt;',
];

test('message text, sender and file names are rendered as text nodes', () => {
  for (const payload of XSS) {
    const doc = fakeDocument();
    const m = { conv: 'r:l', kind: 'text', seq: 1, from: payload, text: payload, ts: '2026-11-25T21:00:00.000Z' };
    const li = messageView(doc, m);
    assert.ok(li.textContent.includes(payload), 'the payload shows verbatim');
    const texts = li.all((n) => n.isText).map((n) => n.textContent);
    assert.ok(texts.includes(payload), 'as a text node');
    assert.deepEqual(doc.violations, []);
    assert.equal(li.all((n) => n.tagName === 'script' || n.tagName === 'img').length, 0, 'no element made from text');

    const img = messageView(doc, { conv: 'r:l', kind: 'image', seq: 2, from: 'Bob', ts: '', image: { id: 'ab', name: payload, w: 10, h: 10, size: 10 } });
    assert.ok(img.textContent.includes(payload));
    assert.deepEqual(doc.violations, []);
  }
});

test('room names, private chat names and members are text', () => {
  for (const payload of XSS) {
    const doc = fakeDocument();
    const e = convEntry(doc, { id: 'r:x', kind: 'room', name: payload, unread: 120 }, true, () => {}, null);
    assert.ok(e.textContent.includes(payload));
    assert.ok(e.textContent.includes('99+'), 'big unread counts are capped');
    const p = convEntry(doc, { id: 'p:x', kind: 'private', name: payload, unread: 0 }, false, () => {}, () => {});
    assert.ok(p.textContent.includes(payload));
    const mm = memberEntry(doc, payload, 'me', () => {});
    assert.ok(mm.textContent.includes(payload));
    assert.deepEqual(doc.violations, []);
  }
});

test('join and leave notices, pending and failed messages', () => {
  const doc = fakeDocument();
  assert.equal(messageView(doc, { kind: 'joined', from: 'Bob', ts: '' }).textContent, 'Bob joined');
  assert.equal(messageView(doc, { kind: 'left', from: 'Bob', ts: '' }).textContent, 'Bob left');
  const pending = messageView(doc, { kind: 'text', from: 'Me', text: 'x', pending: true, mine: true, local: 'l1' });
  assert.match(pending.className, /pending/);
  assert.ok(pending.textContent.includes('sending…'));
  assert.equal(pending.dataset.local, 'l1');
  const failed = messageView(doc, { kind: 'text', from: 'Me', text: 'x', failed: 'too fast' });
  assert.ok(failed.textContent.includes('Not sent: too fast'));
});

test('el refuses event handler attributes', () => {
  const doc = fakeDocument();
  assert.throws(() => el(doc, 'div', { onclick: 'alert(1)' }));
  assert.throws(() => el(doc, 'div', { ONERROR: 'x' }));
});

test('image previews are handed to the loader, not fetched by the view', () => {
  const doc = fakeDocument();
  const seen = [];
  const fig = messageView(doc, { kind: 'image', from: 'B', ts: '', image: { id: 'abc', name: 'a.png', w: 1000, h: 500, size: 1 } }, { onImage: (f, im) => seen.push(im.id) });
  assert.deepEqual(seen, ['abc']);
  const figure = fig.find((n) => n.tagName === 'figure');
  assert.equal(figure.style.props.width, '320px', 'scaled to fit 320×240');
  assert.equal(fig.all((n) => n.tagName === 'img').length, 0, 'no <img> until it scrolls into view');
});
