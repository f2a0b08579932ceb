/**
 * Normalisation before any check. Pure and linear-time: regexes here either start with a literal, consume
 * maximal runs or are only run after a cheap hint matched; word-level rewrites are hand-written loops. Each
 * step runs only when the facts of the text (facts.ts, one pass) say it can change something, and the facts
 * are computed again only when a step did change the text.
 */
import { CONFUSABLE_RE, foldConfusables, IS_CONFUSABLE } from './confusables.ts';
import {
  AMPERSAND,
  CONFUSABLE,
  type Facts,
  factsOf,
  HIDDEN,
  HIDDEN_RANGES,
  LEETSPEAK,
  MIN_PERCENT_ESCAPES,
  NON_ASCII,
  PERCENT_ESCAPES,
  SPACED_LETTERS,
  WHITESPACE,
} from './facts.ts';
import { forEachWord } from './tokens.ts';
import { RESTORABLE_WORDS } from './vocab.ts';

export interface HiddenCounts {
  /** Zero-width and other invisible format characters inside Latin text. */
  zeroWidth: number;
  /** BiDi embedding/override/isolate controls. */
  bidi: number;
  /** Unicode tag characters outside flag emoji. */
  tags: number;
  /** Variation selectors other than the emoji text/presentation selectors. */
  variationSelectors: number;
}

export interface Normalized {
  /** Entities decoded, invisibles removed, NFKC; case kept (what the decoders read). */
  clean: string;
  /** `clean` lower-cased, look-alikes folded, letter spacing and leetspeak undone, whitespace collapsed. */
  text: string;
  /** The text contains non-ASCII characters. */
  nonAscii: boolean;
  hidden: HiddenCounts;
  /** ASCII text smuggled in Unicode tag characters (flag emoji excluded). */
  tagPayload: string;
  confusables: number;
  leetWords: number;
  spacedRuns: number;
  entities: number;
  /** Percent-escapes decoded (runs of URL-encoding with at least MIN_URL_ESCAPES escapes). */
  urlEscapes: number;
  /** What one pass over `clean` found (see facts.ts). */
  facts: Facts;
}

