// state.js — the UI's view state: what is on screen and what arrived.
// Pure logic, no DOM, no Go calls: the Go bridge decides unread counts,
// conversations and delivery; this module only files what it reports so
// the view can draw it. Tested with `node --test frontend/test/`.

export const TYPING_MS = 4000;
export const MAX_MESSAGES = 2000; // per conversation kept on screen

/** createState returns an empty view state. */
export function createState() {
  return {
    status: { state: 'idle', transport: '', name: '', serverName: '', unread: 0, limits: { text: 4000, image: 10485760 } },
    convs: new Map(), // id -> {id, kind, name, unread, members, hasOlder}
    messages: new Map(), // id -> [message]
    active: '', // conversation on screen
    lastRoom: '', // the room shown in the room tab
    typing: new Map(), // conv -> Map(user -> expiry ms)
    uploads: new Map(), // local -> {sent, total, conv}
    notices: [], // {text, level, at}
  };
}

/** rooms returns the room conversations in sidebar order (by name). */
export function rooms(st) {
  return [...st.convs.values()].filter((c) => c.kind === 'room').sort((a, b) => cmp(a.name, b.name));
}

/** privates returns the private chats in tab order (by name). */
export function privates(st) {
  return [...st.convs.values()].filter((c) => c.kind === 'private').sort((a, b) => cmp(a.name, b.name));
}

function cmp(a, b) {
  return a.localeCompare(b, undefined, { sensitivity: 'base' });
}

/** totalUnread sums the unread counts of every conversation. */
export function totalUnread(st) {
  let n = 0;
  for (const c of st.convs.values()) n += c.unread || 0;
  return n;
}

/** upsertConv files a Conversation as the bridge reports it. */
export function upsertConv(st, c) {
  if (!c || typeof c.id !== 'string' || !c.id) return;
  const old = st.convs.get(c.id) || {};
  st.convs.set(c.id, { ...old, ...c, members: c.members || (c.kind === 'room' ? old.members || [] : undefined) });
  if (!st.messages.has(c.id)) st.messages.set(c.id, []);
  if (c.kind === 'room' && !st.lastRoom) st.lastRoom = c.id;
}

/** removeConv forgets a conversation (a room left, a private tab closed). */
export function removeConv(st, id) {
  st.convs.delete(id);
  st.messages.delete(id);
  st.typing.delete(id);
  if (st.lastRoom === id) st.lastRoom = rooms(st)[0]?.id || '';
  if (st.active === id) st.active = st.lastRoom || privates(st)[0]?.id || '';
}

/** setStatus applies a Status (from a call or a "state" event). */
export function setStatus(st, s) {
  if (!s) return;
  st.status = { ...st.status, ...s, conversations: undefined };
  if (Array.isArray(s.conversations)) {
    const keep = new Set(s.conversations.map((c) => c.id));
    for (const id of [...st.convs.keys()]) if (!keep.has(id)) removeConv(st, id);
    for (const c of s.conversations) upsertConv(st, c);
  }
}

/** messageKey identifies a message for de-duplication. */
function sameMessage(a, b) {
  if (a.local && b.local) return a.local === b.local;
  if (a.seq && b.seq) return a.seq === b.seq && a.kind !== 'broadcast';
  return false;
}

/**
 * addMessages merges msgs into conversation conv: messages with a seq are
 * kept in seq order and never twice; a pending message (local id) is
 * replaced by its acknowledged copy; messages without seq (notices) go
 * where they arrive. older=true puts them before what is there.
 */
export function addMessages(st, conv, msgs, older = false) {
  let list = st.messages.get(conv);
  if (!list) {
    list = [];
    st.messages.set(conv, list);
  }
  const added = [];
  for (const m of msgs) {
    if (!m || typeof m !== 'object') continue;
    const i = list.findIndex((x) => sameMessage(x, m) || (m.seq && x.local && m.local === x.local));
    if (i >= 0) {
      list[i] = { ...list[i], ...m, pending: m.pending || false };
      continue;
    }
    added.push(m);
  }
  if (older) {
    list.unshift(...added);
  } else {
    for (const m of added) insertInOrder(list, m);
  }
  if (list.length > MAX_MESSAGES) list.splice(0, list.length - MAX_MESSAGES);
  return added.length;
}

function insertInOrder(list, m) {
  if (m.seq && !m.pending) {
    // usually in order: append; else go before the first later seq
    const i = list.findIndex((x) => x.seq && !x.pending && x.kind !== 'broadcast' && x.seq > m.seq);
    if (i >= 0) {
      list.splice(i, 0, m);
      return;
    }
  }
  list.push(m);
}

/** ack marks the pending message with local as delivered. */
export function ack(st, conv, local, seq, ts) {
  for (const [id, list] of st.messages) {
    if (conv && id !== conv) continue;
    const m = list.find((x) => x.local === local);
    if (m) {
      m.pending = false;
      if (seq) m.seq = seq;
      if (ts) m.ts = ts;
      m.failed = undefined;
      return true;
    }
  }
  return false;
}

