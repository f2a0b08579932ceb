/**
 * Finds encoded blobs (base64, hex, ROT13, reversed text; URL-encoding is undone by normalize.ts) in a text and decodes the ones that
 * turn out to be readable text. Bounded: at most MAX_BLOBS blobs per text, MAX_BLOB_CHARS read from a blob;
 * the caller bounds depth and the total decoded size. Base64/hex candidates come from one hand-written scan;
 * the other regexes run only after a cheap hint.
 */
import { MIN_RUN } from './facts.ts';

export type EncodingMethod = 'base64' | 'hex' | 'rot13' | 'reversed' | 'unicode-tags';

export interface DecodedBlob {
  method: EncodingMethod;
  text: string;
}

/** The shortest encoded blob read (facts.ts notes runs of base64 characters this long). */
export const MIN_BLOB_CHARS = MIN_RUN;
const MAX_BLOBS = 16;
const MAX_BLOB_CHARS = 16 * 1024;

/** ROT13 of common English and trigger words ("the", "and", "you", "ignore", "instructions", ...). */
export const ROT13_HINT_WORDS = [
  'gur',
  'naq',
  'lbh',
  'lbhe',
  'jung',
  'guvf',
  'gung',
  'nyy',
  'cyrnfr',
  'vtaber',
  'cerivbhf',
  'vafgehpgvbaf',
  'flfgrz',
  'cebzcg',
  'cnffjbeq',
  'fnl',
  'cevag',
  'gryy',
  'jvgu',
  'sbe',
  'ner',
  'vf',
  'abj',
  'whfg',
  'fgbc',
  'rirelguvat',
  'zr',
  'zl',
  'vg',
  'bs',
  'gb',
  'va',
  'jvyy',
  'pna',
  'nz',
  'qb',
  'abg',
  'unir',
  'jurer',
  'jub',
  'ubj',
  'gurl',
  'gurve',
  'jnf',
  'orra',
  'sebz',
];
/** Reversed common English and trigger words. */
export const REVERSED_HINT_WORDS = [
  'eht',
  'dna',
  'uoy',
  'ruoy',
  'taht',
  'siht',
  'lla',
  'esaelp',
  'erongi',
  'suoiverp',
  'snoitcurtsni',
  'metsys',
  'tpmorp',
  'drowssap',
  'yas',
  'tnirp',
  'llet',
  'htiw',
  'rof',
  'era',
  'won',
  'tsuj',
  'pots',
  'gnihtyreve',
  'ym',
  'fo',
  'ot',
  'si',
  'lliw',
  'nac',
  'ton',
  'evah',
  'tahw',
  'erehw',
  'ohw',
  'woh',
  'yeht',
  'saw',
  'morf',
];

const SPACED_HEX_RE = /(?<![0-9A-Fa-f])[0-9A-Fa-f]{2}(?:[ :,][0-9A-Fa-f]{2}){7,}(?![0-9A-Fa-f])/g;
const ESCAPED_HEX_RE = /(?:\\x[0-9A-Fa-f]{2}){6,}|(?:\\u[0-9A-Fa-f]{4}){4,}/g;

/** How many distinct ROT13 / reversed hint words the text has (0 = do not try that decoding). */
export interface Hints {
  rot13: number;
  reversed: number;
}

/** What facts.ts found in the text: which decoders can find anything (default: look for everything). */
export interface Present {
  /** Where the runs of at least MIN_BLOB_CHARS base64 characters start (facts.ts), or 'scan': find them. */
  longRuns: readonly number[] | 'scan';
  hexPairs: boolean;
  escapes: boolean;
}
const ALL: Present = { longRuns: 'scan', hexPairs: true, escapes: true };

export function findBlobs(clean: string, lower: string, hints: Hints, present: Present = ALL): DecodedBlob[] {
  const out: DecodedBlob[] = [];
  const add = (method: EncodingMethod, text: string | undefined) => {
    if (text !== undefined && out.length < MAX_BLOBS) out.push({ method, text });
  };
  if (present.longRuns.length > 0)
    scanBase64Runs(clean, present.longRuns, (run, kind) => {
      if (kind === 'hex') add('hex', run.length % 2 === 0 ? readable(Buffer.from(run, 'hex')) : undefined);
      else add('base64', readable(base64Bytes(run)));
    });
  if (present.hexPairs)
    for (const m of matches(clean, SPACED_HEX_RE))
      add('hex', readable(Buffer.from(m.replace(/[ :,]/g, ''), 'hex')));
  if (present.escapes) for (const m of matches(clean, ESCAPED_HEX_RE)) add('hex', readable(escapedBytes(m)));
  if (hints.rot13 > 0) for (const line of hintedLines(lower, ROT13_HINT_WORDS)) add('rot13', rot13(line));
  if (hints.reversed > 0)
    for (const line of hintedLines(lower, REVERSED_HINT_WORDS)) add('reversed', [...line].reverse().join(''));
  return out;
}

const isB64 = (c: number) =>
  (c >= 65 && c <= 90) ||
  (c >= 97 && c <= 122) ||
  (c >= 48 && c <= 57) ||
  c === 43 ||
  c === 47 ||
  c === 45 ||
  c === 95;
const isHexDigit = (c: number) => (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);

