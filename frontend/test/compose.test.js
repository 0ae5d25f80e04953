import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keyAction, isBlank, codePoints, mentionTarget } from '../src/compose.js';
import { connDetail } from '../src/format.js';

test('Enter sends, Shift+Enter is a new line', () => {
  assert.equal(keyAction({ key: 'Enter' }), 'send');
  assert.equal(keyAction({ key: 'Enter', shiftKey: true }), 'newline');
  assert.equal(keyAction({ key: 'a' }), 'none');
  assert.equal(keyAction({ key: 'Enter', ctrlKey: true }), 'none');
});

test('an IME composition is never sent half-way', () => {
  assert.equal(keyAction({ key: 'Enter', isComposing: true }), 'none');
  assert.equal(keyAction({ key: 'Enter', keyCode: 229 }), 'none', 'legacy composition keyCode');
});

test('blank text and code point counts', () => {
  assert.ok(isBlank(''));
  assert.ok(isBlank(' \n\t'));
  assert.ok(!isBlank(' a '));
  assert.equal(codePoints('héllo'), 5);
  assert.equal(codePoints('😀😀'), 2, 'counted as the protocol does, not in UTF-16 units');
});

test('@name hints the member a line goes to privately', () => {
  const members = ['Bob', 'Bob Smith', 'Zoë'];
  assert.equal(mentionTarget('@bob hi', members), 'Bob');
  assert.equal(mentionTarget('@Bob Smith hi', members), 'Bob Smith');
  assert.equal(mentionTarget('@zoë salut', members), 'Zoë');
  assert.equal(mentionTarget('@Bob', members), '');
  assert.equal(mentionTarget('hi @Bob you', members), '');
  assert.equal(mentionTarget('@nobody hi', members), '');
});

test('the connection detail: the transport, or why while reconnecting', () => {
  assert.equal(connDetail({ state: 'connected', transport: 'webtransport', reason: '' }), 'webtransport');
  assert.equal(connDetail({ state: 'reconnecting', transport: '', reason: 'the server is full' }), 'the server is full');
  assert.equal(connDetail({ state: 'reconnecting', transport: '', reason: '' }), '');
  assert.equal(connDetail({ state: 'connected', transport: 'websocket', reason: 'stale' }), 'websocket');
  assert.equal(connDetail(null), '');
});
