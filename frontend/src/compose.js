// compose.js — the composer's keyboard rules, kept pure for tests.

/**
 * keyAction decides what a keydown in the composer does: 'send' for Enter
 * alone, 'newline' for Shift+Enter, 'none' otherwise. An IME composition
 * in progress (isComposing, or the legacy keyCode 229) is never sent.
 */
export function keyAction(ev) {
  if (!ev || ev.key !== 'Enter') return 'none';
  if (ev.isComposing || ev.keyCode === 229) return 'none';
  if (ev.shiftKey) return 'newline';
  if (ev.ctrlKey || ev.altKey || ev.metaKey) return 'none';
  return 'send';
}

/** isBlank reports whether text has nothing but white space. */
export function isBlank(text) {
  return !text || text.trim() === '';
}

/** codePoints counts a string's code points (the protocol's text unit). */
export function codePoints(text) {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/** mentionTarget returns the member an "@name text" line goes to, or ''. Display only: the bridge decides. */
export function mentionTarget(text, members) {
  if (!text || text[0] !== '@') return '';
  const body = text.slice(1);
  let best = '';
  for (const m of members || []) {
    if (m.length <= best.length) continue;
    const head = body.slice(0, m.length);
    const next = body.slice(m.length, m.length + 1);
    if (head.toLocaleLowerCase() === m.toLocaleLowerCase() && (next === ' ' || next === '\n')) best = m;
  }
  return best;
}
