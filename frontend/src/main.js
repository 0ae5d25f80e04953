// main.js — the controller: screens, wiring of DOM events to the Go API,
// and drawing the view state. All chat decisions are made in Go (bridge/);
// this file keeps what is on screen in step with what the bridge reports.

import * as api from './api.js';
import * as S from './state.js';
import { el, clear, setText } from './dom.js';
import { keyAction, isBlank, codePoints, mentionTarget } from './compose.js';
import { stateLabel, connDetail, size } from './format.js';
import { avatar, convEntry, memberEntry, messageView } from './view.js';

const doc = document;
const $ = (id) => doc.getElementById(id);
const st = S.createState();
const images = new Map(); // image id -> data: URL (fetched previews)
let settings = {};
let isDesktop = false;
let renderQueued = false;
let pendingChange = null;
let lightboxImage = null;

// ---- boot -----------------------------------------------------------------

async function boot() {
  if (api.shell() === 'none') {
    try {
      const { loadBackend } = await import('./boot-wasm.js');
      await loadBackend();
    } catch (e) {
      fatal(`The Parley client could not be loaded: ${e.message || e}`);
      return;
    }
  }
  isDesktop = api.hasDesktop();
  doc.body.classList.add(isDesktop ? 'desktop' : 'browser');
  for (const e of doc.querySelectorAll('[data-desktop]')) e.hidden = !isDesktop;
  for (const e of doc.querySelectorAll('[data-browser]')) e.hidden = isDesktop;
  for (const e of doc.querySelectorAll('[data-browser-hide]')) e.hidden = !isDesktop;
  api.onEvents(onBatch);
  wire();
  settings = (await api.loadSettings().catch(() => ({}))) || {};
  let status = null;
  try {
    status = await api.call('Status');
  } catch { /* not connected */ }
  $('app').classList.remove('booting');
  if (status && (status.state === 'connected' || status.state === 'reconnecting')) {
    S.setStatus(st, status);
    showChat();
  } else if (!settings.name) {
    showScreen('welcome');
  } else {
    showConnect();
  }
  if (isDesktop) {
    api.onShellEvent('parley:host', (h) => showHostState(h));
    const test = await api.call('TestMode').catch(() => false);
    if (test) {
      const { startTestMode } = await import('./testmode.js');
      startTestMode({ st, call: api.call, render: renderAll, connect, activate, doc });
    }
  }
}

function fatal(text) {
  $('app').classList.remove('booting');
  clear($('app'));
  $('app').appendChild(el(doc, 'div', { class: 'fatal' }, text));
}

function showScreen(name) {
  for (const s of ['welcome', 'connect', 'chat']) $(`screen-${s}`).hidden = s !== name;
  if (name === 'welcome') $('welcome-name').focus();
}

// ---- first start and connecting -------------------------------------------

function showConnect(keepError = false) {
  setText($('connect-me'), settings.name || '');
  if (!keepError) setText($('connect-error'), '');
  if (settings.room) {
    $('browser-room').value = settings.room;
    $('manual-room').value = settings.room;
  }
  // The desktop offers the server of the last connection (the browser's
  // server is the page's own).
  const last = isDesktop && settings.server && settings.server !== 'inprocess' ? settings.server : '';
  $('last-server').hidden = !last;
  const lastName = $('last-server-name');
  clear(lastName);
  if (settings.serverName) lastName.append(el(doc, 'strong', {}, settings.serverName), ' · ');
  lastName.append(el(doc, 'span', { class: 'last-server-addr' }, last));
  showScreen('connect');
  if (isDesktop) refreshNearby();
}