export const MIN_URL_ESCAPES = MIN_PERCENT_ESCAPES;
const URL_RUN_RE = /(?<![^\s"'<>`])[^\s"'<>`]*%[0-9A-Fa-f]{2}[^\s"'<>`]*/g;
const PERCENT_RE = /%[0-9A-Fa-f]{2}/g;
/** Hidden characters (zero-width, BiDi, variation selectors, tag characters); facts.ts HIDDEN is its gate. */
export const HIDDEN_RE =
  // biome-ignore lint/suspicious/noMisleadingCharacterClass: invisible characters listed one by one on purpose
  /(\u{1F3F4}?)([\u{E0000}-\u{E007F}]+)|[\u200B-\u200D\u2060-\u2064\u206A-\u206F\uFEFF\u180E\u00AD\u034F\u115F\u1160\u3164\uFFA0\u17B4\u17B5]|[\u200E\u200F\u202A-\u202E\u2066-\u2069\u061C]|[\uFE00-\uFE0F\u{E0100}-\u{E01EF}]/gu;
const ENTITY_RE = /&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|(lt|gt|amp|quot|apos|nbsp));?/g;
const NAMED_ENTITIES: Record<string, string> = {
  lt: '<',
  gt: '>',
  amp: '&',
  quot: '"',
  apos: "'",
  nbsp: ' ',
};
const SPACED_RUN_RE = /(?<!\S)\S(?!\S)(?: {1,3}\S(?!\S)){3,}/g;
/** Leetspeak shows as a digit (or $) between two letters somewhere ("h3llo", "pa$$"). */
const LEET_HINT = /[a-z][0-9$][a-z]/;
const LEET: Record<string, string> = {
  '0': 'o',
  '1': 'i',
  '2': 'z',
  '3': 'e',
  '4': 'a',
  '5': 's',
  '6': 'g',
  '7': 't',
  '8': 'b',
  '9': 'g',
  '@': 'a',
  $: 's',
  '|': 'l',
  '!': 'i',
  '+': 't',
};

export function normalize(input: string): Normalized {
  const hidden: HiddenCounts = { zeroWidth: 0, bidi: 0, tags: 0, variationSelectors: 0 };
  let tagPayload = '';
  let entities = 0;
  let s = input.isWellFormed() ? input : input.toWellFormed();
  let facts = factsOf(s);
  if (facts.flags & AMPERSAND) {
    s = s.replace(ENTITY_RE, (_m, dec?: string, hex?: string, named?: string) => {
      entities++;
      if (named) return NAMED_ENTITIES[named] ?? '';
      const cp = dec ? Number(dec) : Number.parseInt(hex ?? '', 16);
      return cp > 0 && cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff) ? String.fromCodePoint(cp) : '\uFFFD';
    });
  }
  let urlEscapes = 0;
  if (facts.flags & PERCENT_ESCAPES) {
    s = s.replace(URL_RUN_RE, (run) => {
      const escapes = run.match(PERCENT_RE)?.length ?? 0;
      if (escapes < MIN_URL_ESCAPES) return run;
      urlEscapes += escapes;
      return percentDecode(run);
    });
  }
  if (entities > 0 || urlEscapes > 0) facts = factsOf(s);
  const nonAscii = (facts.flags & NON_ASCII) !== 0;
  if (nonAscii) {
    const before = s;
    // Tag characters and supplementary variation selectors (all behind U+DB40) need the regex; the others
    // are single code units, removed by a loop (zero-width obfuscation can mean one per letter).
    if (facts.flags & HIDDEN && s.indexOf('\uDB40') === -1) s = removeBmpHidden(s, hidden);
    else if (facts.flags & HIDDEN)
      s = s.replace(
        HIDDEN_RE,
        (m, flag: string | undefined, tags: string | undefined, offset: number, all: string) => {
          if (tags !== undefined) {
            if (flag && isFlagTagSequence(tags)) return flag;
            for (const ch of tags) {
              const cp = (ch.codePointAt(0) ?? 0) - 0xe0000;
              hidden.tags++;
              if (cp >= 0x20 && cp < 0x7f) tagPayload += String.fromCharCode(cp);
            }
            return flag ?? '';
          }
          countHidden(m.codePointAt(0) ?? 0, all.charCodeAt(offset - 1), hidden);
          return '';
        },
      );
    s = s.normalize('NFKC');
    // Most non-ASCII text (any language) has nothing hidden and is already NFKC: the facts still hold.
    if (s !== before) facts = factsOf(s);
  }
  const clean = s;
  let text = clean.toLowerCase();
  let confusables = 0;
  if (facts.flags & CONFUSABLE && CONFUSABLE_RE.test(text))
    ({ text, folded: confusables } = foldMixedWords(text));
  let spacedRuns = 0;
  if (facts.flags & SPACED_LETTERS) {
    text = text.replace(SPACED_RUN_RE, (run) => {
      spacedRuns++;
      return run.replace(/ {2,}| /g, (gap) => (gap.length > 1 ? ' ' : ''));
    });
  }
  text = facts.flags & WHITESPACE ? collapseWhitespace(text) : text.trim();
  let leetWords = 0;
  if (facts.flags & LEETSPEAK && LEET_HINT.test(text)) ({ text, restored: leetWords } = undoLeet(text));
  return {
    clean,
    text,
    nonAscii: (facts.flags & NON_ASCII) !== 0,
    facts,
    hidden,
    tagPayload,
    confusables,
    leetWords,
    spacedRuns,
    entities,
    urlEscapes,
  };
}

const isHexDigit = (c: number) => (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);

const UTF8_LENIENT = new TextDecoder('utf-8');
const UTF8_ENCODER = new TextEncoder();

/** Percent-escapes to bytes, '+' to space, read as UTF-8 (invalid sequences become U+FFFD). */
export function percentDecode(s: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25 && isHexDigit(s.charCodeAt(i + 1)) && isHexDigit(s.charCodeAt(i + 2))) {
      bytes.push(Number.parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c === 0x2b) bytes.push(0x20);
    else if (c < 0x80) bytes.push(c);
    else for (const b of UTF8_ENCODER.encode(s[i] ?? '')) bytes.push(b);
  }
  return UTF8_LENIENT.decode(Uint8Array.from(bytes));
}

/**
 * Every run of whitespace (as `\s` in a regex) becomes one line break if it holds one, else one space; the text
 * is trimmed. So runs of horizontal whitespace become one space and blank lines and indentation go. One pass
 * that copies nothing when there is nothing to change.
 */
export function collapseWhitespace(s: string): string {
  let end = s.length;
  while (end > 0 && isWhitespace(s.charCodeAt(end - 1))) end--;
  let start = 0;
  while (start < end && isWhitespace(s.charCodeAt(start))) start++;
  let out = '';
  let copied = start;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c > 32 && c < 0xa0) continue;
    if (!isWhitespace(c)) continue;
    const runStart = i;
    let lineBreak = c === 10;
    while (isWhitespace(s.charCodeAt(i + 1))) {
      i++;
      if (s.charCodeAt(i) === 10) lineBreak = true;
    }
    if (i === runStart && (c === 32 || c === 10)) continue;
    out += s.slice(copied, runStart) + (lineBreak ? '\n' : ' ');
    copied = i + 1;
  }
  if (copied === start) return start === 0 && end === s.length ? s : s.slice(start, end);
  return out + s.slice(copied, end);
}

/** The characters `\s` matches in a JavaScript regex (and String.prototype.trim removes). */
function isWhitespace(c: number): boolean {
  if (c <= 32) return c === 32 || (c >= 9 && c <= 13);
  if (c < 0xa0) return false;
  return (
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

/** Regional flag emoji: black flag, 2-6 tag letters/digits, cancel tag (e.g. England, Scotland, Wales). */
function isFlagTagSequence(tags: string): boolean {
  const n = [...tags].length;
  return n >= 3 && n <= 7 && tags.endsWith('\u{E007F}');
}

/** The code units of the Basic Multilingual Plane that HIDDEN_RE matches (facts.ts HIDDEN covers them all). */
const BMP_HIDDEN = new Uint8Array(65536);
{
  const one = new RegExp(`^(?:${HIDDEN_RE.source})$`, 'u');
  for (const [from, to] of HIDDEN_RANGES)
    for (let c = from; c <= to; c++)
      if (c < 0xd800 || c > 0xdfff) BMP_HIDDEN[c] = one.test(String.fromCharCode(c)) ? 1 : 0;
}

/** Removes the hidden characters of a text without tag characters or supplementary variation selectors. */
function removeBmpHidden(s: string, hidden: HiddenCounts): string {
  const parts: string[] = [];
  let last = 0;
  for (let i = 0; i < s.length; i++) {
    if (BMP_HIDDEN[s.charCodeAt(i)] === 0) continue;
    countHidden(s.charCodeAt(i), s.charCodeAt(i - 1), hidden);
    parts.push(s.slice(last, i));
    last = i + 1;
  }
  if (last === 0) return s;
  parts.push(s.slice(last));
  return parts.join('');
}

/** Counts hidden character `cp` (a code point), which follows code unit `before`. */
function countHidden(cp: number, before: number, hidden: HiddenCounts): void {
  if (
    cp === 0x200e ||
    cp === 0x200f ||
    cp === 0x061c ||
    (cp >= 0x202a && cp <= 0x202e) ||
    (cp >= 0x2066 && cp <= 0x2069)
  )
    hidden.bidi++;
  else if (cp >= 0xfe00 && cp <= 0xfe0f) {
    if (cp < 0xfe0e) hidden.variationSelectors++;
  } else if (cp >= 0xe0100) hidden.variationSelectors++;
  else if (isLatinContext(before)) hidden.zeroWidth++;
}

/** Zero-width joiners between emoji and non-joiners in Persian or Indic words are ordinary; inside Latin text they hide. */
function isLatinContext(code: number): boolean {
  return (code >= 0x20 && code < 0x7f) || (code >= 0xc0 && code <= 0x24f);
}

/**
 * Folds look-alike letters in words that mix them with ASCII letters ("іgnоrе"), or that become a trigger
 * word when folded entirely ("ѕуѕtем"); words of one foreign script are left alone.
 */
function foldMixedWords(text: string): { text: string; folded: number } {
  const parts: string[] = [];
  let last = 0;
  let folded = 0;
  forEachWord(text, (_h, start, end) => {
    let confusable = false;
    let ascii = false;
    for (let i = start; i < end; i++) {
      const c = text.charCodeAt(i);
      if (c < 128) ascii = true;
      else if (IS_CONFUSABLE[c]) confusable = true;
    }
    if (!confusable) return;
    const f = foldConfusables(text.slice(start, end));
    if (!ascii && !(f.text.length >= 3 && RESTORABLE_WORDS.has(f.text))) return;
    parts.push(text.slice(last, start), f.text);
    last = end;
    folded += f.folded;
  });
  if (parts.length === 0) return { text, folded: 0 };
  parts.push(text.slice(last));
  return { text: parts.join(''), folded };
}

const isLeetChar = (c: number) =>
  (c >= 48 && c <= 57) || c === 64 || c === 36 || c === 124 || c === 33 || c === 43; // 0-9 @ $ | ! +
const isLower = (c: number) => c >= 97 && c <= 122;

/** A leet character (see isLeetChar); global, for a native search from lastIndex. */
const LEET_CHAR_RE = /[0-9@$|!+]/g;

/**
 * Rewrites runs of letters and leet characters ("19n0re", "pr1n7") that spell a known word. Only runs that hold
 * a leet character can change, so a native search finds those and the rest of the text is never looped over.
 */
function undoLeet(text: string): { text: string; restored: number } {
  const parts: string[] = [];
  let last = 0;
  let restored = 0;
  const n = text.length;
  let from = 0;
  for (;;) {
    LEET_CHAR_RE.lastIndex = from;
    if (!LEET_CHAR_RE.test(text)) break;
    let start = LEET_CHAR_RE.lastIndex - 1;
    while (start > 0 && isRunChar(text.charCodeAt(start - 1))) start--;
    let end = start;
    let letters = 0;
    let leet = 0;
    for (let c = text.charCodeAt(end); end < n && isRunChar(c); c = text.charCodeAt(++end)) {
      if (isLower(c)) letters++;
      else leet++;
    }
    from = end;
    if (letters === 0 || leet === 0 || end - start < 2 || end - start > 24) continue;
    const word = unleet(text.slice(start, end));
    if (word === undefined) continue;
    parts.push(text.slice(last, start), word);
    last = end;
    restored++;
  }
  if (parts.length === 0) return { text, restored: 0 };
  parts.push(text.slice(last));
  return { text: parts.join(''), restored };
}

const isRunChar = (c: number) => isLower(c) || isLeetChar(c);

function unleet(token: string): string | undefined {
  const primary = mapLeet(token, 'i');
  if (RESTORABLE_WORDS.has(primary)) return primary;
  const alternative = mapLeet(token, 'l');
  return RESTORABLE_WORDS.has(alternative) ? alternative : undefined;
}

function mapLeet(token: string, one: 'i' | 'l'): string {
  let out = '';
  for (const ch of token) {
    if (ch === '1') out += one;
    else if (ch === '|') out += one === 'i' ? 'l' : 'i';
    else out += LEET[ch] ?? ch;
  }
  return out;
}
