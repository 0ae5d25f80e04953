import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as S from '../src/state.js';

const room = (id, name, extra = {}) => ({ id, kind: 'room', name, unread: 0, members: [], hasOlder: false, ...extra });
const priv = (id, name, extra = {}) => ({ id, kind: 'private', name, unread: 0, hasOlder: false, ...extra });
const msg = (conv, seq, text, extra = {}) => ({ conv, kind: 'text', seq, text, from: 'Bob', ts: '2026-11-25T21:00:00.000Z', ...extra });

test('rooms and private chats are filed by kind and sorted by name', () => {
  const st = S.createState();
  S.applyEvents(st, [
    { kind: 'conversation', conversation: room('r:zoo', 'zoo') },
    { kind: 'conversation', conversation: room('r:lobby', 'Lobby') },
    { kind: 'conversation', conversation: priv('p:bob', 'Bob') },
  ]);
  assert.deepEqual(S.rooms(st).map((c) => c.name), ['Lobby', 'zoo']);
  assert.deepEqual(S.privates(st).map((c) => c.name), ['Bob']);
  assert.equal(st.lastRoom, 'r:zoo', 'the first room seen becomes the room tab');
});

test('unread counts come from the bridge and are summed', () => {
  const st = S.createState();
  const ch = S.applyEvents(st, [
    { kind: 'conversation', conversation: room('r:lobby', 'lobby', { unread: 3 }) },
    { kind: 'conversation', conversation: priv('p:bob', 'Bob', { unread: 2 }) },
  ]);
  assert.ok(ch.sidebar);
  assert.equal(st.status.unread, 5);
  S.applyEvents(st, [{ kind: 'conversation', conversation: priv('p:bob', 'Bob', { unread: 0 }) }]);
  assert.equal(S.totalUnread(st), 3);
});

test('a private message lands only in its private conversation', () => {
  const st = S.createState();
  S.applyEvents(st, [
    { kind: 'conversation', conversation: room('r:lobby', 'lobby') },
    { kind: 'conversation', conversation: priv('p:bob', 'Bob') },
    { kind: 'message', message: msg('p:bob', 1, 'psst', { to: 'Alice' }) },
    { kind: 'message', message: msg('r:lobby', 7, 'hi all') },
  ]);
  assert.deepEqual(st.messages.get('p:bob').map((m) => m.text), ['psst']);
  assert.deepEqual(st.messages.get('r:lobby').map((m) => m.text), ['hi all']);
});

test('messages are kept in seq order, once each', () => {
  const st = S.createState();
  S.upsertConv(st, room('r:lobby', 'lobby'));
  S.addMessages(st, 'r:lobby', [msg('r:lobby', 2, 'b'), msg('r:lobby', 4, 'd')]);
  S.addMessages(st, 'r:lobby', [msg('r:lobby', 3, 'c'), msg('r:lobby', 2, 'b again')]);
  S.addMessages(st, 'r:lobby', [msg('r:lobby', 1, 'a')], true);
  assert.deepEqual(st.messages.get('r:lobby').map((m) => m.seq), [1, 2, 3, 4]);
  assert.equal(st.messages.get('r:lobby')[1].text, 'b again', 'a repeat updates, never duplicates');
});

test('a pending message is acknowledged in place, or marked failed', () => {
  const st = S.createState();
  S.upsertConv(st, room('r:lobby', 'lobby'));
  S.addMessages(st, 'r:lobby', [{ conv: 'r:lobby', kind: 'text', text: 'mine', local: 'l1', pending: true, mine: true }]);
  S.addMessages(st, 'r:lobby', [{ conv: 'r:lobby', kind: 'text', text: 'mine too', local: 'l2', pending: true, mine: true }]);
  let ch = S.applyEvents(st, [{ kind: 'ack', conv: 'r:lobby', local: 'l1', seq: 9, ts: '2026-11-25T21:00:01.000Z' }]);
  assert.ok(ch.convs.has('r:lobby'));
  const [m1, m2] = st.messages.get('r:lobby');
  assert.equal(m1.pending, false);
  assert.equal(m1.seq, 9);
  ch = S.applyEvents(st, [{ kind: 'failed', conv: 'r:lobby', local: 'l2', error: { code: 'rate_limited', message: 'slow down' } }]);
  assert.equal(m2.failed, 'slow down');
  // An image echo with the same local id replaces the pending copy.
  S.addMessages(st, 'r:lobby', [{ conv: 'r:lobby', kind: 'image', local: 'l3', pending: true, image: { name: 'a.png' } }]);
  S.applyEvents(st, [{ kind: 'message', message: { conv: 'r:lobby', kind: 'image', local: 'l3', seq: 10, image: { id: 'ab', name: 'a.png' } } }]);
  const imgs = st.messages.get('r:lobby').filter((m) => m.kind === 'image');
  assert.equal(imgs.length, 1);
  assert.equal(imgs[0].image.id, 'ab');
});

test('leaving a room closes it and moves the view', () => {
  const st = S.createState();
  S.applyEvents(st, [
    { kind: 'conversation', conversation: room('r:a', 'a') },
    { kind: 'conversation', conversation: room('r:b', 'b') },
  ]);
  st.active = 'r:a';
  const ch = S.applyEvents(st, [{ kind: 'closed', conv: 'r:a' }]);
  assert.deepEqual(ch.closed, ['r:a']);
  assert.equal(st.convs.has('r:a'), false);
  assert.equal(st.active, 'r:b');
});