async function refreshNearby() {
  const list = $('nearby-list');
  setText($('nearby-empty'), 'Looking for Parley servers on your network…');
  $('nearby-empty').hidden = false;
  let servers = [];
  try {
    servers = (await api.call('Nearby')) || [];
  } catch (e) {
    setText($('nearby-empty'), `Discovery failed: ${e.message}`);
    return;
  }
  clear(list);
  for (const s of servers) {
    list.appendChild(el(doc, 'li', {},
      el(doc, 'button', { type: 'button', class: 'nearby', on: { click: () => connect({ server: s.addr, certHash: s.certHash }) } }, // the rooms open there last time, or the lobby
        el(doc, 'span', { class: 'nearby-name' }, s.name || s.host),
        el(doc, 'span', { class: 'muted' }, `${s.addr}`),
        el(doc, 'span', { class: 'pill' }, `${s.members} online`))));
  }
  $('nearby-empty').hidden = servers.length > 0;
  if (!servers.length) setText($('nearby-empty'), 'No servers found on your network yet. Servers started with Host on LAN (or parley serve --lan) show up here.');
}

async function connect(req) {
  setText($('connect-error'), '');
  for (const b of doc.querySelectorAll('#screen-connect button')) b.disabled = true;
  try {
    const status = await api.call('Connect', { name: settings.name, ...req });
    S.setStatus(st, status);
    if (req.room) settings.room = req.room;
    // Kept for "Reconnect" next time: where this connection went (a link
    // or a nearby server included), and the server key it trusts, which
    // outlives the server's certificate renewals. The app keeps at most 64
    // characters of the server's name (parley serve allows no more).
    if (status.server && status.transport !== 'inprocess') {
      settings = await api.saveSettings({ ...settings, server: status.server, serverName: [...(status.serverName || '')].slice(0, 64).join('').trim(), certHash: status.certHash || '', keyHash: status.keyHash || '' }).catch(() => settings);
    } else {
      settings = await api.saveSettings(settings).catch(() => settings);
    }
    showChat();
    if (st.active) activate(st.active); // shown from the cache before the bridge knew it
  } catch (e) {
    setText($('connect-error'), e.message);
    if (e.code === 'name_taken' || e.code === 'bad_name') setText($('connect-error'), `${e.message} — choose another name.`);
  } finally {
    for (const b of doc.querySelectorAll('#screen-connect button')) b.disabled = false;
  }
}

function showChat() {
  showScreen('chat');
  const first = S.rooms(st)[0] || S.privates(st)[0];
  if (!st.active && first) activate(first.id);
  renderAll();
  $('input').focus();
}

// ---- events from Go ---------------------------------------------------------

function onBatch(batch) {
  const ch = S.applyEvents(st, batch);
  for (const n of ch.notices) toast(n.text, n.level);
  if (ch.closed.includes(st.active) || (!st.active && st.convs.size)) {
    const next = st.lastRoom || S.privates(st)[0]?.id || '';
    if (next) activate(next);
  }
  if (st.status.state === 'offline' && !$('screen-chat').hidden && st.convs.size === 0) showConnect(true);
  // The past of the conversations being connected to, from the history
  // cache: show it at once, before the server answers.
  if (st.status.state === 'connecting' && st.convs.size && $('screen-chat').hidden && !$('screen-connect').hidden) showChat();
  queueRender(ch);
}

function queueRender(ch) {
  pendingChange = mergeChange(pendingChange, ch);
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    const c = pendingChange;
    pendingChange = null;
    render(c);
  });
}

function mergeChange(a, b) {
  if (!a) return b;
  return { convs: new Set([...a.convs, ...b.convs]), sidebar: a.sidebar || b.sidebar, status: a.status || b.status, typing: a.typing || b.typing, uploads: a.uploads || b.uploads, notices: [], closed: [] };
}

// ---- activating a conversation ---------------------------------------------

async function activate(id) {
  if (!id || !st.convs.has(id)) return;
  st.active = id;
  if (st.convs.get(id).kind === 'room') st.lastRoom = id;
  renderAll();
  try {
    S.setStatus(st, await api.call('SetActive', id, doc.hasFocus() && !doc.hidden));
    renderSidebar();
  } catch { /* offline: the count updates later */ }
  if (!$('screen-chat').hidden) $('input').focus();
}

async function openPrivate(name) {
  try {
    const page = await api.call('OpenPrivate', name);
    S.applyPage(st, page);
    await activate(page.conversation.id);
  } catch (e) {
    toast(e.message, 'error');
  }
}

