/** Small formatting helpers. */

/** `12:05` / `1:02:03` / `3 d 4 h` until `at`; negative values are clamped to 0:00. */
export function remaining(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(total / 86400);
  const h = Math.floor((total % 86400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (d > 0) return `${d} d ${h} h`;
  const pad = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(s)}` : `${m}:${pad(s)}`;
}

/** Spoken form for screen readers: "12 minutes 5 seconds". */
export function remainingSpoken(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const parts: string[] = [];
  if (h) parts.push(`${h} hour${h === 1 ? '' : 's'}`);
  if (m) parts.push(`${m} minute${m === 1 ? '' : 's'}`);
  if (!h && (s || parts.length === 0)) parts.push(`${s} second${s === 1 ? '' : 's'}`);
  return parts.join(' ');
}

export function localTime(iso: string | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

/**
 * Characters that hide or reorder text (zero-width, BiDi controls, tag characters,
 * other invisible format characters): shown as visible markers in the prompt, so
 * what the human reads is what the agent gets.
 */
const INVISIBLE = new RegExp(
  '[\\u00ad\\u034f\\u061c\\u115f\\u1160\\u17b4\\u17b5\\u180b-\\u180f\\u200b-\\u200f\\u202a-\\u202e' +
    '\\u2060-\\u206f\\u3164\\ufe00-\\ufe0f\\ufeff\\uffa0\\ufff9-\\ufffb\\u{e0000}-\\u{e007f}]',
  'gu',
);

export type PromptPart = { text: string } | { hidden: string };

export function revealInvisible(text: string): PromptPart[] {
  const parts: PromptPart[] = [];
  let last = 0;
  for (const match of text.matchAll(INVISIBLE)) {
    const at = match.index ?? 0;
    if (at > last) parts.push({ text: text.slice(last, at) });
    const cp = match[0].codePointAt(0) ?? 0;
    parts.push({ hidden: `U+${cp.toString(16).toUpperCase().padStart(4, '0')}` });
    last = at + match[0].length;
  }
  if (last < text.length) parts.push({ text: text.slice(last) });
  return parts;
}

export const STATE_LABEL: Record<string, string> = {
  Pending: 'Pending',
  Approved: 'Approved',
  Denied: 'Denied',
  Expired: 'Expired (denied)',
  Superseded: 'Superseded (void)',
};

/** Short list labels for why an approval cannot be decided (the detail view shows the full message). */
export const BLOCKER_LABEL: Record<string, string> = {
  decided: 'already decided',
  'not-pending': 'no longer pending',
  'bad-expiry': 'no valid expiry',
  expired: 'expired',
  'task-unreadable': 'task cannot be read',
  'task-mismatch': 'not made for this task',
  'task-invalid': 'task spec invalid',
  'task-changed': 'task changed since the request',
};

/** `512 B`, `3.2 KiB`, `16 MiB`. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value >= 10 ? value.toFixed(0) : value.toFixed(1)} ${units[unit]}`;
}

/** How long ago, coarse: `12 s`, `5 min`, `3 h`, `2 d`. */
export function age(iso: string | undefined, now: number): string {
  const at = iso ? Date.parse(iso) : Number.NaN;
  if (Number.isNaN(at)) return '—';
  const s = Math.max(0, Math.floor((now - at) / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86400)} d`;
}

/** A duration in milliseconds: `850 ms`, `1.2 s`, `2 min 5 s`. */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${s % 60} s`;
}
