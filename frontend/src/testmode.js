// testmode.js — loaded only when the desktop app runs under its smoke
// test (app.App.TestMode, set by PARLEY_TEST_REPORT). It drives the UI the
// way a person would — typing, pressing Enter, clicking tabs — and reports
// what the DOM shows, read back from the DOM, to the test.

const STEP_TIMEOUT = 60000;

export function startTestMode({ st, call, doc }) {
  const $ = (id) => doc.getElementById(id);
  const seen = {}; // conv -> texts shown in the message list
  const facts = { compositionSafe: false, log: [] };
  let step = 'start';

  const texts = (sel) => [...doc.querySelectorAll(sel)].map((e) => e.textContent.trim());
  const loadedImages = () => [...doc.querySelectorAll('#messages img')].filter((i) => i.complete && i.naturalWidth > 0).map((i) => i.dataset.image);

  function snapshot() {
    const shown = [...doc.querySelectorAll('#messages li')].map((li) => ({
      kind: li.dataset.kind || '', text: li.textContent.replace(/\s+/g, ' ').trim(),
    }));
    if (st.active) {
      const s = (seen[st.active] = seen[st.active] || []);
      for (const m of shown) if (!s.includes(m.text)) s.push(m.text);
    }
    const visible = ['welcome', 'connect', 'chat'].find((n) => !$(`screen-${n}`).hidden) || '';
    return {
      step, screen: visible, active: st.active,
      conn: $('conn-text').textContent, transport: $('conn-transport').textContent,
      rooms: texts('#room-list .conv-name'), tabs: texts('#tabs .conv-name'), badges: texts('#tabs .badge'),
      members: texts('#member-list .member-name'), typing: $('typing').textContent,
      shown, seen, imagesLoaded: loadedImages(), ...facts,
    };
  }

  const report = () => call('TestReport', snapshot()).catch(() => {});
  setInterval(report, 500);

  async function until(what, pred) {
    const deadline = Date.now() + STEP_TIMEOUT;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const shownHas = (text) => [...doc.querySelectorAll('#messages li')].some((li) => li.textContent.includes(text));
  const setStep = (s) => { step = s; facts.log.push(s); return report(); };

  function type(text, init = {}) {
    const input = $('input');
    input.focus();
    input.value = text;
    input.dispatchEvent(new Event('input', { bubbles: true }));
    input.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true, cancelable: true, ...init }));
  }
  function clickTab(name) {
    const li = [...doc.querySelectorAll('#tabs .conv-entry')].find((e) => e.querySelector('.conv-name').textContent === name);
    if (!li) throw new Error(`no tab ${name}`);
    li.querySelector('.conv-open').click();
  }

  (async () => {
    try {
      await until('a first screen', () => !$('screen-welcome').hidden || !$('screen-connect').hidden || !$('screen-chat').hidden);
      if (!$('screen-welcome').hidden) {
        $('welcome-name').value = 'Host';
        await setStep('welcome');
        await call('TestGate', 'welcome');
        $('welcome-form').requestSubmit();
      }
      await until('the connect screen', () => !$('screen-connect').hidden);
      await setStep('connect');
      await call('TestGate', 'connect');
      // The last server, kept from an earlier run (the test seeds it with
      // a server whose certificate was renewed since): Reconnect, then
      // back to the connect screen.
      if (!$('last-server').hidden) {
        facts.lastServer = $('last-server-name').textContent;
        $('last-connect').click();
        await until('connected to the last server', () => !$('screen-chat').hidden && $('conn-text').textContent === 'Connected');
        await setStep('reconnected');
        await call('TestGate', 'reconnected');
        $('disconnect-button').click();
        await until('the connect screen again', () => !$('screen-connect').hidden);
      }
      $('host-room').value = 'lobby';
      $('host-start').click();
      await until('hosting and connected', () => !$('screen-chat').hidden && $('conn-text').textContent === 'Connected' && !$('host-panel').hidden && $('host-link').value !== '');
      await setStep('hosting');

      await until('Tester in the member list', () => texts('#member-list .member-name').includes('Tester'));
      $('host-panel').hidden = true;
      // An IME composition's Enter must not send.
      type('half-way', { isComposing: true });
      facts.compositionSafe = $('input').value === 'half-way' && !shownHas('half-way');
      type('hello from desktop');
      await until('own message shown', () => shownHas('hello from desktop'));
      await setStep('sent-room');

      await until('Tester\'s room message', () => shownHas('hello desktop'));
      await until('private tab', () => texts('#tabs .conv-name').includes('Tester'));
      clickTab('Tester');
      await until('private message in its tab', () => shownHas('psst desktop'));
      type('private reply');
      await until('private reply shown', () => shownHas('private reply'));
      await until('private reply acknowledged', () => !doc.querySelector('#messages .msg.pending'));
      await setStep('sent-private');
      await until('Tester\'s image in the room', () => (st.messages.get('r:lobby') || []).some((m) => m.kind === 'image' && m.from === 'Tester'));

      clickTab('lobby');
      await until('Tester\'s image loaded', () => loadedImages().length >= 1);
      await call('TestDropImage');
      await until('own image loaded', () => loadedImages().length >= 2);
      facts.lobbyHasPrivate = shownHas('psst desktop') || shownHas('private reply');
      await setStep('done');

      // Tester's guest session ended (the server dropped its private chat)
      // and a new Tester came: reopening the chat from the member list
      // says the older messages are gone, and why.
      await call('TestGate', 'gone');
      const tab = [...doc.querySelectorAll('#tabs .conv-entry')].find((e) => e.querySelector('.conv-name').textContent === 'Tester');
      if (tab) tab.querySelector('.conv-close').click();
      await until('the private tab closed', () => !texts('#tabs .conv-name').includes('Tester'));
      await until('Tester back in the member list', () => texts('#member-list .member-name').includes('Tester'));
      const member = [...doc.querySelectorAll('#member-list .member')].find((e) => e.querySelector('.member-name').textContent === 'Tester');
      member.querySelector('button').click();
      await until('the gone notice', () => shownHas('Older messages are gone'));
      type('welcome back');
      await until('welcome back acknowledged', () => shownHas('welcome back') && !doc.querySelector('#messages .msg.pending'));
      await setStep('gone');
    } catch (e) {
      facts.error = String(e && e.message ? e.message : e);
      await setStep('failed');
    }
  })();
}