async function joinRoom(name) {
  const page = await api.call('JoinRoom', name);
  S.applyPage(st, page);
  settings.room = page.conversation.name;
  api.saveSettings(settings).catch(() => {});
  await activate(page.conversation.id);
}

// ---- rendering ----------------------------------------------------------------

function renderAll() {
  render({ convs: new Set([st.active]), sidebar: true, status: true, typing: true, uploads: true, notices: [], closed: [] });
}

function render(ch) {
  if (ch.status) renderStatus();
  if (ch.sidebar || ch.convs.size) renderSidebar();
  if (ch.convs.has(st.active) || ch.sidebar) renderConversation();
  if (ch.typing) renderTyping();
  if (ch.uploads) renderUploads();
}

function renderStatus() {
  const s = st.status;
  const conn = $('conn');
  conn.dataset.state = s.state || 'idle';
  setText($('conn-text'), stateLabel(s.state));
  const detail = connDetail(s);
  setText($('conn-transport'), detail ? `· ${detail}` : '');
  $('conn-transport').title = s.transport ? `Transport: ${s.transport}` : detail ? `Reconnecting: ${detail}` : '';
  setText($('server-name'), s.serverName || s.server || '');
  setText($('me-name'), s.name || settings.name || '');
  clear($('me-avatar'));
  if (s.name || settings.name) $('me-avatar').appendChild(avatar(doc, s.name || settings.name, true));
  if (!isDesktop) doc.title = s.unread ? `(${s.unread}) Parley` : 'Parley';
  $('composer').classList.toggle('offline', s.state !== 'connected');
  $('input').placeholder = s.state === 'connected' ? 'Message' : 'Message (sent when back online)';
}

function renderSidebar() {
  const rl = $('room-list');
  clear(rl);
  for (const c of S.rooms(st)) rl.appendChild(convEntry(doc, c, c.id === st.active, activate));
  const pl = $('private-list');
  clear(pl);
  for (const c of S.privates(st)) pl.appendChild(convEntry(doc, c, c.id === st.active, activate, closePrivate));
  const tabs = $('tabs');
  clear(tabs);
  const room = st.convs.get(st.lastRoom);
  const list = room ? [room, ...S.privates(st)] : S.privates(st);
  for (const c of list) {
    const t = convEntry(doc, c, c.id === st.active, activate, c.kind === 'private' ? closePrivate : null);
    t.setAttribute('role', 'tab');
    t.setAttribute('aria-selected', String(c.id === st.active));
    tabs.appendChild(t);
  }
  tabs.hidden = list.length === 0;
}

let renderedConv = '';
let renderedCount = 0;

function renderConversation() {
  const c = st.convs.get(st.active);
  const list = $('messages');
  const wrap = $('messages-wrap');
  if (!c) {
    clear(list);
    setText($('conv-title'), '');
    setText($('conv-sub'), '');
    $('leave-button').hidden = true;
    $('load-older').hidden = true;
    $('empty').hidden = false;
    setText($('empty'), 'Join a room to start chatting.');
    renderMembers(null);
    renderedConv = '';
    return;
  }
  setText($('conv-title'), c.kind === 'room' ? `# ${c.name}` : c.name);
  const n = (c.members || []).length;
  // A room shown from the cache before its join answered has no member
  // list yet: say nothing rather than "0 members".
  const known = n > 0 || st.status.state === 'connected';
  setText($('conv-sub'), c.kind === 'room' ? (known ? `${n} ${n === 1 ? 'member' : 'members'}` : '') : 'Private chat');
  $('leave-button').hidden = false;
  setText($('leave-button'), c.kind === 'room' ? 'Leave room' : 'Close chat');
  const msgs = st.messages.get(c.id) || [];
  const atBottom = wrap.scrollHeight - wrap.scrollTop - wrap.clientHeight < 40;
  const sameConv = renderedConv === c.id;
  const prevHeight = wrap.scrollHeight;
  const prevFirst = list.firstElementChild ? list.firstElementChild.dataset.seq : '';
  clear(list);
  let prev = null;
  for (const m of msgs) {
    list.appendChild(messageView(doc, m, { previous: prev, onImage: watchImage })); // in a private chat "→ name" says nothing new
    prev = m;
  }
  $('empty').hidden = msgs.length > 0;
  setText($('empty'), c.kind === 'room' ? 'No messages yet. Say hello!' : `This is the start of your private chat with ${c.name}.`);
  $('load-older').hidden = !c.hasOlder;
  if (!sameConv || atBottom || msgs.length - renderedCount === 0) {
    if (!sameConv || atBottom) wrap.scrollTop = wrap.scrollHeight;
  }
  if (sameConv && prevFirst && list.firstElementChild && list.firstElementChild.dataset.seq !== prevFirst && !atBottom) {
    wrap.scrollTop += wrap.scrollHeight - prevHeight; // older messages added above: keep the view still
  }
  renderedConv = c.id;
  renderedCount = msgs.length;
  renderMembers(c);
}

