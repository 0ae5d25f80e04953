import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toApiError, shell, call, onEvents, ApiError } from '../src/api.js';

test('errors "code: message" are split for the UI', () => {
  const e = toApiError('name_taken: the name Bob is taken');
  assert.equal(e.code, 'name_taken');
  assert.equal(e.message, 'the name Bob is taken');
  assert.equal(toApiError(new Error('bad_room: room name is empty')).code, 'bad_room');
  assert.equal(toApiError('something odd').code, 'error');
});

test('shell detection', () => {
  assert.equal(shell({}), 'none');
  assert.equal(shell({ go: { app: { App: {} } } }), 'desktop');
  assert.equal(shell({ parley: { call() {} } }), 'browser');
});

test('the browser shell: call with a JSON array, results parsed, events parsed', async () => {
  const calls = [];
  let cb;
  globalThis.parley = {
    call: async (method, args) => {
      calls.push([method, args]);
      if (method === 'Bad') throw new Error('not_member: you are not in that room');
      return JSON.stringify({ ok: method });
    },
    onEvents: (f) => { cb = f; },
  };
  try {
    assert.deepEqual(await call('JoinRoom', 'lobby'), { ok: 'JoinRoom' });
    assert.deepEqual(calls[0], ['JoinRoom', '["lobby"]']);
    await assert.rejects(call('Bad'), (e) => e instanceof ApiError && e.code === 'not_member');
    const got = [];
    onEvents((b) => got.push(b));
    cb('[{"kind":"state"}]');
    cb([{ kind: 'typing' }]);
    cb('not json');
    assert.deepEqual(got, [[{ kind: 'state' }], [{ kind: 'typing' }]]);
  } finally {
    delete globalThis.parley;
  }
});

test('the desktop shell: bound methods and Wails events', async () => {
  let name;
  globalThis.go = { app: { App: { Status: async () => ({ state: 'idle' }), Fail: async () => { throw 'bad_name: name is empty'; } } } };
  globalThis.runtime = { EventsOn: (n) => { name = n; return () => {}; } };
  try {
    assert.deepEqual(await call('Status'), { state: 'idle' });
    await assert.rejects(call('Fail'), (e) => e.code === 'bad_name');
    await assert.rejects(call('Missing'), (e) => e.code === 'unsupported');
    onEvents(() => {});
    assert.equal(name, 'parley:events');
  } finally {
    delete globalThis.go;
    delete globalThis.runtime;
  }
});
