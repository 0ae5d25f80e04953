// format.js — how times, sizes and names look.

/** clock formats an RFC 3339 timestamp as local HH:MM. */
export function clock(ts) {
  if (!ts) return '';
  const d = new Date(ts);
  if (Number.isNaN(d.getTime())) return '';
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

/** day formats an RFC 3339 timestamp as a calendar day (for separators). */
export function day(ts) {
  const d = new Date(ts);
  if (Number.isNaN(d.getTime())) return '';
  return d.toLocaleDateString([], { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });
}

/** size formats a byte count. */
export function size(n) {
  if (!(n >= 0)) return '';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10240 ? 1 : 0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** hue gives a stable colour hue (0–359) for a name, so senders are told apart. */
export function hue(name) {
  let h = 0;
  for (const ch of String(name).toLowerCase()) h = (h * 31 + ch.codePointAt(0)) >>> 0;
  return h % 360;
}

/** initials is what an avatar shows. */
export function initials(name) {
  const parts = String(name).trim().split(/\s+/u).filter(Boolean);
  if (parts.length === 0) return '?';
  const first = [...parts[0]][0] || '?';
  const second = parts.length > 1 ? [...parts[parts.length - 1]][0] : '';
  return (first + second).toUpperCase();
}

/** badge is the text of an unread badge. */
export function badge(n) {
  if (!n) return '';
  return n > 99 ? '99+' : String(n);
}

/** stateLabel names a connection state for people. */
export function stateLabel(state) {
  switch (state) {
    case 'connected':
      return 'Connected';
    case 'connecting':
      return 'Connecting…';
    case 'reconnecting':
      return 'Reconnecting…';
    case 'offline':
      return 'Offline';
    default:
      return 'Not connected';
  }
}

/**
 * connDetail is the small text beside the connection state: why, while
 * reconnecting (when the bridge knows), else the transport.
 */
export function connDetail(status) {
  if (!status) return '';
  if (status.state === 'reconnecting' && status.reason) return String(status.reason);
  return status.transport ? String(status.transport) : '';
}