function renderMembers(c) {
  const ul = $('member-list');
  clear(ul);
  const names = c ? (c.kind === 'room' ? c.members || [] : [st.status.name, c.name].filter(Boolean)) : [];
  const sorted = [...names].sort((a, b) => a.localeCompare(b, undefined, { sensitivity: 'base' }));
  for (const n of sorted) ul.appendChild(memberEntry(doc, n, st.status.name, openPrivate));
  setText($('member-count'), names.length ? String(names.length) : '');
}

function renderTyping() {
  setText($('typing'), S.typingText(S.typingUsers(st, st.active, Date.now())));
}

function renderUploads() {
  const box = $('uploads');
  clear(box);
  for (const [local, u] of st.uploads) {
    if (u.conv && u.conv !== st.active) continue;
    const pct = u.total ? Math.round((100 * u.sent) / u.total) : 0;
    box.appendChild(el(doc, 'div', { class: 'upload', dataset: { local } },
      el(doc, 'span', {}, `Uploading… ${pct}% of ${size(u.total)}`),
      el(doc, 'progress', { max: '100', value: String(pct) })));
  }
}

// ---- images -----------------------------------------------------------------

const observer = typeof IntersectionObserver === 'function'
  ? new IntersectionObserver((entries) => {
    for (const e of entries) {
      if (!e.isIntersecting) continue;
      observer.unobserve(e.target);
      loadPreview(e.target);
    }
  }, { root: null, rootMargin: '200px' })
  : null;

function watchImage(fig, image) {
  fig.addEventListener('click', () => openLightbox(image));
  fig.tabIndex = 0;
  fig.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') openLightbox(image); });
  if (images.has(image.id)) {
    showPreview(fig, image.id, images.get(image.id));
  } else if (observer) {
    observer.observe(fig);
  } else {
    loadPreview(fig);
  }
}

async function loadPreview(fig) {
  const id = fig.dataset.image;
  try {
    const data = images.get(id) || (await api.call('FetchImage', id)).url;
    images.set(id, data);
    for (const f of doc.querySelectorAll(`figure[data-image="${CSS.escape(id)}"]`)) showPreview(f, id, data);
  } catch (e) {
    fig.classList.remove('loading');
    fig.classList.add('broken');
    const frame = fig.querySelector('.frame');
    clear(frame);
    frame.appendChild(el(doc, 'span', { class: 'broken-text' }, e.message));
  }
}

function showPreview(fig, id, url) {
  const frame = fig.querySelector('.frame');
  if (!frame || frame.querySelector('img')) return;
  clear(frame);
  const img = el(doc, 'img', { alt: '', dataset: { image: id }, decoding: 'async' });
  img.addEventListener('load', () => fig.classList.remove('loading'));
  img.src = url;
  frame.appendChild(img);
}

async function openLightbox(image) {
  lightboxImage = image;
  setText($('lightbox-name'), image.name || 'image');
  $('lightbox-img').removeAttribute('src');
  $('lightbox').hidden = false;
  try {
    const url = images.get(image.id) || (await api.call('FetchImage', image.id)).url;
    images.set(image.id, url);
    $('lightbox-img').src = url;
  } catch (e) {
    toast(e.message, 'error');
  }
}