test('typing is forgotten when the connection is lost', () => {
  const st = S.createState();
  S.upsertConv(st, room('r:lobby', 'lobby'));
  S.applyEvents(st, [{ kind: 'state', status: { state: 'connected', conversations: [] } }, { kind: 'typing', conv: 'r:lobby', user: 'Bob' }], 1000);
  assert.deepEqual(S.typingUsers(st, 'r:lobby', 1500), ['Bob']);
  const ch = S.applyEvents(st, [{ kind: 'state', status: { state: 'reconnecting', conversations: [] } }], 1600);
  assert.equal(ch.typing, true);
  assert.deepEqual(S.typingUsers(st, 'r:lobby', 1700), []);
});

test('typing expires and is cleared by a message from the typist', () => {
  const st = S.createState();
  S.upsertConv(st, room('r:lobby', 'lobby'));
  S.applyEvents(st, [{ kind: 'typing', conv: 'r:lobby', user: 'Bob' }, { kind: 'typing', conv: 'r:lobby', user: 'Carol' }], 1000);
  assert.deepEqual(S.typingUsers(st, 'r:lobby', 1500), ['Bob', 'Carol']);
  assert.equal(S.typingText(S.typingUsers(st, 'r:lobby', 1500)), 'Bob and Carol are typing…');
  S.applyEvents(st, [{ kind: 'message', message: msg('r:lobby', 1, 'hi', { from: 'Bob' }) }], 1600);
  assert.deepEqual(S.typingUsers(st, 'r:lobby', 1700), ['Carol']);
  assert.deepEqual(S.typingUsers(st, 'r:lobby', 1000 + S.TYPING_MS), []);
  assert.equal(S.typingText([]), '');
  assert.equal(S.typingText(['a', 'b', 'c']), '3 people are typing…');
});

test('a status replaces the conversation list; unknown events are ignored', () => {
  const st = S.createState();
  S.upsertConv(st, room('r:old', 'old'));
  S.applyEvents(st, [
    { kind: 'state', status: { state: 'reconnecting', transport: '' } },
    { kind: 'from-the-future', x: 1 },
    null,
  ]);
  assert.equal(st.status.state, 'reconnecting');
  assert.ok(st.convs.has('r:old'), 'a state event without conversations keeps them');
  S.setStatus(st, { state: 'connected', conversations: [room('r:new', 'new')] });
  assert.deepEqual([...st.convs.keys()], ['r:new']);
});

test('history: older pages go first and oldestSeq follows', () => {
  const st = S.createState();
  S.applyPage(st, { conversation: room('r:l', 'l'), messages: [msg('r:l', 51, 'x'), msg('r:l', 52, 'y')], hasOlder: true });
  assert.equal(S.oldestSeq(st, 'r:l'), 51);
  assert.equal(st.convs.get('r:l').hasOlder, true);
  S.applyPage(st, { conversation: room('r:l', 'l'), messages: [msg('r:l', 1, 'a'), msg('r:l', 50, 'w')], hasOlder: false }, true);
  assert.deepEqual(st.messages.get('r:l').map((m) => m.seq), [1, 50, 51, 52]);
  assert.equal(st.convs.get('r:l').hasOlder, false);
});

test('the message list is bounded', () => {
  const st = S.createState();
  S.upsertConv(st, room('r:l', 'l'));
  const many = [];
  for (let i = 1; i <= S.MAX_MESSAGES + 5; i++) many.push(msg('r:l', i, String(i)));
  S.addMessages(st, 'r:l', many);
  assert.equal(st.messages.get('r:l').length, S.MAX_MESSAGES);
  assert.equal(st.messages.get('r:l')[0].seq, 6);
});

test('reset starts a conversation over: old seqs are dropped, pending sends stay, the new epoch fills it', () => {
  const st = S.createState();
  S.applyEvents(st, [
    { kind: 'conversation', conversation: room('r:lobby', 'lobby') },
    { kind: 'conversation', conversation: room('r:other', 'other') },
    { kind: 'message', message: msg('r:lobby', 1, 'old one') },
    { kind: 'message', message: msg('r:lobby', 2, 'old two') },
    { kind: 'message', message: msg('r:lobby', 0, 'typed', { local: 'l1', pending: true, mine: true }) },
    { kind: 'message', message: msg('r:other', 1, 'untouched') },
  ]);
  const ch = S.applyEvents(st, [
    { kind: 'reset', conv: 'r:lobby' },
    { kind: 'message', message: { conv: 'r:lobby', kind: 'notice', text: 'Older messages are gone: the server lost its history.' } },
    { kind: 'message', message: msg('r:lobby', 1, 'new one') },
  ]);
  assert.ok(ch.convs.has('r:lobby'));
  const texts = st.messages.get('r:lobby').map((m) => m.text);
  assert.deepEqual(texts, ['typed', 'Older messages are gone: the server lost its history.', 'new one'],
    'seq 1 of the new epoch is not merged into the old seq 1');
  assert.deepEqual(st.messages.get('r:other').map((m) => m.text), ['untouched']);
  S.applyEvents(st, [{ kind: 'reset', conv: 'r:nowhere' }]);
  assert.ok(!st.messages.has('r:nowhere'), 'a reset of an unknown conversation creates nothing');
});