/**
 * Maximal runs of base64/base64url characters of at least MIN_BLOB_CHARS (those starting at `starts`, or all
 * of them): all-hex runs are hex candidates; runs with upper and lower case letters and a digit, '+', '/' or
 * '=' padding are base64 candidates (CamelCase identifiers are not).
 */
function scanBase64Runs(
  s: string,
  starts: readonly number[] | 'scan',
  onRun: (run: string, kind: 'hex' | 'base64') => void,
): void {
  let found = 0;
  const take = (start: number): number => {
    const end = readRun(s, start);
    if (end - start < MIN_BLOB_CHARS) return end;
    const run = s.slice(start, Math.min(end, start + MAX_BLOB_CHARS));
    const f = lastRun;
    if (f.hex) onRun(run, 'hex');
    else if (f.upper && f.lower && (f.digit || s.charCodeAt(end) === 61 || /[+/]/.test(run)))
      onRun(run, 'base64');
    else return end;
    found++;
    return end;
  };
  if (starts !== 'scan') {
    for (let r = 0; r < starts.length && found < MAX_BLOBS; r++) take(starts[r] as number);
    return;
  }
  const n = s.length;
  let i = 0;
  while (i < n && found < MAX_BLOBS) {
    if (!isB64(s.charCodeAt(i))) {
      i++;
      continue;
    }
    // Short runs (most words) are skipped by a quick look; long ones are read with take.
    const start = i;
    while (i < n && i - start < MIN_BLOB_CHARS && isB64(s.charCodeAt(i))) i++;
    if (i - start === MIN_BLOB_CHARS) i = take(start);
  }
}

/** What the run readRun read last holds (reused: no allocation per run). */
const lastRun = { upper: false, lower: false, hex: true, digit: false };

/** Reads the run of base64 characters at `start`, noting what it holds in lastRun; returns where it ends. */
function readRun(s: string, start: number): number {
  const n = s.length;
  let upper = false;
  let lower = false;
  let hex = true;
  let digit = false;
  let i = start;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (!isB64(c)) break;
    if (c >= 48 && c <= 57) digit = true;
    else if (c >= 65 && c <= 90) upper = true;
    else if (c >= 97 && c <= 122) lower = true;
    if (hex && !isHexDigit(c)) hex = false;
  }
  lastRun.upper = upper;
  lastRun.lower = lower;
  lastRun.hex = hex;
  lastRun.digit = digit;
  return i;
}

function* matches(s: string, re: RegExp): Generator<string> {
  re.lastIndex = 0;
  let count = 0;
  for (let m = re.exec(s); m !== null && count < MAX_BLOBS; m = re.exec(s), count++) {
    yield m[0].length > MAX_BLOB_CHARS ? m[0].slice(0, MAX_BLOB_CHARS) : m[0];
  }
}

/** Lines with at least three hint words (two distinct): enough to tell ROT13 or reversed English from noise. */
function hintedLines(lower: string, hintWords: readonly string[]): string[] {
  const hint = new Set(hintWords);
  const lines: string[] = [];
  let start = 0;
  while (start < lower.length && lines.length < 4) {
    let end = lower.indexOf('\n', start);
    if (end === -1) end = lower.length;
    const line = lower.slice(start, Math.min(end, start + MAX_BLOB_CHARS));
    const hits = (line.match(/[a-z]+/g) ?? []).filter((w) => hint.has(w));
    if (hits.length >= 3 && new Set(hits).size >= 2) lines.push(line);
    start = end + 1;
  }
  return lines;
}

export function rot13(s: string): string {
  return s.replace(/[a-zA-Z]/g, (c) => {
    const base = c <= 'Z' ? 65 : 97;
    return String.fromCharCode(((c.charCodeAt(0) - base + 13) % 26) + base);
  });
}

function base64Bytes(blob: string): Uint8Array {
  const std = blob.replace(/-/g, '+').replace(/_/g, '/');
  return Buffer.from(std.length % 4 === 1 ? std.slice(0, -1) : std, 'base64');
}

function escapedBytes(s: string): Uint8Array {
  if (s.startsWith('\\u')) {
    const chars = s
      .split('\\u')
      .filter(Boolean)
      .map((h) => String.fromCharCode(Number.parseInt(h, 16)));
    return Buffer.from(chars.join(''), 'utf8');
  }
  return Buffer.from(s.replace(/\\x/g, ''), 'hex');
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });
const LETTER = /\p{L}/u;

/** Decoded bytes that read as text (valid UTF-8, few control characters, some letters), else undefined. */
export function readable(bytes: Uint8Array): string | undefined {
  if (bytes.length < 6) return undefined;
  // Each ASCII control byte is a control character of the text, which has at most as many characters as
  // there are bytes: too many of them and the answer is no, without decoding (random bytes end here).
  let controlBytes = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number;
    if ((b < 0x20 && b !== 9 && b !== 10 && b !== 13) || b === 0x7f) controlBytes++;
  }
  if (controlBytes > bytes.length * 0.02) return undefined;
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    return undefined;
  }
  let control = 0;
  let letters = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 9 && c !== 10 && c !== 13) || (c >= 0x7f && c < 0xa0) || c === 0xfffd) control++;
    else if ((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 0xc0 && LETTER.test(text[i] ?? '')))
      letters++;
  }
  const n = text.length;
  return control <= n * 0.02 && letters >= n * 0.4 ? text : undefined;
}