async function saveImage() {
  const image = lightboxImage;
  if (!image) return;
  if (isDesktop) {
    try {
      const path = await api.call('SaveImage', image.id, image.name || 'image');
      if (path) toast(`Saved to ${path}`, 'info');
    } catch (e) {
      toast(e.message, 'error');
    }
    return;
  }
  const url = images.get(image.id);
  if (!url) return;
  const a = el(doc, 'a', { href: url, download: image.name || 'image' });
  doc.body.appendChild(a);
  a.click();
  a.remove();
}

async function sendImageFile(file) {
  const conv = st.active;
  if (!conv) return;
  if (!/^image\/(png|jpeg|gif|webp)$/.test(file.type)) {
    toast(`${file.name || 'That file'} is not a PNG, JPEG, GIF or WebP image.`, 'error');
    return;
  }
  const limit = st.status.limits?.image || 10485760;
  if (file.size > limit) {
    toast(`${file.name} is ${size(file.size)}; the server takes images up to ${size(limit)}.`, 'error');
    return;
  }
  try {
    const data = await api.readFileBase64(file);
    const m = await api.call('SendImage', { conv, name: file.name || 'pasted.png', data });
    if (m && m.conv) {
      S.addMessages(st, m.conv, [m]);
      queueRender({ convs: new Set([m.conv]), sidebar: false, status: false, typing: false, uploads: true, notices: [], closed: [] });
    }
  } catch (e) {
    toast(e.message, 'error');
  }
}

async function pickImage() {
  if (!st.active) return;
  if (!isDesktop) {
    $('file-input').click();
    return;
  }
  try {
    const m = await api.call('PickImage', st.active);
    if (m && m.conv) {
      S.addMessages(st, m.conv, [m]);
      renderAll();
    }
  } catch (e) {
    toast(e.message, 'error');
  }
}

// ---- sending ------------------------------------------------------------------

async function send() {
  const input = $('input');
  const text = input.value;
  if (isBlank(text) || !st.active) return;
  const limit = st.status.limits?.text || 4000;
  if (codePoints(text) > limit) {
    toast(`That message is ${codePoints(text)} characters long; the limit is ${limit}.`, 'error');
    return;
  }
  input.value = '';
  autosize();
  try {
    const m = await api.call('Send', { conv: st.active, text });
    if (m && m.conv) {
      S.addMessages(st, m.conv, [m]);
      queueRender({ convs: new Set([m.conv]), sidebar: true, status: false, typing: false, uploads: false, notices: [], closed: [] });
    }
  } catch (e) {
    if (!input.value) input.value = text;
    autosize();
    toast(e.message, 'error');
  }
}

let lastTyping = 0;
function typed() {
  autosize();
  const text = $('input').value;
  const limit = st.status.limits?.text || 4000;
  const n = codePoints(text);
  setText($('counter'), n > limit - 200 ? `${n}/${limit}` : '');
  $('counter').classList.toggle('over', n > limit);
  const c = st.convs.get(st.active);
  const target = c && c.kind === 'room' ? mentionTarget(text, c.members) : '';
  $('composer').classList.toggle('private-to', !!target);
  $('input').title = target ? `Sent privately to ${target}` : '';
  const now = Date.now();
  if (text && now - lastTyping > 2500 && st.active) {
    lastTyping = now;
    api.call('Typing', st.active).catch(() => {});
  }
}

function autosize() {
  const t = $('input');
  t.style.height = 'auto';
  t.style.height = `${Math.min(t.scrollHeight, 160)}px`;
}

async function closePrivate(id) {
  try {
    S.setStatus(st, await api.call('ClosePrivate', id));
  } catch (e) {
    toast(e.message, 'error');
  }
  S.removeConv(st, id);
  if (!st.active) activate(st.lastRoom);
  renderAll();
}

// ---- hosting (desktop) ----------------------------------------------------------