/** fail marks the pending message with local as refused. */
export function fail(st, conv, local, error) {
  for (const [id, list] of st.messages) {
    if (conv && id !== conv) continue;
    const m = list.find((x) => x.local === local);
    if (m) {
      m.pending = false;
      m.failed = (error && error.message) || 'not sent';
      return true;
    }
  }
  return false;
}

/** setTyping notes that user types in conv, until now+TYPING_MS. */
export function setTyping(st, conv, user, now) {
  if (!conv || !user) return;
  let m = st.typing.get(conv);
  if (!m) {
    m = new Map();
    st.typing.set(conv, m);
  }
  m.set(user, now + TYPING_MS);
}

/** typingUsers lists who types in conv at time now (and forgets the expired). */
export function typingUsers(st, conv, now) {
  const m = st.typing.get(conv);
  if (!m) return [];
  const out = [];
  for (const [u, exp] of m) {
    if (exp <= now) m.delete(u);
    else out.push(u);
  }
  return out.sort(cmp);
}

/** typingText is the sentence under the message list. */
export function typingText(users) {
  if (users.length === 0) return '';
  if (users.length === 1) return `${users[0]} is typing…`;
  if (users.length === 2) return `${users[0]} and ${users[1]} are typing…`;
  return `${users.length} people are typing…`;
}

/**
 * applyEvents files a batch of bridge events. It returns what changed:
 * {convs: Set of conversation ids whose messages changed, sidebar, status,
 * typing, uploads, notices: [new notices]}.
 */
export function applyEvents(st, batch, now = Date.now()) {
  const ch = { convs: new Set(), sidebar: false, status: false, typing: false, uploads: false, notices: [], closed: [] };
  for (const ev of batch) {
    if (!ev || typeof ev.kind !== 'string') continue;
    switch (ev.kind) {
      case 'state':
        setStatus(st, ev.status);
        ch.status = true;
        ch.sidebar = true;
        // Offline, nobody is known to be typing (no notice would end it).
        if (st.status.state !== 'connected' && st.typing.size) {
          st.typing.clear();
          ch.typing = true;
        }
        break;
      case 'message': {
        const m = ev.message;
        if (!m || typeof m.conv !== 'string') break;
        if (m.kind === 'broadcast' && !st.convs.has(m.conv)) break;
        addMessages(st, m.conv, [m]);
        if (m.from) {
          const t = st.typing.get(m.conv);
          if (t && t.delete(m.from)) ch.typing = true;
        }
        ch.convs.add(m.conv);
        break;
      }
      case 'ack':
        if (ack(st, ev.conv, ev.local, ev.seq, ev.ts)) ch.convs.add(ev.conv);
        st.uploads.delete(ev.local);
        ch.uploads = true;
        break;
      case 'failed':
        if (fail(st, ev.conv, ev.local, ev.error)) ch.convs.add(ev.conv);
        st.uploads.delete(ev.local);
        ch.uploads = true;
        break;
      case 'conversation':
        upsertConv(st, ev.conversation);
        ch.sidebar = true;
        break;
      case 'closed':
        removeConv(st, ev.conv);
        ch.sidebar = true;
        ch.closed.push(ev.conv);
        break;
      case 'reset':
        // The conversation starts over (its history was lost, or the
        // cached past did not match): keep only what is still being sent.
        if (typeof ev.conv === 'string' && st.messages.has(ev.conv)) {
          st.messages.set(ev.conv, st.messages.get(ev.conv).filter((m) => m.pending));
          ch.convs.add(ev.conv);
        }
        break;
      case 'typing':
        setTyping(st, ev.conv, ev.user, now);
        ch.typing = true;
        break;
      case 'progress':
        st.uploads.set(ev.local, { sent: ev.sent || 0, total: ev.total || 0, conv: ev.conv || '' });
        ch.uploads = true;
        break;
      case 'notice': {
        const n = { text: String(ev.text || ''), level: ev.level || 'info', conv: ev.conv || '', at: now };
        st.notices.push(n);
        if (st.notices.length > 20) st.notices.shift();
        ch.notices.push(n);
        break;
      }
      default:
        break; // newer bridge, older UI: ignore what we do not know
    }
  }
  if (ch.sidebar || ch.convs.size) st.status.unread = totalUnread(st);
  return ch;
}

/** applyPage files a Page (JoinRoom, OpenPrivate, LoadOlder). */
export function applyPage(st, page, older = false) {
  if (!page || !page.conversation) return;
  upsertConv(st, { ...page.conversation, hasOlder: page.hasOlder });
  addMessages(st, page.conversation.id, page.messages || [], older);
}

/** oldestSeq is the smallest seq shown in conv (0 when none). */
export function oldestSeq(st, conv) {
  for (const m of st.messages.get(conv) || []) if (m.seq && !m.pending) return m.seq;
  return 0;
}