function showHostState(h) {
  const hosting = !!(h && h.hosting);
  $('hosting-button').hidden = !hosting;
  if (!hosting) {
    $('host-panel').hidden = true;
    return;
  }
  $('host-link').value = h.link || '';
  if (h.qr) $('host-qr').src = h.qr;
  setText($('host-sub'), `${h.serverName || 'Parley'} on port ${h.port}. Anyone on your network can join with the link or the QR code.`);
  setText($('host-hash'), h.certHash || '');
  const ul = $('host-addrs');
  clear(ul);
  for (const a of h.addresses || []) ul.appendChild(el(doc, 'li', {}, a));
}

async function startHosting() {
  setText($('connect-error'), '');
  $('host-start').disabled = true;
  try {
    const h = await api.call('StartHosting', { room: $('host-room').value.trim() || 'lobby', name: settings.name });
    showHostState(h);
    S.setStatus(st, await api.call('Status'));
    showChat();
    $('host-panel').hidden = false;
  } catch (e) {
    setText($('connect-error'), e.message);
  } finally {
    $('host-start').disabled = false;
  }
}

async function stopHosting() {
  try {
    showHostState(await api.call('StopHosting'));
  } catch (e) {
    toast(e.message, 'error');
  }
}

// ---- toasts -------------------------------------------------------------------

function toast(text, level = 'info') {
  if (!text) return;
  const t = el(doc, 'div', { class: `toast ${level}`, role: level === 'error' ? 'alert' : 'status' }, text);
  $('toasts').appendChild(t);
  setTimeout(() => t.classList.add('leaving'), 4500);
  setTimeout(() => t.remove(), 5000);
}

// ---- wiring -------------------------------------------------------------------

function wire() {
  $('welcome-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const name = $('welcome-name').value.trim();
    if (!name) return;
    if (codePoints(name) > 32) {
      setText($('welcome-error'), 'A name is at most 32 characters.');
      return;
    }
    try {
      settings = await api.saveSettings({ ...settings, name });
      showConnect();
    } catch (e) {
      setText($('welcome-error'), e.message);
    }
  });
  $('change-name').addEventListener('click', () => {
    $('welcome-name').value = settings.name || '';
    showScreen('welcome');
  });
  $('nearby-refresh').addEventListener('click', refreshNearby);
  $('link-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const link = $('link-input').value.trim();
    if (link) connect({ link });
  });
  $('manual-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const host = $('manual-host').value.trim();
    const port = $('manual-port').value.trim() || '4433';
    if (!host) return;
    const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
    connect({ server: `${h}:${port}`, certHash: $('manual-hash').value.trim(), room: $('manual-room').value.trim() });
  });
  $('browser-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    connect({ server: '', room: $('browser-room').value.trim() || 'lobby' });
  });
  $('host-start').addEventListener('click', startHosting);
  $('last-connect').addEventListener('click', () => connect({ server: settings.server, certHash: settings.certHash || '', keyHash: settings.keyHash || '' }));
  $('hosting-button').addEventListener('click', () => { $('host-panel').hidden = false; });
  $('host-close').addEventListener('click', () => { $('host-panel').hidden = true; });
  $('host-stop').addEventListener('click', stopHosting);
  $('host-copy').addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText($('host-link').value);
      toast('Join link copied', 'info');
    } catch {
      $('host-link').select();
    }
  });
  $('disconnect-button').addEventListener('click', async () => {
    try { S.setStatus(st, await api.call('Disconnect')); } catch { /* already */ }
    for (const id of [...st.convs.keys()]) S.removeConv(st, id);
    st.active = '';
    st.lastRoom = '';
    showConnect();
  });
  $('join-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const name = $('join-input').value.trim();
    if (!name) return;
    try {
      await joinRoom(name);
      $('join-input').value = '';
      $('server-rooms').hidden = true;
    } catch (e) {
      toast(e.message, 'error');
    }
  });
  $('browse-rooms').addEventListener('click', async () => {
    const ul = $('server-rooms');
    if (!ul.hidden) {
      ul.hidden = true;
      return;
    }
    try {
      const list = (await api.call('ServerRooms')) || [];
      clear(ul);
      for (const r of list) {
        ul.appendChild(el(doc, 'li', {}, el(doc, 'button', { type: 'button', class: r.joined ? 'joined' : '', on: { click: () => joinRoom(r.room).then(() => { ul.hidden = true; }).catch((e) => toast(e.message, 'error')) } },
          el(doc, 'span', { class: 'hash' }, '#'), el(doc, 'span', { class: 'conv-name' }, r.room), el(doc, 'span', { class: 'muted' }, String(r.members)))));
      }
      if (!list.length) ul.appendChild(el(doc, 'li', { class: 'muted' }, 'No rooms yet'));
      ul.hidden = false;
    } catch (e) {
      toast(e.message, 'error');
    }
  });
  $('leave-button').addEventListener('click', async () => {
    const c = st.convs.get(st.active);
    if (!c) return;
    if (c.kind === 'private') {
      closePrivate(c.id);
      return;
    }
    try {
      S.setStatus(st, await api.call('LeaveRoom', c.id));
      if (settings.room && settings.room.toLowerCase() === c.name.toLowerCase()) {
        // Left for good: not the room to offer (or join) next time.
        settings.room = '';
        api.saveSettings(settings).catch(() => {});
      }
      S.removeConv(st, c.id);
      if (st.active) activate(st.active);
      renderAll();
    } catch (e) {
      toast(e.message, 'error');
    }
  });
  $('load-older').addEventListener('click', async () => {
    const id = st.active;
    $('load-older').disabled = true;
    try {
      const page = await api.call('LoadOlder', id);
      S.applyPage(st, page, true);
      renderConversation();
    } catch (e) {
      toast(e.message, 'error');
    } finally {
      $('load-older').disabled = false;
    }
  });
  const input = $('input');
  input.addEventListener('keydown', (ev) => {
    const a = keyAction(ev);
    if (a === 'send') {
      ev.preventDefault();
      send();
    }
  });
  input.addEventListener('input', typed);
  input.addEventListener('paste', (ev) => {
    const files = [...(ev.clipboardData?.files || [])].filter((f) => f.type.startsWith('image/'));
    if (files.length) {
      ev.preventDefault();
      for (const f of files) sendImageFile(f);
    }
  });
  $('composer').addEventListener('submit', (ev) => {
    ev.preventDefault();
    send();
  });
  $('image-button').addEventListener('click', pickImage);
  $('file-input').addEventListener('change', () => {
    for (const f of $('file-input').files) sendImageFile(f);
    $('file-input').value = '';
  });
  // Drag and drop: the desktop receives dropped files as paths through
  // Wails (Go sends them to the active conversation); the browser reads them here.
  let dragDepth = 0;
  doc.addEventListener('dragenter', (ev) => {
    if (!ev.dataTransfer || ![...ev.dataTransfer.types].includes('Files') || $('screen-chat').hidden) return;
    dragDepth++;
    $('drop-hint').hidden = false;
  });
  doc.addEventListener('dragleave', () => {
    dragDepth = Math.max(0, dragDepth - 1);
    if (!dragDepth) $('drop-hint').hidden = true;
  });
  doc.addEventListener('dragover', (ev) => ev.preventDefault());
  doc.addEventListener('drop', (ev) => {
    ev.preventDefault();
    dragDepth = 0;
    $('drop-hint').hidden = true;
    if (isDesktop || $('screen-chat').hidden) return;
    for (const f of ev.dataTransfer?.files || []) sendImageFile(f);
  });
  $('lightbox-close').addEventListener('click', () => { $('lightbox').hidden = true; });
  $('lightbox').addEventListener('click', (ev) => { if (ev.target === $('lightbox')) $('lightbox').hidden = true; });
  $('lightbox-save').addEventListener('click', saveImage);
  doc.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape') {
      $('lightbox').hidden = true;
      $('host-panel').hidden = true;
    }
  });
  const focusChanged = () => {
    if (st.active) api.call('SetActive', st.active, doc.hasFocus() && !doc.hidden).then((s) => { S.setStatus(st, s); renderSidebar(); }).catch(() => {});
  };
  window.addEventListener('focus', focusChanged);
  window.addEventListener('blur', focusChanged);
  doc.addEventListener('visibilitychange', focusChanged);
  setInterval(renderTyping, 1000);
}

boot();
